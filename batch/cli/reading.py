"""The reading commands of the CLI: `status` and `report` (ledger only, no network)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from batch import errors
from batch.cli.common import handle_errors, ledger_option, resolve_ledger
from batch.cli.logs import log_file_option
from batch.cli.progress import console_for
from batch.config import ENV_LEDGER
from batch.engine.outcome import EXIT_OK
from batch.ledger import Ledger


def open_existing(path: Path | None) -> Ledger:
    """The ledger at `path` (None: the user's default); reading commands never create one."""
    path = resolve_ledger(path, None)
    if not path.is_file():
        raise errors.InputError(
            f"{path}: no ledger here; pass --ledger or set {ENV_LEDGER} (a batch is recorded "
            "by `paybatch plan` or `paybatch run`)"
        )
    return Ledger(path)


def _batch_id(ledger: Ledger, name: str) -> int:
    batch = ledger.batch_by_name(name)
    if batch is None:
        known = ", ".join(s.batch.name for s in ledger.batches()[:5]) or "none yet"
        raise errors.InputError(f"{name}: no such batch in {ledger.path} (batches: {known})")
    return batch.id


@click.command()
@click.argument("batch_name", metavar="[BATCH]", required=False)
@ledger_option
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object.")
@log_file_option
@handle_errors
def status(batch_name: str | None, ledger: Path | None, json_output: bool) -> None:
    """Show where batches stand: rows per state and money paid, pending and failed.

    Without BATCH, lists every batch in the ledger (exit 0). With BATCH, shows it in detail
    and exits as a run of it would: 0 all completed, 3 some FAILED, 4 rows in flight or
    not sent yet, 6 rows left out (SKIPPED or CANCELLED). Money per currency adds up to the
    sheet's total: paid + failed + in flight + not sent + skipped + cancelled.

    \b
    Example:
      paybatch status
      paybatch status payroll-2026-11 --json
    """
    from batch.cli.render import render_status_batch, render_status_list
    from batch.report.files import load_report
    from batch.report.status import status_batch_json, status_list_json

    with open_existing(ledger) as book:
        ledger = book.path
        if batch_name is None:
            summaries = book.batches()
            where = str(ledger.resolve())  # absolute, as in the detail (issue 13)
            if json_output:
                fees = {s.batch.id: book.fee_figures(s.batch.id) for s in summaries}
                click.echo(json.dumps(status_list_json(summaries, where, fees)))
            else:
                render_status_list(console_for(sys.stdout), summaries, where)
            sys.exit(EXIT_OK)
        batch_id = _batch_id(book, batch_name)
        summary = book.summary(batch_id)
        assert summary is not None
        report = load_report(book, batch_id)
    if json_output:
        click.echo(json.dumps(status_batch_json(summary, report)))
    else:
        render_status_batch(console_for(sys.stdout), summary, report)
    sys.exit(report.exit_code)


def _check_out(_ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path | None:
    from batch.report.files import FORMATS

    if value is not None and value.suffix.lower() not in FORMATS:
        raise click.BadParameter(f"{value}: the file name must end in .xlsx, .csv or .json")
    return value


@click.command()
@click.argument("batch_name", metavar="BATCH")
@click.option("--out", "-o", type=click.Path(path_type=Path, dir_okay=False),
              callback=_check_out,
              help="Report file: .xlsx, .csv or .json  [default: BATCH.LEDGER-TAG.report.xlsx "
                   "beside the ledger]")
@ledger_option
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object.")
@log_file_option
@handle_errors
def report(batch_name: str, out: Path | None, ledger: Path | None, json_output: bool) -> None:
    """Write the reconciliation report of a batch: every row, attempts, and totals.

    The format follows the file name: .xlsx (Summary with a chart, Payouts, Attempts
    sheets), .csv (payouts, plus .summary.csv and .attempts.csv beside it) or .json.
    Exits 0 once the report is written, whatever the batch's situation.

    \b
    Example:
      paybatch report payroll-2026-11 --out payroll-2026-11.xlsx
      paybatch report payroll-2026-11 --out /srv/finance/payroll-2026-11.csv
    """
    from batch.report.files import load_report, report_path, write_report

    with open_existing(ledger) as book:
        target = out or report_path(book.path, batch_name)
        # Streamed: the lines are made from the ledger's rows as they are written.
        built = load_report(book, _batch_id(book, batch_name), stream=True)
        written = write_report(built, target)
    if json_output:
        click.echo(json.dumps({
            "batch": built.identity.name, "files": [str(p) for p in written],
            "counts": built.counts, "batch_exit_code": built.exit_code, "exit_code": EXIT_OK,
        }))
    else:
        for path in written:
            click.echo(str(path))
    sys.exit(EXIT_OK)
