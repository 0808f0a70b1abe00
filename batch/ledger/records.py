"""Plain records the ledger takes and returns: new rows, batches, rows, attempts, events."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from batch.engine.states import AttemptOutcome, ExecuteOutcome, OperationKind, RowState
from batch.ledger.integrity import read_values
from batch.markets import CURRENCY_DECIMALS, from_minor

RowLike = sqlite3.Row | Mapping[str, Any]  # a result row, or a dict of it (faster to read)
T = TypeVar("T")


def _frozen(cls: type[T], values: dict[str, Any]) -> T:
    """An instance of a frozen dataclass from ALL its field values, filled in one step.

    Its __init__ sets each field through object.__setattr__ (~1 us each here): rows are read
    several times per paid row, and that was the largest part of the engine's CPU per row.
    """
    instance = object.__new__(cls)
    instance.__dict__.update(values)
    return instance


def _decimal(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None else None


def parse_time(text: str | None) -> datetime | None:
    """An aware datetime from the ledger's ISO text."""
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True, slots=True)
class NewRow:
    """A valid row to record in a new batch, with its first reference_id."""

    sheet_row: int
    name: str
    phone: str
    amount_minor: int
    currency: str
    country: str
    reference_id: str
    external_id: str | None = None
    email: str | None = None
    note: str | None = None
    method: str | None = None
    provider: str | None = None
    ref_seed: str | None = None  # derived reference_ids (batch.refids); None: minted
    ref_base: int = 0  # attempt numbers this ledger used under the same seed already


@dataclass(frozen=True)
class SkippedRow:
    """An invalid row left out with --skip-invalid: kept as SKIPPED so no row is ever lost."""

    sheet_row: int
    name: str | None
    phone: str | None
    amount: str | None
    currency: str | None
    country: str | None
    problems: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None  # why it is left out, when not invalid (e.g. --only-new)


@dataclass(frozen=True)
class BatchRecord:
    """One batch as the ledger holds it."""

    id: int
    name: str
    source_file: str
    content_hash: str
    payout_set_hash: str
    options: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    kind: OperationKind = OperationKind.PAYOUT
    cancelled_at: datetime | None = None  # `paybatch cancel` (sql/006)
    # Issue 11 (migration 004); None / defaults for batches planned before it.
    period: str | None = None  # YYYY-MM pay period
    purpose: str | None = None
    environment: str | None = None  # 'sandbox', or base URL + '#' + client id
    sandbox: bool = False
    repeat_no: int = 0  # --allow-repeat: which deliberate repeat this is

    @property
    def derived_ids(self) -> bool:
        """Whether its reference_ids are derived (planned after issue 11), not minted."""
        return self.period is not None

    @classmethod
    @read_values("batches")
    def from_row(cls, r: sqlite3.Row) -> BatchRecord:
        created = parse_time(r["created_at"])
        assert created is not None
        return cls(
            id=r["id"],
            name=r["name"],
            source_file=r["source_file"],
            content_hash=r["content_hash"],
            payout_set_hash=r["payout_set_hash"],
            options=json.loads(r["options_json"]),
            created_at=created,
            started_at=parse_time(r["started_at"]),
            finished_at=parse_time(r["finished_at"]),
            kind=OperationKind(r["kind"]),
            cancelled_at=parse_time(r["cancelled_at"]) if "cancelled_at" in r.keys() else None,
            period=r["period"],
            purpose=r["purpose"],
            environment=r["environment"],
            sandbox=bool(r["sandbox"]),
            repeat_no=r["repeat_no"],
        )


@dataclass(frozen=True, slots=True)
class EarlierPayment:
    """A row of a batch on this ledger that pays (or will pay) a recipient."""

    batch_id: int
    batch_name: str
    created_at: datetime
    period: str | None
    purpose: str | None
    repeat_no: int
    sheet_row: int
    phone: str
    currency: str
    amount_minor: int
    state: str

    @property
    def paid(self) -> bool:
        """Completed, as opposed to planned or still in flight."""
        return self.state == "COMPLETED"


@dataclass(frozen=True)
class AttemptRecord:
    """One execution attempt: one reference_id and what became of it."""

    reference_id: str
    row_id: int
    attempt_no: int
    previous_reference_id: str | None
    session_id: int | None
    wallet_id: int | None
    session_expires_at: datetime | None
    account_id: int | None  # the payout account (or payer account) executed against
    created_at: datetime
    submitted_at: datetime | None
    settled_at: datetime | None
    api_status: str | None
    provider_transaction_id: str | None
    payer_amount: Decimal | None
    payer_currency: str | None
    payee_amount: Decimal | None
    payee_currency: str | None
    fee: Decimal | None
    gateway_message: str | None
    wallet_message: str | None
    outcome: AttemptOutcome | None
    execute_error: str | None
    resends: int = 0  # execute re-sent with this same reference_id (REFERENCE §4.2)
    # What an execute without a clear answer was: rejected (422), throttled (429), ambiguous.
    execute_outcome: ExecuteOutcome | None = None
    adopted: bool = False  # an execution the API already held for this id (issue 11)
    fresh_sends: int = 0  # re-sent with this same id on a fresh session after "not found"
    not_found_seen: bool = False  # status "not found" was once trusted for it

    @classmethod
    @read_values("attempts", lambda a: _attempt_problem(a))
    def from_row(cls, r: RowLike) -> AttemptRecord:
        created = parse_time(r["created_at"])
        assert created is not None
        return _frozen(cls, {
            "reference_id": r["reference_id"],
            "row_id": r["row_id"],
            "attempt_no": r["attempt_no"],
            "previous_reference_id": r["previous_reference_id"],
            "session_id": r["session_id"],
            "wallet_id": r["wallet_id"],
            "session_expires_at": parse_time(r["session_expires_at"]),
            "account_id": r["account_id"],
            "created_at": created,
            "submitted_at": parse_time(r["submitted_at"]),
            "settled_at": parse_time(r["settled_at"]),
            "api_status": r["api_status"],
            "provider_transaction_id": r["provider_transaction_id"],
            "payer_amount": _decimal(r["payer_amount"]),
            "payer_currency": r["payer_currency"],
            "payee_amount": _decimal(r["payee_amount"]),
            "payee_currency": r["payee_currency"],
            "fee": _decimal(r["fee"]),
            "gateway_message": r["gateway_message"],
            "wallet_message": r["wallet_message"],
            "outcome": AttemptOutcome(r["outcome"]) if r["outcome"] else None,
            "execute_error": r["execute_error"],
            "resends": r["resends"],
            "execute_outcome": (
                ExecuteOutcome(r["execute_outcome"]) if r["execute_outcome"] else None
            ),
            "adopted": bool(r["adopted"]),
            "fresh_sends": r["fresh_sends"],
            "not_found_seen": bool(r["not_found_seen"]),
        })


_ATTEMPT_FIELDS = frozenset(AttemptRecord.__dataclass_fields__)


@dataclass(frozen=True)
class RowRecord:
    """One sheet row in a batch, where it stands, and its attempts (oldest first)."""

    id: int
    batch_id: int
    sheet_row: int
    name: str | None
    phone: str | None
    amount_minor: int | None
    currency: str | None
    country: str | None
    external_id: str | None
    email: str | None
    note: str | None
    operator: str | None
    method: str | None
    provider: str | None
    predicted_fee: Decimal | None
    fee_currency: str | None
    state: RowState
    failure_reason: str | None
    problems: list[dict[str, Any]]
    current_reference_id: str | None
    updated_at: datetime
    attempts: tuple[AttemptRecord, ...] = ()
    fee_source: str | None = None  # 'schedule' | 'prediction' (migration 010)

    @property
    def amount(self) -> Decimal | None:
        """The exact amount in the row's currency."""
        if self.amount_minor is None or self.currency is None:
            return None
        return from_minor(self.amount_minor, self.currency)

    @property
    def current_attempt(self) -> AttemptRecord | None:
        """The attempt that decides the row now."""
        for attempt in self.attempts:
            if attempt.reference_id == self.current_reference_id:
                return attempt
        return None

    def moved(self, state: RowState, **attempt_changes: Any) -> RowRecord:
        """This row after a transition the ledger has just made: its new `state`, and those
        fields of its current attempt the transition wrote that the caller goes on to use
        (timestamps such as updated_at stay as read).

        Saves re-reading the row between its steps; the ledger's transition already checked
        the state it moved from, and a refused one raised instead.
        """
        unknown = attempt_changes.keys() - _ATTEMPT_FIELDS
        if unknown:
            raise TypeError(f"AttemptRecord has no field {', '.join(sorted(unknown))}")
        attempts = self.attempts
        if attempt_changes:
            attempts = tuple(
                _frozen(AttemptRecord, {**a.__dict__, **attempt_changes})
                if a.reference_id == self.current_reference_id
                else a
                for a in attempts
            )
        return _frozen(RowRecord, {**self.__dict__, "state": state, "attempts": attempts})

    @classmethod
    @read_values("rows", lambda r: _row_problem(r))
    def from_row(cls, r: RowLike, attempts: tuple[AttemptRecord, ...] = ()) -> RowRecord:
        updated = parse_time(r["updated_at"])
        assert updated is not None
        return _frozen(cls, {
            "id": r["id"],
            "batch_id": r["batch_id"],
            "sheet_row": r["sheet_row"],
            "name": r["name"],
            "phone": r["phone"],
            "amount_minor": r["amount_minor"],
            "currency": r["currency"],
            "country": r["country"],
            "external_id": r["external_id"],
            "email": r["email"],
            "note": r["note"],
            "operator": r["operator"],
            "method": r["method"],
            "provider": r["provider"],
            "predicted_fee": Decimal(r["predicted_fee"]) if r["predicted_fee"] else None,
            "fee_currency": r["fee_currency"],
            "state": RowState(r["state"]),
            "failure_reason": r["failure_reason"],
            "problems": json.loads(r["problems_json"]) if r["problems_json"] else [],
            "current_reference_id": r["current_reference_id"],
            "updated_at": updated,
            "attempts": attempts,
            "fee_source": r["fee_source"],
        })


def _not_finite(**amounts: Decimal | None) -> str | None:
    for column, value in amounts.items():
        if value is not None and not value.is_finite():
            return f"{column} {value} is no amount"
    return None


def _attempt_problem(a: AttemptRecord) -> str | None:
    """What a damaged attempt holds that no attempt can (value checks on read, issue 12)."""
    return _not_finite(payer_amount=a.payer_amount, payee_amount=a.payee_amount, fee=a.fee)


def _row_problem(r: RowRecord) -> str | None:
    """What a damaged row holds that no row can (value checks on read, issue 12)."""
    if r.amount_minor is not None:
        if type(r.amount_minor) is not int:
            return f"amount_minor {r.amount_minor!r} is not a whole number"
        if r.currency not in CURRENCY_DECIMALS:
            return f"currency {r.currency!r} is not one paybatch pays in"
    return _not_finite(predicted_fee=r.predicted_fee)


@dataclass(frozen=True)
class EventRecord:
    """One entry of the append-only event log."""

    id: int
    batch_id: int
    row_id: int | None
    reference_id: str | None
    from_state: str | None
    to_state: str | None
    at: datetime
    detail: str | None

    @classmethod
    @read_values("events")
    def from_row(cls, r: sqlite3.Row) -> EventRecord:
        at = parse_time(r["at"])
        assert at is not None
        return _frozen(cls, {
            "id": r["id"],
            "batch_id": r["batch_id"],
            "row_id": r["row_id"],
            "reference_id": r["reference_id"],
            "from_state": r["from_state"],
            "to_state": r["to_state"],
            "at": at,
            "detail": r["detail"],
        })


@dataclass(frozen=True)
class BatchSummary:
    """A batch with its per-state counts and money (minor units) per currency and state."""

    batch: BatchRecord
    counts: dict[str, int]
    money: dict[str, dict[str, int]]  # currency -> state -> amount in minor units
    fees: dict[str, Decimal]  # fee currency -> predicted fees of the valid rows
    # currency -> state -> rows (issue 13: the money figures count rows per currency too)
    rows_by_currency: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        """All rows of the batch, skipped ones included."""
        return sum(self.counts.values())


@dataclass(frozen=True)
class Recipient:
    """What the ledger knows about one phone: routing and the API's ids (reused across batches)."""

    phone: str
    carrier: str | None
    country: str | None
    currencies: list[str]
    method: str | None
    provider: str | None
    party_id: int | None
    counterparty_id: int | None
    account_id: int | None
    relationship_type: str | None
    routed_at: str | None = None  # when the operator was last asked (ledger time)

    @classmethod
    @read_values("recipients")
    def from_row(cls, r: sqlite3.Row) -> Recipient:
        return _frozen(cls, {
            "phone": r["phone"],
            "carrier": r["carrier"],
            "country": r["country"],
            "currencies": json.loads(r["currencies_json"]) if r["currencies_json"] else [],
            "method": r["method"],
            "provider": r["provider"],
            "party_id": r["party_id"],
            "counterparty_id": r["counterparty_id"],
            "account_id": r["account_id"],
            "relationship_type": r["relationship_type"],
            "routed_at": r["routed_at"],
        })


class SeenRow(Protocol):
    """Where a caller last saw a row: its batch and state (a RowRecord fits)."""

    @property
    def batch_id(self) -> int: ...
    @property
    def state(self) -> RowState: ...


class ExecutionLike(Protocol):
    """What the ledger stores from an execution or status answer (api_models.Execution fits)."""

    status: str
    payer_amount: Decimal | None
    payer_currency: str | None
    payee_amount: Decimal | None
    payee_currency: str | None
    provider_transaction_id: str | None
    gateway_message: str | None
    wallet_message: str | None
