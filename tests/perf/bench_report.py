"""Benchmark: reconciliation report of a large batch (build + each format). Prints figures.

Run: python tests/perf/bench_report.py [ROWS]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report_ledger import small_batch  # noqa: E402

from batch.ledger import Ledger  # noqa: E402
from batch.report.files import load_report, write_report  # noqa: E402


def main(rows: int) -> None:
    folder = Path(tempfile.mkdtemp())
    path = folder / "bench.db"
    outcomes = ["completed", "completed", "completed", "failed", "unknown", "new"]
    small_batch(path, "bench", [outcomes[i % len(outcomes)] for i in range(rows)])
    with Ledger(path) as ledger:
        start = time.perf_counter()
        report = load_report(ledger, "bench")
        print(f"rows {rows}: load+shape {time.perf_counter() - start:.2f}s")
    for suffix in (".xlsx", ".csv", ".json"):
        start = time.perf_counter()
        written = write_report(report, folder / f"bench{suffix}")
        size = sum(p.stat().st_size for p in written)
        print(f"  {suffix:5} {time.perf_counter() - start:.2f}s  {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
