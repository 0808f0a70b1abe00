"""`reconcile --recheck` (issue 11): late changes to finished rows.

Payouts can be taken back after COMPLETED (other providers report paid -> failed weeks
later). A recheck re-reads the status of a batch's completed attempts, and of every attempt
once trusted "not found", one at a time under the client's rate ceiling, least recently
rechecked first (an interrupted recheck resumes where it stopped). A completed row now FAILED
becomes REVERSED with the provider's message; an attempt once "not found" that is now
COMPLETED is flagged as a possible double payment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from batch import errors
from batch.engine.states import RowState
from batch.ledger import Ledger

if TYPE_CHECKING:
    from batch.dollr.models import Execution


class StatusApi(Protocol):
    """The one call a recheck makes."""

    async def payout_status(self, reference_id: str) -> Execution: ...


@dataclass
class RecheckResult:
    """What a recheck read and what changed."""

    batch_id: int
    checked: int = 0
    unanswered: int = 0  # 5xx, timeouts: left for the next recheck
    reversed: list[str] = field(default_factory=list)
    double_payments: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Something the books must hear about."""
        return bool(self.reversed or self.double_payments)

    @property
    def exit_code(self) -> int:
        """3 when something changed (like FAILED rows), else 0; 4 if some went unanswered."""
        if self.changed:
            return 3
        return 4 if self.unanswered else 0


async def recheck_batch(
    ledger: Ledger, api: StatusApi, batch_id: int, *, since: datetime | None
) -> RecheckResult:
    """Re-read the status of finished attempts; record reversals; flag late completions."""
    result = RecheckResult(batch_id)
    for item in ledger.recheck_candidates(batch_id, since=since):
        try:
            execution = await api.payout_status(item.reference_id)
        except errors.NotFoundError:
            result.checked += 1
            ledger.mark_rechecked(item.reference_id)
            continue
        except errors.ApiError:
            result.unanswered += 1
            continue
        result.checked += 1
        completed_row = item.row_state is RowState.COMPLETED and item.outcome == "COMPLETED"
        if completed_row and execution.is_failed:
            reason = execution.gateway_message or execution.wallet_message or "status FAILED"
            ledger.mark_reversed(item.row_id, item.reference_id, reason=reason,
                                 execution=execution)
            result.reversed.append(f"row {item.sheet_row}: REVERSED ({reason})")
            continue
        if item.outcome == "NOT_FOUND" and execution.is_completed:
            line = (
                f"row {item.sheet_row}: attempt {item.reference_id}, once confirmed not found, "
                "is COMPLETED: possible double payment"
            )
            ledger.record_event(batch_id, item.row_id, item.reference_id, line)
            result.double_payments.append(line)
        ledger.mark_rechecked(item.reference_id)
    return result
