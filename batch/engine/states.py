"""The per-row payout state machine of DESIGN.md: states, allowed transitions, next actions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum


class RowState(StrEnum):
    """Where one sheet row stands."""

    NEW = "NEW"
    RECIPIENT_READY = "RECIPIENT_READY"
    SESSION_OPEN = "SESSION_OPEN"
    SUBMITTING = "SUBMITTING"  # reference_id committed, execute request may have left
    SUBMITTED = "SUBMITTED"  # the API accepted it: PENDING / PROCESSING
    UNKNOWN = "UNKNOWN"  # the execute answer was lost or ambiguous; settle by status polling
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"  # invalid row left out with --skip-invalid; never sent
    CANCELLED = "CANCELLED"  # not sent, and never will be: `paybatch cancel` (issue 13)
    REVERSED = "REVERSED"  # COMPLETED, then taken back by the provider (reconcile --recheck)


class AttemptOutcome(StrEnum):
    """How one attempt (one reference_id) ended; an open attempt has no outcome yet."""

    COMPLETED = "COMPLETED"
    FAILED = "FAILED"  # the API said FAILED
    NOT_FOUND = "NOT_FOUND"  # status 404 trusted after the grace window (REFERENCE §4.3)
    NOT_SENT = "NOT_SENT"  # never sent (the row failed before SUBMITTING)


class ExecuteOutcome(StrEnum):
    """What an execute request without a clear answer was (typed, so no decision reads text)."""

    REJECTED = "rejected"  # 422: probably nothing moved; confirm by status, then a new attempt
    THROTTLED = "throttled"  # 429: "probably not processed" (REFERENCE §4.2); resend same id
    AMBIGUOUS = "ambiguous"  # lost answer, timeout, 5xx: may have landed; settle by status


class OperationKind(StrEnum):
    """What a batch does: pay each row, or request payment from each row (via an invoice)."""

    PAYOUT = "payout"
    COLLECTION = "collection"


# The API's operation_type values (REFERENCE §3.4): recipient accounts are keyed by them.
PAYOUT = "PAYOUT"
COLLECTION = "COLLECTION"


# Outcomes after which a fresh attempt cannot pay twice.
CONFIRMED_NOT_PAID: frozenset[AttemptOutcome] = frozenset(
    {AttemptOutcome.FAILED, AttemptOutcome.NOT_FOUND, AttemptOutcome.NOT_SENT}
)

TERMINAL: frozenset[RowState] = frozenset(
    {RowState.COMPLETED, RowState.FAILED, RowState.SKIPPED, RowState.CANCELLED,
     RowState.REVERSED}
)
IN_FLIGHT: frozenset[RowState] = frozenset(
    {RowState.SUBMITTING, RowState.SUBMITTED, RowState.UNKNOWN}
)

# Every transition a row may make (DESIGN.md "Per-row state machine"). A fresh attempt goes
# back to NEW; a failure before anything was sent may happen from any pre-send state.
ALLOWED_TRANSITIONS: dict[RowState, frozenset[RowState]] = {
    RowState.NEW: frozenset({RowState.RECIPIENT_READY, RowState.FAILED, RowState.CANCELLED}),
    RowState.RECIPIENT_READY: frozenset(
        {RowState.SESSION_OPEN, RowState.FAILED, RowState.CANCELLED}
    ),
    RowState.SESSION_OPEN: frozenset(
        {RowState.SESSION_OPEN, RowState.SUBMITTING, RowState.RECIPIENT_READY, RowState.FAILED,
         RowState.CANCELLED}
    ),
    # SUBMITTING -> SESSION_OPEN: refused at the API's gate (401/403), nothing processed;
    # the attempt and its reference_id stay for the next send.
    RowState.SUBMITTING: frozenset(
        {RowState.SUBMITTED, RowState.UNKNOWN, RowState.COMPLETED, RowState.FAILED,
         RowState.SESSION_OPEN}
    ),
    RowState.SUBMITTED: frozenset({RowState.COMPLETED, RowState.FAILED}),
    # UNKNOWN -> SUBMITTING: the same reference_id re-sent after status "not found".
    RowState.UNKNOWN: frozenset(
        {RowState.SUBMITTING, RowState.SUBMITTED, RowState.COMPLETED, RowState.FAILED, RowState.NEW}
    ),
    # COMPLETED -> REVERSED: a recheck found the provider took the payout back (issue 11).
    RowState.COMPLETED: frozenset({RowState.REVERSED}),
    RowState.FAILED: frozenset({RowState.NEW}),
    RowState.SKIPPED: frozenset(),
    RowState.CANCELLED: frozenset(),
    RowState.REVERSED: frozenset(),
}


def can_transition(current: RowState, target: RowState) -> bool:
    """Whether the state machine allows going from `current` to `target`."""
    return target in ALLOWED_TRANSITIONS[current]


class Action(StrEnum):
    """What the runner does next with a row."""

    ENSURE_RECIPIENT = "ENSURE_RECIPIENT"  # party, counterparty, payout account
    OPEN_SESSION = "OPEN_SESSION"  # a new payout session (first, or renewing an expired one)
    SUBMIT = "SUBMIT"  # commit SUBMITTING, then execute
    POLL = "POLL"  # ask status with the same reference_id; never re-execute
    RETRY = "RETRY"  # a fresh attempt: new reference_id, lineage kept
    NOTHING = "NOTHING"


def next_action(
    state: RowState,
    *,
    now: datetime,
    session_expires_at: datetime | None = None,
    outcomes: Sequence[AttemptOutcome | None] = (),
    retry_failed: bool = False,
    session_margin: timedelta = timedelta(seconds=5),
) -> Action:
    """What to do with a row, given its state and its attempts' outcomes."""
    if state is RowState.NEW:
        return Action.ENSURE_RECIPIENT
    if state is RowState.RECIPIENT_READY:
        return Action.OPEN_SESSION
    if state is RowState.SESSION_OPEN:
        if session_expires_at is None or session_expires_at - session_margin <= now:
            return Action.OPEN_SESSION
        return Action.SUBMIT
    if state in IN_FLIGHT:
        return Action.POLL
    if state is RowState.FAILED and retry_failed and may_retry(outcomes):
        return Action.RETRY
    return Action.NOTHING


def may_retry(outcomes: Sequence[AttemptOutcome | None]) -> bool:
    """A fresh attempt is safe only when every earlier one is confirmed not paid."""
    return bool(outcomes) and all(o is not None and o in CONFIRMED_NOT_PAID for o in outcomes)


def not_found_trusted_at(
    *, submitted_at: datetime, session_expires_at: datetime | None, grace: timedelta
) -> datetime:
    """From when a status 404 for a lost execute may be trusted as "not found" (REFERENCE §4.3).

    The session must have expired (so the request can no longer land) and `grace` must have
    passed since both the request and the expiry, so a late-visible execution shows up first.
    """
    latest = submitted_at if session_expires_at is None else max(submitted_at, session_expires_at)
    return latest + grace


def not_found_trusted(
    *,
    now: datetime,
    submitted_at: datetime,
    session_expires_at: datetime | None,
    grace: timedelta,
) -> bool:
    """Whether a 404 seen `now` means the attempt never landed."""
    trusted_from = not_found_trusted_at(
        submitted_at=submitted_at, session_expires_at=session_expires_at, grace=grace
    )
    return now >= trusted_from


def resend_due_at(
    *,
    sent_at: datetime,
    session_expires_at: datetime | None,
    resends: int,
    max_resends: int | None,
    grace: timedelta,
    margin: timedelta,
) -> datetime | None:
    """When an attempt whose status says "not found" may be sent again with its own
    reference_id (REFERENCE §4.2), or None: resends used up (max_resends None: no limit), or
    its session closes first.

    Safe because the API keeps one execution per reference_id: if the first send did land,
    the resend is answered with it (or 422 duplicate), never paid again. `grace` leaves a
    just-sent execution time to become visible to status first.
    """
    if (max_resends is not None and resends >= max_resends) or session_expires_at is None:
        return None
    due = sent_at + grace
    if due + margin >= session_expires_at:
        return None
    return due


def poll_delay(polls_done: int, *, first: float, cap: float) -> float:
    """Seconds until the next status poll: the expected processing time, then doubling, capped."""
    return float(min(cap, first * (2 ** max(0, polls_done))))
