"""Print a validation report for people: a rich table of problems, counts, totals, notices."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from batch.intake.outcome import ValidationReport
from batch.markets import display_amount
from batch.text import visible

MAX_TABLE_ROWS = 200  # beyond this the table stops helping; --json has every problem


def summary_line(report: ValidationReport) -> str:
    """One line: the file and how many rows are valid, invalid and skipped."""
    c = report.counts
    verdict = "OK" if report.ok else "NOT OK"
    return (
        f"{visible(report.file)}: {verdict} — {c['total']} row(s): {c['valid']} valid, "
        f"{c['invalid']} invalid, {c['skipped']} skipped"
    )


def render_validation(report: ValidationReport, console: Console, *, quiet: bool = False) -> None:
    """Write the report to `console`; with `quiet`, only the summary line."""
    if not quiet and report.problems.height:
        table = Table(title="Problems", show_lines=False)
        for header in ("Row", "Column", "Value", "Problem"):
            table.add_column(header, overflow="fold")
        for row, column, value, message, _ in report.problems.head(MAX_TABLE_ROWS).iter_rows():
            # Text, not markup: a cell's "[/bold]" is shown, its escape sequences made visible.
            table.add_row(str(row), column, Text(visible(value)), Text(visible(message)))
        console.print(table)
        hidden = report.problems.height - MAX_TABLE_ROWS
        if hidden > 0:
            console.print(f"… and {hidden} more problem(s); use --json to see them all")
    console.print(summary_line(report), highlight=False, markup=False, soft_wrap=True)
    if quiet:
        return
    if report.totals:
        totals = " · ".join(f"{c} {display_amount(v, c)}" for c, v in report.totals.items())
        console.print(
            f"Total of valid rows: {totals}", highlight=False, markup=False, soft_wrap=True
        )
    for notice in report.notices:
        line = notice if notice.startswith("warning: ") else f"note: {notice}"
        console.print(visible(line), highlight=False, markup=False, soft_wrap=True)
