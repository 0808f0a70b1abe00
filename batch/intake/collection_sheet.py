"""Read a collection sheet: the payout sheet's reading rules with a collection's columns.

The file is read exactly as a payout sheet is (encodings, Excel damage, title rows above the
header, Excel row numbers); only the header's vocabulary differs: payer, phone, amount,
currency, invoice key, item, quantity, unit price, due date, note. The cells of the payout
columns are then validated by the payout rules (`batch.intake.collection`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from batch.errors import SheetError
from batch.intake import load
from batch.intake.excel import HEADER_SCAN_ROWS
from batch.intake.headers import CANONICAL_COLUMNS, canonical_column, map_cells

REQUIRED = ("name", "phone")
EXTRA = ("invoice_key", "item", "qty", "unit_price", "due_date")

_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("payer", "payer name", "customer", "customer name", "client", "client name",
             "borrower", "borrower name", "student", "student name", "member", "member name",
             "shop", "shop name", "debtor", "name", "full name", "fullname"),
    "amount": ("amount", "amount due", "total", "line total", "instalment", "installment",
               "dues", "fee", "fees", "balance due"),
    "invoice_key": ("invoice", "invoice key", "invoice no", "invoice number", "invoice ref",
                    "invoice id", "invoice reference", "group"),
    "item": ("item", "item description", "description", "line item", "product", "service",
             "item name"),
    "qty": ("quantity", "qty", "units", "count"),
    "unit_price": ("unit price", "price", "unit amount", "rate", "price each"),
    "due_date": ("due date", "due", "due on", "pay by", "deadline"),
    "note": ("note", "notes", "memo", "comment", "remarks", "invoice note"),
}
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_BRACKETED = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_LOOKUP = {_NON_ALNUM.sub("", a.lower()): c for c, aliases in _ALIASES.items() for a in aliases}
_PAYOUT_ONLY = {"method", "provider", "external_id"}  # not read from a collection sheet


def collection_column(header: str | None) -> str | None:
    """The collection column a header names (case, spaces, punctuation and units ignored)."""
    if header is None:
        return None
    for text in (header, _BRACKETED.sub("", header)):
        column = _LOOKUP.get(_NON_ALNUM.sub("", text.lower()))
        if column is not None:
            return column
    column = canonical_column(header)
    return None if column in _PAYOUT_ONLY else column


@dataclass(frozen=True)
class CollectionHeader:
    """Where the header is and which position holds each column."""

    index: int
    columns: dict[str, int]
    headers: dict[str, str]
    ignored: tuple[str, ...]
    duplicates: tuple[tuple[str, str, str], ...]

    @property
    def missing(self) -> tuple[str, ...]:
        """Required columns the header lacks (an amount, or a unit price, is needed too)."""
        missing = [c for c in REQUIRED if c not in self.columns]
        if "amount" not in self.columns and "unit_price" not in self.columns:
            missing.append("amount (or unit price)")
        return tuple(missing)


def match_header(cells: Sequence[str | None], index: int) -> CollectionHeader:
    """Map one candidate header row's cells to collection columns."""
    return CollectionHeader(index, *map_cells(cells, collection_column))


def find_header(rows: Sequence[Sequence[str | None]]) -> CollectionHeader | None:
    """The first row naming every required column, else the one naming most columns."""
    best: CollectionHeader | None = None
    for index, cells in enumerate(rows):
        match = match_header(cells, index)
        if not match.missing:
            return match
        if len(match.columns) >= 2 and (best is None or len(match.columns) > len(best.columns)):
            best = match
    return best


@dataclass(frozen=True)
class CollectionGrid:
    """A loaded collection sheet: a payout-shaped `Sheet` plus the collection's own columns."""

    sheet: load.Sheet  # name, phone, amount (as written), currency, country, email, note
    extra: pl.DataFrame  # `_row` and EXTRA columns, one row per data row


def read_collection_sheet(path: Path, *, sheet: str | None = None) -> CollectionGrid:
    """Load a CSV or XLSX collection sheet; every failure to read it raises SheetError.

    The file is read as a payout sheet is (`load.read_cells`: encodings, Excel damage,
    hostile files); only the header and the columns differ.
    """
    name = str(path)
    data = load.read_file(path)
    with load.unreadable_as_sheet_error(name):
        raw = load.read_cells(path, data, sheet)
        return _shape(name, raw.grid, raw.kind, raw.ragged, list(raw.notices))


def _shape(
    name: str, grid: pl.DataFrame, kind: str, ragged: list[int], notices: list[str]
) -> CollectionGrid:
    match = find_header(grid.head(HEADER_SCAN_ROWS).rows())
    if match is None:
        raise SheetError(
            name, "has no recognisable header row (expected columns like payer, phone, amount)"
        )
    if match.duplicates:
        column, first, second = match.duplicates[0]
        raise SheetError(name, f"columns {first!r} and {second!r} both mean {column}; keep one")
    if match.missing:
        raise SheetError(
            name, f"header on row {match.index + 1} lacks required column(s): "
            f"{', '.join(match.missing)}",
        )
    names = grid.columns
    body = grid.slice(match.index + 1)

    def col(c: str) -> pl.Expr:
        return (pl.col(names[match.columns[c]]) if c in match.columns
                else pl.lit(None, pl.String)).alias(c)

    filled = [pl.col(c).str.strip_chars().fill_null("") != "" for c in names]
    row = pl.int_range(match.index + 2, match.index + 2 + body.height, dtype=pl.Int64)
    frame = body.select(
        row.alias(load.ROW), *(col(c) for c in CANONICAL_COLUMNS),
        (~pl.any_horizontal(filled)).alias(load.BLANK),
    ).with_columns(pl.col(load.ROW).is_in([i + 1 for i in ragged]).alias(load.RAGGED))
    extra = body.select(row.alias(load.ROW), *(col(c) for c in EXTRA))
    if frame.filter(~pl.col(load.BLANK)).height == 0:
        raise SheetError(name, f"has a header on row {match.index + 1} but no data rows")
    if match.ignored:
        notices.append(f"ignored column(s) not used for collections: {', '.join(match.ignored)}")
    last = frame.filter(~pl.col(load.BLANK)).get_column(load.ROW).max()
    assert isinstance(last, int)
    cells = tuple(c.strip() for c in grid.row(last - 1) if c is not None and c.strip())
    headers = {c: match.headers[c] for c in match.headers if c in CANONICAL_COLUMNS}
    sheet = load.Sheet(
        name, frame, match.index + 1, headers, kind, tuple(notices), cells,
        load.phoneless(grid, frame),
    )
    return CollectionGrid(sheet, extra)
