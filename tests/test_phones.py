"""Phone normalisation: accepted and rejected forms; the fast path agrees with phonenumbers."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batch.intake.phones import _fast_path, normalise_phone, normalise_phones


@pytest.mark.parametrize(
    ("raw", "region", "e164", "country", "operator"),
    [
        ("+231 77 012 3456", None, "231770123456", "LR", "Orange"),
        ("+231 77 012 3456", "RW", "231770123456", "LR", "Orange"),
        ("00231770123456", "LR", "231770123456", "LR", "Orange"),
        ("00231770123456", None, "231770123456", "LR", "Orange"),
        ("0770123456", "LR", "231770123456", "LR", "Orange"),
        ("0770-123-456", "LR", "231770123456", "LR", "Orange"),
        ("(0886) 220 145", "LR", "231886220145", "LR", "Lonestar Cell"),
        ("0555 301 778", "LR", "231555301778", "LR", "Lonestar Cell"),
        ("231770123456", None, "231770123456", "LR", "Orange"),
        ("231770123456", "LR", "231770123456", "LR", "Orange"),
        ("231770123456.0", "LR", "231770123456", "LR", "Orange"),  # Excel float
        ("2.31770123456E+11", None, "231770123456", "LR", "Orange"),  # every digit survived
        ("0788 123 456", "RW", "250788123456", "RW", "MTN"),
        ("+250 72 245 6789", None, "250722456789", "RW", "Airtel"),
        ("250788123456", "LR", "250788123456", "RW", "MTN"),  # other market, code without +
    ],
)
def test_accepted_forms(
    raw: str, region: str | None, e164: str, country: str, operator: str
) -> None:
    assert normalise_phone(raw, region).e164 == e164
    assert normalise_phone(raw, region).country == country
    assert normalise_phone(raw, region).operator == operator


@pytest.mark.parametrize(
    ("raw", "region", "message"),
    [
        ("", "LR", "phone is missing"),
        (None, "LR", "phone is missing"),
        ("call Sando", "LR", "is not a phone number"),
        ("2.3177E+11", "LR", "scientific notation: Excel has lost digits"),
        ("2.31770123456E+11".replace("456", "46"), "LR", "scientific notation"),
        ("+231 21 234 567", "LR", "is a fixed-line number, not a mobile number"),
        ("+233 24 123 4567", "LR", "is a Ghana (GH) number; only Liberia (LR) and Rwanda (RW)"),
        ("0770123456", None, "local number needs a country"),
        ("0771234", "LR", "is not a valid Liberia phone number"),
        ("+250 800 123 456", None, "is a toll-free number"),
    ],
)
def test_rejected_forms(raw: str | None, region: str | None, message: str) -> None:
    result = normalise_phone(raw, region)
    assert result.e164 is None
    assert result.error is not None and message in result.error


def _fast(raws: list[str], regions: list[str | None]) -> list[tuple[str | None, ...]]:
    frame = pl.DataFrame(
        {"phone": raws, "region": regions}, schema={"phone": pl.String, "region": pl.String}
    )
    out = normalise_phones(frame.lazy(), "phone", "region").collect()
    return out.select("_e164", "_phone_country", "_operator").rows()


_NATIONAL = st.one_of(
    st.from_regex(r"7[7][0-9]{7}", fullmatch=True),
    st.from_regex(r"88[0-9]{7}", fullmatch=True),
    st.from_regex(r"555[0-9]{6}", fullmatch=True),
    st.from_regex(r"7[2389][0-9]{7}", fullmatch=True),
    st.from_regex(r"[0-9]{5,12}", fullmatch=True),
)
_PREFIX = st.sampled_from(["", "0", "+231", "00231", "231", "+250", "00250", "250", "+", "00"])
_REGION = st.sampled_from(["LR", "RW", None])


@st.composite
def _phone_text(draw: st.DrawFn) -> str:
    digits = draw(_PREFIX) + draw(_NATIONAL)
    separator = draw(st.sampled_from(["", " ", "-", "."]))
    if separator and len(digits) > 6:
        digits = digits[:4] + separator + digits[4:7] + separator + digits[7:]
    return digits + draw(st.sampled_from(["", "", ".0"]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_phone_text(), _REGION), min_size=1, max_size=40))
def test_fast_path_accepts_only_what_phonenumbers_accepts(
    cases: list[tuple[str, str | None]],
) -> None:
    fast = _fast([c[0] for c in cases], [c[1] for c in cases])
    for (raw, region), (e164, country, operator) in zip(cases, fast, strict=True):
        if e164 is not None:
            reference = normalise_phone(raw, region)
            assert (reference.e164, reference.country, reference.operator) == (
                e164,
                country,
                operator,
            ), raw


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=30), _REGION), min_size=1, max_size=30))
def test_arbitrary_text_never_crashes(cases: list[tuple[str, str | None]]) -> None:
    fast = _fast([c[0] for c in cases], [c[1] for c in cases])
    for (raw, region), (e164, _, _) in zip(cases, fast, strict=True):
        reference = normalise_phone(raw, region)
        assert (reference.e164 is None) != (reference.error is None)
        if e164 is not None:
            assert reference.e164 == e164


@settings(max_examples=60, deadline=None)
@given(national=st.from_regex(r"(77|88)[0-9]{7}|555[0-9]{6}", fullmatch=True), data=st.data())
def test_every_written_form_of_a_number_round_trips(national: str, data: st.DataObject) -> None:
    e164 = "231" + national
    forms = [
        "+" + e164,
        "00" + e164,
        "0" + national,
        f"+231 {national[:2]} {national[2:5]} {national[5:]}",
        e164 + ".0",
        e164,
    ]
    form = data.draw(st.sampled_from(forms))
    region = (
        data.draw(st.sampled_from(["LR", None])) if not form.startswith("0" + national[0]) else "LR"
    )
    result = normalise_phone(form, region)
    assert result.e164 == e164 and result.country == "LR"
    assert normalise_phone(result.e164, None).e164 == e164  # normalising again changes nothing


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.one_of(_phone_text(), st.none(), st.text(max_size=12)), _REGION),
             min_size=1, max_size=8),
    st.lists(st.integers(min_value=0, max_value=7), min_size=1, max_size=60),
)
def test_repeated_phones_are_read_once_each_with_the_same_result(
    distinct: list[tuple[str | None, str | None]], picks: list[int]
) -> None:
    """A column that repeats its phones is read per distinct (phone, region) and joined back:
    every row gets what reading every row gives, in the column's order."""
    cases = [distinct[i % len(distinct)] for i in picks]
    frame = pl.DataFrame(
        {"phone": [c[0] for c in cases], "region": [c[1] for c in cases]},
        schema={"phone": pl.String, "region": pl.String},
    )
    every_row = _fast_path(frame.lazy(), "phone", "region").collect()
    per_distinct = normalise_phones(frame.lazy(), "phone", "region").collect()
    assert per_distinct.to_dicts() == every_row.to_dicts()
