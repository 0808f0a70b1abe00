"""The collection commands: `collect` (plan, request, re-request, settle) and `cancel`."""

from __future__ import annotations

import json
import re
import sys
from datetime import timedelta
from typing import Any

import click

from batch import errors
from batch.cli.collect_output import echo_collect, format_collection_plan
from batch.cli.common import handle_errors, sheet_options
from batch.cli.output import Output
from batch.cli.payouts import api_options
from batch.cli.settings import run_from, settings_from
from batch.config import Settings
from batch.operations.collect_plan import CollectionPlan
from batch.options import DEFAULT_REPEAT_WINDOW_DAYS, DEFAULT_WAIT
from batch.pipeline import cancel_collection, collect_batch

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "": 3600}


def parse_duration(text: str) -> timedelta:
    """`24h`, `90m`, `2d`, `45s` (a bare number is hours) -> timedelta; ValueError if not."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 24h, 90m, 2d")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2).lower()])


class Duration(click.ParamType):  # type: ignore[type-arg]
    """A click type for durations."""

    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@click.command()
@click.argument("target", metavar="FILE|BATCH")
@sheet_options
@click.option("--batch-name", help="Name of the batch (default: the file name).")
@click.option("--skip-invalid", is_flag=True,
              help="Collect the valid invoices and keep the invalid ones as SKIPPED (an "
              "invoice with one invalid row is left out whole).")
@click.option("--allow-repeat", is_flag=True,
              help="Allow the same requests as a recent other collection batch.")
@click.option("--repeat-window", type=click.IntRange(0), default=DEFAULT_REPEAT_WINDOW_DAYS,
              show_default=True, help="Days the repeat guard looks back.")
@click.option("--fee-bearer", type=click.Choice(["payer", "payee"], case_sensitive=False),
              default="payer", show_default=True,
              help="Who bears the fees: the payer (on top) or you (deducted).")
@click.option("--max-requests", type=click.IntRange(1, 20), default=3, show_default=True,
              help="Requests per invoice at most (the first and the re-requests).")
@click.option("--re-request-after", type=Duration(), default="24h", show_default=True,
              help="Wait this long after a decline or expiry before asking again.")
@api_options
@click.option("--yes", "-y", is_flag=True, help="Send the first requests without asking.")
@click.option("--wait", type=click.FloatRange(min=0), default=DEFAULT_WAIT, show_default=True,
              help="Seconds to keep polling requests in flight before exiting with code 4.")
@handle_errors
def collect(target: str, **kw: Any) -> None:
    """Collect payments via invoices: each payer approves a prompt on their phone.

    One invoice per row, or per invoice key (rows sharing it become one invoice with several
    line items). Plans the sheet (validate, detect operators, predict fees), shows the totals
    and asks before the first requests (no terminal: refuses unless --yes); then per
    invoice: payer, invoice, items, publish, checkout session, request, and on approval the
    receipt. A payer who declines or lets the request expire is asked again later on the same
    invoice: run `paybatch collect BATCH` again (cron) to send the requests that are due.
    A payer whose wallet holds another currency than the invoice's pays in their own (FX):
    the plan shows the predicted debits, the report what was paid and at which rate.
    An invalid row stops the sheet unless --skip-invalid (its invoice is kept as SKIPPED);
    --rejected-out writes those rows back with what to fix.
    The report BATCH.report.xlsx is written next to the ledger.

    \b
    Columns: payer, phone, amount (or quantity and unit price), currency, country;
    optional invoice, item, quantity, unit price, due date, note.

    \b
    Exit codes:
      0 every invoice paid (or cancelled)
      3 some invoices used up their requests, or failed before reaching the payer
      4 requests pending or due later: run it again (cron)
      5 not confirmed; 1 bad input, nothing sent

    \b
    Example:
      paybatch collect samples/collections_liberia.csv --yes
      paybatch collect collections_liberia            # cron: re-requests that are due
      paybatch collect fees.xlsx --fee-bearer payee --max-requests 5 --re-request-after 2d
      paybatch collect dues.csv --skip-invalid --rejected-out dues-to-fix.csv --yes
      paybatch status collections_liberia --json   # the report's totals, per currency
    """
    ctx = click.get_current_context()
    given = any(ctx.get_parameter_source(p) is not click.core.ParameterSource.DEFAULT
                for p in ("max_requests", "re_request_after"))
    settings = settings_from(kw, run=run_from(kw), collect={
        "sheet": kw["sheet"], "batch_name": kw["batch_name"],
        "fee_bearer": kw["fee_bearer"].upper(), "allow_repeat": kw["allow_repeat"],
        "repeat_window_days": kw["repeat_window"], "policy_given": given,
        "skip_invalid": kw["skip_invalid"], "rejected_out": kw["rejected_out"],
        "policy": {"max_requests": kw["max_requests"],
                   "re_request_after": kw["re_request_after"]},
    })
    out = Output(json_output=settings.json_output, quiet=settings.quiet)
    show = not settings.json_output and not settings.quiet

    def confirm(planned: CollectionPlan) -> bool:
        if show:
            click.echo(format_collection_plan(planned))
        if kw["yes"]:
            return True
        if not sys.stdin.isatty():
            raise errors.AbortedError(
                "no terminal to confirm on: pass --yes to send the requests without asking")
        return click.confirm("Send these payment requests now?", default=False, err=True)

    report = collect_batch(settings, target, confirm=confirm, say=out.say)
    echo_collect(report, json_output=settings.json_output)
    sys.exit(report.result.exit_code)


def cancel_invoices(
    batch_name: str, rows: str | None, reason: str, settings: Settings, json_output: bool
) -> None:
    """`paybatch cancel` of a collection batch: cancel its unpaid invoices at the API (never
    one whose request is in flight); exit 0, or 3 when some could not be cancelled."""
    out = Output(json_output=json_output, quiet=settings.quiet)
    wanted = None
    if rows:
        try:
            wanted = {int(x) for x in rows.split(",") if x.strip()}
        except ValueError:
            raise click.BadParameter("give sheet row numbers like 7,8", param_hint="--rows") \
                from None
    done = cancel_collection(settings, batch_name, wanted, reason, out.say)
    code = 0 if not done.refused else 3
    if json_output:
        click.echo(json.dumps({"batch": batch_name, "cancelled": done.cancelled,
                               "refused": done.refused, "exit_code": code}))
    else:
        click.echo(f"{len(done.cancelled)} invoice(s) cancelled"
                   + (f" (rows {', '.join(map(str, done.cancelled))})" if done.cancelled else ""))
        for line in done.refused:
            click.echo(f"  not cancelled: {line}")
    sys.exit(code)
