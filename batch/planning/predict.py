"""Attach each row's operator and predicted fees, asking the API only what no cache knows.

Operators are cached per phone (the ledger's recipients table backs `OperatorCache`), fee
quotes per (amount, currency, method, provider); fees come from the fee schedule when a
sample agrees with per-amount quotes (`planning.fee_plan`). A phone the API cannot route is
reported on its row, not raised. The decisions are pure; only `predict_rows` awaits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from batch import errors
from batch.dollr.models import FeeQuote, ProviderInfo
from batch.models import PayoutRow
from batch.options import DEFAULT_CONCURRENCY
from batch.planning.fee_plan import FeePlanner
from batch.planning.schedule import FeeSource

FeeKey = tuple[Decimal, str, str, str]  # amount, currency, payment method, provider
K = TypeVar("K")
V = TypeVar("V")


class PredictionApi(Protocol):
    """The two ApiClient calls predictions need."""

    async def mmo_provider_info(
        self, phone: str, operation_type: str = "PAYOUT"
    ) -> ProviderInfo: ...

    async def amount_and_fees(
        self,
        *,
        amount: Decimal,
        currency: str,
        target_currency: str,
        payment_method: str,
        provider: str,
        operation_type: str = "PAYOUT",
        fee_bearer: str = "PAYER",
    ) -> FeeQuote: ...


class OperatorCache(Protocol):
    """Where operators found earlier are kept (per normalised phone)."""

    def get_operators(self, phones: Sequence[str]) -> dict[str, ProviderInfo]:
        """The operators known (and still fresh) among these phones: one read, not one a row."""
        ...

    def put_operator(self, phone: str, info: ProviderInfo) -> None: ...


class FeeCache(Protocol):
    """Where fee quotes found earlier are kept (per FeeKey)."""

    def get_fee(self, key: FeeKey) -> FeeQuote | None: ...

    def put_fee(self, key: FeeKey, quote: FeeQuote) -> None: ...


class MemoryOperatorCache:
    """An OperatorCache in a dict (tests, one-off runs)."""

    def __init__(self) -> None:
        self.operators: dict[str, ProviderInfo] = {}

    def get_operators(self, phones: Sequence[str]) -> dict[str, ProviderInfo]:
        return {p: self.operators[p] for p in phones if p in self.operators}

    def put_operator(self, phone: str, info: ProviderInfo) -> None:
        self.operators[phone] = info


class MemoryFeeCache:
    """A FeeCache in a dict."""

    def __init__(self) -> None:
        self.quotes: dict[FeeKey, FeeQuote] = {}

    def get_fee(self, key: FeeKey) -> FeeQuote | None:
        return self.quotes.get(key)

    def put_fee(self, key: FeeKey, quote: FeeQuote) -> None:
        self.quotes[key] = quote


class RowPrediction(BaseModel):
    """One row's operator and fee quote, or why it cannot be paid."""

    model_config = ConfigDict(frozen=True)

    row: int
    phone: str
    operator: ProviderInfo | None = None
    fee: FeeQuote | None = None
    fee_source: FeeSource | None = None
    problem: str | None = None

    @property
    def routable(self) -> bool:
        """An operator and a fee quote were found."""
        return self.problem is None and self.operator is not None and self.fee is not None


# --- pure decisions --------------------------------------------------------------------


def fee_key(row: PayoutRow, operator: ProviderInfo) -> FeeKey:
    """The cache key of a row's fee quote; normalised so 10 and 10.00 share one quote."""
    method, provider = operator.payment_method, operator.gateway_provider
    return (row.amount.normalize(), row.currency, method, provider)


def route_problem(row: PayoutRow, operator: ProviderInfo) -> str | None:
    """Why this operator cannot pay this row, or None."""
    if row.method and row.method.upper() != operator.payment_method.upper():
        return (
            f"the sheet asks for {row.method} but this number belongs to {operator.payment_method}"
        )
    if operator.currencies and row.currency not in operator.currencies:
        accepted = ", ".join(operator.currencies)
        return f"{operator.payment_method} does not pay out {row.currency} (accepts {accepted})"
    return None


def missing_phones(rows: Iterable[PayoutRow], known: Mapping[str, ProviderInfo]) -> list[str]:
    """Distinct phones whose operator is not known, in row order: a phone on many rows is
    asked once."""
    return list(dict.fromkeys(r.phone for r in rows if r.phone not in known))


# --- the runner ------------------------------------------------------------------------


async def _gather_bounded(
    keys: Sequence[K], fetch: Callable[[K], Awaitable[V]], concurrency: int
) -> dict[K, V | errors.ApiError]:
    """fetch(key) for every key, at most `concurrency` at once; per-key Terminal errors kept."""
    results: dict[K, V | errors.ApiError] = {}
    todo = iter(keys)

    async def worker() -> None:
        # `concurrency` workers share one iterator: 100k keys never become 100k tasks.
        for key in todo:
            try:
                results[key] = await fetch(key)
            except (errors.AuthError, errors.ForbiddenError):
                raise  # the whole batch is blocked, not this row
            except errors.ApiError as exc:
                if isinstance(exc, errors.Transient):
                    raise  # still failing after retries: stop, run again later
                results[key] = exc

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(keys))))))
    return {key: results[key] for key in keys}


async def predict_rows(
    api: PredictionApi,
    rows: Sequence[PayoutRow],
    *,
    operators: OperatorCache,
    fees: FeeCache,
    concurrency: int = DEFAULT_CONCURRENCY,
    fee_planner: FeePlanner | None = None,
) -> list[RowPrediction]:
    """Operator and fee quote for every row (same order); unroutable rows carry a problem.

    Fees come from the fee schedule where `fee_planner` (one per planning run) finds that it
    agrees with predictions, else one prediction per distinct amount (see planning.fee_plan).

    Raises AuthError/ForbiddenError (batch-wide) and Transient errors that outlived retries.
    """

    # One read for the chunk's distinct phones (a read a row cost ~80 us: 40 s at 500k rows).
    known = operators.get_operators(list(dict.fromkeys(r.phone for r in rows)))

    async def lookup(phone: str) -> None:
        found = await api.mmo_provider_info(phone)
        # Cached as each answer comes: a kill, or another lookup failing, loses none of them.
        operators.put_operator(phone, found)
        known[phone] = found

    looked_up = await _gather_bounded(missing_phones(rows, known), lookup, concurrency)

    routed: dict[int, ProviderInfo] = {}
    problems: dict[int, str] = {}
    for index, row in enumerate(rows):
        operator = known.get(row.phone)
        if operator is None:
            failure = looked_up.get(row.phone)
            problems[index] = f"cannot route this phone: {failure}" if failure else "no operator"
            continue
        problem = route_problem(row, operator)
        if problem:
            problems[index] = problem
        else:
            routed[index] = operator

    needed = {fee_key(rows[i], op): (rows[i], op) for i, op in routed.items()}
    planner = fee_planner if fee_planner is not None else FeePlanner(api)
    scheduled, to_fetch = await planner.quotes(
        needed, fees.get_fee, _gather_bounded, concurrency, keep=fees.put_fee
    )

    async def quote(key: FeeKey) -> FeeQuote:
        row, op = needed[key]
        found = await api.amount_and_fees(
            amount=row.amount,
            currency=row.currency,
            target_currency=row.currency,
            payment_method=op.payment_method,
            provider=op.gateway_provider,
        )
        fees.put_fee(key, found)
        return found

    planner.expect(len(to_fetch))
    quoted = await _gather_bounded(to_fetch, quote, concurrency)

    results = []
    for index, row in enumerate(rows):
        if index in problems:
            results.append(RowPrediction(row=row.row, phone=row.phone, problem=problems[index]))
            continue
        operator = routed[index]  # the object found above: one per row, not two
        key = fee_key(row, operator)
        fee = scheduled.get(key)
        source = FeeSource.SCHEDULE
        if fee is None:
            fee, source = fees.get_fee(key), FeeSource.PREDICTION
        if fee is None:
            results.append(
                RowPrediction(
                    row=row.row,
                    phone=row.phone,
                    operator=operator,
                    problem=f"no fee quote: {quoted.get(key, 'not found')}",
                )
            )
        else:
            results.append(RowPrediction(
                row=row.row, phone=row.phone, operator=operator, fee=fee, fee_source=source
            ))
    return results
