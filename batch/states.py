"""The per-row payout state machine of DESIGN.md: states, allowed transitions, next actions."""

from __future__ import annotations

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


class AttemptOutcome(StrEnum):
    """How one attempt (one reference_id) ended; an open attempt has no outcome yet."""

    COMPLETED = "COMPLETED"
    FAILED = "FAILED"  # the API said FAILED
    NOT_FOUND = "NOT_FOUND"  # status 404 trusted after the grace window (REFERENCE §4.3)
    NOT_SENT = "NOT_SENT"  # never sent (the row failed before SUBMITTING)


# Outcomes after which a fresh attempt cannot pay twice.
CONFIRMED_NOT_PAID: frozenset[AttemptOutcome] = frozenset(
    {AttemptOutcome.FAILED, AttemptOutcome.NOT_FOUND, AttemptOutcome.NOT_SENT}
)

TERMINAL: frozenset[RowState] = frozenset({RowState.COMPLETED, RowState.FAILED, RowState.SKIPPED})
IN_FLIGHT: frozenset[RowState] = frozenset(
    {RowState.SUBMITTING, RowState.SUBMITTED, RowState.UNKNOWN}
)

# Every transition a row may make (DESIGN.md "Per-row state machine"). A fresh attempt goes
# back to NEW; a failure before anything was sent may happen from any pre-send state.
ALLOWED_TRANSITIONS: dict[RowState, frozenset[RowState]] = {
    RowState.NEW: frozenset({RowState.RECIPIENT_READY, RowState.FAILED}),
    RowState.RECIPIENT_READY: frozenset({RowState.SESSION_OPEN, RowState.FAILED}),
    RowState.SESSION_OPEN: frozenset(
        {RowState.SESSION_OPEN, RowState.SUBMITTING, RowState.RECIPIENT_READY, RowState.FAILED}
    ),
    RowState.SUBMITTING: frozenset(
        {RowState.SUBMITTED, RowState.UNKNOWN, RowState.COMPLETED, RowState.FAILED}
    ),
    RowState.SUBMITTED: frozenset({RowState.COMPLETED, RowState.FAILED}),
    RowState.UNKNOWN: frozenset(
        {RowState.SUBMITTED, RowState.COMPLETED, RowState.FAILED, RowState.NEW}
    ),
    RowState.COMPLETED: frozenset(),
    RowState.FAILED: frozenset({RowState.NEW}),
    RowState.SKIPPED: frozenset(),
}


def can_transition(current: RowState, target: RowState) -> bool:
    """Whether the state machine allows going from `current` to `target`."""
    return target in ALLOWED_TRANSITIONS[current]
