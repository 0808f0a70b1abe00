"""Withdrawing a batch (`paybatch cancel`, issue 13): its rows not sent become CANCELLED."""

from __future__ import annotations

from batch.engine.states import RowState
from batch.ledger.core import LedgerCore

_NOT_SENT = (RowState.NEW.value, RowState.RECIPIENT_READY.value, RowState.SESSION_OPEN.value)


class Cancels(LedgerCore):
    """Cancel a batch: one transaction, every change in the event log."""

    def cancel_batch(self, batch_id: int, *, reason: str) -> int:
        """Mark the batch cancelled and its rows not sent CANCELLED; returns how many rows.

        Rows already sent (in flight, COMPLETED, FAILED) keep their state: what was paid stays
        paid and what is in flight still settles. Cancelling again changes nothing more.
        The caller holds the batch's lock (no run may be sending meanwhile).
        """
        now = self.now()
        marks = ", ".join("?" * len(_NOT_SENT))
        with self.atomic():
            self._execute(
                "INSERT INTO events (batch_id, row_id, reference_id, from_state, to_state, at, "
                f"detail) SELECT batch_id, id, current_reference_id, state, ?, ?, ? FROM rows "
                f"WHERE batch_id = ? AND state IN ({marks})",
                (RowState.CANCELLED.value, now, reason, batch_id, *_NOT_SENT),
            )
            cur = self._execute(
                f"UPDATE rows SET state = ?, failure_reason = ?, updated_at = ? "
                f"WHERE batch_id = ? AND state IN ({marks})",
                (RowState.CANCELLED.value, reason, now, batch_id, *_NOT_SENT),
            )
            self._execute(
                "INSERT INTO events (batch_id, to_state, at, detail) VALUES (?, ?, ?, ?)",
                (batch_id, "BATCH_CANCELLED", now, f"{cur.rowcount} row(s) cancelled: {reason}"),
            )
            self._execute(
                "UPDATE batches SET cancelled_at = COALESCE(cancelled_at, ?) WHERE id = ?",
                (now, batch_id),
            )
        return cur.rowcount
