"""Amount text -> exact minor units: `1,250.00` and `1250` accepted, never through a float."""

from __future__ import annotations

import re
from decimal import Decimal

import polars as pl

from batch.markets import CURRENCY_DECIMALS

MAX_INTEGER_DIGITS = 15  # larger than any payroll line; keeps minor units inside Int64 sums
_PLAIN = r"^[0-9]+(?:\.[0-9]+)?$"
_GROUPED = r"^[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?$"  # 1,250.00
_NEGATIVE = r"^(?:-|\(.*\)$)"

MISSING = "amount is missing"
NOT_A_NUMBER = "is not an amount (write it like 1250 or 1,250.00)"
NOT_POSITIVE = "must be more than zero"
TOO_LARGE = f"is too large (more than {MAX_INTEGER_DIGITS} digits)"


def parse_amount(text: str | None) -> Decimal | str:
    """The exact Decimal of an amount cell, or the message saying why it is not one."""
    cleaned = (text or "").strip()
    if not cleaned:
        return MISSING
    if re.match(_NEGATIVE, cleaned):
        return NOT_POSITIVE
    if not (re.match(_PLAIN, cleaned) or re.match(_GROUPED, cleaned)):
        return NOT_A_NUMBER
    digits = cleaned.replace(",", "")
    if len(digits.split(".")[0].lstrip("0")) > MAX_INTEGER_DIGITS:
        return TOO_LARGE
    amount = Decimal(digits)
    if amount <= 0:
        return NOT_POSITIVE
    return amount


def decimals_of(amount: Decimal) -> int:
    """Significant decimals of an amount: 1250.50 has 1, 1250.00 has 0."""
    exponent = amount.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def add_amounts(frame: pl.LazyFrame, text: str, currency: str) -> pl.LazyFrame:
    """Vectorised `parse_amount`: add `_amount_error` (message or null), `_decimals` and
    `_minor`, the exact amount in the currency's minor units (null when the amount is
    invalid, the currency unknown, or it has more decimals than the currency allows)."""
    # Each stage is its own with_columns so polars computes every intermediate once.
    staged = frame.with_columns(pl.col(text).fill_null("").str.strip_chars().alias("_a_clean"))
    cleaned = pl.col("_a_clean")
    staged = staged.with_columns(
        (cleaned.str.contains(_PLAIN) | cleaned.str.contains(_GROUPED)).alias("_a_ok"),
        cleaned.str.replace_all(",", "", literal=True).str.split_exact(".", 1).alias("_a_parts"),
    )
    # Only well-formed amounts are used; split is much cheaper than capturing regexes.
    parts = pl.col("_a_parts").struct
    staged = staged.with_columns(
        parts.field("field_0").fill_null("").str.strip_chars_start("0").alias("_a_whole"),
        parts.field("field_1").fill_null("").str.strip_chars_end("0").alias("_a_frac"),
    )
    whole, fraction = pl.col("_a_whole"), pl.col("_a_frac")
    error = (
        pl.when(cleaned == "")
        .then(pl.lit(MISSING))
        .when(cleaned.str.contains(_NEGATIVE))
        .then(pl.lit(NOT_POSITIVE))
        .when(~pl.col("_a_ok"))
        .then(pl.lit(NOT_A_NUMBER))
        .when(whole.str.len_chars() > MAX_INTEGER_DIGITS)
        .then(pl.lit(TOO_LARGE))
        .when((whole == "") & (fraction == ""))
        .then(pl.lit(NOT_POSITIVE))
    )
    staged = staged.with_columns(
        error.alias("_amount_error"), fraction.str.len_chars().cast(pl.Int64).alias("_decimals")
    )
    places = pl.col(currency).replace_strict(CURRENCY_DECIMALS, default=None, return_dtype=pl.Int64)
    units = pl.when(whole == "").then(pl.lit("0")).otherwise(whole).cast(pl.Int64, strict=False)
    cents = fraction.str.pad_end(2, "0").cast(pl.Int64, strict=False)
    assert set(CURRENCY_DECIMALS.values()) <= {0, 2}, "minor units other than 0 or 2"
    minor = pl.when(places == 0).then(units).otherwise(units * 100 + cents)
    fits = pl.col("_amount_error").is_null() & (pl.col("_decimals") <= places)
    staged = staged.with_columns(pl.when(fits).then(minor).alias("_minor"))
    return staged.drop("_a_clean", "_a_ok", "_a_parts", "_a_whole", "_a_frac")


def sum_amounts(texts: pl.Series) -> Decimal:
    """Exact sum of the well-formed positive amounts in a column of amount text."""
    cleaned = texts.fill_null("").str.strip_chars()
    ok = cleaned.str.contains(_PLAIN) | cleaned.str.contains(_GROUPED)
    digits = cleaned.filter(ok).str.replace_all(",", "")
    if digits.is_empty():
        return Decimal(0)
    longest = digits.str.extract(r"\.([0-9]+)$", 1).str.len_chars().max()
    places = longest if isinstance(longest, int) else 0
    total = digits.cast(pl.Decimal(38, places)).sum()
    return Decimal(str(total))
