"""`paybatch cancel`: withdraw a batch planned by mistake, or stop its rows not sent yet."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from batch.cli.common import handle_errors, ledger_option
from batch.cli.logs import log_file_option
from batch.engine.outcome import EXIT_OK


@click.command()
@click.argument("batch_name", metavar="BATCH")
@click.option("--reason", help="Why, for the event log and the report.")
@ledger_option
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object.")
@log_file_option
@handle_errors
def cancel(batch_name: str, reason: str | None, ledger: Path, json_output: bool) -> None:
    """Withdraw a batch: its rows not sent yet become CANCELLED and are never paid.

    Before any row was sent, the batch is closed and can never be run. After some were
    sent, the rest stop and what was paid stays paid; rows in flight still settle with
    `paybatch reconcile`. Recorded in the event log; shown by status and the report.
    Refused while a run holds the batch. Exit 0 once cancelled.

    \b
    Example:
      paybatch cancel payroll-2026-11 --reason "planned the October sheet by mistake"
    """
    from batch.cli.summary import all_counts
    from batch.report.money import money_json, money_lines
    from batch.runs import cancel_batch

    done = cancel_batch(ledger, batch_name, reason=reason)
    if json_output:
        click.echo(json.dumps({
            "batch": done.batch, "cancelled_rows": done.cancelled_rows,
            "already_cancelled": done.already, "counts": all_counts(done.counts),
            "in_flight": done.in_flight, "money": money_json(done.money), "exit_code": EXIT_OK,
        }))
    else:
        verb = "was already cancelled" if done.already else "cancelled"
        click.echo(f"batch {done.batch!r} {verb}: {done.cancelled_rows} row(s) not sent are "
                   "CANCELLED and will never be paid")
        for line in money_lines(done.money):
            click.echo(f"  {line}")
        if done.in_flight:
            click.echo(f"  {done.in_flight} row(s) in flight still settle: "
                       f"`paybatch reconcile {done.batch}`")
    sys.exit(EXIT_OK)
