"""The plan flow: validate a sheet, record its batch once, predict operators and fees.

Pure decisions live in plan.py; this module does the ledger and API work around them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batch import errors
from batch.engine.states import RowState
from batch.ledger import BatchRecord, Ledger, SkippedRow
from batch.planning.identity import (
    DEFAULT_REPEAT_WINDOW_DAYS,
    CurrencyTotals,
    check_repeat,
    check_same_name,
    content_hash,
    default_batch_name,
    new_rows,
    payout_set_hash,
    repeat_window_start,
    totals,
)

PREDICT_CHUNK = 5000  # rows predicted and stored at a time

if TYPE_CHECKING:
    from batch.dollr.models import FeeQuote, ProviderInfo
    from batch.engine.progress import Progress
    from batch.intake.validate import ValidationOptions
    from batch.models import PayoutRow
    from batch.planning.fee_plan import FeePlanner


@dataclass(frozen=True)
class PlanOptions:
    """How a sheet becomes a batch."""

    validation: ValidationOptions
    sheet: str | None = None
    batch_name: str | None = None
    skip_invalid: bool = False
    allow_repeat: bool = False
    repeat_window_days: int = DEFAULT_REPEAT_WINDOW_DAYS


@dataclass(frozen=True)
class PlanResult:
    """A planned batch: whether it is new, its totals per currency, rows that cannot be paid."""

    batch: BatchRecord
    created: bool
    counts: dict[str, int]
    totals: dict[str, CurrencyTotals]
    unroutable: list[str] = field(default_factory=list)
    fee_sources: dict[str, int] = field(default_factory=dict)  # rows per fee source
    fee_notes: list[str] = field(default_factory=list)  # how this planning priced fees

    @property
    def payable(self) -> int:
        """Rows not sent yet (what a run would start)."""
        return sum(
            self.counts.get(s.value, 0)
            for s in (RowState.NEW, RowState.RECIPIENT_READY, RowState.SESSION_OPEN)
        )


async def plan_sheet(
    ledger: Ledger,
    api: Any,
    path: Path,
    options: PlanOptions,
    *,
    concurrency: int = 8,
    progress: Progress | None = None,
) -> PlanResult:
    """Validate, record the batch (once), predict operators and fees; return its totals."""
    from batch.intake.load import load_sheet
    from batch.intake.validate import validate_sheet

    report = validate_sheet(load_sheet(path, sheet=options.sheet), options.validation)
    invalid = report.invalid_rows()
    if invalid and not options.skip_invalid:
        raise errors.InvalidRowsError(str(path), len(invalid))

    def rows() -> Iterator[PayoutRow]:
        # Rebuilt from the validated frame per pass: 100k PayoutRows are never all held.
        return chain.from_iterable(report.payout_row_chunks())

    name = options.batch_name or default_batch_name(path)
    chash = content_hash(rows(), in_row_order=True)
    existing = ledger.batch_by_name(name)
    if existing is not None:
        check_same_name(existing, content=chash)
        batch, created = existing, False
    else:
        pset = payout_set_hash(rows())
        if not options.allow_repeat:
            since = repeat_window_start(ledger.clock(), options.repeat_window_days)
            check_repeat(
                ledger.repeats_of(pset, since=since, name=name),
                window_days=options.repeat_window_days,
            )
        skipped = [
            SkippedRow(
                sheet_row=o.row,
                name=o.name,
                phone=o.phone,
                amount=None if o.amount is None else str(o.amount),
                currency=o.currency,
                country=o.country,
                problems=[
                    {"column": p.column, "value": p.value, "message": p.message} for p in o.problems
                ],
            )
            for o in invalid
        ]
        created = True
        try:
            batch_id = ledger.create_batch(
                name=name,
                source_file=str(path),
                content_hash=chash,
                payout_set_hash=pset,
                rows=new_rows(rows()),
                skipped=skipped,
                options={"skip_invalid": options.skip_invalid, "sheet": options.sheet},
            )
        except errors.LedgerError:
            # Another process planned the same name a moment ago: same rows -> same batch.
            raced = ledger.batch_by_name(name)
            if raced is None:
                raise
            check_same_name(raced, content=chash)
            batch_id, created = raced.id, False
        found = ledger.batch_by_id(batch_id)
        assert found is not None
        batch = found
    fee_notes: list[str] = []
    unroutable = await predict_batch(
        ledger, api, batch.id, rows(), concurrency=concurrency, progress=progress,
        fee_notes=fee_notes,
    )
    return plan_result(
        ledger, batch, created=created, unroutable=unroutable, fee_notes=fee_notes
    )


def plan_result(
    ledger: Ledger,
    batch: BatchRecord,
    *,
    created: bool = False,
    unroutable: list[str] | None = None,
    fee_notes: list[str] | None = None,
) -> PlanResult:
    """The totals of a batch as the ledger holds it now."""
    return PlanResult(
        batch=batch,
        created=created,
        counts=ledger.counts(batch.id),
        totals=totals(ledger.each_row(batch.id)),  # streamed: 100k RowRecords cost ~100 MB
        unroutable=unroutable or [],
        fee_sources=ledger.fee_sources(batch.id),
        fee_notes=fee_notes or [],
    )


async def predict_batch(
    ledger: Ledger,
    api: Any,
    batch_id: int,
    sheet_rows: Iterable[PayoutRow],
    *,
    concurrency: int,
    progress: Progress | None = None,
    chunk: int = PREDICT_CHUNK,
    fee_notes: list[str] | None = None,
) -> list[str]:
    """Predict operator and fee for NEW rows that have none; fail the unroutable ones.

    How fees were priced (schedule or per amount, and why) is appended to `fee_notes`.

    `chunk` rows at a time, each chunk's predictions stored before the next is asked for: the
    predictions of 100k rows (~2 KB each) are never all held. Operators and fee quotes are
    cached in the ledger, so a phone or quote is still looked up once per batch.
    """
    total = ledger.unpredicted_count(batch_id)
    if not total:
        return []
    if progress is not None:
        from batch.engine.progress import Phase

        progress.start(Phase.PLAN, total)
        api = _CountingLookups(api, progress)
    from batch.planning.fee_plan import FeePlanner

    operators, fees = LedgerOperators(ledger), LedgerFees(ledger)
    planner = FeePlanner(
        api, expect=api.expect_fee_lookups if isinstance(api, _CountingLookups) else None
    )
    problems: list[str] = []
    todo = iter(sheet_rows)
    while part := list(islice(todo, chunk)):
        # Only (id, reference_id) per row: whole RowRecords for 100k rows cost ~100 MB.
        ids = ledger.unpredicted_rows(
            batch_id, first=min(r.row for r in part), last=max(r.row for r in part)
        )
        wanted = [r for r in part if r.row in ids]
        if wanted:
            problems += await _predict_chunk(
                ledger, api, ids, wanted, operators, fees, concurrency, planner
            )
    if isinstance(api, _CountingLookups):
        api.finish(total)
    if fee_notes is not None:
        fee_notes += [f"fees for {group}: {note}" for group, note in planner.notes.items()]
    return problems


async def _predict_chunk(
    ledger: Ledger,
    api: Any,
    ids: dict[int, tuple[int, str]],
    wanted: list[PayoutRow],
    operators: LedgerOperators,
    fees: LedgerFees,
    concurrency: int,
    planner: FeePlanner,
) -> list[str]:
    """Predict `wanted` rows and store what was found (one transaction); the problems."""
    from batch.planning.predict import predict_rows

    predictions = await predict_rows(
        api, wanted, operators=operators, fees=fees, concurrency=concurrency,
        fee_planner=planner,
    )
    problems: list[str] = []
    with ledger.atomic():
        for p in predictions:
            row_id, reference_id = ids[p.row]
            if p.routable and p.operator is not None and p.fee is not None:
                ledger.set_row_prediction(
                    row_id,
                    operator=p.operator.carrier or p.operator.payment_method,
                    method=p.operator.payment_method,
                    provider=p.operator.gateway_provider,
                    predicted_fee=p.fee.total_fee,
                    fee_currency=p.fee.platform_currency,
                    fee_source=p.fee_source,
                )
            else:
                reason = f"cannot be paid: {p.problem}"
                ledger.mark_failed(row_id, reference_id, reason=reason)
                problems.append(f"row {p.row}: {reason}")
    return problems


class _CountingLookups:
    """The API, counting operator look-ups (one per new phone: most of planning's time)."""

    def __init__(self, api: Any, progress: Progress) -> None:
        from batch.engine.progress import Predicted

        self.api, self.progress, self.counted = api, progress, 0
        self._one = Predicted()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.api, name)

    async def mmo_provider_info(self, phone: str, operation_type: str = "PAYOUT") -> Any:
        try:
            return await self.api.mmo_provider_info(phone, operation_type)
        finally:
            self.counted += 1
            self.progress.advance(self._one)

    def expect_fee_lookups(self, n: int) -> None:
        """`n` fee look-ups are about to be made (announced by the fee planner)."""
        from batch.engine.progress import FeeLookups

        if n:
            self.progress.advance(FeeLookups(expected=n))

    async def amount_and_fees(self, **query: Any) -> Any:
        from batch.engine.progress import FeeLookups

        try:
            return await self.api.amount_and_fees(**query)
        finally:
            self.progress.advance(FeeLookups(answered=1))

    async def _schedule_call(self, name: str, *args: Any) -> Any:
        from batch.engine.progress import FeeLookups

        self.progress.advance(FeeLookups(expected=1))
        try:
            return await getattr(self.api, name)(*args)
        finally:
            self.progress.advance(FeeLookups(answered=1))

    async def fee_tier_name(self) -> Any:
        return await self._schedule_call("fee_tier_name")

    async def gateway_fees(self, payment_method: str, operation_type: str) -> Any:
        return await self._schedule_call("gateway_fees", payment_method, operation_type)

    async def platform_fees(self, operation_type: str, fee_tier_name: str) -> Any:
        return await self._schedule_call("platform_fees", operation_type, fee_tier_name)

    def finish(self, total: int) -> None:
        """Rows whose operator was cached are predicted too."""
        from batch.engine.progress import Predicted

        if total > self.counted:
            self.progress.advance(Predicted(total - self.counted))


class LedgerOperators:
    """predict.OperatorCache backed by the ledger's recipients table."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def get_operator(self, phone: str) -> ProviderInfo | None:
        from batch.dollr.models import ProviderInfo

        known = self.ledger.recipient(phone)
        if known is None or not known.method or not known.provider:
            return None
        return ProviderInfo(
            payment_method=known.method,
            gateway_provider=known.provider,
            carrier=known.carrier,
            country=known.country,
            currencies=known.currencies,
            phone=phone,
        )

    def put_operator(self, phone: str, info: ProviderInfo) -> None:
        self.ledger.save_routing(
            phone,
            carrier=info.carrier,
            country=info.country,
            currencies=info.currencies,
            method=info.payment_method,
            provider=info.gateway_provider,
        )


class LedgerFees:
    """predict.FeeCache backed by the ledger's fee_quotes table."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        # A few distinct quotes serve 100k rows: one shared object per key, not one per row.
        self._known: dict[tuple[Decimal, str, str, str], FeeQuote] = {}

    def get_fee(self, key: tuple[Decimal, str, str, str]) -> FeeQuote | None:
        from batch.dollr.models import FeeQuote

        if key in self._known:
            return self._known[key]
        amount, currency, method, provider = key
        found = self.ledger.fee_quote(
            amount=amount,
            currency=currency,
            target_currency=currency,
            method=method,
            provider=provider,
        )
        if found is None:
            return None
        quote = self._known[key] = FeeQuote.model_validate(found)
        return quote

    def put_fee(self, key: tuple[Decimal, str, str, str], quote: FeeQuote) -> None:
        amount, currency, method, provider = key
        self._known[key] = quote
        self.ledger.save_fee_quote(
            amount=amount,
            currency=currency,
            target_currency=currency,
            method=method,
            provider=provider,
            total_fee=quote.total_fee,
            fee_currency=quote.platform_currency,
            quote=quote.model_dump(mode="json"),
        )
