"""Issue 11's row transitions: adopting an execution the API holds, re-sending the same
reference_id on a fresh session after "not found", and a completed payout reversed later."""

from __future__ import annotations

from batch.engine.states import RowState
from batch.ledger.records import ExecutionLike
from batch.ledger.transitions import Transitions, _execution_columns

S = RowState


class LateTransitions(Transitions):
    """Transitions that keep a reference_id when a new one could pay twice (STYLE.md 7)."""

    def mark_reversed(
        self, row_id: int, reference_id: str, *, reason: str, execution: ExecutionLike
    ) -> None:
        """COMPLETED -> REVERSED: a recheck found the provider took the payout back."""
        self._transition(
            row_id, [S.COMPLETED], S.REVERSED, reference_id=reference_id,
            detail=f"reversed after completion: {reason}", row_sets={"failure_reason": reason},
            attempt_sets={**_execution_columns(execution), "rechecked_at": self.now()},
        )

    def mark_adopting(self, row_id: int, reference_id: str, *, reason: str) -> None:
        """SUBMITTING -> SUBMITTED: the API holds an execution of this reference_id already
        (execute answered "duplicate reference_id"); the row follows it by status (issue 11).

        It never gets a new reference_id while that execution is merely not found.
        """
        self._transition(
            row_id, [S.SUBMITTING], S.SUBMITTED, reference_id=reference_id,
            detail=f"adopting the API's execution of this reference_id: {reason}",
            row_sets={"failure_reason": None},
            attempt_sets={"adopted": 1, "execute_error": reason},
        )

    def note_adopted(self, row_id: int, reference_id: str, *, detail: str) -> None:
        """Record that an attempt whose execute was rejected (422) is an execution the API
        holds after all (status found it): it is adopted and followed (issue 11)."""
        with self.atomic():
            self._execute(
                "UPDATE attempts SET adopted = 1 WHERE reference_id = ? AND row_id = ?",
                (reference_id, row_id),
            )
            self._execute(
                "INSERT INTO events (batch_id, row_id, reference_id, at, detail) "
                "SELECT batch_id, id, ?, ?, ? FROM rows WHERE id = ?",
                (reference_id, self.now(), f"adopted: {detail}", row_id),
            )

    def mark_fresh_resend(self, row_id: int, reference_id: str, *, fresh_sends: int) -> None:
        """UNKNOWN -> NEW keeping the SAME attempt and reference_id: status "not found" was
        trusted, but the send may have landed; it is sent again on a fresh session (issue 11,
        item 6). A landed first send then answers "duplicate", which is adopted."""
        self._transition(
            row_id, [S.UNKNOWN], S.NEW, reference_id=reference_id,
            detail=f"not found: the same reference_id again on a fresh session ({fresh_sends})",
            row_sets={"failure_reason": None},
            attempt_sets={
                "fresh_sends": fresh_sends, "not_found_seen": 1, "resends": 0,
                "session_id": None, "session_expires_at": None,
            },
        )
