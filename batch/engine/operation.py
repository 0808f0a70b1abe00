"""The `Operation` protocol: what the engine needs from one kind of operation.

The runner and the monitor are generic and exactly-once (reference_ids, states, resends,
grace windows, the ledger's discipline); an Operation supplies the kind-specific calls. A new
kind is a new module in `batch/operations/` implementing this, not edits in the runner.

A report is rendered from the ledger alone (no API, so no Operation): its columns are chosen
by the batch's kind in `batch.report.columns`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from batch.engine.states import OperationKind
from batch.ledger import ExecutionLike

if TYPE_CHECKING:
    from batch.ledger import RowRecord
    from batch.options import MonitorOptions


class Answer(ExecutionLike, Protocol):
    """An execute or status answer (`dollr.models.Execution` fits)."""

    @property
    def is_completed(self) -> bool: ...
    @property
    def is_failed(self) -> bool: ...
    @property
    def is_known_status(self) -> bool: ...


class Session(Protocol):
    """A session the API opened for one attempt (`dollr.models.PayoutSession` fits)."""

    @property
    def id(self) -> int: ...
    @property
    def wallet_id(self) -> int | None: ...
    def expires_by_our_clock(self, received_at: datetime) -> datetime: ...


class Operation(Protocol):
    """One kind of operation (payout, collection) as the engine drives it.

    Every method may raise `batch.errors.ApiError` subclasses; the engine decides what an
    error means for the row (Transient: leave for later; Terminal before the send: FAILED;
    anything on execute: UNKNOWN, settled by status).
    """

    @property
    def kind(self) -> OperationKind:
        """What the batch does (recorded on the batch; a batch is never run as another kind)."""
        ...

    @property
    def operation_type(self) -> str:
        """The API's operation_type (PAYOUT, COLLECTION): accounts are keyed by phone and it."""
        ...

    @property
    def monitor_defaults(self) -> MonitorOptions:
        """Polling timings for this kind (a payer answering a prompt is slower than a payout)."""
        ...

    async def prepare(self, row: RowRecord) -> int:
        """Make sure the row's counterpart exists at the API; return the account id to execute
        against (a payout account, a payer account). Reuses what the ledger knows; a step
        whose call has no idempotency key is journaled (`Ledger.record_step`) before the next.
        """
        ...

    async def open_session(self, row: RowRecord, account_id: int) -> Session:
        """Open a session for the row's current attempt (amount and currency from the row)."""
        ...

    async def execute(
        self, row: RowRecord, *, session_id: int, account_id: int, reference_id: str
    ) -> Answer:
        """Send the attempt. Never retried blindly: the engine resends only the same id."""
        ...

    async def status(self, reference_id: str) -> Answer:
        """Read an attempt's status by reference_id (404: `batch.errors.NotFoundError`)."""
        ...

    def stop_reason(self, answer: Answer) -> str | None:
        """Why a FAILED answer must stop the batch's new sends (e.g. the wallet is short)."""
        ...

    async def after_final(self, row_id: int, reference_id: str, answer: Answer) -> None:
        """Work after an attempt's final answer, e.g. fetch a receipt (never moves money)."""
        ...
