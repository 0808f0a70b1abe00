"""Why rows were not paid, as group keys for status and the report (issue 13), pure.

Grouped by reason, not by message text: the typed fields decide (a wallet message at all,
the problem columns of a skipped row); any text left has its amounts, ids and times masked.
"""

from __future__ import annotations

import re

from batch.engine.states import AttemptOutcome, RowState
from batch.ledger.records import AttemptRecord, RowRecord


def deciding_attempt(row: RowRecord) -> AttemptRecord | None:
    """The attempt that decides a row: its completed one, else its current one."""
    completed = [a for a in row.attempts if a.outcome is AttemptOutcome.COMPLETED]
    return completed[-1] if completed else row.current_attempt


WALLET_REASON = "the merchant wallet could not cover the payout (fund it, then --retry-failed)"
_NUMBERS = re.compile(r"[-+]?\d[\d,.:]*")


def reason_of(row: RowRecord) -> str:
    """Why a row was not paid, as a group key (issue 13): from the typed fields first (a
    wallet message at all, a rejected execute, the problem columns of a skipped row), and
    any message with its amounts, ids and times masked, so "583.63 needed" and "158.94
    needed" are one reason."""
    if row.state is RowState.SKIPPED:
        columns = sorted({str(p.get("column") or "row") for p in row.problems or []})
        return "skipped (invalid): " + (", ".join(columns) or "row")
    if row.state is RowState.CANCELLED:
        return "cancelled (paybatch cancel)"
    attempt = deciding_attempt(row)
    if attempt is not None and attempt.wallet_message:
        return WALLET_REASON
    if attempt is not None and attempt.gateway_message:
        return "gateway: " + _masked(attempt.gateway_message)
    return _masked(row.failure_reason or "no reason recorded")


def _masked(text: str) -> str:
    return _NUMBERS.sub("#", text)


def message_of(row: RowRecord) -> str | None:
    """One message of a row's reason, as it was said (the group's example)."""
    attempt = deciding_attempt(row)
    if attempt is not None and (attempt.wallet_message or attempt.gateway_message):
        return attempt.wallet_message or attempt.gateway_message
    return row.failure_reason
