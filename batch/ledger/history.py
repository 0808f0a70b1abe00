"""Ledger reads across batches (issue 11): earlier payments for the row guard, used seeds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from batch.engine.states import RowState
from batch.ledger.core import LedgerCore
from batch.ledger.records import EarlierPayment, parse_time

# Rows that pay, will pay, or may have paid: everything but FAILED and SKIPPED.
_PAYING = tuple(
    s.value for s in RowState if s not in (RowState.FAILED, RowState.SKIPPED)
)


class History(LedgerCore):
    """What earlier batches on this ledger paid; which reference_id seeds are used."""

    def earlier_payments(self, *, period: str, since: datetime) -> list[EarlierPayment]:
        """Rows of every batch in pay period `period` or created since `since` that pay,
        will pay or may have paid (not FAILED, not SKIPPED).

        Run inside the transaction that creates the new batch (issue 11, item 7): two
        planners of the same sheet then see each other's batch.
        """
        marks = ", ".join("?" * len(_PAYING))
        found = self._all(
            "SELECT b.id AS batch_id, b.name, b.created_at, b.period, b.purpose, b.repeat_no, "
            "r.sheet_row, r.phone, r.currency, r.amount_minor, r.state "
            "FROM rows r JOIN batches b ON b.id = r.batch_id "
            f"WHERE (b.period = ? OR b.created_at >= ?) AND r.state IN ({marks}) "
            "AND r.phone IS NOT NULL AND r.amount_minor IS NOT NULL "
            "ORDER BY b.created_at, r.sheet_row",
            (period, since.isoformat(), *_PAYING),
        )
        out = []
        for r in found:
            created = parse_time(r["created_at"])
            assert created is not None
            out.append(EarlierPayment(
                batch_id=r["batch_id"], batch_name=r["name"], created_at=created,
                period=r["period"], purpose=r["purpose"], repeat_no=r["repeat_no"],
                sheet_row=r["sheet_row"], phone=r["phone"], currency=r["currency"],
                amount_minor=r["amount_minor"], state=r["state"],
            ))
        return out

    def used_attempts(self, seeds: Sequence[str]) -> dict[str, int]:
        """For each seed already on this ledger: the highest attempt number used under it."""
        used: dict[str, int] = {}
        chunk = 500
        for i in range(0, len(seeds), chunk):
            part = list(seeds[i : i + chunk])
            marks = ", ".join("?" * len(part))
            for r in self._all(
                "SELECT r.ref_seed, MAX(r.ref_base + a.attempt_no) AS n FROM rows r "
                f"JOIN attempts a ON a.row_id = r.id WHERE r.ref_seed IN ({marks}) "
                "GROUP BY r.ref_seed",
                part,
            ):
                used[r["ref_seed"]] = r["n"]
        return used

    def batch_total(self) -> int:
        """How many batches this ledger holds."""
        found = self._one("SELECT COUNT(*) AS n FROM batches")
        return int(found["n"]) if found else 0

    def started_batches(self, *, environment: str | None, other_than: int) -> int:
        """Batches on this ledger, on this API, that a run has started (besides one)."""
        found = self._one(
            "SELECT COUNT(*) AS n FROM batches WHERE id != ? AND started_at IS NOT NULL "
            "AND (environment IS ? OR environment IS NULL)",
            (other_than, environment),
        )
        return int(found["n"]) if found else 0

    def first_attempt_ids(self, batch_id: int) -> list[str]:
        """The first-attempt reference_ids of a batch's rows, in sheet order."""
        return [
            r["reference_id"] for r in self._all(
                "SELECT a.reference_id FROM attempts a JOIN rows r ON r.id = a.row_id "
                "WHERE r.batch_id = ? AND a.attempt_no = 1 ORDER BY r.sheet_row",
                (batch_id,),
            )
        ]
