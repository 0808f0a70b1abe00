"""Benchmark: review and approval of a large batch against an earlier one of the same size.
Prints CPU seconds (the machine may be shared) and peak memory.

Run: python tests/perf/bench_review.py [ROWS]
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from batch.ledger import Ledger, NewRow
from batch.planning import release
from batch.planning.approval import ApprovalPolicy
from batch.planning.review_flow import build_review


def _rows(name: str, n: int, bump: int = 0) -> Iterator[NewRow]:
    for i in range(n):
        yield NewRow(
            sheet_row=i + 2, name=f"Person {i}", phone=f"2317{i:08d}",
            amount_minor=100_000 + (i % 50) * 100 + (bump if i % 1000 == 0 else 0),
            currency="USD", country="LR", reference_id=f"{name}-{i}", external_id=f"E{i}",
        )


def main(n: int) -> None:
    """Two batches of n rows; the second with a changed amount every 1000 rows."""
    with tempfile.TemporaryDirectory() as tmp, Ledger(Path(tmp) / "l.db") as ledger:
        first = ledger.create_batch(name="oct", source_file="oct.csv", content_hash="a",
                                    payout_set_hash="a", rows=_rows("oct", n))
        ledger.mark_batch_started(first)
        ledger.create_batch(
            name="nov", source_file="nov.csv", content_hash="b", payout_set_hash="b",
            rows=_rows("nov", n, bump=50_000),
            options=release.recorded_facts(ApprovalPolicy(required=1), "alice"),
        )
        batch = release.find_batch(ledger, "nov")
        figures = []
        for label, step in (
            ("plan hash", lambda: release.current_plan_hash(ledger, batch)),
            ("review", lambda: build_review(ledger, "nov")),
            ("approve", lambda: release.approve(ledger, "nov", approver="bob")),
            ("run's approval check", lambda: release.require_approval(ledger, batch)),
        ):
            began = time.process_time()
            step()
            figures.append(f"{label} {time.process_time() - began:.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{n} rows vs {n} earlier (CPU): " + "; ".join(figures) + f"; peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
