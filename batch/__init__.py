"""paybatch: bulk mobile-money payouts through the Dollr API, paid exactly once."""

from batch.errors import BatchError
from batch.models import PayoutRow, RowProblem
from batch.states import RowState

__all__ = ["BatchError", "PayoutRow", "RowProblem", "RowState"]
