"""A sheet's amount column read fast: the common form straight to minor units, the rest in full.

Nearly every amount a payroll export writes is `1,250.00`, `1250.00` or `1250`: a whole part
of 1 to 15 digits not starting with 0 (comma-grouped or not) and two decimals or none. Such a
cell needs no error message, no currency mark and no float-noise check: its minor units are
its digits (times 100 without decimals), cast to an integer, never through a float. Every
other cell (spaces, marks, `0.50`, `1.250`, European forms, junk) goes through
`amounts.add_amounts`, the full reading, which these rules agree with: the same columns, the
same values (tests/test_amounts.py checks both ways on the same cells).
"""

from __future__ import annotations

import polars as pl

from batch.intake.amounts import add_amounts
from batch.markets import CURRENCY_DECIMALS

COMMON = r"^(?:[1-9][0-9]{0,2}(?:,[0-9]{3}){1,4}|[1-9][0-9]{0,14})(?:\.[0-9]{2})?$"
_READ = pl.Struct(
    {"currency": pl.String, "_amount_error": pl.String, "_decimals": pl.Int64, "_minor": pl.Int64}
)


def read_amounts(
    frame: pl.LazyFrame, text: str, currency: str, default_currency: str | None = None
) -> pl.LazyFrame:
    """`add_amounts(frame, text, currency, default_currency)`, reading common cells fast:
    adds `_amount_error`, `_decimals`, `_minor` and fills `currency` as it does."""
    read = pl.struct(pl.col(text).alias("text"), pl.col(currency).alias("currency"))
    return frame.with_columns(
        read.map_batches(lambda cells: _read(cells, default_currency), return_dtype=_READ)
        .alias("_a_read")
    ).with_columns(
        *(pl.col("_a_read").struct.field(f).alias(f) for f in ("_amount_error", "_decimals",
                                                                 "_minor")),
        pl.col("_a_read").struct.field("currency").alias(currency),
    ).drop("_a_read")


def _read(cells: pl.Series, default_currency: str | None) -> pl.Series:
    """A column of (text, currency) structs read: common cells here, the others in full."""
    parts = cells.struct.unnest()
    common = parts.get_column("text").str.contains(COMMON).fill_null(False)
    # Computed for every row (cheap); right wherever `common`, replaced below elsewhere.
    read = parts.select(_common_reading(default_currency))
    if common.all():
        return read.to_struct(cells.name)
    where = (~common).arg_true()
    rest = add_amounts(parts.filter(~common).lazy(), "text", "currency", default_currency)
    full = rest.select("currency", "_amount_error", "_decimals", "_minor").collect()
    return pl.DataFrame(
        [read.get_column(name).clone().scatter(where, full.get_column(name))
         for name in read.columns]
    ).to_struct(cells.name)


def _common_reading(default_currency: str | None) -> list[pl.Expr]:
    """What add_amounts makes of a common cell: no error; decimals 0 to 2 (trailing zeros do
    not count); minor units when the currency takes that many decimals."""
    text = pl.col("text")
    dotted = text.str.contains(".", literal=True)
    digits = text.str.replace_all(",", "", literal=True).str.replace(".", "", literal=True)
    number = digits.cast(pl.Int64, strict=False)
    hundredths = pl.when(dotted).then(number).otherwise(number * 100)
    decimals = (
        pl.when(~dotted | text.str.ends_with("00")).then(0)
        .when(text.str.ends_with("0")).then(1)
        .otherwise(2)
        .cast(pl.Int64)
    )
    stated = pl.coalesce(pl.col("currency"), pl.lit(default_currency, pl.String))
    places = stated.replace_strict(CURRENCY_DECIMALS, default=None, return_dtype=pl.Int64)
    assert set(CURRENCY_DECIMALS.values()) <= {0, 2}, "minor units other than 0 or 2"
    minor = pl.when(places == 0).then(hundredths // 100).otherwise(hundredths)
    return [
        stated.alias("currency"),
        pl.lit(None, pl.String).alias("_amount_error"),
        decimals.alias("_decimals"),
        pl.when(decimals <= places).then(minor).alias("_minor"),
    ]
