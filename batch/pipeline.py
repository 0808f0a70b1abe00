"""The flows the CLI calls: plan a sheet, run or reconcile a batch, collect or cancel
invoices, against the configured API (endpoint.py: the embedded sandbox when none is).

The work is in the stages: planning/, engine/ (runner, monitor), operations/, report/.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batch import errors
from batch.config import Settings
from batch.endpoint import (
    SANDBOX_CREDENTIALS,
    Endpoint,
    api_endpoint,
    api_environment,
    open_client,
    paced_client,
)
from batch.engine.interrupt import Interrupt
from batch.engine.operation import Operation
from batch.engine.outcome import RunResult
from batch.engine.runner import Runner
from batch.engine.states import IN_FLIGHT, OperationKind
from batch.ledger import Ledger
from batch.operations.payout import PayoutOperation
from batch.options import MonitorOptions, PlanOptions, RunOptions
from batch.planning.flow import (
    PlanResult,
    check_sheet,
    plan_result,
    plan_sheet,
    sending_totals,
)
from batch.planning.identity import over_limits
from batch.planning.preflight import check_environment, check_fresh_ledger
from batch.planning.record import ApiEnvironment
from batch.report.money import CurrencyMoney, WalletShort
from batch.runs import (
    batch_money,
    check_input,
    refuse_cancelled,
    wallet_shortfalls,
)

if TYPE_CHECKING:
    from batch.engine.progress import Progress
    from batch.engine.recheck import RecheckResult
    from batch.intake.outcome import ValidationReport
    from batch.operations.campaign import CancelResult
    from batch.operations.collect_flow import CollectResult
    from batch.operations.collect_plan import CollectionPlan
    from batch.planning.approval import ApprovalPolicy

__all__ = [
    "SANDBOX_CREDENTIALS", "CollectReport", "Endpoint", "PlanResult", "cancel_collection",
    "collect_batch", "RunReport", "RunRequest", "api_endpoint", "open_client",
    "plan_file", "run_batch", "write_report_safely",
]

log = logging.getLogger("paybatch.engine")


def announce_ledger(ledger: Ledger, say: Callable[[str], None]) -> None:
    """Say loudly when the ledger knows no earlier batch (issue 11, item 2)."""
    if ledger.batch_total() == 0:
        say(
            f"NEW LEDGER {ledger.path.resolve()}: no earlier batches known, so the "
            "row guard cannot see what was paid before; the API still refuses a payment "
            "already made with the same derived reference_id"
        )


def run_options(options: RunOptions, endpoint: Endpoint, defaults: MonitorOptions) -> RunOptions:
    """The run's options with the operation's timings (`defaults`) under the ones given on
    the command line, told when an earlier embedded sandbox's 404s become final."""
    monitor = options.monitor.over(defaults) if options.monitor is not None else defaults
    if endpoint.sandbox_started_at is not None:
        monitor = monitor.model_copy(
            update={"not_found_final_before": endpoint.sandbox_started_at})
    return options.model_copy(update={"monitor": monitor})


# -- run / reconcile -------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRequest:
    """What `run` or `reconcile` was asked to do, besides its Settings (`settings.plan`,
    `settings.run`)."""

    target: str  # a sheet file (planned with settings.plan), or a batch name
    max_total: dict[str, Decimal] = field(default_factory=dict)
    # This run's own approval policy (flags, environment): enforced with the batch's recorded
    # one, the stricter of both (issue 17).
    approval: ApprovalPolicy | None = None
    adopt: bool = False  # a fresh ledger's batch the API partly knows: adopt, pay the rest


@dataclass(frozen=True)
class RunReport:
    """A plan (if one was shown), the result of the run, and the report file written after it."""

    plan: PlanResult
    result: RunResult
    report_path: Path | None = None
    report_error: str | None = None  # why the report could not be written, if it could not
    money: list[CurrencyMoney] = field(default_factory=list)  # issue 13: per currency
    interrupted: str | None = None  # the signal that interrupted the run, if one did
    wallet: list[WalletShort] = field(default_factory=list)  # currencies paused, short


Confirm = Callable[[PlanResult], bool]


def plan_file(
    settings: Settings,
    path: Path,
    say: Callable[[str], None],
    *,
    progress: Progress | None = None,
) -> PlanResult:
    """`paybatch plan`: validate, record, predict (`settings.plan`); nothing is paid."""
    if not path.is_file():
        raise errors.SheetError(str(path), "no such file")
    options = settings.plan or PlanOptions()
    # Before any ledger or sandbox exists.
    validated = check_sheet(path, options, settings.validation)

    async def flow(endpoint: Endpoint) -> PlanResult:
        with Ledger(settings.ledger, environment=endpoint.environment) as ledger:
            announce_ledger(ledger, say)
            async with paced_client(endpoint, settings, ledger) as api:
                try:
                    with _approved_sheet(ledger, path, options):
                        result = await plan_sheet(
                            ledger, api, path, options, settings.validation,
                            concurrency=settings.run.concurrency,
                            progress=progress, validated=validated,
                            api_env=api_environment(endpoint),
                        )
                finally:
                    if progress is not None:
                        progress.close()
                for note in result.notes:
                    say(note)
                return result

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

    # Before any ledger or sandbox exists.
    validated = check_input(settings, request.target)
    run = settings.run

    async def flow(endpoint: Endpoint) -> RunReport:
        with Ledger(settings.ledger, environment=endpoint.environment) as ledger:
            announce_ledger(ledger, say)
            env = api_environment(endpoint)
            async with paced_client(endpoint, settings, ledger) as api:
                try:
                    planned = await _resolve(
                        ledger, api, request, settings, progress, validated, env
                    )
                finally:
                    if progress is not None:
                        progress.close()  # bars off before the totals and the prompt
                for note in planned.notes:
                    say(note)
                batch_id = planned.batch.id
                ledger.check_values(batch_id)  # a damaged row stops the run before any send
                check_environment(planned.batch, name=env.name, sandbox=env.sandbox)
                with ledger.locked(batch_id):
                    operation = _operation(planned, run, ledger, api)
                    options = run_options(run, endpoint, operation.monitor_defaults)
                    runner = Runner(
                        ledger, operation, batch_id, options, say=say, progress=progress
                    )
                    # A currency whose wallet was short stays paused until --retry-failed
                    # says it was funded: a plain rerun adds no more FAILED rows (issue 13).
                    paused = (
                        {} if run.retry_failed
                        else ledger.wallet_failed_currencies(batch_id)
                    )
                    if not run.reconcile_only:
                        refuse_cancelled(ledger, batch_id)
                        if _will_pay(planned, run):
                            planned = _approval_gate(
                                ledger, planned, request, run, runner.mint, say
                            )
                        sending = sending_totals(
                            ledger, batch_id, retry_failed=run.retry_failed
                        )
                        sending = {c: t for c, t in sending.items() if c not in paused}
                        planned = replace(planned, sending=sending)
                    if not run.reconcile_only and planned.sending_rows > 0:
                        sampled = await check_fresh_ledger(
                            ledger, api, planned.batch, adopt=request.adopt
                        )
                        if sampled is not None and sampled.known:
                            say(f"--adopt: the API knows {len(sampled.known)} of "
                                f"{sampled.asked} sampled payments; those are adopted, "
                                "the rest paid")
                        # Guards and prompt on what this command sends (issue 13).
                        tripped = over_limits(planned.sending or {}, request.max_total)
                        if tripped:
                            raise errors.AbortedError("; ".join(tripped))
                        if not confirm(planned):
                            raise errors.AbortedError("not confirmed; nothing was sent")
                        ledger.mark_batch_started(batch_id)
                    for currency, message in paused.items():
                        runner.paused[currency] = message
                        say(f"wallet: {currency} payouts paused since an earlier run "
                            f"({message}); fund it, then run with --retry-failed")
                    watch.start(ledger, batch_id)
                    with Interrupt(runner.stop, settle=run.interrupt_settle, say=say) as interrupt:
                        try:
                            ran = await interrupt.run(runner.run())
                        except Exception:
                            watch.settle(ledger, batch_id)
                            raise
                        finally:
                            if progress is not None:
                                progress.close()
                        watch.settle(ledger, batch_id)
                        result = ran or RunResult(  # None: cut short by a second signal
                            batch_id, ledger.counts(batch_id), runner.stopped,
                            refused=runner.refused, accepted=runner.accepted,
                            paused=dict(runner.paused),
                        )
                        result = replace(
                            result, requests=api.request_count,
                            standing_exit_code=_standing(ledger, planned),
                        )
                        if result.exit_code in (0, 3, 6) and not result.pending:
                            ledger.mark_batch_finished(batch_id)
                        run_report = RunReport(
                            plan_result(ledger, planned.batch), result,
                            money=batch_money(ledger, batch_id),
                            interrupted=interrupt.signals[0] if interrupt.signals else None,
                            wallet=wallet_shortfalls(ledger, batch_id, runner.paused),
                        )
                        for short in run_report.wallet:
                            say(short.advice(planned.batch.name))
                        if not write_report:
                            return run_report
                        path, problem = write_report_safely(ledger, batch_id)
            if problem:
                say(f"warning: {problem}")
            _keep_backup(ledger, say)
            return replace(run_report, report_path=path, report_error=problem)

    watch = _SendWatch()
    try:
        with api_endpoint(settings, say) as endpoint:
            return asyncio.run(flow(endpoint))
    except Exception as exc:
        # Issue 12: once a payout has left, no failure (a full disk, a read-only folder, a
        # lost ledger write) may exit 1 "nothing sent": rows are in flight, run again.
        if watch.moved and not isinstance(exc, errors.StoppedAfterSendingError):
            log.info("run stopped after sending", exc_info=True)
            raise errors.StoppedAfterSendingError(exc) from exc
        raise


@dataclass
class _SendWatch:
    """Whether a run has sent payouts or left rows in flight, for the exit code of a failure."""

    started: bool = False
    sent_before: int | None = None
    settled: bool | None = None  # None: not known (the ledger could not say)

    def start(self, ledger: Ledger, batch_id: int) -> None:
        """The runner starts now: remember how many attempts had been sent before."""
        self.started, self.sent_before = True, _sent(ledger, batch_id)

    def settle(self, ledger: Ledger, batch_id: int) -> None:
        """The runner has ended (or failed): did it send, or leave rows in flight?"""
        sent = _sent(ledger, batch_id)
        if sent is None or self.sent_before is None:
            self.settled = None
            return
        self.settled = sent != self.sent_before or _in_flight(ledger, batch_id)

    @property
    def moved(self) -> bool:
        """Money may have moved: the runner started and sent, or nobody can tell."""
        return self.started and self.settled is not False


def _sent(ledger: Ledger, batch_id: int) -> int | None:
    """How many of the batch's attempts have been sent (SUBMITTING committed), or None when
    the ledger cannot say (then anything may have been sent)."""
    try:
        return ledger.sent_count(batch_id)
    except Exception:
        return None


def _in_flight(ledger: Ledger, batch_id: int) -> bool:
    """Whether rows of the batch are in flight (or the ledger cannot say)."""
    try:
        counts = ledger.counts(batch_id)
    except Exception:
        return True
    return any(counts.get(s.value) for s in IN_FLIGHT)


def _keep_backup(ledger: Ledger, say: Callable[[str], None]) -> None:
    """A backup of the ledger after the run; failing to write one is a warning, not a failure."""
    try:
        ledger.backup()
    except Exception as exc:
        say(f"warning: could not back up the ledger ({type(exc).__name__}: {exc})")


def _approval_gate(
    ledger: Ledger, planned: PlanResult, request: RunRequest, run: RunOptions,
    mint: Callable[[], str], say: Callable[[str], None],
) -> PlanResult:
    """Before anything is sent: a governed batch's `--retry-failed` attempts are made (a change
    of plan), stale approvals voided, and the run refused (exit 5) unless approved."""
    from batch.planning.release import governed, reopen_failed, require_approval

    if not governed(ledger, planned.batch, request.approval):
        return planned
    if run.retry_failed and reopen_failed(ledger, planned.batch, mint):
        planned = plan_result(ledger, planned.batch)
    check = require_approval(ledger, planned.batch, request.approval)
    if check.approvers:
        say(f"approved by {', '.join(check.approvers)} (plan {check.plan_hash[:16]})")
    return planned


@contextmanager
def _approved_sheet(ledger: Ledger, path: Path, options: PlanOptions) -> Iterator[None]:
    """An edited sheet under the name of an approved batch voids its approvals (exit 5)."""
    try:
        yield
    except errors.BatchConflictError as exc:
        from batch.planning.identity import default_batch_name
        from batch.planning.release import refuse_edited_sheet

        name = options.batch_name or default_batch_name(path)
        refuse_edited_sheet(ledger, exc, name=name, path=path)
        raise


def _operation(planned: PlanResult, options: RunOptions, ledger: Ledger, api: Any) -> Operation:
    """The batch's own kind of operation: `reconcile` settles a collection batch too."""
    if planned.batch.kind is OperationKind.COLLECTION:
        if not options.reconcile_only:
            raise errors.InputError(
                f"{planned.batch.name} is a collection batch: use `paybatch collect`"
            )
        from batch.operations.collection import CollectionOperation

        return CollectionOperation(ledger, api)
    return PayoutOperation(ledger, api)


def _standing(ledger: Ledger, planned: PlanResult) -> int | None:
    """A collection batch's exit code as its campaign stands; None for payouts."""
    if planned.batch.kind is not OperationKind.COLLECTION:
        return None
    from batch.operations.campaign import campaign_counts
    from batch.operations.collect_plan import policy_of

    return campaign_counts(ledger, planned.batch.id, policy_of(planned.batch),
                           ledger.clock()).exit_code

@dataclass(frozen=True)
class RecheckReport:
    """`reconcile --recheck`: what changed, the batch's counts after, the report file."""

    plan: PlanResult
    recheck: RecheckResult
    report_path: Path | None = None


def recheck_batch_named(
    settings: Settings, name: str, *, since: datetime | None, say: Callable[[str], None]
) -> RecheckReport:
    """`paybatch reconcile BATCH --recheck`: re-read finished rows' status (issue 11)."""
    from batch.engine.recheck import recheck_batch

    async def flow(endpoint: Endpoint) -> RecheckReport:
        with Ledger(settings.ledger, environment=endpoint.environment) as ledger:
            batch = ledger.batch_by_name(name)
            if batch is None:
                raise errors.InputError(f"{name}: no such batch in {settings.ledger}")
            env = api_environment(endpoint)
            check_environment(batch, name=env.name, sandbox=env.sandbox)
            async with open_client(endpoint, settings) as api:
                with ledger.locked(batch.id):
                    result = await recheck_batch(ledger, api, batch.id, since=since)
            for line in [*result.reversed, *result.double_payments]:
                say(f"warning: {line}")
            path, problem = write_report_safely(ledger, batch.id)
            if problem:
                say(f"warning: {problem}")
            return RecheckReport(plan_result(ledger, batch), result, path)

    with api_endpoint(settings, say) as endpoint:
        return asyncio.run(flow(endpoint))



def _will_pay(planned: PlanResult, options: RunOptions) -> bool:
    """Whether this run may start rows (what an approval policy must cover first)."""
    return planned.payable > 0 or (options.retry_failed and planned.counts.get("FAILED", 0) > 0)


def write_report_safely(ledger: Ledger, batch_id: int) -> tuple[Path | None, str | None]:
    """The batch's report next to the ledger: (path, None), or (None, why it was not written).

    The report is a copy of what the ledger holds: failing to write it must not fail the run.
    """
    from batch.report.files import load_report, report_path, write_report

    try:
        report = load_report(ledger, batch_id, stream=True)  # the ledger is open till written
        # A workbook at every size (issue 16: ~0.1 ms a row in constant memory).
        path = report_path(ledger.path, report.identity.name, ".xlsx")
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
    progress: Progress | None = None, validated: ValidationReport | None = None,
    env: ApiEnvironment | None = None,
) -> PlanResult:
    """The batch a run is about: planned from a file, or found by name."""
    path = Path(request.target)
    if settings.plan is not None and validated is not None:
        with _approved_sheet(ledger, path, settings.plan):
            return await plan_sheet(
                ledger, api, path, settings.plan, settings.validation,
                concurrency=settings.run.concurrency,
                progress=progress, validated=validated, api_env=env,
            )
    batch = ledger.batch_by_name(request.target)
    if batch is None:
        raise errors.InputError(f"{request.target}: no such file or batch in {settings.ledger}")
    return plan_result(ledger, batch)


# -- collections (issue 14) ------------------------------------------------------------------


@dataclass(frozen=True)
class CollectReport:
    """A collection round's result and the report file written after it."""

    result: CollectResult
    report_path: Path | None = None
    report_error: str | None = None


def collect_batch(
    settings: Settings,
    target: str,
    *,
    confirm: Callable[[CollectionPlan], bool],
    say: Callable[[str], None],
    progress: Progress | None = None,
) -> CollectReport:
    """`paybatch collect`: plan if needed (`settings.collect`), confirm, one campaign round,
    then the report."""
    from batch.operations.collect_flow import collect
    from batch.operations.collection import COLLECTION_TIMINGS

    async def flow(endpoint: Endpoint) -> CollectReport:
        run = run_options(settings.run, endpoint, COLLECTION_TIMINGS)
        timed = settings.model_copy(update={"run": run})
        with Ledger(settings.ledger, environment=endpoint.environment) as ledger:
            async with open_client(endpoint, settings) as api:
                try:
                    result = await collect(
                        ledger, api, target, timed, confirm=confirm, say=say,
                        progress=progress,
                    )
                finally:
                    if progress is not None:
                        progress.close()
            path, problem = write_report_safely(ledger, result.plan.batch.id)
            if problem:
                say(f"warning: {problem}")
            return CollectReport(result, path, problem)

    with api_endpoint(settings, say) as endpoint:
        return asyncio.run(flow(endpoint))


def cancel_collection(
    settings: Settings, batch_name: str, rows: set[int] | None, reason: str,
    say: Callable[[str], None],
) -> CancelResult:
    """`paybatch cancel`: cancel a collection batch's unpaid invoices (never one in flight)."""
    from batch.operations.campaign import cancel_invoices

    async def flow(endpoint: Endpoint) -> CancelResult:
        with Ledger(settings.ledger, environment=endpoint.environment) as ledger:
            batch = ledger.batch_by_name(batch_name)
            if batch is None or batch.kind.value != "collection":
                raise errors.InputError(f"{batch_name}: no such collection batch")
            async with open_client(endpoint, settings) as api:
                with ledger.locked(batch.id):
                    done = await cancel_invoices(ledger, api, batch.id, rows, reason)
            write_report_safely(ledger, batch.id)
            return done

    with api_endpoint(settings, say) as endpoint:
        return asyncio.run(flow(endpoint))
