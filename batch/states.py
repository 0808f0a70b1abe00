"""The per-row payout state machine of DESIGN.md: states and the transitions allowed between them."""

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


TERMINAL: frozenset[RowState] = frozenset({RowState.COMPLETED, RowState.FAILED, RowState.SKIPPED})
IN_FLIGHT: frozenset[RowState] = frozenset(
    {RowState.SUBMITTING, RowState.SUBMITTED, RowState.UNKNOWN}
)
