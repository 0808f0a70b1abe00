"""The paying commands of the CLI: `plan`, `run`, `reconcile` (options -> one library call)."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click

from batch import errors
from batch.cli.approval import (
    approval_hint,
    approval_policy_options,
    policy_from,
    recorded_from,
)
from batch.cli.common import LEDGER_HELP, handle_errors, output_options, sheet_options
from batch.cli.output import Output
from batch.cli.settings import monitor_knobs, run_from, settings_from
from batch.cli.summary import confirm_question
from batch.config import DEFAULT_MAX_RATE, ENV_BASE_URL, ENV_LEDGER, Settings
from batch.engine.outcome import EXIT_OK
from batch.options import (
    DEFAULT_CONCURRENCY,
    DEFAULT_PURPOSE,
    DEFAULT_REPEAT_WINDOW_DAYS,
    DEFAULT_WAIT,
)
from batch.pipeline import RunRequest, plan_file, recheck_batch_named, run_batch
from batch.planning.flow import PlanResult


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


def api_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--ledger, --base-url, --concurrency, --rate, --json, --quiet and hidden timing knobs."""
    func = monitor_knobs(output_options(func))
    options = [
        click.option("--ledger", type=click.Path(path_type=Path, dir_okay=False),
                     envvar=ENV_LEDGER, default=None, help=LEDGER_HELP),
        click.option("--base-url", envvar=ENV_BASE_URL,
                     help="Dollr API base URL; without it the embedded sandbox is used."),
        click.option("--concurrency", type=click.IntRange(1, 256), default=DEFAULT_CONCURRENCY,
                     show_default=True, help="Rows paid at once."),
        click.option("--rate", type=click.FloatRange(min=0.1), default=None,
                     help="A fixed ceiling of requests per second (default: find the API's "
                     "limit, starting moderate, backing off on 429)."),
        click.option("--max-rate", type=click.FloatRange(min=0.1), default=DEFAULT_MAX_RATE,
                     show_default=True, help="Requests per second the adaptive ceiling never "
                     "passes."),
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
        click.option("--only-new", is_flag=True,
                     help="Pay only recipients not paid yet in this period or the repeat window."),
        click.option("--allow-repeat", is_flag=True,
                     help="Pay recipients paid already once more, on purpose (recorded)."),
        click.option("--repeat-window", type=click.IntRange(0), default=DEFAULT_REPEAT_WINDOW_DAYS,
                     show_default=True, help="Days the repeat guard looks back."),
        click.option("--period", callback=_check_period, metavar="YYYY-MM",
                     help="Pay period (default: the month the batch is first planned)."),
        click.option("--purpose", default=DEFAULT_PURPOSE, show_default=True,
                     callback=_check_purpose,
                     help="What the payment is for (e.g. bonus, adjustment): a second kind "
                          "of payment in one period."),
    ]
    for option in reversed(options):
        func = option(func)
    return approval_policy_options(func)


def _check_period(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value.strip()):
        raise click.BadParameter(f"{value!r} is not a month as YYYY-MM (e.g. 2026-11)")
    return value.strip() if value else None


def _check_purpose(ctx: click.Context, param: click.Parameter, value: str) -> str:
    purpose = value.strip().lower()
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", purpose):
        raise click.BadParameter(f"{value!r}: use a short word such as payroll, bonus, adjustment")
    return purpose


def _check_since(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    match = re.fullmatch(r"(\d+)\s*d?", value.strip().lower())
    if match is None:
        raise click.BadParameter(f"{value!r} is not a number of days such as 30d")
    return int(match.group(1))


def _plan(kw: dict[str, Any]) -> dict[str, Any]:
    """PlanOptions' fields from `plan`/`run`'s flags."""
    return {
        "sheet": kw["sheet"], "batch_name": kw["batch_name"], "skip_invalid": kw["skip_invalid"],
        "allow_repeat": kw["allow_repeat"], "repeat_window_days": kw["repeat_window"],
        "recorded": recorded_from(kw), "only_new": kw["only_new"], "period": kw["period"],
        "purpose": kw["purpose"], "rejected_out": kw["rejected_out"],
    }


def _settings(kw: dict[str, Any], *, reconcile: bool = False) -> Settings:
    """`plan`, `run` or `reconcile`'s Settings (reconcile plans nothing)."""
    plan = None if reconcile else _plan(kw)
    run = run_from(kw, retry_failed=kw.get("retry_failed", False), reconcile_only=reconcile)
    return settings_from(kw, plan=plan, run=run)


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
    result = plan_file(settings, file, out.say, progress=out.progress)
    out.plan_result(result)
    hint = approval_hint(result.batch, policy_from(kw))
    if hint:
        out.say(hint)
    sys.exit(EXIT_OK)


def _confirm(yes: bool, shown: bool, out: Output) -> Callable[[PlanResult], bool]:
    def confirm(planned: PlanResult) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            raise errors.AbortedError("no terminal to confirm on: pass --yes to pay without asking")
        if not shown:
            out.plan(planned, err=True)
        try:
            return click.confirm(confirm_question(planned), default=False, err=True)
        except click.Abort:  # Ctrl-C at the prompt: declined, nothing sent (exit 5)
            return False

    return confirm


@click.command()
@click.argument("target", metavar="FILE|BATCH")
@plan_options
@api_options
@click.option("--yes", "-y", is_flag=True, help="Pay without asking for confirmation.")
@click.option("--max-total", multiple=True, metavar="CUR=AMOUNT",
              help="Refuse (exit 5) if what this command sends in CUR (payouts plus "
                   "predicted fees) exceeds AMOUNT. Repeatable.")
@click.option("--wait", type=click.FloatRange(min=0), default=DEFAULT_WAIT, show_default=True,
              help="Seconds to keep polling rows in flight before exiting with code 4.")
@click.option("--retry-failed", is_flag=True,
              help="New attempts for rows whose every attempt is confirmed FAILED.")
@click.option("--adopt", is_flag=True,
              help="New ledger, batch the API partly knows: record what it holds, pay the rest.")
@handle_errors
def run(target: str, **kw: Any) -> None:
    """Pay a sheet or batch exactly once; running it again resumes where it stopped.

    Plans the sheet if needed, shows the totals per currency and asks before paying (no
    terminal: refuses unless --yes). Afterwards the report BATCH.LEDGER-TAG.report.xlsx is
    written next to the ledger and its path printed, and the ledger is backed up beside
    itself (LEDGER.backup-1, -2, -3).

    Ctrl-C (or SIGTERM) stops starting rows, settles rows in flight for a few seconds
    (PAYBATCH_INTERRUPT_SETTLE, default 5), records everything and exits 4; a second
    Ctrl-C stops at once, still safely. Run the same command again to continue.

    \b
    Exit codes:
      0 every row completed      3 some rows FAILED (--retry-failed)
      4 rows in flight or not sent yet (or interrupted): run again or `paybatch reconcile`
      5 not confirmed, or a --max-total guard tripped; 1 bad input, nothing sent
      6 every row sent completed, but rows were SKIPPED (--skip-invalid) or CANCELLED

    \b
    Example:
      paybatch run samples/payroll_liberia.csv --yes
      paybatch run payroll-2026-11 --retry-failed --max-total USD=50000
      paybatch run payroll.xlsx --yes --json --log-file /var/log/paybatch.log   # cron
    """
    settings = _settings(kw)
    request = RunRequest(
        target=target, max_total=_max_total(kw["max_total"]), approval=policy_from(kw),
        adopt=kw["adopt"],
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
@click.option("--recheck", is_flag=True,
              help="Re-read COMPLETED rows' status; flag reversals (exit 3 if any changed).")
@click.option("--since", metavar="DAYS", callback=_check_since,
              help="With --recheck: only rows completed in the last DAYS (e.g. 30d).")
@handle_errors
def reconcile(batch_name: str, **kw: Any) -> None:
    """Settle rows still in flight by polling their status; starts no new payouts.

    Rewrites the report BATCH.LEDGER-TAG.report.xlsx next to the ledger afterwards, and
    backs the ledger up beside itself.

    \b
    Exit codes:
      0 every row completed      3 some rows FAILED
      4 rows still in flight (or never sent, or interrupted): run it again later
      6 every row sent completed, but rows were SKIPPED or CANCELLED (not paid)

    \b
    Example:
      paybatch reconcile payroll-2026-11 --wait 600
      paybatch reconcile payroll-2026-11 --recheck --since 30d
    """
    settings = _settings(kw, reconcile=True)
    out = Output(json_output=settings.json_output, quiet=settings.quiet)
    if kw["recheck"]:
        since = None
        if kw["since"] is not None:
            since = datetime.now(UTC) - timedelta(days=kw["since"])
        rechecked = recheck_batch_named(settings, batch_name, since=since, say=out.say)
        out.recheck_result(rechecked)
        sys.exit(rechecked.recheck.exit_code)
    request = RunRequest(target=batch_name)
    report = run_batch(settings, request, confirm=lambda _: True, say=out.say,
                       progress=out.progress)
    out.run_result(report)
    sys.exit(report.result.exit_code)
