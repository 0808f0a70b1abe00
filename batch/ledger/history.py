"""Ledger reads across batches (issue 11): earlier payments for the row guard, used seeds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from batch.engine.states import RowState
from batch.ledger.core import LedgerCore
from batch.ledger.records import EarlierPayment, parse_time

# Rows that pay, will pay, or may have paid: everything but FAILED, SKIPPED and REVERSED
# (money taken back: paying it again is not a repeat).
_PAYING = tuple(
    s.value for s in RowState
    if s not in (RowState.FAILED, RowState.SKIPPED, RowState.REVERSED)
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

    def recheck_candidates(self, batch_id: int, *, since: datetime | None) -> list[RecheckItem]:
        """Attempts `reconcile --recheck` re-reads: those that made a row COMPLETED (settled
        since `since`), and every one ever trusted "not found". Least recently rechecked
        first, so an interrupted recheck resumes where it stopped."""
        found = self._all(
            "SELECT a.reference_id, a.row_id, r.sheet_row, r.state, a.outcome, "
            "a.not_found_seen FROM attempts a JOIN rows r ON r.id = a.row_id "
            "WHERE r.batch_id = ? AND ((r.state = 'COMPLETED' AND a.outcome = 'COMPLETED' "
            "AND (? IS NULL OR a.settled_at >= ?)) OR a.outcome = 'NOT_FOUND' "
            "OR a.not_found_seen = 1) "
            "ORDER BY a.rechecked_at IS NOT NULL, a.rechecked_at, r.sheet_row",
            (batch_id, *(2 * [since.isoformat() if since else None])),
        )
        return [
            RecheckItem(r["reference_id"], r["row_id"], r["sheet_row"], RowState(r["state"]),
                        r["outcome"], bool(r["not_found_seen"]))
            for r in found
        ]

    def record_event(
        self, batch_id: int, row_id: int | None, reference_id: str | None, detail: str
    ) -> None:
        """Append a note to the event log without a state change."""
        self._write(
            "INSERT INTO events (batch_id, row_id, reference_id, at, detail) "
            "VALUES (?, ?, ?, ?, ?)",
            (batch_id, row_id, reference_id, self.now(), detail),
        )

    def mark_rechecked(self, reference_id: str) -> None:
        """Stamp an attempt as re-read by a recheck now."""
        self._write(
            "UPDATE attempts SET rechecked_at = ? WHERE reference_id = ?",
            (self.now(), reference_id),
        )


@dataclass(frozen=True, slots=True)
class RecheckItem:
    """One attempt a recheck re-reads."""

    reference_id: str
    row_id: int
    sheet_row: int
    row_state: RowState
    outcome: str | None
    not_found_seen: bool
