"""Amount parsing: exact decimals from text, never floats; the vectorised form agrees."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batch.amounts import add_amounts, parse_amount, sum_amounts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1250", Decimal("1250")),
        ("1,250.00", Decimal("1250.00")),
        ("1,234,567.5", Decimal("1234567.5")),
        (" 0.10 ", Decimal("0.10")),
        ("007.50", Decimal("7.50")),
        ("", "amount is missing"),
        ("0", "must be more than zero"),
        ("0.00", "must be more than zero"),
        ("-5", "must be more than zero"),
        ("(5.00)", "must be more than zero"),
        ("1.250,00", "is not an amount"),
        ("12,50", "is not an amount"),
        ("$100", "is not an amount"),
        ("1e3", "is not an amount"),
        ("1" * 16, "is too large"),
    ],
)
def test_parse_amount(text: str, expected: Decimal | str) -> None:
    result = parse_amount(text)
    if isinstance(expected, Decimal):
        assert result == expected and isinstance(result, Decimal)
    else:
        assert isinstance(result, str) and expected in result


def _vector(texts: list[str], currency: str) -> list[tuple[object, ...]]:
    frame = pl.DataFrame(
        {"amount": texts, "ccy": [currency] * len(texts)},
        schema={"amount": pl.String, "ccy": pl.String},
    )
    return (
        add_amounts(frame.lazy(), "amount", "ccy")
        .collect()
        .select("_amount_error", "_minor")
        .rows()
    )


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("1,250.00", "USD", 125000),
        ("1250.5", "LRD", 125050),
        ("250,000", "RWF", 250000),
        ("0.01", "USD", 1),
        ("12.345", "USD", None),
        ("100.5", "RWF", None),
        ("100.50", "XXX", None),
    ],
)
def test_minor_units(text: str, currency: str, minor: int | None) -> None:
    assert _vector([text], currency) == [(None, minor)]


_AMOUNTS = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999999999999.99"), places=2)


@settings(max_examples=100, deadline=None)
@given(amount=_AMOUNTS, grouped=st.booleans())
def test_amount_text_round_trips(amount: Decimal, grouped: bool) -> None:
    text = f"{amount:,.2f}" if grouped else f"{amount:.2f}"
    assert parse_amount(text) == amount
    assert _vector([text], "USD") == [(None, int(amount * 100))]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=20), st.from_regex(r"-?[0-9,]{0,8}(\.[0-9]{0,4})?", fullmatch=True)
        ),
        min_size=1,
        max_size=30,
    )
)
def test_vectorised_agrees_with_parse_amount_and_never_crashes(texts: list[str]) -> None:
    for text, (error, minor) in zip(texts, _vector(texts, "USD"), strict=True):
        scalar = parse_amount(text)
        if isinstance(scalar, Decimal):
            assert error is None
            exact = scalar * 100
            assert minor == (int(exact) if exact == exact.to_integral_value() else None)
        else:
            assert error == scalar and minor is None


def test_sum_amounts_is_exact_and_ignores_malformed() -> None:
    texts = pl.Series(["0.10", "0.20", "1,000.005", "abc", None, "-3"])
    assert sum_amounts(texts) == Decimal("1000.305")
