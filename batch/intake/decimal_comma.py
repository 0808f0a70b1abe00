"""Amounts written with a decimal comma (1.250,00 or 1 250,00), as Liberian and Rwandan
exports from French or European settings write them (issue 16, pure).

`--decimal-comma` declares it; without it, an amount column is read that way only when every
cell in it is unambiguous: some cell has a comma followed by one or two digits (no thousands
grouping has fewer than three), and every other cell is a whole number or such an amount. The
cells are rewritten to the plain form (1250.00) before the amount rules read them.
"""

from __future__ import annotations

import polars as pl

_SPACES = "\u00a0\u202f "
# The number inside a cell, currency words and marks around it set aside.
_MARKS = r"(?i)^[a-z$]+\.?\s*|\s*[a-z$]+\.?$"
_COMMA_DECIMAL = rf"^\d{{1,3}}(?:[.{_SPACES}]\d{{3}})*,\d{{1,2}}$|^\d+,\d{{1,2}}$"
_WHOLE = rf"^\d+$|^\d{{1,3}}(?:\.\d{{3}}){{2,}}$|^\d{{1,3}}(?:[{_SPACES}]\d{{3}})+$"
_COMMA_TAIL = r",\d{1,2}\s*[A-Za-z$]*\.?\s*$"  # what any decimal-comma amount ends with
_ANY = rf"^\d{{1,3}}(?:[.{_SPACES}]\d{{3}})*(?:,\d+)?$|^\d+(?:,\d+)?$"

DETECTED = (
    "amounts read with a decimal comma (1.250,00 is 1250.00): every amount in the column is "
    "written that way (--decimal-comma says so explicitly)"
)


def _core(cell: pl.Expr) -> pl.Expr:
    return cell.str.strip_chars().str.replace_all(_MARKS, "")


def _plain(cell: pl.Expr) -> pl.Expr:
    """1.250.000,50 -> 1250000.50, keeping any currency mark around the number."""
    grouped = rf"(\d)[.{_SPACES}](\d{{3}})"
    out = cell.str.strip_chars()
    for _ in range(5):  # one group per pass: "1.250.000" needs two
        out = out.str.replace_all(grouped, "${1}${2}")
    return out.str.replace(r",(\d+)(\s*[A-Za-z$]*\.?)$", ".${1}${2}")


def read_decimal_comma(
    rows: pl.DataFrame, column: str, *, declared: bool
) -> tuple[pl.DataFrame, str | None]:
    """`rows` with the amount `column` in plain form when it uses a decimal comma (declared,
    or detected), and the notice saying it was detected (None otherwise)."""
    cells = rows.get_column(column)
    if not declared and not cells.str.contains(_COMMA_TAIL).any():
        return rows, None  # one quick pass: no cell ends in a decimal comma
    core = pl.select(_core(pl.lit(cells))).to_series()
    if not declared:
        filled = core.filter(core.fill_null("") != "")
        if filled.len() == 0:
            return rows, None
        comma = filled.str.contains(_COMMA_DECIMAL)
        if not comma.any() or not (comma | filled.str.contains(_WHOLE)).all():
            return rows, None
    fits = core.str.contains(_ANY).fill_null(False)
    rewritten = rows.with_columns(
        pl.when(pl.lit(fits)).then(_plain(pl.col(column))).otherwise(pl.col(column)).alias(column)
    )
    return rewritten, None if declared else DETECTED
