"""Reconciliation report, shaping: ledger rows -> payout lines, attempt lines and a summary (pure).

The files are written by `batch.report.files` (CSV, JSON, XLSX); this module only decides what
they say. Money stays Decimal in the row's currency; times stay aware UTC.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from batch.engine.outcome import batch_exit_code, situation
from batch.engine.states import IN_FLIGHT, AttemptOutcome, RowState
from batch.ledger.records import AttemptRecord, BatchSummary, RowRecord
from batch.markets import exact as exact  # re-exported: where it used to live
from batch.report.columns import (
    ATTEMPT_COLUMNS,
    PAYOUT_COLUMNS,
    Column,
    Value,
    row_columns,
    rows_title,
)
from batch.report.money import CurrencyMoney, money_figures
from batch.report.reasons import deciding_attempt as _deciding_attempt
from batch.report.reasons import message_of as _message_of
from batch.report.reasons import reason_of

if TYPE_CHECKING:
    from batch.report.approvals import ApprovalState

__all__ = [
    "ATTEMPT_COLUMNS", "PAYOUT_COLUMNS", "BatchIdentity", "BatchReport", "Column", "FeeTotal",
    "Line", "ReasonGroup", "StateTotal", "Value", "build_report",
]

Line = dict[str, Value]


@dataclass(frozen=True)
class BatchIdentity:
    """Which batch a report is about and where it came from."""

    name: str
    batch_id: int
    source_file: str
    content_hash: str
    payout_set_hash: str
    ledger: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    generated_at: datetime
    # Issue 13: who, where and against what (None for batches planned before it).
    cancelled_at: datetime | None = None
    environment: str | None = None  # "sandbox:<instance>" or "<base URL>#<client id>"
    planned_by: str | None = None  # user@host that planned the batch
    generated_by: str | None = None  # user@host that wrote this report

    @property
    def environment_kind(self) -> str:
        """"sandbox (simulated, no money moved)", "live", or "unknown"."""
        if self.environment is None:
            return "unknown"
        if self.environment.startswith("sandbox"):
            return "sandbox (simulated, no money moved)"
        return "live"
    sandbox: bool = False  # issue 11: every report of a sandbox batch says so
    period: str | None = None
    purpose: str | None = None

    @property
    def watermark(self) -> str | None:
        """The line every report of a sandbox batch carries."""
        return SANDBOX_WATERMARK if self.sandbox else None


SANDBOX_WATERMARK = "SANDBOX — simulated API, no money moved"


@dataclass(frozen=True)
class StateTotal:
    """Rows and money in one state and currency."""

    state: str
    currency: str
    rows: int
    amount: Decimal


@dataclass(frozen=True)
class FeeTotal:
    """Fees in one currency: predicted for all payable rows; for completed ones, vs charged."""

    currency: str
    predicted: Decimal  # every row not skipped
    predicted_completed: Decimal
    charged: Decimal  # completed rows: what the API's amounts show was charged
    difference: Decimal  # charged - predicted_completed


@dataclass(frozen=True)
class ReasonGroup:
    """Rows that FAILED (or were SKIPPED) for the same reason."""

    state: str
    reason: str  # the reason, without the amounts or ids a message may carry
    rows: tuple[int, ...]  # sheet row numbers
    amounts: dict[str, Decimal]  # currency -> amount
    currency_rows: dict[str, int]  # currency -> rows
    example: str | None = None  # one message as the API or the ledger said it


@dataclass(frozen=True)
class BatchReport:
    """Everything a reconciliation report says about one batch."""

    identity: BatchIdentity
    counts: dict[str, int]  # every state, in state-machine order, zeros included
    totals: list[StateTotal]
    fees: list[FeeTotal]
    failures: list[ReasonGroup]
    in_flight: list[Line]
    payouts: Sequence[Line] = field(repr=False)
    attempts: Sequence[Line] = field(repr=False)
    exit_code: int = 0
    approvals: ApprovalState | None = None  # a batch under an approval policy (issue 17)
    money: list[CurrencyMoney] = field(default_factory=list)  # reconciles to the sheet
    kind: str = "payout"  # the batch's operation kind: chooses the per-row columns
    extra: tuple[Any, ...] = ()  # titled tables beside the rows (report.collection.ExtraTable)

    @property
    def row_columns(self) -> tuple[Column, ...]:
        """The per-row table's columns for this batch's kind."""
        return row_columns(self.kind)

    @property
    def rows_title(self) -> str:
        """The per-row table's title (Payouts, Invoices)."""
        return rows_title(self.kind)

    @property
    def rows(self) -> int:
        """Rows of the batch, skipped ones included."""
        return sum(self.counts.values())

    @property
    def situation(self) -> str:
        """Where the batch stands, in words."""
        return situation(self.exit_code)



def actual_fee(attempt: AttemptRecord | None) -> Decimal | None:
    """What a completed attempt was charged: its fee, else payer minus payee (same currency)."""
    if attempt is None or attempt.outcome is not AttemptOutcome.COMPLETED:
        return None
    if attempt.fee is not None:
        return attempt.fee
    if (
        attempt.payer_amount is not None
        and attempt.payee_amount is not None
        and attempt.payer_currency == attempt.payee_currency
    ):
        return attempt.payer_amount - attempt.payee_amount
    return None


def _problems_text(row: RowRecord) -> str | None:
    if not row.problems:
        return None
    return "; ".join(
        f"{p.get('column') or 'row'}: {p.get('message', '')}".strip() for p in row.problems
    )


def _exact(amount: Decimal | None, currency: str | None) -> Decimal | None:
    return None if amount is None else exact(amount, currency)


def _debited(attempt: AttemptRecord | None) -> Line:
    """Payer (debited) and payee amounts: only for a COMPLETED attempt (issue 13: a FAILED
    or unsettled one debited nothing, whatever amounts its answer quoted)."""
    if attempt is None or attempt.outcome is not AttemptOutcome.COMPLETED:
        return {"payer_amount": None, "payer_currency": None, "payee_amount": None,
                "payee_currency": None}
    return {
        "payer_amount": _exact(attempt.payer_amount, attempt.payer_currency),
        "payer_currency": attempt.payer_currency,
        "payee_amount": _exact(attempt.payee_amount, attempt.payee_currency),
        "payee_currency": attempt.payee_currency,
    }


def payout_line(row: RowRecord) -> Line:
    """One report line for one sheet row."""
    attempt = _deciding_attempt(row)
    fee = actual_fee(attempt)
    predicted = row.predicted_fee
    return {
        "row": row.sheet_row,
        "name": row.name,
        "phone": row.phone,
        "external_id": row.external_id,
        "amount": row.amount,
        "currency": row.currency,
        "country": row.country,
        "operator": row.operator,
        "state": row.state.value,
        "failure_reason": row.failure_reason,
        "attempts": sum(1 for a in row.attempts if a.submitted_at is not None),
        "reference_ids": " ".join(a.reference_id for a in row.attempts if a.submitted_at) or None,
        "provider_transaction_id": attempt.provider_transaction_id if attempt else None,
        "api_status": attempt.api_status if attempt else None,
        **_debited(attempt),
        "predicted_fee": _exact(predicted, row.fee_currency),
        "actual_fee": _exact(fee, row.fee_currency),
        "fee_difference": (
            _exact(fee - predicted, row.fee_currency)
            if fee is not None and predicted is not None else None
        ),
        "fee_currency": row.fee_currency or (attempt.payer_currency if attempt else None),
        "fee_source": row.fee_source,
        "gateway_message": attempt.gateway_message if attempt else None,
        "wallet_message": attempt.wallet_message if attempt else None,
        "execute_error": attempt.execute_error if attempt else None,
        "submitted_at": attempt.submitted_at if attempt else None,
        "settled_at": attempt.settled_at if attempt else None,
        "updated_at": row.updated_at,
        "method": row.method,
        "provider": row.provider,
        "email": row.email,
        "note": row.note,
        "problems": _problems_text(row),
    }


def attempt_lines(row: RowRecord) -> list[Line]:
    """One line per attempt of a row (attempts prepared but never sent are left out)."""
    return [
        {
            "row": row.sheet_row,
            "name": row.name,
            "attempt_no": a.attempt_no,
            "reference_id": a.reference_id,
            "previous_reference_id": a.previous_reference_id,
            "outcome": a.outcome.value if a.outcome else None,
            "api_status": a.api_status,
            "provider_transaction_id": a.provider_transaction_id,
            **_debited(a),
            "fee": _exact(actual_fee(a), a.payer_currency),
            "session_id": a.session_id,
            "account_id": a.account_id,
            "gateway_message": a.gateway_message,
            "wallet_message": a.wallet_message,
            "execute_error": a.execute_error,
            "resends": a.resends,
            "created_at": a.created_at,
            "submitted_at": a.submitted_at,
            "settled_at": a.settled_at,
        }
        for a in row.attempts
        if a.submitted_at is not None
    ]


class ReportLines(Sequence[Line]):
    """Report lines made from rows as they are read: `rows` may be a list or a stream that
    re-reads the ledger on each pass, so 100k rows' lines are never all held."""

    def __init__(
        self, rows: Iterable[RowRecord], lines_of: Callable[[RowRecord], list[Line]], count: int
    ) -> None:
        self._rows, self._lines_of, self._count = rows, lines_of, count

    def __iter__(self) -> Iterator[Line]:
        for row in self._rows:
            yield from self._lines_of(row)

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> Line: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Line]: ...

    def __getitem__(self, index: int | slice) -> Line | Sequence[Line]:
        return list(self)[index]


def in_one_pass(tables: Sequence[Sequence[Line]]) -> Iterator[tuple[int, Line]]:
    """Every line of several tables, each with its table's index, in each table's order.

    Tables made from the same rows (a report's payouts and attempts, ReportLines over one
    stream) are gone through together, in one pass over the rows: a writer that keeps one
    output per table (an XLSX sheet each) reads a streamed batch from the ledger once, not once
    per table. Any other table follows, whole, in turn.
    """
    first = next((t for t in tables if isinstance(t, ReportLines)), None)
    shared = [
        (i, t) for i, t in enumerate(tables)
        if isinstance(t, ReportLines) and first is not None and t._rows is first._rows
    ]
    if shared:
        makers = [(i, t._lines_of) for i, t in shared]
        for row in shared[0][1]._rows:
            for i, lines_of in makers:
                for line in lines_of(row):
                    yield i, line
    done = {i for i, _ in shared}
    for i, table in enumerate(tables):
        if i not in done:
            for line in table:
                yield i, line


class _Tally:
    """The report's summary of a batch, one row at a time: states, money, fees, failures."""

    def __init__(self) -> None:
        self.counts = {s.value: 0 for s in RowState}
        self.payout_lines = 0
        self.attempt_lines = 0
        self.in_flight: list[Line] = []
        self.count: Counter[tuple[str, str]] = Counter()
        self.money: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        self.fees: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        # (state, reason) -> (sheet row, currency, amount) of each member: not whole RowRecords
        self.groups: dict[tuple[str, str], list[tuple[int, str | None, Decimal | None]]] = (
            defaultdict(list)
        )
        self.examples: dict[tuple[str, str], str | None] = {}

    def add(self, r: RowRecord) -> None:
        self.counts[r.state.value] += 1
        self.payout_lines += 1
        self.attempt_lines += sum(1 for a in r.attempts if a.submitted_at is not None)
        if r.state in IN_FLIGHT:
            self.in_flight.append(payout_line(r))
        if r.currency is not None and r.amount is not None:  # SKIPPED rows have no valid amount
            key = (r.state.value, r.currency)
            self.count[key] += 1
            self.money[key] += r.amount
        self._add_fees(r)
        if r.state in (RowState.FAILED, RowState.SKIPPED, RowState.CANCELLED):
            key = (r.state.value, reason_of(r))
            self.groups[key].append((r.sheet_row, r.currency, r.amount))
            self.examples.setdefault(key, _message_of(r))

    def _add_fees(self, r: RowRecord) -> None:
        if r.state is RowState.SKIPPED or r.predicted_fee is None or r.fee_currency is None:
            return
        per = self.fees[r.fee_currency]
        per["predicted"] += r.predicted_fee
        if r.state is RowState.COMPLETED:
            per["predicted_completed"] += r.predicted_fee
            per["charged"] += actual_fee(_deciding_attempt(r)) or Decimal(0)

    def state_totals(self) -> list[StateTotal]:
        order = {s.value: i for i, s in enumerate(RowState)}
        return [
            StateTotal(state, cur, self.count[(state, cur)], exact(self.money[(state, cur)], cur))
            for state, cur in sorted(self.count, key=lambda k: (order[k[0]], k[1]))
        ]

    def fee_totals(self) -> list[FeeTotal]:
        return [
            FeeTotal(
                currency=cur,
                predicted=exact(s["predicted"], cur),
                predicted_completed=exact(s["predicted_completed"], cur),
                charged=exact(s["charged"], cur),
                difference=exact(s["charged"] - s["predicted_completed"], cur),
            )
            for cur, s in sorted(self.fees.items())
        ]

    def reason_groups(self) -> list[ReasonGroup]:
        result = []
        for (state, reason), members in self.groups.items():
            amounts: dict[str, Decimal] = defaultdict(Decimal)
            per_currency: Counter[str] = Counter()
            for _, currency, amount in members:
                if amount is not None and currency is not None:
                    amounts[currency] += amount
                    per_currency[currency] += 1
            result.append(
                ReasonGroup(
                    state, reason, tuple(row for row, _, _ in members),
                    {c: exact(a, c) for c, a in amounts.items()}, dict(per_currency),
                    self.examples.get((state, reason)),
                )
            )
        return sorted(result, key=lambda g: (g.state != "FAILED", -len(g.rows), g.reason))


def _tally(rows: Iterable[RowRecord]) -> _Tally:
    tally = _Tally()
    for r in rows:
        tally.add(r)
    return tally


def state_totals(rows: Iterable[RowRecord]) -> list[StateTotal]:
    """Rows and money per state and currency, in state-machine order (exact sums)."""
    return _tally(rows).state_totals()


def fee_totals(rows: Iterable[RowRecord]) -> list[FeeTotal]:
    """Fees per currency: predicted for payable rows; predicted vs charged for completed rows."""
    return _tally(rows).fee_totals()


def reason_groups(rows: Iterable[RowRecord]) -> list[ReasonGroup]:
    """FAILED and SKIPPED rows grouped by reason, largest group first."""
    return _tally(rows).reason_groups()


def build_report(
    summary: BatchSummary, rows: Iterable[RowRecord], *, ledger: Path, generated_at: datetime,
    generated_by: str | None = None,
    row_line: Callable[[RowRecord], Line] = payout_line, extra: tuple[Any, ...] = (),
    exit_code: int | None = None,
) -> BatchReport:
    """The report of one batch from what the ledger holds (pure).

    `rows` is read once for the summary, then once per pass over `payouts` and `attempts`:
    a list, or a stream re-reading the ledger (a big batch's lines are never all held).
    """
    b = summary.batch
    tally = _tally(rows)
    fee_figures = {
        cur: (f["predicted_completed"], f["charged"]) for cur, f in tally.fees.items()
    }
    return BatchReport(
        identity=BatchIdentity(
            b.name, b.id, b.source_file, b.content_hash, b.payout_set_hash, str(ledger),
            b.created_at, b.started_at, b.finished_at, generated_at,
            cancelled_at=b.cancelled_at,
            environment=b.environment or b.options.get("environment"),
            planned_by=b.options.get("planned_by"),
            generated_by=generated_by,
            sandbox=b.sandbox, period=b.period, purpose=b.purpose,
        ),
        counts=tally.counts,
        totals=tally.state_totals(),
        fees=tally.fee_totals(),
        failures=tally.reason_groups(),
        in_flight=tally.in_flight,
        payouts=ReportLines(rows, lambda r: [row_line(r)], tally.payout_lines),
        attempts=ReportLines(rows, attempt_lines, tally.attempt_lines),
        exit_code=batch_exit_code(tally.counts) if exit_code is None else exit_code,
        money=money_figures(summary, fee_figures),
        kind=b.kind.value,
        extra=extra,
    )
