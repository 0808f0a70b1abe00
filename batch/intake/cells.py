"""Cheap column-wide cell cleaning for intake: work once per distinct value, or only on the
cells that need it, so a million-row sheet does not pay for the rare messy cell."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

# Above this many distinct values a per-distinct lookup costs more than it saves.
_DISTINCT_LIMIT = 4096
_MESSY_SPACE = r"\s\s|[^\S ]"  # two whitespace characters in a row, or a tab/newline/nbsp…


def per_distinct(clean: Callable[[pl.Expr], pl.Expr]) -> Callable[[pl.Series], pl.Series]:
    """A `map_batches` function applying `clean` (an expression of one column) once per
    distinct cell when a column holds few distinct values (currency, country), else to every
    cell; the result is the same either way."""

    def apply(cells: pl.Series) -> pl.Series:
        distinct = cells.unique()
        if distinct.len() > _DISTINCT_LIMIT:
            return pl.select(clean(pl.lit(cells))).to_series().alias(cells.name)
        cleaned = pl.select(clean(pl.lit(distinct))).to_series()
        return cells.replace_strict(distinct, cleaned, return_dtype=cleaned.dtype)

    return apply


def collapse_whitespace(cells: pl.Series) -> pl.Series:
    """Runs of whitespace (spaces, tabs, line breaks in a cell, nbsp) as one space; only the
    cells that have such a run are rewritten."""
    messy = cells.str.contains(_MESSY_SPACE).fill_null(False)
    if not messy.any():
        return cells
    where = messy.arg_true()
    return cells.clone().scatter(where, cells.gather(where).str.replace_all(r"\s+", " "))
