"""Rows of a sheet that are not payouts: totals and subtotals (checked against the rows they
sum), and notes below the data ("Prepared by: …"). Pure: a loaded sheet's rows in, a verdict out."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

import polars as pl

from batch.intake.amounts import amount_values, parse_amounts
from batch.intake.headers import short
from batch.intake.load import CELLS, ROW

_TOTAL_WORD = re.compile(r"(?i)\b(grand\s+)?(sub)?totals?\b|\bsum\b")
_GRAND = re.compile(r"(?i)\bgrand\b")
_NOTE_PREVIEW = 3  # notes quoted in the notice; the rest are only numbered
_SIGN_OFF = (
    r"(?i)^\s*(prepared|approved|checked|verified|reviewed|authori[sz]ed|certified|signed|"
    r"signature|compiled|submitted)\b|^\s*(date|notes?|remarks?|comments?)\s*:"
)


@dataclass(frozen=True)
class ExtraRows:
    """What to do with the rows that are not payouts."""

    skipped: tuple[int, ...] = ()  # Excel rows skipped: totals that add up, notes
    mismatched: dict[int, str] = field(default_factory=dict)  # row -> problem message
    notices: tuple[str, ...] = ()


def _filled(column: str) -> pl.Expr:
    return pl.col(column).str.strip_chars().fill_null("") != ""


def find_extra_rows(rows: pl.DataFrame, phoneless: pl.DataFrame) -> ExtraRows:
    """Totals/subtotals and trailing notes among `rows` (the sheet's non-blank rows, canonical
    text columns and `_row`); `phoneless` holds every cell of the rows with no phone. A row
    with a phone is never skipped."""
    if phoneless.height == 0:
        return ExtraRows()
    candidates = rows.filter(pl.col(ROW).is_in(phoneless.get_column(ROW).implode()))
    totals = candidates.join(phoneless, on=ROW).filter(
        _filled("amount") & pl.col(CELLS).str.contains(_TOTAL_WORD.pattern)
    )
    skipped, mismatched, notices = _check_totals(rows, totals)
    notes = _trailing_notes(rows, phoneless)
    if notes.height:
        numbers = notes.get_column(ROW).to_list()
        quoted = "; ".join(repr(short(t)) for t in notes.get_column(CELLS).head(_NOTE_PREVIEW))
        more = " …" if notes.height > _NOTE_PREVIEW else ""
        notices.append(
            f"row(s) {', '.join(map(str, numbers))}: notes below the data skipped "
            f"(no phone, no amount): {quoted}{more}"
        )
        skipped += numbers
    return ExtraRows(tuple(sorted(skipped)), mismatched, tuple(notices))


def _check_totals(
    rows: pl.DataFrame, totals: pl.DataFrame
) -> tuple[list[int], dict[int, str], list[str]]:
    """Each total must equal the rows since the previous total, or every payout row above it."""
    skipped: list[int] = []
    mismatched: dict[int, str] = {}
    notices: list[str] = []
    if totals.height == 0:
        return skipped, mismatched, notices
    total_rows = totals.get_column(ROW)
    # Running sum of the payout rows' exact amounts; totals themselves never count.
    values = amount_values(rows.get_column("amount"))
    values = pl.select(
        pl.when(rows.get_column(ROW).is_in(total_rows.implode())).then(0).otherwise(values)
    ).to_series()
    running = values.fill_null(0).cum_sum()
    position = {row: i for i, row in enumerate(rows.get_column(ROW).to_list())}
    first_row = rows.get_column(ROW).item(0)
    previous: int | None = None  # position of the previous total
    # One read for every totals row (a polars query per cell costs ~8 ms).
    stated_amounts = parse_amounts(totals.get_column("amount").to_list())
    for (row, cells), stated in zip(
        totals.select(ROW, CELLS).iter_rows(), stated_amounts, strict=True
    ):
        here = position[row]
        if not isinstance(stated, Decimal):
            previous = here
            continue  # not an amount: the amount rule says why
        above = Decimal(running[here - 1]) if here else Decimal(0)
        since = above - (Decimal(running[previous]) if previous is not None else Decimal(0))
        start = rows.get_column(ROW).item(previous + 1) if previous is not None else first_row
        grand = bool(_GRAND.search(cells)) or previous is None
        if stated == above or stated == since:
            skipped.append(row)
            if stated == above:
                notices.append(
                    f"row {row}: totals row ({stated}) skipped; it equals the sum of the rows above"
                )
            else:
                notices.append(
                    f"row {row}: subtotal row ({stated}) skipped; it equals the sum of rows "
                    f"{start}-{row - 1}"
                )
        else:
            expected, span = (
                (above, "the rows above") if grand else (since, f"rows {start}-{row - 1}")
            )
            mismatched[row] = (
                f"looks like a totals row, but {stated} is not the sum of {span} "
                f"(expected {expected.normalize():f})"
            )
        previous = here
    return skipped, mismatched, notices


def _trailing_notes(rows: pl.DataFrame, phoneless: pl.DataFrame) -> pl.DataFrame:
    """Rows after the last row with a phone or an amount that hold no payee details either:
    "Prepared by: …", "Approved:", a lone remark. `_row` and `_cells`, in sheet order. A
    sign-off line counts even when it sits in the id or email column (an HR export's footer
    starts in column A, which is often "Employee ID")."""
    data = rows.filter(_filled("phone") | _filled("amount")).get_column(ROW)
    last = data.max() if data.len() else 0
    trailing = rows.filter(pl.col(ROW) > last).select(
        ROW, (~_filled("external_id") & ~_filled("email")).alias("_no_details")
    )
    return (
        phoneless.join(trailing, on=ROW)
        .filter(pl.col("_no_details") | pl.col(CELLS).str.contains(_SIGN_OFF))
        .drop("_no_details")
        .sort(ROW)
    )
