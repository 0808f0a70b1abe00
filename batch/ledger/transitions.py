"""Named row transitions: each checks the expected state in its UPDATE and logs its event."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from datetime import datetime
from decimal import Decimal
from typing import Any

from batch import refids
from batch.engine.states import (
    CONFIRMED_NOT_PAID,
    AttemptOutcome,
    ExecuteOutcome,
    RowState,
    can_transition,
)
from batch.errors import TransitionError
from batch.ledger.core import LedgerCore
from batch.ledger.records import ExecutionLike, SeenRow

S = RowState
Seen = tuple[int, RowState]  # (batch_id, state) of a row as its caller last saw it
_PRE_SEND = (S.NEW, S.RECIPIENT_READY, S.SESSION_OPEN)
_SENT = (S.SUBMITTING, S.SUBMITTED, S.UNKNOWN)


def _text(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


def _execution_columns(execution: ExecutionLike) -> dict[str, Any]:
    return {
        "api_status": execution.status,
        "provider_transaction_id": execution.provider_transaction_id,
        "payer_amount": _text(execution.payer_amount),
        "payer_currency": execution.payer_currency,
        "payee_amount": _text(execution.payee_amount),
        "payee_currency": execution.payee_currency,
        "gateway_message": execution.gateway_message,
        "wallet_message": execution.wallet_message,
    }


@functools.cache
def _update_rows_sql(columns: tuple[str, ...], allowed: int) -> str:
    """The UPDATE of a transition (built once per shape; the names are ours, never input)."""
    assignments = ", ".join(f"{c} = ?" for c in columns)
    return f"UPDATE rows SET {assignments} WHERE id = ? AND state IN ({', '.join('?' * allowed)})"


@functools.cache
def _update_seen_row_sql(columns: tuple[str, ...]) -> str:
    assignments = ", ".join(f"{c} = ?" for c in columns)
    return f"UPDATE rows SET {assignments} WHERE id = ? AND batch_id = ? AND state = ?"


@functools.cache
def _update_attempt_sql(columns: tuple[str, ...]) -> str:
    assignments = ", ".join(f"{c} = ?" for c in columns)
    return f"UPDATE attempts SET {assignments} WHERE reference_id = ? AND row_id = ?"


class Transitions(LedgerCore):
    """The row state machine's writes (STYLE.md 7)."""

    def _transition(
        self,
        row_id: int,
        expected: Iterable[RowState],
        target: RowState,
        *,
        reference_id: str | None = None,
        detail: str | None = None,
        row_sets: dict[str, Any] | None = None,
        attempt_sets: dict[str, Any] | None = None,
        seen: Seen | None = None,
        savepoint: bool = True,
    ) -> None:
        """Move one row from one of `expected` to `target`: all of it or nothing (a savepoint
        in the caller's transaction, or a transaction of its own).

        `savepoint=False`: none of its own (it costs two statements), only for a caller whose
        transaction is rolled back whole when this raises.
        `seen`: (batch_id, state) as the caller last saw the row. Then the UPDATE alone checks
        the row is there (id, batch and that one state), saving a read; if it is not, nothing
        was written and the full check runs as without `seen`.
        """
        if not savepoint and not self._depth:
            raise RuntimeError("a transition without a savepoint must run inside atomic()")
        allowed = tuple(expected)
        with self.atomic() if savepoint else nullcontext():
            now = self.now()
            sets = {"state": target, "updated_at": now, **(row_sets or {})}
            moved = None
            if seen is not None and seen[1] in allowed and can_transition(seen[1], target):
                cur = self._execute(
                    _update_seen_row_sql(tuple(sets)), (*sets.values(), row_id, *seen)
                )
                moved = seen if cur.rowcount == 1 else None
            if moved is None:
                moved = self._move_checked(row_id, allowed, target, sets)
            if attempt_sets and reference_id is not None:
                acur = self._execute(
                    _update_attempt_sql(tuple(attempt_sets)),
                    (*attempt_sets.values(), reference_id, row_id),
                )
                if acur.rowcount != 1:
                    raise TransitionError(
                        f"row {row_id} has no attempt {reference_id}", row_id=row_id
                    )
            self._execute(
                "INSERT INTO events (batch_id, row_id, reference_id, from_state, to_state, at, "
                "detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (moved[0], row_id, reference_id, moved[1], target, now, detail),
            )

    def _move_checked(
        self, row_id: int, allowed: tuple[RowState, ...], target: RowState, sets: dict[str, Any]
    ) -> Seen:
        """Read where the row stands, refuse a move the state machine forbids, then UPDATE
        (its WHERE checks the state again); returns (batch_id, the state it moved from)."""
        found = self._one("SELECT batch_id, state FROM rows WHERE id = ?", (row_id,))
        if found is None:
            raise TransitionError(f"row {row_id} does not exist", row_id=row_id)
        current = RowState(found["state"])
        if current not in allowed or not can_transition(current, target):
            raise TransitionError(
                f"row {row_id} is {current}, expected {'/'.join(allowed)} to become {target}",
                row_id=row_id,
            )
        cur = self._execute(
            _update_rows_sql(tuple(sets), len(allowed)), (*sets.values(), row_id, *allowed)
        )
        if cur.rowcount != 1:
            raise TransitionError(f"row {row_id} changed under us", row_id=row_id)
        return found["batch_id"], current

    def mark_recipient_ready(self, row_id: int, *, account_id: int) -> None:
        """NEW -> RECIPIENT_READY: the row's party and account (payout or payer) exist."""
        self._transition(row_id, [S.NEW], S.RECIPIENT_READY, detail=f"account {account_id}")

    def mark_session_open(
        self,
        row_id: int,
        reference_id: str,
        *,
        session_id: int,
        wallet_id: int | None,
        expires_at: datetime,
        account_id: int,
        recipient_ready: bool = False,
        seen: SeenRow | None = None,
    ) -> None:
        """RECIPIENT_READY (or SESSION_OPEN, renewing an expired session) -> SESSION_OPEN.

        `recipient_ready`: the row is NEW and its recipient has just been set up; it goes
        through RECIPIENT_READY to SESSION_OPEN in one transaction (two events). `seen`: the
        row as the caller last read it (saves reading it again; see _transition).
        """
        expires = expires_at.isoformat()
        state = None if seen is None else (seen.batch_id, seen.state)
        with self.atomic():
            if recipient_ready:
                self._transition(
                    row_id, [S.NEW], S.RECIPIENT_READY,
                    savepoint=False,
                    detail=f"account {account_id}", seen=state,
                )
                state = None if seen is None else (seen.batch_id, S.RECIPIENT_READY)
            self._transition(
                row_id, [S.RECIPIENT_READY, S.SESSION_OPEN], S.SESSION_OPEN,
                savepoint=False,
                reference_id=reference_id, seen=state,
                detail=f"session {session_id} expires {expires}",
                attempt_sets={
                    "session_id": session_id,
                    "wallet_id": wallet_id,
                    "session_expires_at": expires,
                    "account_id": account_id,
                },
            )

    def mark_submitting(
        self,
        items: Sequence[tuple[int, str]],
        *,
        run_session: str = "",
        batch_id: int | None = None,
    ) -> None:
        """SESSION_OPEN -> SUBMITTING for many rows in ONE transaction (group commit).

        Committed, fsynced, before any of these execute requests leaves (REFERENCE §4.1).
        All or none: a refused row rolls the whole group back (the caller retries one by one).
        `batch_id`: the rows' batch, if the caller knows it (saves reading each row first).
        """
        seen = None if batch_id is None else (batch_id, S.SESSION_OPEN)
        with self.atomic(durable=True):
            now = self.now()
            for row_id, reference_id in items:
                self._transition(
                    row_id, [S.SESSION_OPEN], S.SUBMITTING, reference_id=reference_id,
                    savepoint=False,
                    attempt_sets={"submitted_at": now, "run_session": run_session}, seen=seen,
                )

    def mark_resending(
        self, row_id: int, reference_id: str, *, resends: int, run_session: str = ""
    ) -> None:
        """UNKNOWN -> SUBMITTING: the same reference_id is about to be sent again.

        Only after status said "not found" while the session is still open (REFERENCE §4.2);
        the API keeps one execution per reference_id, so a resend cannot pay twice. Durable
        before the request leaves, like the first send.
        """
        with self.atomic(durable=True):
            self._transition(
                row_id, [S.UNKNOWN], S.SUBMITTING, reference_id=reference_id,
                savepoint=False,
                detail=f"resend {resends} of the same reference_id after status not found",
                attempt_sets={
                    "submitted_at": self.now(), "run_session": run_session, "resends": resends
                },
            )

    def mark_submitted(
        self,
        row_id: int,
        reference_id: str,
        execution: ExecutionLike,
        *,
        seen: SeenRow | None = None,
    ) -> None:
        """SUBMITTING/UNKNOWN -> SUBMITTED: the API holds it as PENDING/PROCESSING."""
        self._transition(
            row_id, [S.SUBMITTING, S.UNKNOWN], S.SUBMITTED, reference_id=reference_id,
            detail=execution.status, attempt_sets=_execution_columns(execution),
            seen=None if seen is None else (seen.batch_id, seen.state),
        )

    def mark_refused(self, row_id: int, reference_id: str, *, reason: str) -> None:
        """SUBMITTING -> SESSION_OPEN: the API refused the execute at its gate (401/403,
        REFERENCE §4.2), nothing processed; the same reference_id is sent next time."""
        self._transition(
            row_id, [S.SUBMITTING], S.SESSION_OPEN, reference_id=reference_id, detail=reason,
            attempt_sets={"execute_error": reason},
        )

    def mark_unknown(
        self, row_id: int, reference_id: str, *, outcome: ExecuteOutcome, reason: str,
        fresh_sends: int | None = None,
    ) -> None:
        """SUBMITTING -> UNKNOWN: the answer was lost, ambiguous or a refusal to confirm;
        settle by status polling. `outcome` is what later decisions read; `reason` is for people.
        `fresh_sends`: the attempt's fresh-send count from now on, if it changes (a send
        interrupted by our own crash: engine.adoption.fresh_sends_after_interrupt).
        """
        attempt_sets: dict[str, object] = {
            "execute_error": reason, "execute_outcome": outcome.value,
        }
        if fresh_sends is not None:
            attempt_sets["fresh_sends"] = fresh_sends
        self._transition(
            row_id, [S.SUBMITTING], S.UNKNOWN, reference_id=reference_id, detail=reason,
            row_sets={"failure_reason": None}, attempt_sets=attempt_sets,
        )

    def mark_completed(
        self,
        row_id: int,
        reference_id: str,
        execution: ExecutionLike,
        *,
        seen: SeenRow | None = None,
    ) -> None:
        """In flight -> COMPLETED: the API says the money arrived."""
        self._transition(
            row_id, _SENT, S.COMPLETED, reference_id=reference_id,
            seen=None if seen is None else (seen.batch_id, seen.state),
            detail=execution.provider_transaction_id, row_sets={"failure_reason": None},
            attempt_sets={
                **_execution_columns(execution),
                "outcome": AttemptOutcome.COMPLETED.value,
                "settled_at": self.now(),
            },
        )

    def mark_failed(
        self,
        row_id: int,
        reference_id: str | None,
        *,
        reason: str,
        execution: ExecutionLike | None = None,
        not_found: bool = False,
    ) -> None:
        """-> FAILED, with the reason stored on the row.

        With an execution: the API said FAILED. With `not_found`: the attempt was confirmed not
        found after the grace window. With neither: the row failed before it was sent.
        """
        attempt_sets: dict[str, Any] = {"settled_at": self.now()}
        if execution is not None:
            expected: Sequence[RowState] = _SENT
            attempt_sets.update(_execution_columns(execution))
            attempt_sets["outcome"] = AttemptOutcome.FAILED.value
        elif not_found:
            expected = [S.UNKNOWN]
            attempt_sets["outcome"] = AttemptOutcome.NOT_FOUND.value
        else:
            expected = _PRE_SEND
            attempt_sets["outcome"] = AttemptOutcome.NOT_SENT.value
        self._transition(
            row_id, expected, S.FAILED, reference_id=reference_id, detail=reason,
            row_sets={"failure_reason": reason}, attempt_sets=attempt_sets,
        )

    def start_new_attempt(
        self,
        row_id: int,
        new_reference_id: str,
        *,
        reason: str,
        not_found_reference_id: str | None = None,
    ) -> None:
        """FAILED (or UNKNOWN confirmed not found) -> NEW with a fresh reference_id, lineage kept.

        Refuses unless every earlier attempt of the row is confirmed not paid.
        """
        with self.atomic():
            if not_found_reference_id is not None:
                self._execute(
                    "UPDATE attempts SET outcome = ?, settled_at = ? WHERE reference_id = ? "
                    "AND row_id = ? AND outcome IS NULL",
                    (AttemptOutcome.NOT_FOUND.value, self.now(), not_found_reference_id, row_id),
                )
            attempts = self._all(
                "SELECT reference_id, attempt_no, outcome FROM attempts WHERE row_id = ? "
                "ORDER BY attempt_no",
                (row_id,),
            )
            open_or_paid = [
                a["reference_id"] for a in attempts
                if a["outcome"] is None or AttemptOutcome(a["outcome"]) not in CONFIRMED_NOT_PAID
            ]
            if open_or_paid:
                raise TransitionError(
                    f"row {row_id}: attempt {open_or_paid[0]} is not confirmed failed or not "
                    "found; no new attempt",
                    row_id=row_id,
                )
            previous = attempts[-1]["reference_id"] if attempts else None
            number = (attempts[-1]["attempt_no"] if attempts else 0) + 1
            new_reference_id = self._derived_reference_id(row_id, number) or new_reference_id
            self._execute(
                "INSERT INTO attempts (reference_id, row_id, attempt_no, previous_reference_id, "
                "created_at) VALUES (?, ?, ?, ?, ?)",
                (new_reference_id, row_id, number, previous, self.now()),
            )
            self._transition(
                row_id, [S.FAILED, S.UNKNOWN], S.NEW, reference_id=new_reference_id,
                savepoint=False,
                detail=f"attempt {number} after {previous}: {reason}",
                row_sets={"current_reference_id": new_reference_id, "failure_reason": None},
            )

    def _derived_reference_id(self, row_id: int, number: int) -> str | None:
        """Attempt `number`'s derived reference_id (issue 11), or None for a row planned with
        minted ids. Past every attempt number used under the same seed on this ledger."""
        found = self._one("SELECT ref_seed, ref_base FROM rows WHERE id = ?", (row_id,))
        if found is None or found["ref_seed"] is None:
            return None
        used = self._one(
            "SELECT MAX(r.ref_base + a.attempt_no) AS n FROM rows r JOIN attempts a "
            "ON a.row_id = r.id WHERE r.ref_seed = ?",
            (found["ref_seed"],),
        )
        n = max(found["ref_base"] + number, (used["n"] or 0) + 1 if used else 1)
        return refids.reference_id(found["ref_seed"], n)

    def record_poll(self, reference_id: str, execution: ExecutionLike) -> None:
        """Store the latest status of an in-flight attempt without a state change."""
        self._write(
            "UPDATE attempts SET api_status = ?, provider_transaction_id = ?, "
            "gateway_message = ?, wallet_message = ? WHERE reference_id = ?",
            (execution.status, execution.provider_transaction_id, execution.gateway_message,
             execution.wallet_message, reference_id),
        )
