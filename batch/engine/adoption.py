"""Issue 11: an execution the API already holds is adopted, and "not found" never pays twice.

Two decisions the runner and the monitor delegate here, kept apart from their loops:
- an execute answered 422 on its `reference_id` field ("duplicate reference_id", REFERENCE
  §4.2) means the API has an execution of that id: the row follows it by status, adopted;
- an attempt whose status is "not found" after the grace window may still have landed (a
  status that lags, a clock that jumped): it is sent again with the SAME reference_id on a
  fresh session, never replaced by a new id; only an attempt every send of which was
  rejected outright becomes FAILED (and only a later, deliberate --retry-failed mints anew).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from batch import errors

# Fresh-session re-sends of one attempt whose status stays "not found"; then the row is left
# UNKNOWN (exit 4, run or reconcile again later), never given a new reference_id.
MAX_FRESH_SENDS = 3


def fresh_sends_after_interrupt(*, fresh_sends: int, resends: int) -> int:
    """The attempt's fresh-send count once a run that died mid-send (SUBMITTING) is found.

    The send it died in does not count against MAX_FRESH_SENDS when it was the fresh send
    itself (no same-session resend since): the limit is for an API that keeps not finding
    what we sent, and our own crash says nothing about that. A random kill in every third
    fresh send used to leave a row UNKNOWN for a person. Every send keeps the same
    reference_id, so the bound that remains (the limit plus the kills) cannot pay twice.
    """
    return fresh_sends - 1 if fresh_sends > 0 and resends == 0 else fresh_sends


def is_duplicate_reference(exc: errors.ApiValidationError) -> bool:
    """A 422 whose detail points at the request's `reference_id` field: the id exists.

    Decided on the error's structure (`loc`), never its message text. A 422 about another
    field (an expired session, an amount) is not one.
    """
    detail: Any = exc.detail
    if not isinstance(detail, Sequence) or isinstance(detail, str):
        return False
    for item in detail:
        loc = item.get("loc") if isinstance(item, dict) else None
        if isinstance(loc, Sequence) and not isinstance(loc, str) and loc:
            if loc[0] == "body" and loc[-1] == "reference_id":
                return True
    return False


class NotFound(StrEnum):
    """What a trusted "not found" leads to."""

    RESEND_FRESH = "RESEND_FRESH"  # same reference_id, a fresh session
    FAIL = "FAIL"  # every send was rejected outright (422, not a duplicate)
    KEEP_WATCHING = "KEEP_WATCHING"  # fresh sends used up: stay UNKNOWN


@dataclass(frozen=True)
class NotFoundDecision:
    """The action, and the attempt's fresh-send count after it."""

    action: NotFound
    fresh_sends: int


def after_not_found(
    *, rejected: bool, fresh_sends: int, max_rejected: int, max_fresh: int = MAX_FRESH_SENDS
) -> NotFoundDecision:
    """Decide what a trusted "not found" of the current attempt leads to (pure).

    rejected: its last send was answered 422 (not a duplicate): the API refused it outright.
    """
    if rejected and fresh_sends + 1 >= max_rejected:
        return NotFoundDecision(NotFound.FAIL, fresh_sends)
    if fresh_sends >= max_fresh:
        return NotFoundDecision(NotFound.KEEP_WATCHING, fresh_sends)
    return NotFoundDecision(NotFound.RESEND_FRESH, fresh_sends + 1)
