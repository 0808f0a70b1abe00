"""`paybatch review`, shaping: the review as JSON, as plain text, and as an Excel workbook
(Summary, Findings, Largest) for an approver who reads Excel."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell, WriteOnlyCell
from openpyxl.styles import Font, PatternFill

from batch.planning.review_flow import Review
from batch.report.approvals import approval_state, approvals_json, approvals_text
from batch.report.lines import Value
from batch.report.text import cell_text
from batch.report.xlsx_style import TIME_FORMAT, money_format

WARNINGS = frozenset({"new", "phone_other_name", "name_other_phone", "shared_phone",
                      "outlier_history", "outlier_batch"})

# The review workbook is small: openpyxl writes it (the report itself uses xlsxwriter).
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="305496")
TITLE_FONT = Font(bold=True, size=14)


def _put(
    cell: Cell, value: Value, *, currency: str | None = None, money: bool = False
) -> Cell:
    """Set one value: text made safe, amounts exact, times as naive UTC; returns the cell."""
    if isinstance(value, str):
        cell.value = ILLEGAL_CHARACTERS_RE.sub("", cell_text(value))
        cell.data_type = "s"
    elif isinstance(value, datetime):
        cell.value = value.astimezone(UTC).replace(tzinfo=None)
        cell.number_format = TIME_FORMAT
    else:
        cell.value = value  # int, Decimal (written as its exact text) or None
        if money and isinstance(value, Decimal):
            cell.number_format = money_format(currency)
    return cell


def review_json(review: Review) -> dict[str, Any]:
    """The whole review as one JSON object (amounts as exact decimal strings)."""
    b = review.batch
    counts: dict[str, int] = {}
    for f in review.findings:
        counts[f.kind.value] = counts.get(f.kind.value, 0) + 1
    return {
        "batch": b.name,
        "kind": review.kind,
        "period": review.period,
        "source_file": b.source_file,
        "created_at": b.created_at.isoformat(),
        "compared_with": None if review.compared_with is None else {
            "batch": review.compared_with.name,
            "created_at": review.compared_with.created_at.isoformat(),
        },
        "earlier_batches": review.earlier,
        "totals": {
            c: {
                "rows": t.rows, "amount": str(t.payouts), "predicted_fees": str(t.fees),
                "total_debit": str(t.total_debit), "operators": dict(t.operators),
            }
            for c, t in sorted(review.totals.items())
        },
        "largest": [
            {"row": x.row, "name": x.name, "phone": x.phone, "amount": str(x.amount),
             "currency": x.currency}
            for x in review.largest
        ],
        "findings": [
            {"kind": f.kind.value, "row": f.row, "name": f.name, "phone": f.phone,
             "message": f.message, "batch": f.batch, "batch_row": f.batch_row, **f.data}
            for f in review.findings
        ],
        "finding_counts": counts,
        **approvals_json(approval_state(review.check)),
        "exit_code": 0,
    }


def review_text(review: Review) -> str:
    """The review as plain lines for a terminal or an e-mail."""
    b = review.batch
    out = [f"Review of {b.name} ({review.kind}, period {review.period}) from {b.source_file}"]
    if review.compared_with is not None:
        c = review.compared_with
        out.append(f"Compared with {c.name} (planned {c.created_at:%Y-%m-%d}); "
                   f"{review.earlier} earlier {review.kind} batch(es) on this ledger")
    else:
        out.append(f"No earlier {review.kind} batch was run on this ledger: nothing to compare")
    out.append("")
    out.append("Totals:")
    for currency, t in sorted(review.totals.items()):
        operators = ", ".join(f"{o} {n}" for o, n in t.operators.most_common())
        out.append(f"  {currency}: {t.rows} row(s), {t.payouts:,} + predicted fees {t.fees:,} = "
                   f"total debit {t.total_debit:,}" + (f"  ({operators})" if operators else ""))
    out.append("Largest:")
    for x in review.largest:
        out.append(f"  row {x.row}: {x.amount:,} {x.currency}  {x.name} ({x.phone})")
    out.append("")
    if review.findings:
        out.append(f"Findings ({len(review.findings)}; ! = check before approving):")
        for f in review.findings:
            where = f"row {f.row}" if f.row is not None else "(gone)"
            mark = "!" if f.kind.value in WARNINGS else " "
            out.append(f" {mark}{where:>9}  {f.kind.value:<17} {f.message}")
    else:
        out.append("Findings: none")
    out.append("")
    out += approvals_text(approval_state(review.check))
    return "\n".join(out)


def write_review_xlsx(review: Review, path: Path) -> None:
    """The review as a workbook: Summary, Findings (with sheet rows), Largest."""
    book = Workbook(write_only=True)
    summary = book.create_sheet("Summary")
    for letter, width in zip("ABCDEF", (26, 18, 18, 18, 18, 40), strict=True):
        summary.column_dimensions[letter].width = width

    def put(sheet: Any, *values: Any, font: Font | None = None, currency: str | None = None,
            head: bool = False) -> None:
        cells = []
        for v in values:
            cell = _put(WriteOnlyCell(sheet), v, currency=currency, money=currency is not None)
            if head:
                cell.font, cell.fill = HEADER_FONT, HEADER_FILL
            elif font is not None:
                cell.font = font
            cells.append(cell)
        sheet.append(cells)

    b = review.batch
    put(summary, f"Review: {b.name}", font=TITLE_FONT)
    put(summary, "Kind", review.kind)
    put(summary, "Period", review.period)
    put(summary, "Source file", b.source_file)
    put(summary, "Compared with",
        review.compared_with.name if review.compared_with is not None else "(none)")
    put(summary, "Plan hash", review.check.plan_hash)
    put(summary)
    put(summary, "Currency", "Rows", "Amount", "Predicted fees", "Total debit", "Operators",
        head=True)
    for currency, t in sorted(review.totals.items()):
        ops = ", ".join(f"{o} {n}" for o, n in t.operators.most_common())
        put(summary, currency, t.rows, t.payouts, t.fees, t.total_debit, ops, currency=currency)
    put(summary)
    for line in approvals_text(approval_state(review.check)):
        put(summary, line.strip())

    findings = book.create_sheet("Findings")
    for letter, width in zip("ABCDEFG", (10, 18, 26, 16, 90, 20, 12), strict=True):
        findings.column_dimensions[letter].width = width
    findings.freeze_panes = "A2"
    put(findings, "Sheet row", "Finding", "Name", "Phone", "What", "Earlier batch",
        "Earlier row", head=True)
    for f in review.findings:
        put(findings, f.row, f.kind.value, f.name, f.phone, f.message, f.batch, f.batch_row)

    top = book.create_sheet("Largest")
    put(top, "Sheet row", "Name", "Phone", "Amount", "Currency", head=True)
    for x in review.largest:
        cells = [
            _put(WriteOnlyCell(top), v) for v in (x.row, x.name, x.phone)
        ] + [_put(WriteOnlyCell(top), x.amount, currency=x.currency, money=True),
             _put(WriteOnlyCell(top), x.currency)]
        cells[3].number_format = money_format(x.currency)
        top.append(cells)
    book.save(path)
