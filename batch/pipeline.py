"""The flows the CLI calls: plan a sheet, run or reconcile a batch, against the configured API.

Starts the embedded sandbox when no base URL is configured; the work is in planning.py,
execute.py and monitor.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from batch import errors
from batch.config import Credentials, Settings
from batch.engine.runner import Runner, RunOptions, RunResult
from batch.ledger import Ledger
from batch.planning.flow import PlanOptions, PlanResult, plan_result, plan_sheet
from batch.planning.identity import over_limits

if TYPE_CHECKING:
    from batch.dollr.client import ApiClient
    from batch.progress import Progress

__all__ = [
    "Endpoint", "PlanResult", "RunReport", "RunRequest", "api_endpoint", "open_client",
    "plan_file", "run_batch", "write_report_safely",
]

log = logging.getLogger("paybatch.engine")

SANDBOX_BANNER = "SANDBOX — simulated API, no money moves"
SANDBOX_CREDENTIALS = Credentials(
    client_id="sandbox",
    client_secret=SecretStr("sandbox-secret"),  # the embedded sandbox's documented default
    passcode=SecretStr("0000"),
    passcode_phone="231770000000",
)


@dataclass(frozen=True)
class Endpoint:
    """Where the API is, with what credentials, and which environment the ids belong to."""

    base_url: str
    credentials: Credentials
    environment: str
    sandbox: bool
    # Embedded sandbox on a state file: requests sent before this instant went to an earlier
    # sandbox process, now dead, so a status 404 for them is final (see MonitorOptions).
    sandbox_started_at: datetime | None = None


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
    from batch.sandbox import SandboxConfig, StateInUseError, running_sandbox, state_path_for

    say(SANDBOX_BANNER)
    # Its state lives next to the ledger, so a killed run's payouts are still known on rerun
    # and the recipients the ledger remembers (per instance) still exist there.
    with ExitStack() as stack:
        try:
            sandbox = stack.enter_context(
                running_sandbox(SandboxConfig(state_path=state_path_for(settings.ledger)))
            )
        except StateInUseError as exc:
            raise errors.BatchLockedError(f"embedded sandbox: {exc}; wait for it") from exc
        yield Endpoint(
            sandbox.base_url,
            SANDBOX_CREDENTIALS,
            environment=f"sandbox:{sandbox.instance_id()}",
            sandbox=True,
            sandbox_started_at=datetime.now(UTC),
        )


def run_options(options: RunOptions, endpoint: Endpoint) -> RunOptions:
    """The run's options, told when an earlier embedded sandbox's 404s become final."""
    if endpoint.sandbox_started_at is None:
        return options
    monitor = replace(options.monitor, not_found_final_before=endpoint.sandbox_started_at)
    return replace(options, monitor=monitor)


def open_client(endpoint: Endpoint, settings: Settings) -> ApiClient:
    """The API client for this endpoint."""
    from batch.dollr.client import ApiClient

    return ApiClient(endpoint.base_url, endpoint.credentials, rate=settings.rate)


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
    """A plan (if one was shown), the result of the run, and the report file written after it."""

    plan: PlanResult
    result: RunResult
    report_path: Path | None = None
    report_error: str | None = None  # why the report could not be written, if it could not


Confirm = Callable[[PlanResult], bool]


def plan_file(
    settings: Settings,
    path: Path,
    options: PlanOptions,
    say: Callable[[str], None],
    *,
    progress: Progress | None = None,
) -> PlanResult:
    """`paybatch plan`: validate, record, predict; nothing is paid."""

    async def flow(endpoint: Endpoint) -> PlanResult:
        with Ledger(settings.ledger, environment=endpoint.environment) as ledger:
            async with open_client(endpoint, settings) as api:
                try:
                    return await plan_sheet(
                        ledger, api, path, options, concurrency=settings.concurrency,
                        progress=progress,
                    )
                finally:
                    if progress is not None:
                        progress.close()

    with api_endpoint(settings, say) as endpoint:
        return asyncio.run(flow(endpoint))


def run_batch(
    settings: Settings,
    request: RunRequest,
    *,
    confirm: Confirm,
    say: Callable[[str], None],
    progress: Progress | None = None,
    write_report: bool = True,
) -> RunReport:
    """`paybatch run` / `reconcile`: plan if needed, confirm, then pay and settle under the lock.

    Afterwards the batch's report is written next to the ledger (`RunReport.report_path`).
    """

    async def flow(endpoint: Endpoint) -> RunReport:
        with Ledger(settings.ledger, environment=endpoint.environment) as ledger:
            async with open_client(endpoint, settings) as api:
                try:
                    planned = await _resolve(ledger, api, request, settings, progress)
                finally:
                    if progress is not None:
                        progress.close()  # bars off before the totals and the prompt
                batch_id = planned.batch.id
                with ledger.locked(batch_id):
                    if not request.run.reconcile_only and _will_pay(planned, request.run):
                        tripped = over_limits(planned.totals, request.max_total)
                        if tripped:
                            raise errors.AbortedError("; ".join(tripped))
                        if not confirm(planned):
                            raise errors.AbortedError("not confirmed; nothing was sent")
                        ledger.mark_batch_started(batch_id)
                    options = run_options(request.run, endpoint)
                    runner = Runner(ledger, api, batch_id, options, say=say, progress=progress)
                    try:
                        result = await runner.run()
                    finally:
                        if progress is not None:
                            progress.close()
                    result = RunResult(
                        result.batch_id, result.counts, result.stopped, api.request_count
                    )
                    if result.exit_code in (0, 3) and not result.pending:
                        ledger.mark_batch_finished(batch_id)
            run_report = RunReport(plan_result(ledger, planned.batch), result)
            if not write_report:
                return run_report
            path, problem = write_report_safely(ledger, batch_id)
            if problem:
                say(f"warning: {problem}")
            return RunReport(run_report.plan, result, path, problem)

    with api_endpoint(settings, say) as endpoint:
        return asyncio.run(flow(endpoint))


def _will_pay(planned: PlanResult, options: RunOptions) -> bool:
    return planned.payable > 0 or (options.retry_failed and planned.counts.get("FAILED", 0) > 0)


def write_report_safely(ledger: Ledger, batch_id: int) -> tuple[Path | None, str | None]:
    """The batch's report next to the ledger: (path, None), or (None, why it was not written).

    The report is a copy of what the ledger holds: failing to write it must not fail the run.
    """
    from batch.report.files import load_report, safe_file_name, write_report

    try:
        report = load_report(ledger, batch_id, stream=True)  # the ledger is open till written
        # A workbook at every size (issue 16: ~0.2 ms a row in constant memory).
        name = f"{safe_file_name(report.identity.name)}.report.xlsx"
        path = ledger.path.resolve().parent / name
        write_report(report, path)
        return path, None
    except Exception as exc:  # any failure becomes one warning line; the ledger is untouched
        log.info("report not written", exc_info=True)
        return None, (
            f"could not write the report ({type(exc).__name__}: {exc}); the ledger is intact: "
            "`paybatch report BATCH --out FILE` writes it later"
        )


async def _resolve(
    ledger: Ledger, api: Any, request: RunRequest, settings: Settings,
    progress: Progress | None = None,
) -> PlanResult:
    """The batch a run is about: planned from a file, or found by name."""
    path = Path(request.target)
    if request.plan is not None and path.is_file():
        return await plan_sheet(
            ledger, api, path, request.plan, concurrency=settings.concurrency, progress=progress
        )
    batch = ledger.batch_by_name(request.target)
    if batch is None:
        raise errors.InputError(f"{request.target}: no such file or batch in {settings.ledger}")
    return plan_result(ledger, batch)
