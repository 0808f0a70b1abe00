"""The state machine's table and pure decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from batch.engine.states import (
    ALLOWED_TRANSITIONS,
    TERMINAL,
    Action,
    AttemptOutcome,
    RowState,
    can_transition,
    may_retry,
    next_action,
    not_found_trusted,
    poll_delay,
    resend_due_at,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
OUT = AttemptOutcome
S = RowState


def test_every_state_has_a_row_in_the_table() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(RowState)


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (S.NEW, S.RECIPIENT_READY, True),
        (S.SESSION_OPEN, S.SUBMITTING, True),
        (S.SESSION_OPEN, S.SESSION_OPEN, True),  # renewing an expired session
        (S.SUBMITTING, S.UNKNOWN, True),
        (S.UNKNOWN, S.NEW, True),  # fresh attempt after confirmed not found
        (S.UNKNOWN, S.SUBMITTING, True),  # the same reference_id re-sent
        (S.SUBMITTED, S.SUBMITTING, False),  # an accepted payout is never re-sent
        (S.FAILED, S.NEW, True),  # --retry-failed
        (S.NEW, S.SUBMITTING, False),  # never send without a session
        (S.SUBMITTED, S.UNKNOWN, False),
        (S.SUBMITTED, S.NEW, False),  # PROCESSING is never re-executed
        (S.UNKNOWN, S.SESSION_OPEN, False),
        (S.COMPLETED, S.NEW, False),
        (S.SKIPPED, S.NEW, False),
    ],
)
def test_transition_table(current: RowState, target: RowState, allowed: bool) -> None:
    assert can_transition(current, target) is allowed


def test_terminal_states_only_leave_for_a_retry_or_a_reversal() -> None:
    for state in TERMINAL:
        # COMPLETED -> REVERSED: a recheck found the payout taken back (issue 11).
        assert ALLOWED_TRANSITIONS[state] <= {S.NEW, S.REVERSED}
    assert ALLOWED_TRANSITIONS[S.COMPLETED] == {S.REVERSED}


@pytest.mark.parametrize(
    ("state", "expires_in", "outcomes", "retry", "action"),
    [
        (S.NEW, None, [None], False, Action.ENSURE_RECIPIENT),
        (S.RECIPIENT_READY, None, [None], False, Action.OPEN_SESSION),
        (S.SESSION_OPEN, 60, [None], False, Action.SUBMIT),
        (S.SESSION_OPEN, 2, [None], False, Action.OPEN_SESSION),  # within the margin
        (S.SESSION_OPEN, -10, [None], False, Action.OPEN_SESSION),
        (S.SUBMITTING, 60, [None], False, Action.POLL),
        (S.UNKNOWN, -60, [None], True, Action.POLL),
        (S.SUBMITTED, 60, [None], True, Action.POLL),
        (S.FAILED, None, [OUT.FAILED], False, Action.NOTHING),
        (S.FAILED, None, [OUT.FAILED], True, Action.RETRY),
        (S.FAILED, None, [OUT.NOT_FOUND, OUT.FAILED], True, Action.RETRY),
        (S.FAILED, None, [OUT.NOT_SENT], True, Action.RETRY),
        (S.FAILED, None, [OUT.COMPLETED, OUT.FAILED], True, Action.NOTHING),
        (S.FAILED, None, [None, OUT.FAILED], True, Action.NOTHING),
        (S.COMPLETED, None, [OUT.COMPLETED], True, Action.NOTHING),
        (S.SKIPPED, None, [], True, Action.NOTHING),
    ],
)
def test_next_action(
    state: RowState, expires_in: int | None, outcomes: list[AttemptOutcome | None],
    retry: bool, action: Action,
) -> None:
    expires = NOW + timedelta(seconds=expires_in) if expires_in is not None else None
    got = next_action(
        state, now=NOW, session_expires_at=expires, outcomes=outcomes, retry_failed=retry
    )
    assert got is action


def test_may_retry_needs_attempts() -> None:
    assert may_retry([]) is False


@pytest.mark.parametrize(
    ("sent_ago", "expires_in", "grace", "trusted"),
    [
        (600, -300, 180, True),  # expired long ago, grace passed
        (600, 60, 180, False),  # session still open: it could still land
        (600, -60, 180, False),  # expired, but not `grace` since the expiry
        (60, -300, 180, False),  # request too recent
        (181, -181, 180, True),
        (10, None, 5, True),  # no session known: only the grace since the request counts
    ],
)
def test_not_found_trusted(
    sent_ago: int, expires_in: int | None, grace: int, trusted: bool
) -> None:
    expires = NOW + timedelta(seconds=expires_in) if expires_in is not None else None
    assert (
        not_found_trusted(
            now=NOW, submitted_at=NOW - timedelta(seconds=sent_ago), session_expires_at=expires,
            grace=timedelta(seconds=grace),
        )
        is trusted
    )


@pytest.mark.parametrize(
    ("polls", "delay"), [(0, 5.0), (1, 10.0), (2, 20.0), (3, 40.0), (4, 60.0), (20, 60.0)]
)
def test_poll_delay_backs_off_from_the_expected_processing_time(polls: int, delay: float) -> None:
    assert poll_delay(polls, first=5.0, cap=60.0) == delay


@pytest.mark.parametrize(
    ("resends", "max_resends", "expires_in", "due_in"),
    [
        (0, 2, 600, 30),  # sent now: due after the grace
        (1, 2, 600, 30),
        (2, 2, 600, None),  # resends used up
        (5, None, 600, 30),  # no limit (after a 429)
        (5, None, 35, None),  # ...but never into a closing session
        (0, 2, None, None),  # no known session expiry: never into the unknown
        (0, 2, 36, 30),  # due at 30 s, closing at 36 s: outside the 5 s margin
        (0, 2, 35, None),  # ...closing at 35 s: inside it, the resend might arrive too late
        (0, 2, -10, None),  # already expired
    ],
)
def test_resend_due_at(
    resends: int, max_resends: int | None, expires_in: int | None, due_in: int | None
) -> None:
    due = resend_due_at(
        sent_at=NOW,
        session_expires_at=None if expires_in is None else NOW + timedelta(seconds=expires_in),
        resends=resends,
        max_resends=max_resends,
        grace=timedelta(seconds=30),
        margin=timedelta(seconds=5),
    )
    assert due == (None if due_in is None else NOW + timedelta(seconds=due_in))
