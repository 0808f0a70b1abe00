"""The flows the CLI calls: plan a sheet into the ledger, run or reconcile a batch.

Starts the embedded sandbox when no base URL is configured; everything else is delegated to
plan.py (pure), predict.py, execute.py and monitor.py.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from batch import errors
from batch.config import Credentials, Settings
from batch.execute import Runner, RunOptions, RunResult
from batch.ledger import BatchRecord, Ledger
from batch.plan import (
    DEFAULT_REPEAT_WINDOW_DAYS,
    CurrencyTotals,
    check_repeat,
    check_same_name,
    content_hash,
    default_batch_name,
    new_rows,
    over_limits,
    payout_set_hash,
    repeat_window_start,
    totals,
)
from batch.states import RowState

if TYPE_CHECKING:
    from batch.api import ApiClient
    from batch.api_models import FeeQuote, ProviderInfo
    from batch.validate import ValidationOptions

SANDBOX_BANNER = "SANDBOX — simulated API, no money moves"
SANDBOX_CREDENTIALS = Credentials(
    client_id="sandbox",
    client_secret=SecretStr("sandbox-secret"),  # the embedded sandbox's documented default
    passcode=SecretStr("0000"),
    passcode_phone="231770000000",
)


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

    @property
    def payable(self) -> int:
        """Rows not sent yet (what a run would start)."""
        return sum(
            self.counts.get(s.value, 0)
            for s in (RowState.NEW, RowState.RECIPIENT_READY, RowState.SESSION_OPEN)
        )


@dataclass(frozen=True)
class Endpoint:
    """Where the API is, with what credentials, and which environment the ids belong to."""

    base_url: str
    credentials: Credentials
    environment: str
    sandbox: bool


@contextmanager
def api_endpoint(settings: Settings, say: Callable[[str], None]) -> Iterator[Endpoint]:
    """The configured API, or an embedded sandbox started for this run."""
    if settings.base_url:
        if settings.credentials is None:
            raise errors.ConfigError(
                "a --base-url needs credentials in the environment: DOLLR_CLIENT_ID, "
                "DOLLR_CLIENT_SECRET, DOLLR_PASSCODE and DOLLR_PASSCODE_PHONE or "
                "DOLLR_PASSCODE_USER_ID"
            )
        yield Endpoint(
            settings.base_url.rstrip("/"),
            settings.credentials,
            environment=f"{settings.base_url.rstrip('/')}#{settings.credentials.client_id}",
            sandbox=False,
        )
        return
    from batch.sandbox import SandboxConfig, running_sandbox

    say(SANDBOX_BANNER)
    with running_sandbox(SandboxConfig()) as sandbox:
        # A fresh in-memory sandbox: ids from an earlier one mean nothing here.
        yield Endpoint(
            sandbox.base_url,
            SANDBOX_CREDENTIALS,
            environment=f"sandbox:{uuid.uuid4()}",
            sandbox=True,
        )


def open_client(endpoint: Endpoint, settings: Settings) -> ApiClient:
    """The API client for this endpoint."""
    from batch.api import ApiClient

    return ApiClient(endpoint.base_url, endpoint.credentials, rate=settings.rate)


# -- plan ------------------------------------------------------------------------------------


async def plan_sheet(
    ledger: Ledger, api: Any, path: Path, options: PlanOptions, *, concurrency: int = 8
) -> PlanResult:
    """Validate, record the batch (once), predict operators and fees; return its totals."""
    from batch.load import load_sheet
    from batch.validate import validate_sheet

    report = validate_sheet(load_sheet(path, sheet=options.sheet), options.validation)
    invalid = report.invalid_rows()
    if invalid and not options.skip_invalid:
        raise errors.InvalidRowsError(str(path), len(invalid))
    rows = report.payout_rows()
    name = options.batch_name or default_batch_name(path)
    chash = content_hash(rows)
    existing = ledger.batch_by_name(name)
    if existing is not None:
        check_same_name(existing, content=chash)
        batch, created = existing, False
    else:
        pset = payout_set_hash(rows)
        if not options.allow_repeat:
            since = repeat_window_start(ledger.clock(), options.repeat_window_days)
            check_repeat(
                ledger.repeats_of(pset, since=since, name=name),
                window_days=options.repeat_window_days,
            )
        from batch.ledger import SkippedRow

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
        batch_id = ledger.create_batch(
            name=name,
            source_file=str(path),
            content_hash=chash,
            payout_set_hash=pset,
            rows=new_rows(rows),
            skipped=skipped,
            options={"skip_invalid": options.skip_invalid, "sheet": options.sheet},
        )
        found = ledger.batch_by_id(batch_id)
        assert found is not None
        batch, created = found, True
    unroutable = await _predict(ledger, api, batch.id, rows, concurrency=concurrency)
    return plan_result(ledger, batch, created=created, unroutable=unroutable)


def plan_result(
    ledger: Ledger,
    batch: BatchRecord,
    *,
    created: bool = False,
    unroutable: list[str] | None = None,
) -> PlanResult:
    """The totals of a batch as the ledger holds it now."""
    return PlanResult(
        batch=batch,
        created=created,
        counts=ledger.counts(batch.id),
        totals=totals(ledger.rows(batch.id, with_attempts=False)),
        unroutable=unroutable or [],
    )


async def _predict(
    ledger: Ledger, api: Any, batch_id: int, sheet_rows: list[Any], *, concurrency: int
) -> list[str]:
    """Predict operator and fee for NEW rows that have none; fail the unroutable ones."""
    from batch.predict import predict_rows

    todo = {
        r.sheet_row: r
        for r in ledger.rows(batch_id, states=[RowState.NEW], with_attempts=False)
        if r.predicted_fee is None
    }
    wanted = [r for r in sheet_rows if r.row in todo]
    if not wanted:
        return []
    predictions = await predict_rows(
        api,
        wanted,
        operators=LedgerOperators(ledger),
        fees=LedgerFees(ledger),
        concurrency=concurrency,
    )
    problems: list[str] = []
    with ledger.atomic():
        for p in predictions:
            row = todo[p.row]
            if p.routable and p.operator is not None and p.fee is not None:
                ledger.set_row_prediction(
                    row.id,
                    operator=p.operator.carrier or p.operator.payment_method,
                    method=p.operator.payment_method,
                    provider=p.operator.gateway_provider,
                    predicted_fee=p.fee.total_fee,
                    fee_currency=p.fee.platform_currency,
                )
            else:
                reason = f"cannot be paid: {p.problem}"
                ledger.mark_failed(row.id, row.current_reference_id, reason=reason)
                problems.append(f"row {p.row}: {reason}")
    return problems


class LedgerOperators:
    """predict.OperatorCache backed by the ledger's recipients table."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def get_operator(self, phone: str) -> ProviderInfo | None:
        from batch.api_models import ProviderInfo

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

    def get_fee(self, key: tuple[Decimal, str, str, str]) -> FeeQuote | None:
        from batch.api_models import FeeQuote

        amount, currency, method, provider = key
        found = self.ledger.fee_quote(
            amount=amount,
            currency=currency,
            target_currency=currency,
            method=method,
            provider=provider,
        )
        return FeeQuote.model_validate(found) if found is not None else None

    def put_fee(self, key: tuple[Decimal, str, str, str], quote: FeeQuote) -> None:
        amount, currency, method, provider = key
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


# -- run / reconcile -------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRequest:
    """What `run` or `reconcile` was asked to do."""

    target: str  # a sheet file, or a batch name
    plan: PlanOptions | None  # None: the target must be a batch (reconcile)
    run: RunOptions
    max_total: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class RunReport:
    """A plan (if one was shown) and the result of the run."""

    plan: PlanResult
    result: RunResult


Confirm = Callable[[PlanResult], bool]


def plan_file(
    settings: Settings, path: Path, options: PlanOptions, say: Callable[[str], None]
) -> PlanResult:
    """`paybatch plan`: validate, record, predict; nothing is paid."""

    async def flow(endpoint: Endpoint) -> PlanResult:
        with Ledger(settings.ledger, environment=endpoint.environment) as ledger:
            async with open_client(endpoint, settings) as api:
                return await plan_sheet(
                    ledger, api, path, options, concurrency=settings.concurrency
                )

    with api_endpoint(settings, say) as endpoint:
        return asyncio.run(flow(endpoint))


def run_batch(
    settings: Settings, request: RunRequest, *, confirm: Confirm, say: Callable[[str], None]
) -> RunReport:
    """`paybatch run` / `reconcile`: plan if needed, confirm, then pay and settle under the lock."""

    async def flow(endpoint: Endpoint) -> RunReport:
        with Ledger(settings.ledger, environment=endpoint.environment) as ledger:
            async with open_client(endpoint, settings) as api:
                planned = await _resolve(ledger, api, request, settings)
                batch_id = planned.batch.id
                with ledger.locked(batch_id):
                    if not request.run.reconcile_only and _will_pay(planned, request.run):
                        tripped = over_limits(planned.totals, request.max_total)
                        if tripped:
                            raise errors.AbortedError("; ".join(tripped))
                        if not confirm(planned):
                            raise errors.AbortedError("not confirmed; nothing was sent")
                        ledger.mark_batch_started(batch_id)
                    runner = Runner(ledger, api, batch_id, request.run, say=say)
                    result = await runner.run()
                    result = RunResult(
                        result.batch_id, result.counts, result.stopped, api.request_count
                    )
                    if result.exit_code in (0, 3) and not result.pending:
                        ledger.mark_batch_finished(batch_id)
                return RunReport(plan_result(ledger, planned.batch), result)

    with api_endpoint(settings, say) as endpoint:
        return asyncio.run(flow(endpoint))


def _will_pay(planned: PlanResult, options: RunOptions) -> bool:
    return planned.payable > 0 or (options.retry_failed and planned.counts.get("FAILED", 0) > 0)


async def _resolve(ledger: Ledger, api: Any, request: RunRequest, settings: Settings) -> PlanResult:
    """The batch a run is about: planned from a file, or found by name."""
    path = Path(request.target)
    if request.plan is not None and path.is_file():
        return await plan_sheet(ledger, api, path, request.plan, concurrency=settings.concurrency)
    batch = ledger.batch_by_name(request.target)
    if batch is None:
        raise errors.InputError(f"{request.target}: no such file or batch in {settings.ledger}")
    return plan_result(ledger, batch)
