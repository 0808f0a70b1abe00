"""The paying commands of the CLI: `plan`, `run`, `reconcile` (options -> one library call)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click

from batch import errors
from batch.cli.common import (
    EXIT_OK,
    handle_errors,
    output_options,
    sheet_options,
    validation_options,
)
from batch.cli.output import Output
from batch.config import (
    DEFAULT_CONCURRENCY,
    DEFAULT_LEDGER,
    DEFAULT_RATE,
    ENV_BASE_URL,
    ENV_LEDGER,
    Settings,
    credentials_from_env,
)
from batch.engine.monitor import MonitorOptions
from batch.engine.runner import DEFAULT_WAIT, RunOptions
from batch.pipeline import RunRequest, plan_file, run_batch
from batch.planning.flow import PlanOptions, PlanResult
from batch.planning.identity import DEFAULT_REPEAT_WINDOW_DAYS


def _max_total(values: tuple[str, ...]) -> dict[str, Decimal]:
    limits: dict[str, Decimal] = {}
    for value in values:
        currency, _, amount = value.partition("=")
        try:
            limits[currency.strip().upper()] = Decimal(amount.replace(",", ""))
        except InvalidOperation:
            raise click.BadParameter(
                f"{value!r} is not CUR=AMOUNT", param_hint="--max-total"
            ) from None
    return limits


# Hidden timing options (tests, benchmarks): flag, MonitorOptions field, environment variable.
MONITOR_KNOBS: tuple[tuple[str, str, str], ...] = (
    ("--not-found-grace", "not_found_grace", "PAYBATCH_NOT_FOUND_GRACE"),
    ("--resend-grace", "resend_grace", "PAYBATCH_RESEND_GRACE"),
    ("--max-resends", "max_resends", "PAYBATCH_MAX_RESENDS"),
    ("--poll-first", "first_poll", "PAYBATCH_POLL_FIRST"),
    ("--poll-max", "max_poll_interval", "PAYBATCH_POLL_MAX"),
)


def _monitor_knob(flag: str, field: str, envvar: str) -> Any:
    """A hidden option defaulting to MonitorOptions' own value, of the same type."""
    default = getattr(MonitorOptions, field)
    return click.option(flag, field, type=type(default), default=default, hidden=True,
                        envvar=envvar)


def api_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--ledger, --base-url, --concurrency, --rate, --json, --quiet and hidden timing knobs."""
    func = output_options(func)
    options = [
        click.option("--ledger", type=click.Path(path_type=Path, dir_okay=False),
                     envvar=ENV_LEDGER, default=DEFAULT_LEDGER, show_default=True,
                     help="The ledger file (SQLite)."),
        click.option("--base-url", envvar=ENV_BASE_URL,
                     help="Dollr API base URL; without it the embedded sandbox is used."),
        click.option("--concurrency", type=click.IntRange(1, 256), default=DEFAULT_CONCURRENCY,
                     show_default=True, help="Rows paid at once."),
        click.option("--rate", type=click.FloatRange(min=0.1), default=DEFAULT_RATE,
                     show_default=True, help="Requests per second, at most."),
        *(_monitor_knob(*knob) for knob in MONITOR_KNOBS),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def plan_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Sheet reading (intake's sheet_options) and batch identity options of `plan` and `run`."""
    options = [
        sheet_options,
        click.option("--batch-name", help="Name of the batch (default: the file name)."),
        click.option("--skip-invalid", is_flag=True,
                     help="Pay the valid rows and keep invalid ones as SKIPPED."),
        click.option("--allow-repeat", is_flag=True,
                     help="Allow the same payouts as a recent other batch."),
        click.option("--repeat-window", type=click.IntRange(0), default=DEFAULT_REPEAT_WINDOW_DAYS,
                     show_default=True, help="Days the repeat guard looks back."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _settings(kw: dict[str, Any]) -> Settings:
    return Settings(
        ledger=kw["ledger"], base_url=kw["base_url"] or None,
        credentials=credentials_from_env(os.environ), concurrency=kw["concurrency"],
        rate=kw["rate"], json_output=kw["json_output"], quiet=kw["quiet"],
    )


def _plan_options(kw: dict[str, Any]) -> PlanOptions:
    validation = validation_options(
        kw["country"], kw["currency"], kw["max_amount"], kw["allow_duplicates"],
        kw["include_hidden"], kw["decimal_comma"],
    )
    return PlanOptions(
        validation=validation, sheet=kw["sheet"], batch_name=kw["batch_name"],
        skip_invalid=kw["skip_invalid"], allow_repeat=kw["allow_repeat"],
        repeat_window_days=kw["repeat_window"], rejected_out=kw["rejected_out"],
    )


def _run_options(kw: dict[str, Any], *, reconcile: bool) -> RunOptions:
    return RunOptions(
        concurrency=kw["concurrency"], wait=kw["wait"],
        retry_failed=kw.get("retry_failed", False), reconcile_only=reconcile,
        monitor=MonitorOptions(**{field: kw[field] for _, field, _ in MONITOR_KNOBS}),
    )


@click.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@plan_options
@api_options
@handle_errors
def plan(file: Path, **kw: Any) -> None:
    """Validate a sheet, predict operators and fees, and record the batch; pays nothing.

    Prints the totals per currency (payouts, predicted fees, total debit, rows per
    operator). Planning the same file again finds the same batch. Exit 1 on invalid rows
    (unless --skip-invalid) or a repeat of a recent batch (unless --allow-repeat).

    \b
    Example:
      paybatch plan samples/payroll_liberia.csv --batch-name payroll-2026-11
    """
    settings = _settings(kw)
    out = Output(json_output=settings.json_output, quiet=settings.quiet)
    result = plan_file(settings, file, _plan_options(kw), out.say, progress=out.progress)
    out.plan_result(result)
    sys.exit(EXIT_OK)


def _confirm(yes: bool, shown: bool, out: Output) -> Callable[[PlanResult], bool]:
    def confirm(planned: PlanResult) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            raise errors.AbortedError("no terminal to confirm on: pass --yes to pay without asking")
        if not shown:
            out.plan(planned, err=True)
        return click.confirm("Pay this batch now?", default=False, err=True)

    return confirm


@click.command()
@click.argument("target", metavar="FILE|BATCH")
@plan_options
@api_options
@click.option("--yes", "-y", is_flag=True, help="Pay without asking for confirmation.")
@click.option("--max-total", multiple=True, metavar="CUR=AMOUNT",
              help="Refuse (exit 5) if the total debit in CUR exceeds AMOUNT. Repeatable.")
@click.option("--wait", type=click.FloatRange(min=0), default=DEFAULT_WAIT, show_default=True,
              help="Seconds to keep polling rows in flight before exiting with code 4.")
@click.option("--retry-failed", is_flag=True,
              help="New attempts for rows whose every attempt is confirmed FAILED.")
@handle_errors
def run(target: str, **kw: Any) -> None:
    """Pay a sheet or batch exactly once; running it again resumes where it stopped.

    Plans the sheet if needed, shows the totals per currency and asks before paying (no
    terminal: refuses unless --yes). Afterwards the report BATCH.report.xlsx is written
    next to the ledger and its path printed.

    \b
    Exit codes:
      0 every row completed      3 some rows FAILED (--retry-failed)
      4 rows in flight or not sent yet: run again or `paybatch reconcile`
      5 not confirmed, or a --max-total guard tripped; 1 bad input, nothing sent

    \b
    Example:
      paybatch run samples/payroll_liberia.csv --yes
      paybatch run payroll-2026-11 --retry-failed --max-total USD=50000
      paybatch run payroll.xlsx --yes --json --log-file /var/log/paybatch.log   # cron
    """
    settings = _settings(kw)
    request = RunRequest(
        target=target, plan=_plan_options(kw), run=_run_options(kw, reconcile=False),
        max_total=_max_total(kw["max_total"]),
    )
    out = Output(json_output=settings.json_output, quiet=settings.quiet)
    show = not settings.json_output and not settings.quiet

    def confirm(planned: PlanResult) -> bool:
        if show:
            out.plan(planned)
        return _confirm(kw["yes"], show, out)(planned)

    report = run_batch(settings, request, confirm=confirm, say=out.say, progress=out.progress)
    out.run_result(report)
    sys.exit(report.result.exit_code)


@click.command()
@click.argument("batch_name", metavar="BATCH")
@api_options
@click.option("--wait", type=click.FloatRange(min=0), default=DEFAULT_WAIT, show_default=True,
              help="Seconds to keep polling rows in flight before exiting with code 4.")
@handle_errors
def reconcile(batch_name: str, **kw: Any) -> None:
    """Settle rows still in flight by polling their status; starts no new payouts.

    Rewrites the report BATCH.report.xlsx next to the ledger afterwards.

    \b
    Exit codes:
      0 every row completed      3 some rows FAILED
      4 rows still in flight (or never sent): run it again later

    \b
    Example:
      paybatch reconcile payroll-2026-11 --wait 600
    """
    settings = _settings(kw)
    out = Output(json_output=settings.json_output, quiet=settings.quiet)
    request = RunRequest(target=batch_name, plan=None, run=_run_options(kw, reconcile=True))
    report = run_batch(settings, request, confirm=lambda _: True, say=out.say,
                       progress=out.progress)
    out.run_result(report)
    sys.exit(report.result.exit_code)
