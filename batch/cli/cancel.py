"""`paybatch cancel`: withdraw a batch planned by mistake, or stop its rows not sent yet."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from batch.cli.common import handle_errors, ledger_option, resolve_ledger
from batch.cli.logs import log_file_option
from batch.config import ENV_BASE_URL, Settings, credentials_from_env
from batch.engine.outcome import EXIT_OK
from batch.engine.states import OperationKind


@click.command()
@click.argument("batch_name", metavar="BATCH")
@click.option("--reason", help="Why, for the event log and the report.")
@click.option("--rows", metavar="N,N,...",
              help="Collections: the sheet rows whose invoices to cancel (default: every unpaid).")
@click.option("--base-url", envvar=ENV_BASE_URL,
              help="Collections: the Dollr API that holds the invoices (default: the sandbox).")
@click.option("--rate", type=click.FloatRange(min=0.1), default=None,
              help="Collections: a fixed ceiling of requests per second (default: adaptive).")
@ledger_option
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object.")
@log_file_option
@handle_errors
def cancel(batch_name: str, reason: str | None, rows: str | None, base_url: str | None,
           rate: float | None, ledger: Path, json_output: bool) -> None:
    """Withdraw a batch: its rows not sent yet become CANCELLED and are never paid.

    Before any row was sent, the batch is closed and can never be run. After some were
    sent, the rest stop and what was paid stays paid; rows in flight still settle with
    `paybatch reconcile`. Recorded in the event log; shown by status and the report.
    Refused while a run holds the batch. Exit 0 once cancelled. A collection batch's unpaid
    invoices are cancelled at the API (never one whose request is in flight; exit 3 if some
    could not be).

    \b
    Example:
      paybatch cancel payroll-2026-11 --reason "planned the October sheet by mistake"
      paybatch cancel collections_liberia --rows 7,8 --reason "paid in cash"
    """
    if _is_collection(ledger, batch_name):
        from batch.cli.collect import cancel_invoices

        # The ledger _is_collection read (without --ledger: the user's default, not None).
        settings = Settings(ledger=resolve_ledger(ledger, None), base_url=base_url or None,
                            credentials=credentials_from_env(os.environ), rate=rate,
                            json_output=json_output)
        cancel_invoices(batch_name, rows, reason or "cancelled by the user", settings,
                        json_output)
        return
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


def _is_collection(ledger: Path, batch_name: str) -> bool:
    """Whether the named batch collects (its invoices live at the API), read from the ledger."""
    from batch.cli.reading import open_existing

    with open_existing(ledger) as book:
        record = book.batch_by_name(batch_name)
    return record is not None and record.kind is OperationKind.COLLECTION
