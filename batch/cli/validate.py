"""`paybatch validate`: check a sheet and list every problem with its Excel row number."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import click
from rich.console import Console

from batch.cli.common import handle_errors, output_options, sheet_options
from batch.cli.settings import validation_options
from batch.cli.validation import render_validation
from batch.engine.outcome import EXIT_INPUT, EXIT_OK
from batch.intake.load import load_sheet
from batch.intake.rejected import rejected_line, write_rejected
from batch.intake.validate import validate_sheet
from batch.text import json_text


@click.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=True))
@sheet_options
@output_options
@handle_errors
def validate(
    file: Path,
    sheet: str | None,
    country: str | None,
    currency: str | None,
    max_amount: tuple[tuple[str | None, Decimal], ...],
    decimal_comma: bool,
    allow_duplicates: bool,
    rejected_out: Path | None,
    include_hidden: bool,
    json_output: bool,
    quiet: bool,
) -> None:
    """Check a payout sheet and list every problem with the row number Excel shows.

    Exit code 0 when every row is valid, 1 otherwise. Nothing is sent.

    \b
    Example:
      paybatch validate samples/payroll_liberia.csv
      paybatch validate payroll.xlsx --sheet November --country LR --json
      paybatch validate payroll.xlsx --rejected-out to-fix.xlsx
    """
    options = validation_options({
        "country": country, "currency": currency, "max_amount": max_amount,
        "allow_duplicates": allow_duplicates, "include_hidden": include_hidden,
        "decimal_comma": decimal_comma,
    })
    loaded = load_sheet(file, sheet=sheet)
    report = validate_sheet(loaded, options)
    written = 0
    if rejected_out is not None:
        written = write_rejected(
            file, loaded.kind, loaded.header_row, report, rejected_out, sheet=sheet
        )
    if json_output:
        code = EXIT_OK if report.ok else EXIT_INPUT
        data = {**report.to_json(), "exit_code": code}
        if rejected_out is not None:
            data["rejected_out"] = {"path": str(rejected_out) if written else None,
                                    "rows": written}
        click.echo(json_text(data))
    else:
        render_validation(report, Console(), quiet=quiet)
        if rejected_out is not None:
            click.echo(rejected_line(rejected_out, written))
    sys.exit(EXIT_OK if report.ok else EXIT_INPUT)
