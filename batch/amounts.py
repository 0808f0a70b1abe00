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


def amount_exprs(text: pl.Expr, currency: pl.Expr) -> list[pl.Expr]:
    """Vectorised `parse_amount`: `_amount_error` (message or null), `_decimals`, `_minor`.

    `_minor` is the exact amount in the currency's minor units (null when the currency is
    unknown or the amount invalid); `_decimals` its significant decimals.
    """
    cleaned = text.fill_null("").str.strip_chars()
    well_formed = cleaned.str.contains(_PLAIN) | cleaned.str.contains(_GROUPED)
    digits = cleaned.str.replace_all(",", "")
    whole = digits.str.extract(r"^([0-9]+)", 1).str.strip_chars_start("0")
    fraction = digits.str.extract(r"\.([0-9]+)$", 1).fill_null("").str.strip_chars_end("0")
    positive = (whole != "") | (fraction != "")
    error = (
        pl.when(cleaned == "")
        .then(pl.lit(MISSING))
        .when(cleaned.str.contains(_NEGATIVE))
        .then(pl.lit(NOT_POSITIVE))
        .when(~well_formed)
        .then(pl.lit(NOT_A_NUMBER))
        .when(whole.str.len_chars() > MAX_INTEGER_DIGITS)
        .then(pl.lit(TOO_LARGE))
        .when(~positive)
        .then(pl.lit(NOT_POSITIVE))
    )
    decimals = fraction.str.len_chars().cast(pl.Int64)
    minor = pl.lit(None, pl.Int64)
    for code, places in CURRENCY_DECIMALS.items():
        scaled = (whole + fraction.str.pad_end(places, "0")).str.strip_chars_start("0")
        value = pl.when(scaled == "").then(pl.lit("0")).otherwise(scaled).cast(pl.Int64)
        minor = pl.when((currency == code) & (decimals <= places)).then(value).otherwise(minor)
    minor = pl.when(error.is_null()).then(minor)
    return [error.alias("_amount_error"), decimals.alias("_decimals"), minor.alias("_minor")]


def sum_amounts(texts: pl.Series) -> Decimal:
    """Exact sum of the well-formed positive amounts in a column of amount text."""
    cleaned = texts.fill_null("").str.strip_chars()
    ok = cleaned.str.contains(_PLAIN) | cleaned.str.contains(_GROUPED)
    digits = cleaned.filter(ok).str.replace_all(",", "")
    if digits.is_empty():
        return Decimal(0)
    places = int(digits.str.extract(r"\.([0-9]+)$", 1).str.len_chars().max() or 0)
    total = digits.cast(pl.Decimal(38, places)).sum()
    return Decimal(str(total))
