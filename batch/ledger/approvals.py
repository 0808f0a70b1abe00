"""Ledger SQL for review and approval (issue 17): approvals, the plan as hashed, history.

Approvals are never deleted: a revocation or a void stamps the record, and the event log
gets one entry per approval, revocation and void (to_state APPROVED / APPROVAL_REVOKED /
APPROVAL_VOIDED, no row).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from batch.engine.states import RowState
from batch.errors import LedgerError
from batch.ledger.core import LedgerCore
from batch.ledger.records import BatchRecord, parse_time

APPROVED, REVOKED, VOIDED = "APPROVED", "APPROVAL_REVOKED", "APPROVAL_VOIDED"
_PAGE = 5000


@dataclass(frozen=True)
class ApprovalRecord:
    """One approval of one batch's plan hash, and whether it was withdrawn or voided."""

    id: int
    batch_id: int
    approver: str
    plan_hash: str
    approved_at: datetime
    public_key: str | None
    signature: str | None
    revoked_at: datetime | None
    voided_at: datetime | None
    void_reason: str | None

    @property
    def active(self) -> bool:
        """Neither revoked nor voided."""
        return self.revoked_at is None and self.voided_at is None

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> ApprovalRecord:
        approved = parse_time(r["approved_at"])
        assert approved is not None
        return cls(
            id=r["id"], batch_id=r["batch_id"], approver=r["approver"],
            plan_hash=r["plan_hash"], approved_at=approved, public_key=r["public_key"],
            signature=r["signature"], revoked_at=parse_time(r["revoked_at"]),
            voided_at=parse_time(r["voided_at"]), void_reason=r["void_reason"],
        )


@dataclass(frozen=True, slots=True)
class PlanLine:
    """What the plan hash covers of one row (SKIPPED rows are not part of the plan)."""

    sheet_row: int
    phone: str
    amount_minor: int
    currency: str
    reference_id: str


@dataclass(frozen=True, slots=True)
class HistoryLine:
    """One planned row of an earlier batch, as review compares with it."""

    batch_id: int
    sheet_row: int
    name: str | None
    phone: str | None
    amount_minor: int | None
    currency: str | None
    external_id: str | None


class Approvals(LedgerCore):
    """Approvals of batches, the plan lines they are bound to, and earlier batches' rows."""

    # -- approvals ---------------------------------------------------------------------------

    def approvals(self, batch_id: int) -> list[ApprovalRecord]:
        """Every approval of a batch, oldest first (revoked and voided ones included)."""
        return [
            ApprovalRecord.from_row(r)
            for r in self._all(
                "SELECT * FROM approvals WHERE batch_id = ? ORDER BY id", (batch_id,)
            )
        ]

    def add_approval(
        self,
        batch_id: int,
        *,
        approver: str,
        plan_hash: str,
        approved_at: str,
        public_key: str | None = None,
        signature: str | None = None,
    ) -> ApprovalRecord:
        """Record an approval and its event; `approved_at` is the time that was signed."""
        signed = f", signed by key {public_key[:16]}" if public_key else ""
        with self.atomic():
            cur = self._execute(
                "INSERT INTO approvals (batch_id, approver, plan_hash, approved_at, public_key, "
                "signature) VALUES (?, ?, ?, ?, ?, ?)",
                (batch_id, approver, plan_hash, approved_at, public_key, signature),
            )
            self._event(batch_id, APPROVED, approved_at,
                        f"approved by {approver}, plan {plan_hash[:16]}{signed}")
        found = self._one("SELECT * FROM approvals WHERE id = ?", (cur.lastrowid,))
        assert found is not None
        return ApprovalRecord.from_row(found)

    def revoke_approval(self, approval: ApprovalRecord, *, by: str) -> None:
        """Withdraw an active approval (its approver changed their mind)."""
        now = self.now()
        with self.atomic():
            cur = self._execute(
                "UPDATE approvals SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL "
                "AND voided_at IS NULL",
                (now, approval.id),
            )
            if cur.rowcount != 1:
                raise LedgerError(f"approval by {approval.approver} is no longer active")
            self._event(approval.batch_id, REVOKED, now,
                        f"approval by {approval.approver} revoked by {by}, "
                        f"plan {approval.plan_hash[:16]}")

    def void_approvals(self, approvals: Sequence[ApprovalRecord], *, reason: str) -> None:
        """Void active approvals whose plan changed, each with an event saying why."""
        now = self.now()
        with self.atomic():
            for a in approvals:
                cur = self._execute(
                    "UPDATE approvals SET voided_at = ?, void_reason = ? WHERE id = ? "
                    "AND revoked_at IS NULL AND voided_at IS NULL",
                    (now, reason, a.id),
                )
                if cur.rowcount == 1:
                    self._event(a.batch_id, VOIDED, now,
                                f"approval by {a.approver} void: {reason}")

    def _event(self, batch_id: int, what: str, at: str, detail: str) -> None:
        self._execute(
            "INSERT INTO events (batch_id, to_state, at, detail) VALUES (?, ?, ?, ?)",
            (batch_id, what, at, detail),
        )

    # -- the plan as hashed ------------------------------------------------------------------

    def plan_lines(self, batch_id: int) -> Iterator[PlanLine]:
        """The batch's rows to pay, in sheet order, each with the reference_id it is approved
        under: its current one, except that an attempt the engine itself made after an
        earlier one was confirmed never to have landed (UNKNOWN -> NEW) stands for the
        attempt it replaced. A `--retry-failed` attempt (FAILED -> NEW) is a new plan."""
        automatic = self._automatic_attempts(batch_id)
        after = -1
        while True:
            page = self._all(
                "SELECT sheet_row, phone, amount_minor, currency, current_reference_id FROM rows "
                "WHERE batch_id = ? AND state != ? AND sheet_row > ? ORDER BY sheet_row "
                f"LIMIT {_PAGE}",
                (batch_id, RowState.SKIPPED.value, after),
            )
            if not page:
                return
            for r in page:
                reference = r["current_reference_id"] or ""
                while reference in automatic:
                    reference = automatic[reference]
                yield PlanLine(r["sheet_row"], r["phone"] or "", r["amount_minor"] or 0,
                               r["currency"] or "", reference)
            after = page[-1]["sheet_row"]

    def _automatic_attempts(self, batch_id: int) -> dict[str, str]:
        """reference_id -> the one it replaced, for attempts the engine started on its own."""
        return {
            r["reference_id"]: r["previous_reference_id"]
            for r in self._all(
                "SELECT e.reference_id, a.previous_reference_id FROM events e "
                "JOIN attempts a ON a.reference_id = e.reference_id "
                "WHERE e.batch_id = ? AND e.from_state = ? AND e.to_state = ? "
                "AND a.previous_reference_id IS NOT NULL",
                (batch_id, RowState.UNKNOWN.value, RowState.NEW.value),
            )
        }

    # -- history for review ------------------------------------------------------------------

    def earlier_batches(self, batch: BatchRecord) -> list[BatchRecord]:
        """Batches planned on this ledger before `batch`, newest first."""
        return [
            BatchRecord.from_row(r)
            for r in self._all(
                "SELECT * FROM batches WHERE id != ? AND (created_at < ? OR "
                "(created_at = ? AND id < ?)) ORDER BY created_at DESC, id DESC",
                (batch.id, batch.created_at.isoformat(), batch.created_at.isoformat(), batch.id),
            )
        ]

    def operator_totals(self, batch_id: int) -> list[tuple[str, str, int, int]]:
        """(currency, operator, rows, amount in minor units) of the rows to pay."""
        return [
            (r[0], r[1], r[2], r[3])
            for r in self._all(
                "SELECT currency, COALESCE(operator, method, 'unknown'), COUNT(*), "
                "SUM(amount_minor) FROM rows WHERE batch_id = ? AND state != ? "
                "AND currency IS NOT NULL AND amount_minor IS NOT NULL GROUP BY 1, 2",
                (batch_id, RowState.SKIPPED.value),
            )
        ]

    def history_lines(self, batch_ids: Sequence[int]) -> Iterator[HistoryLine]:
        """Planned (not SKIPPED) rows of these batches, batch by batch in the order given."""
        for batch_id in batch_ids:
            for r in self._execute(
                "SELECT batch_id, sheet_row, name, phone, amount_minor, currency, external_id "
                "FROM rows WHERE batch_id = ? AND state != ? ORDER BY sheet_row",
                (batch_id, RowState.SKIPPED.value),
            ).fetchall():
                yield HistoryLine(r[0], r[1], r[2], r[3], r[4], r[5], r[6])
