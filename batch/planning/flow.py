"""The plan flow: validate a sheet, record its batch once, predict operators and fees.

Pure decisions live in plan.py; this module does the ledger and API work around them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, timedelta
from decimal import Decimal
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batch import errors
from batch.engine.states import RowState
from batch.ledger import BatchRecord, Ledger, SkippedRow
from batch.options import PlanOptions, ValidationOptions
from batch.planning.identity import (
    CurrencyTotals,
    RowFacts,
    check_environment,
    check_same_kind,
    check_same_name,
    content_hash,
    default_batch_name,
    group_totals,
    noting_facts,
    totals,
)
from batch.planning.record import EMBEDDED_SANDBOX, ApiEnvironment, create_batch, skipped_row

PREDICT_CHUNK = 5000  # rows predicted and stored at a time
# A phone's operator (mmo-provider-info) is reused this long, then asked again: numbers can be
# ported to another operator, and REFERENCE.md gives no rule to guess one from a prefix.
ROUTING_FRESH_DAYS = 30

log = logging.getLogger("paybatch.plan")


@contextmanager
def timed(phase: str) -> Iterator[None]:
    """Log how long a planning phase took (--log-file; tests/perf/bench_plan.py reads it)."""
    started, cpu = time.monotonic(), time.process_time()
    try:
        yield
    finally:
        log.info("plan timing: %s in %.2f s (CPU %.2f s)", phase, time.monotonic() - started,
                 time.process_time() - cpu)

if TYPE_CHECKING:
    from batch.dollr.models import FeeQuote, ProviderInfo
    from batch.engine.progress import Progress
    from batch.intake.outcome import ValidationReport
    from batch.models import PayoutRow
    from batch.planning.fee_plan import FeePlanner


@dataclass(frozen=True)
class PlanResult:
    """A planned batch: whether it is new, its totals per currency, rows that cannot be paid."""

    batch: BatchRecord
    created: bool
    counts: dict[str, int]
    totals: dict[str, CurrencyTotals]
    unroutable: list[str] = field(default_factory=list)
    # What this command will send (issue 13): rows not sent yet, plus with --retry-failed
    # the FAILED rows that may be tried again; None when not worked out (plan, reconcile).
    sending: dict[str, CurrencyTotals] | None = None

    @property
    def sending_rows(self) -> int:
        """Rows this command will send (the whole batch's payable rows when not worked out)."""
        if self.sending is None:
            return self.payable
        return sum(t.rows for t in self.sending.values())
    notes: list[str] = field(default_factory=list)  # the row guard's, for the user (issue 11)
    # What the sheet's validation said that a payer should read: workbook warnings, where the
    # rejected rows went (issue 16)
    notices: list[str] = field(default_factory=list)
    fee_sources: dict[str, int] = field(default_factory=dict)  # rows per fee source
    fee_notes: list[str] = field(default_factory=list)  # how this planning priced fees

    @property
    def payable(self) -> int:
        """Rows not sent yet (what a run would start)."""
        return sum(
            self.counts.get(s.value, 0)
            for s in (RowState.NEW, RowState.RECIPIENT_READY, RowState.SESSION_OPEN)
        )


def check_sheet(
    path: Path, options: PlanOptions, validation: ValidationOptions
) -> ValidationReport:
    """Load and validate a sheet, before anything else is touched (issue 13: a bad input
    creates no ledger and starts no sandbox); raises SheetError or InvalidRowsError."""
    from batch.intake.load import load_sheet
    from batch.intake.validate import validate_sheet

    with timed("reading the sheet"):
        loaded = load_sheet(path, sheet=options.sheet)
    with timed("validating"):
        report = validate_sheet(loaded, validation)
    invalid = report.counts["invalid"]
    if invalid and options.rejected_out is not None:
        from batch.intake.rejected import write_rejected

        write_rejected(
            path, loaded.kind, loaded.header_row, report, options.rejected_out,
            sheet=options.sheet,
        )
    if invalid and not options.skip_invalid:
        raise errors.InvalidRowsError(str(path), invalid, options.rejected_out)
    return report


async def plan_sheet(
    ledger: Ledger,
    api: Any,
    path: Path,
    options: PlanOptions,
    validation: ValidationOptions,
    *,
    concurrency: int = 8,
    progress: Progress | None = None,
    validated: ValidationReport | None = None,
    api_env: ApiEnvironment | None = None,
) -> PlanResult:
    """Validate, record the batch (once), predict operators and fees; return its totals.

    A new batch passes the row guard first (planning/guard.py) and gets reference_ids
    derived for `api_env`'s client id (batch/refids.py).

    `validated`: the sheet's report from `check_sheet` already (no second validation).
    """
    report = validated if validated is not None else check_sheet(path, options, validation)
    invalid = report.invalid_rows()
    # What a payer should read (issue 16): workbook warnings, where the rejected rows went.
    notices = [n for n in report.notices if n.startswith("warning: ")]
    if invalid and options.rejected_out is not None:
        from batch.intake.rejected import rejected_line

        notices.append(rejected_line(options.rejected_out, len(invalid)))

    def rows() -> Iterator[PayoutRow]:
        # Rebuilt from the validated frame per pass: 100k PayoutRows are never all held.
        return chain.from_iterable(report.payout_row_chunks())

    name = options.batch_name or default_batch_name(path)
    facts: list[RowFacts] = []  # for a new batch's guard, ids and payout-set hash
    with timed("hashing the rows"):
        chash = content_hash(noting_facts(rows(), facts), in_row_order=True)
    env = api_env or EMBEDDED_SANDBOX
    # One write transaction for the name check, the row guard and the creation (issue 11,
    # item 7): two planners of the same sheet never both see "nothing paid yet".
    notes: list[str] = []
    with timed("recording the batch"), ledger.atomic():
        existing = ledger.batch_by_name(name)
        if existing is not None:
            check_same_name(existing, content=chash)
            check_same_kind(existing, period=options.period, purpose=options.purpose)
            check_environment(existing, name=env.name, sandbox=env.sandbox)
            batch, created = existing, False
        else:
            context = {
                **plan_context(report.totals, [skipped_row(o) for o in invalid],
                               ledger.environment),
                "include_hidden": validation.include_hidden,  # issue 16
                **options.recorded,  # an explicit maker (--as) wins over the OS user
            }
            batch, notes = create_batch(
                ledger, path, name, chash, rows, invalid, options, env, facts=facts,
                recorded=context,
            )
            created = True
    fee_notes: list[str] = []
    with timed("predicting operators and fees"):
        unroutable = await predict_batch(
            ledger, api, batch.id, rows(), concurrency=concurrency, progress=progress,
            fee_notes=fee_notes,
        )
    with timed("totals"):
        result = plan_result(
            ledger, batch, created=created, unroutable=unroutable, fee_notes=fee_notes
        )
    return replace(result, notes=notes, notices=notices)


def plan_context(
    valid_totals: dict[str, Decimal], skipped: Iterable[SkippedRow], environment: str
) -> dict[str, Any]:
    """What a batch records of where it came from (issue 13): the sheet's own total per
    currency (valid rows plus skipped rows whose amount was readable: what the report
    reconciles to), the API environment, and who planned it on which host."""
    from batch.config import user_at_host

    sheet: dict[str, Decimal] = dict(valid_totals)
    for s in skipped:
        if s.amount is not None and s.currency:
            try:
                sheet[s.currency] = sheet.get(s.currency, Decimal(0)) + Decimal(s.amount)
            except ArithmeticError:
                continue
    return {
        "sheet_totals": {c: str(a) for c, a in sorted(sheet.items())},
        "environment": environment,
        "planned_by": user_at_host(),
    }


def sending_totals(
    ledger: Ledger, batch_id: int, *, retry_failed: bool
) -> dict[str, CurrencyTotals]:
    """Per-currency totals of the rows a run will send now: not sent yet, and with
    --retry-failed the FAILED rows whose every attempt is confirmed not paid."""
    from batch.engine.states import may_retry

    not_sent = (RowState.NEW, RowState.RECIPIENT_READY, RowState.SESSION_OPEN)
    rows = ledger.each_row_with_attempts(batch_id) if retry_failed else ledger.each_row(batch_id)
    return totals(
        r for r in rows
        if r.state in not_sent
        or (retry_failed and r.state is RowState.FAILED
            and may_retry([a.outcome for a in r.attempts]))
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
        totals=group_totals(ledger.payout_groups(batch.id)),  # summed in SQLite
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
            asked = api.counted if isinstance(api, _CountingLookups) else 0
            problems += await _predict_chunk(
                ledger, api, ids, wanted, operators, fees, concurrency, planner
            )
            if isinstance(api, _CountingLookups):  # rows of known phones count as they pass
                api.chunk_done(len(wanted), api.counted - asked)
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

    def chunk_done(self, rows: int, asked: int) -> None:
        """A chunk of `rows` is stored, `asked` of them by a look-up (counted already): the
        others (known phones, a phone's later rows) count now, not all at the very end."""
        from batch.engine.progress import Predicted

        if rows > asked:
            self.counted += rows - asked
            self.progress.advance(Predicted(rows - asked))

    def finish(self, total: int) -> None:
        """Rows not counted yet (none, unless rows were predicted elsewhere) count too."""
        from batch.engine.progress import Predicted

        if total > self.counted:
            self.progress.advance(Predicted(total - self.counted))


class LedgerOperators:
    """predict.OperatorCache backed by the ledger's recipients table: an operator asked
    within `fresh_days` is reused (by this batch and later ones), an older one asked again."""

    def __init__(self, ledger: Ledger, *, fresh_days: float = ROUTING_FRESH_DAYS) -> None:
        self.ledger = ledger
        self.fresh_days = fresh_days

    def get_operators(self, phones: Sequence[str]) -> dict[str, ProviderInfo]:
        from batch.dollr.models import ProviderInfo

        since = self.ledger.clock() - timedelta(days=self.fresh_days)
        found = self.ledger.recipients(phones, routed_since=since.astimezone(UTC).isoformat())
        # A few operators serve every phone: one shared (phone-less) object per operator.
        shared: dict[tuple[Any, ...], ProviderInfo] = {}
        operators: dict[str, ProviderInfo] = {}
        for phone, known in found.items():
            key = (known.method, known.provider, known.carrier, known.country,
                   tuple(known.currencies))
            if key not in shared:
                shared[key] = ProviderInfo(
                    payment_method=known.method or "", gateway_provider=known.provider or "",
                    carrier=known.carrier, country=known.country, currencies=known.currencies,
                )
            operators[phone] = shared[key]
        return operators

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
