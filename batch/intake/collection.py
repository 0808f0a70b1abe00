"""Validate a collection sheet and group its rows into invoices (pure).

Rows sharing an invoice key become one invoice with one line item each; a row without a key
is an invoice of its own. The payer, phone, amount, currency and country cells are checked by
the payout rules (`validate_sheet`), so a collection sheet is exactly as strict; the
collection's own cells (quantity, unit price, due date) and the consistency of each invoice
(one payer, one phone, one currency) are checked here. Every problem names its Excel row.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from batch.intake.amounts import parse_amounts
from batch.intake.collection_sheet import CollectionGrid, read_collection_sheet
from batch.intake.load import ROW
from batch.intake.validate import validate_sheet
from batch.markets import CURRENCY_DECIMALS
from batch.models import PayoutRow, RowProblem
from batch.options import ValidationOptions

DEFAULT_ITEM = "Payment request"
MAX_QTY = 1_000_000
_WHOLE = re.compile(r"^\d+(?:\.0+)?$")
_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%d %b %Y", "%d %B %Y")


@dataclass(frozen=True)
class PlannedItem:
    """One invoice line: qty x unit price."""

    sheet_row: int
    name: str
    qty: int
    unit_price: Decimal


@dataclass(frozen=True)
class PlannedInvoice:
    """One invoice to collect: a payer and their lines (sheet_row: the first line's row)."""

    sheet_row: int
    name: str
    phone: str
    currency: str
    country: str
    email: str | None
    note: str
    invoice_key: str | None
    due_date: date | None
    items: tuple[PlannedItem, ...]

    @property
    def total(self) -> Decimal:
        """Sum of qty x unit price."""
        return sum((i.unit_price * i.qty for i in self.items), Decimal(0))


@dataclass(frozen=True)
class RejectedRow:
    """A sheet row of an invoice left out: its cells as written and what to fix."""

    row: int
    problems: str
    name: str | None
    phone: str | None
    amount: str | None
    currency: str | None
    country: str | None


@dataclass(frozen=True)
class CollectionReport:
    """A validated collection sheet: its invoices, and every problem found."""

    file: str
    invoices: tuple[PlannedInvoice, ...]
    problems: tuple[RowProblem, ...]
    notices: tuple[str, ...]
    invalid_invoices: int = 0
    # Every sheet row of every invoice left out, with what to fix (--skip-invalid,
    # --rejected-out), and where the sheet's header is (to write them back in its format).
    rejected: dict[int, RejectedRow] = field(default_factory=dict)
    kind: str = "csv"
    header_row: int = 1

    @property
    def ok(self) -> bool:
        return not self.problems


def validate_collection(
    path: Path, options: ValidationOptions, *, sheet: str | None = None
) -> CollectionReport:
    """Read, validate and group a collection sheet."""
    grid = read_collection_sheet(path, sheet=sheet)
    return check_collection(grid, options)


def check_collection(grid: CollectionGrid, options: ValidationOptions) -> CollectionReport:
    """Validate a loaded collection sheet (pure)."""
    extra = {r[ROW]: r for r in grid.extra.iter_rows(named=True)}
    frame = grid.sheet.frame
    problems: list[RowProblem] = []
    items: dict[int, tuple[int, Decimal | None]] = {}  # row -> (qty, unit price)
    amounts: list[str | None] = []
    rows = frame.get_column(ROW).to_list()
    unit_cells = [(extra[row].get("unit_price") or "").strip() or None for row in rows]
    units = dict(zip(rows, parse_amounts(unit_cells), strict=True))
    for row, amount in zip(rows, frame.get_column("amount"), strict=True):
        cells = extra[row]
        qty, unit, found = _item_cells(row, cells, units[row])
        problems += found
        items[row] = (qty, unit)
        if (amount is None or not amount.strip()) and unit is not None:
            amount = str(unit * qty)  # the row's amount is its line total
        amounts.append(amount)
    frame = frame.with_columns(pl.Series("amount", amounts, dtype=pl.String))
    # An invoice's rows share a phone.
    payout_options = options.model_copy(update={"allow_duplicates": True})
    report = validate_sheet(replace(grid.sheet, frame=frame), payout_options)
    problems += report.problem_list()
    valid = {r.row: r for r in report.payout_rows()}
    for row, (qty, unit) in items.items():
        payout = valid.get(row)
        if payout is not None and unit is not None and unit * qty != payout.amount:
            step = Decimal(1).scaleb(-CURRENCY_DECIMALS[payout.currency])
            shown, line = unit.quantize(step), (unit * qty).quantize(step)
            problems.append(RowProblem(
                row=row, column="amount", value=str(payout.amount),
                message=f"is not quantity x unit price ({qty} x {shown} = {line})",
            ))
        if payout is not None and unit is not None:
            places = CURRENCY_DECIMALS[payout.currency]
            if unit != unit.quantize(Decimal(1).scaleb(-places)) or unit <= 0:
                problems.append(RowProblem(
                    row=row, column="unit_price", value=str(unit),
                    message=f"must be more than zero with at most {places} decimals "
                    f"for {payout.currency}",
                ))
    invoices, group_problems, invalid = _group(valid, items, extra, problems, options)
    problems += group_problems
    problems.sort(key=lambda p: p.row)
    return CollectionReport(
        grid.sheet.file, tuple(invoices), tuple(problems), report.notices, invalid,
        rejected=_rejected(invoices, problems, extra, grid.sheet.frame),
        kind=grid.sheet.kind, header_row=grid.sheet.header_row,
    )


def _rejected(
    invoices: list[PlannedInvoice], problems: list[RowProblem],
    extra: dict[int, dict[str, str | None]], frame: pl.DataFrame,
) -> dict[int, RejectedRow]:
    """Every data row not in a planned invoice but named by a problem, or sharing an invoice
    key with one (the first row of a clashing invoice too): row -> its problems as one cell."""
    kept = {x.sheet_row for i in invoices for x in i.items}
    said: dict[int, list[str]] = defaultdict(list)
    for p in problems:
        if p.row not in kept:
            said[p.row].append(p.message if p.column == "row" else f"{p.column}: {p.message}")
    bad_keys = {(extra.get(r, {}).get("invoice_key") or "").strip() for r in said} - {""}
    for r, cells in extra.items():
        key = (cells.get("invoice_key") or "").strip()
        if r not in kept and r not in said and key in bad_keys:
            said[r].append(f"invoice_key: belongs to invoice {key}, which has an invalid row")
    written: dict[int, dict[str, Any]] = {
        c[ROW]: c for c in frame.filter(pl.col(ROW).is_in(list(said))).iter_rows(named=True)
    }
    return {
        r: RejectedRow(r, "; ".join(m), *(written.get(r, {}).get(k) for k in
                                          ("name", "phone", "amount", "currency", "country")))
        for r, m in sorted(said.items())
    }


def _item_cells(
    row: int, cells: dict[str, str | None], parsed_unit: Decimal | str
) -> tuple[int, Decimal | None, list[RowProblem]]:
    """Quantity, unit price (`parsed_unit`: the unit price cell as `parse_amounts` read it)
    and due date of one row, with what is wrong with them."""
    problems: list[RowProblem] = []
    qty = 1
    qty_text = (cells.get("qty") or "").strip().replace(",", "")
    if qty_text:
        if _WHOLE.match(qty_text) and 1 <= int(Decimal(qty_text)) <= MAX_QTY:
            qty = int(Decimal(qty_text))
        else:
            problems.append(RowProblem(
                row=row, column="qty", value=qty_text,
                message=f"is not a whole number from 1 to {MAX_QTY:,}",
            ))
    unit: Decimal | None = None
    unit_text = (cells.get("unit_price") or "").strip()
    if unit_text:
        if isinstance(parsed_unit, Decimal):
            unit = parsed_unit
        else:
            problems.append(RowProblem(row=row, column="unit_price", value=unit_text,
                                       message=parsed_unit))
    due_text = (cells.get("due_date") or "").strip()
    if due_text and _parse_date(due_text) is None:
        problems.append(RowProblem(
            row=row, column="due_date", value=due_text,
            message="is not a date (write it like 2026-12-15)",
        ))
    return qty, unit, problems


def _parse_date(text: str) -> date | None:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _group(
    valid: dict[int, PayoutRow],
    items: dict[int, tuple[int, Decimal | None]],
    extra: dict[int, dict[str, str | None]],
    problems: list[RowProblem],
    options: ValidationOptions,
) -> tuple[list[PlannedInvoice], list[RowProblem], int]:
    """Rows -> invoices; an invoice with any invalid row is left out whole (and said so)."""
    bad_rows = {p.row for p in problems}
    groups: dict[str, list[int]] = defaultdict(list)
    order: list[str] = []
    for row in sorted(extra):
        if row not in valid and row not in bad_rows:
            continue  # blank or skipped (totals) rows
        key_text = (extra[row].get("invoice_key") or "").strip()
        key = f"key:{key_text}" if key_text else f"row:{row}"
        if key not in groups:
            order.append(key)
        groups[key].append(row)
    found: list[RowProblem] = []
    invoices: list[PlannedInvoice] = []
    invalid = 0
    seen_lines: dict[tuple[str, str, str, Decimal], int] = {}
    for key in order:
        rows = groups[key]
        broken = [r for r in rows if r in bad_rows or r not in valid]
        if broken:
            invalid += 1
            for r in rows:
                if r not in broken:
                    found.append(RowProblem(
                        row=r, column="invoice_key", value=key[4:],
                        message=f"belongs to an invoice with an invalid row ({broken[0]})",
                    ))
            continue
        first = valid[rows[0]]
        clash = _clash(first, [valid[r] for r in rows[1:]])
        if clash:
            found += clash
            invalid += 1
            continue
        lines = []
        for r in rows:
            qty, unit = items[r]
            amount = valid[r].amount
            cells = extra[r]
            name = (cells.get("item") or "").strip() or valid[r].note or DEFAULT_ITEM
            lines.append(PlannedItem(r, name, qty, unit if unit is not None else amount / qty))
        due = [d for r in rows if (d := _parse_date((extra[r].get("due_date") or "").strip()))]
        note = next((valid[r].note for r in rows if valid[r].note), None)
        invoice = PlannedInvoice(
            sheet_row=rows[0], name=first.name, phone=first.phone, currency=first.currency,
            country=first.country, email=first.email,
            note=note or (lines[0].name if len(lines) == 1 else DEFAULT_ITEM),
            invoice_key=key[4:] if key.startswith("key:") else None,
            due_date=min(due) if due else None, items=tuple(lines),
        )
        if invoice.invoice_key is None and not options.allow_duplicates:
            line = (first.phone, first.currency, lines[0].name, invoice.total)
            if line in seen_lines:
                found.append(RowProblem(
                    row=rows[0], column="row", value=first.phone,
                    message=f"repeats row {seen_lines[line]} (same payer, item and amount); "
                    "pass --allow-duplicates if both are meant",
                ))
                invalid += 1
                continue
            seen_lines[line] = rows[0]
        invoices.append(invoice)
    return invoices, found, invalid


def _clash(first: PayoutRow, others: list[PayoutRow]) -> list[RowProblem]:
    """Rows of one invoice must name one payer, phone and currency."""
    found = []
    for other in others:
        for column, a, b in (("phone", first.phone, other.phone),
                             ("currency", first.currency, other.currency),
                             ("name", first.name.casefold(), other.name.casefold())):
            if a != b:
                found.append(RowProblem(
                    row=other.row, column=column, value=str(getattr(other, column)),
                    message=f"differs from row {first.row} of the same invoice "
                    f"({getattr(first, column)})",
                ))
    return found
