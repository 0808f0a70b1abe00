"""Issue 11: API requests per row of a fresh ledger's first batch and of a later batch.

    python tests/perf/bench_never_twice.py [ROWS]

The difference in `status.payout` is the fresh-ledger sample (a fixed 5 per batch); the
derived reference_ids and the row guard cost no request.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
from batch.cli import main  # noqa: E402
from batch.sandbox import running_sandbox  # noqa: E402
from tests.engine_helpers import env, write_sheet  # noqa: E402


def main_() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    with running_sandbox() as sb, tempfile.TemporaryDirectory() as d:
        sb.set_faults(pending_seconds=0.05, processing_seconds=0.1)
        tmp, ledger = Path(d), Path(d) / "l.db"

        def requests() -> dict[str, int]:
            return {k: sum(v.values()) for k, v in sb.stats()["requests"].items()}

        for label, start in (("fresh ledger", 0), ("known ledger", 10_000)):
            sheet = tmp / f"{start}.csv"
            write_sheet(sheet, n, start=start)
            before = requests()
            result = CliRunner().invoke(main, [
                "run", str(sheet), "--yes", "--json", "--base-url", sb.base_url,
                "--ledger", str(ledger), "--rate", "1000", "--poll-first", "0.3",
            ], env=env())
            counts = json.loads(result.stdout)["counts"]
            after = requests()
            diff = {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0)}
            total = sum(diff.values())
            print(f"{label}: {counts} requests {total} ({total / n:.2f}/row) {diff}")


if __name__ == "__main__":
    main_()
