"""Amount parsing: exact decimals from text, never floats; the vectorised form agrees."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batch.intake.amount_column import COMMON, read_amounts
from batch.intake.amounts import add_amounts, parse_amount, sum_amounts


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
        ("-5", "is negative"),
        ("(5.00)", "is negative"),
        ("(1,250.00)", "is negative"),
        ("-$5", "is negative"),
        ("USD -5", "is negative"),
        ("5-", "is negative"),
        ("\u22125", "is negative"),
        ("1.250,00", "comma as the decimal mark"),
        ("12,50", "comma as the decimal mark"),
        ("1 250,00", "comma as the decimal mark"),
        ("1.250.000", "comma as the decimal mark"),
        ("1.250", "is ambiguous"),
        ("12.500", "is ambiguous"),
        ("0.500", Decimal("0.5")),  # 0.500 cannot be thousands
        ("$100", Decimal("100")),
        ("$1,250.00", Decimal("1250.00")),
        ("USD 1,250", Decimal("1250")),
        ("usd 1250", Decimal("1250")),
        ("1250 USD", Decimal("1250")),
        ("US$ 99.50", Decimal("99.50")),
        ("L$ 5,000", Decimal("5000")),
        ("LRD5000", Decimal("5000")),
        ("RWF 15 000", Decimal("15000")),
        ("15 000 FRW", Decimal("15000")),
        ("1\u00a0250.00", Decimal("1250.00")),  # non-breaking space as thousands mark
        ("1\u2009250", Decimal("1250")),  # thin space
        ("1\u202f250", Decimal("1250")),  # narrow no-break space (French locale)
        ("\u00a01250.00\u00a0", Decimal("1250.00")),
        ("\u200e1250", Decimal("1250")),  # invisible direction mark from a copy-paste
        ("\uff11\uff12\uff15\uff10", Decimal("1250")),  # full-width digits
        ("12 50", "is not an amount"),  # spaces that are not thousands groups
        ("USD LRD 5", "names two different currencies"),
        ("EUR 5", "is not an amount"),
        ("2026-11-01 00:00:00", "is a date"),
        ("01/11/2026", "is a date"),
        ("5%", "is a percentage"),
        ("1250.0000000001", Decimal("1250.00")),  # float noise from a formula
        ("1249.9999999999", Decimal("1250.00")),
        ("0.30000000000000004", Decimal("0.30")),
        ("0.0000000001", "must be more than zero"),
        ("1250.123", Decimal("1250.123")),  # real extra decimals: the currency rule decides
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
        ("1250.0000000001", "USD", 125000),
        ("15000.0000000001", "RWF", 15000),
        ("1250.4999999999", "RWF", None),  # really 1250.50: RWF takes whole amounts only
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


def _with_currency(texts: list[str], stated: list[str | None], default: str | None) -> list[object]:
    frame = pl.DataFrame(
        {"amount": texts, "ccy": stated}, schema={"amount": pl.String, "ccy": pl.String}
    )
    return (
        add_amounts(frame.lazy(), "amount", "ccy", default_currency=default)
        .collect()
        .select("ccy", "_amount_error", "_minor")
        .rows()
    )


@pytest.mark.parametrize(
    ("text", "stated", "default", "expected"),
    [
        ("L$ 5,000", None, None, ("LRD", None, 500000)),  # the cell names the currency
        ("L$ 5,000", None, "USD", ("LRD", None, 500000)),  # ... over --currency
        ("$ 5,000", None, None, (None, None, None)),  # "$" alone: USD or LRD, not a guess
        ("$ 5,000", "LRD", None, ("LRD", None, 500000)),
        ("$ 5,000", "USD", None, ("USD", None, 500000)),
        ("$ 5,000", "RWF", None, ("RWF", "names $ but the row's currency is RWF", None)),
        ("USD 10", "LRD", None, ("LRD", "names USD but the row's currency is LRD", None)),
        ("RWF 15 000", "RWF", None, ("RWF", None, 15000)),
        ("10", None, "USD", ("USD", None, 1000)),
    ],
)
def test_currency_written_in_the_amount_cell(
    text: str, stated: str | None, default: str | None, expected: tuple[object, ...]
) -> None:
    assert _with_currency([text], [stated], default) == [expected]


_CELLS = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.from_regex(r"[ $]?[0-9]{1,3}(,[0-9]{3}){0,5}(\.[0-9]{0,4})?[ ]?", fullmatch=True),
    st.from_regex(r"[0-9]{1,18}(\.[0-9]{1,3})?", fullmatch=True),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(_CELLS, st.sampled_from([None, "USD", "LRD", "RWF", "EUR"])),
        min_size=1, max_size=40,
    ),
    st.sampled_from([None, "USD", "RWF"]),
)
def test_the_fast_column_reading_is_the_full_reading(
    cells: list[tuple[str | None, str | None]], default: str | None
) -> None:
    """read_amounts reads common cells (1,250.00 / 1250) itself and the rest through
    add_amounts: every column it adds is what add_amounts makes of the same cells."""
    frame = pl.DataFrame(
        {"amount": [c for c, _ in cells], "ccy": [k for _, k in cells]},
        schema={"amount": pl.String, "ccy": pl.String},
    ).lazy()
    full = add_amounts(frame, "amount", "ccy", default).collect()
    fast = read_amounts(frame, "amount", "ccy", default).collect()
    assert fast.to_dicts() == full.to_dicts()


def test_common_cells_are_read_without_the_full_reading() -> None:
    """The common forms are the ones the fast reading takes (so a 1M-row payroll skips the
    full reading), and zero, a leading 0 or three decimals are not."""
    common = pl.Series(["1,250.00", "1250", "459.98", "999,999,999,999,999.99", "7,000"])
    other = pl.Series(["0.50", "0.00", "1.250", "1250.5", " 12.00", "1,25", "1234,567.00",
                       "9999999999999999"])
    assert common.str.contains(COMMON).all()
    assert not other.str.contains(COMMON).any()
