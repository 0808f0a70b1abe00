"""What the workbook hides, turned into problems and notices of a validation (pure).

Hidden and filtered-out rows are errors unless --include-hidden (then a notice records that
they were paid); a hidden sheet is refused unless --include-hidden; a formula cell with an
error or with no saved value gets its own message instead of the rule's ("amount is missing");
the rest (hidden columns, display formats hiding decimals, merged cells) are warnings.
"""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

from batch.errors import SheetError
from batch.intake.workbook_scan import WorkbookFindings, rows_text

HIDDEN_RULE = "row_hidden"


def check_hidden_sheet(file: str, findings: WorkbookFindings, include_hidden: bool) -> None:
    """A hidden sheet is not what the person who checked the workbook saw: refuse it."""
    if findings.sheet_hidden and not include_hidden:
        raise SheetError(
            file,
            f"sheet {findings.sheet!r} is hidden in Excel, so nobody checking the workbook saw "
            "it; unhide it, pick a visible one with --sheet, or pass --include-hidden to pay it",
        )


def apply_findings(
    problems: pl.DataFrame, data_rows: pl.Series, skipped: Collection[int],
    findings: WorkbookFindings, include_hidden: bool,
) -> tuple[pl.DataFrame, list[str]]:
    """`problems` (row, column, value, message, rule) with the workbook's own findings, and
    the notices to add; `data_rows` are the sheet's non-blank rows, `skipped` its notes."""
    notices: list[str] = []
    if findings.sheet_hidden:
        notices.append(f"sheet {findings.sheet!r} is hidden in Excel; read (--include-hidden)")
    candidates = set(findings.hidden_rows) - set(skipped)
    hidden = (
        sorted(data_rows.filter(data_rows.is_in(sorted(candidates))).to_list())
        if candidates else []
    )
    if hidden and include_hidden:
        notices.append(
            f"row(s) {rows_text(hidden)} are hidden in Excel (or by its filter); "
            "included because of --include-hidden"
        )
    elif hidden:
        messages = [
            f"row is {findings.hidden_rows[r]} in Excel, so nobody checking the sheet saw it: "
            "unhide it, or pass --include-hidden to pay it"
            for r in hidden
        ]
        added = pl.DataFrame(
            {
                "row": hidden, "column": ["row"] * len(hidden), "value": [""] * len(hidden),
                "message": messages, "rule": [HIDDEN_RULE] * len(hidden),
            },
            schema=problems.schema,
        )
        problems = pl.concat([added, problems]).sort("row", maintain_order=True)
    if findings.cell_problems:
        keys = list(findings.cell_problems)
        better = pl.DataFrame(
            {
                "row": [r for r, _ in keys], "column": [c for _, c in keys],
                "_better": list(findings.cell_problems.values()),
            },
            schema={"row": problems.schema["row"], "column": pl.String, "_better": pl.String},
        )
        problems = (
            problems.join(better, on=["row", "column"], how="left", maintain_order="left")
            .with_columns(pl.coalesce("_better", "message").alias("message"))
            .drop("_better")
        )
    notices += [f"warning: {w}" for w in findings.warnings]
    return problems, notices
