"""Phone numbers -> E.164 digits, country and operator hint, from the phonenumbers metadata.

`normalise_phone` is the reference (one number, the library itself, cached); `normalise_phones`
does the same for a whole column with polars expressions built from the same metadata, and
hands anything its fast path does not accept to `normalise_phone`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache

import phonenumbers
import polars as pl
from phonenumbers import PhoneNumberType, carrier
from phonenumbers.carrierdata import CARRIER_DATA
from phonenumbers.phonemetadata import PhoneMetadata

from batch.markets import SUPPORTED_COUNTRIES

COUNTRY_NAMES: dict[str, str] = {"LR": "Liberia", "RW": "Rwanda"}
_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
_TYPE_WORDS = {
    PhoneNumberType.FIXED_LINE: "a fixed-line",
    PhoneNumberType.TOLL_FREE: "a toll-free",
    PhoneNumberType.PREMIUM_RATE: "a premium-rate",
    PhoneNumberType.SHARED_COST: "a shared-cost",
    PhoneNumberType.VOIP: "a VoIP",
    PhoneNumberType.PERSONAL_NUMBER: "a personal",
    PhoneNumberType.PAGER: "a pager",
    PhoneNumberType.UAN: "a UAN",
    PhoneNumberType.VOICEMAIL: "a voicemail",
}
# The longest phone cell read: "Mobile: +231 (0) 770-123-456 " is 30; issue 12.
MAX_PHONE_CHARS = 48
NEEDS_COUNTRY = "local number needs a country: add a country column or pass --country"
_SEPARATORS = re.compile(r"[\s\-.()/\u00a0]")
_ALLOWED = re.compile(r"^\+?[0-9\s\-.()/\u00a0]+$")
_TEL_PREFIX = re.compile(r"(?i)^(?:tel|phone|mobile|cell)\s*[:.]\s*")
# Two numbers in one cell: "0770123456/0880123456", "0770123456 or 0880123456".
_TWO_NUMBERS = re.compile(
    r"\d[\d\s\-.()]{5,}\d\s*(?:/|;|,|&|\||\bor\b|\band\b)\s*\+?\d[\d\s\-.()]{5,}\d"
)
_EXCEL_FLOAT = re.compile(r"^(\d+)\.0+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?$")
_SCIENTIFIC = re.compile(r"^(\d+)(?:\.(\d+))?[eE]\+?(\d+)$")


@dataclass(frozen=True)
class PhoneResult:
    """A normalised phone, or the reason it cannot be paid."""

    e164: str | None = None  # digits without "+"
    country: str | None = None  # ISO alpha-2 of the number itself
    operator: str | None = None  # carrier name per phonenumbers; a hint only
    error: str | None = None


def _recover_scientific(text: str) -> str | PhoneResult:
    """Digits of `2.31770123456E+11` when every digit survived; an error when some were lost."""
    match = _SCIENTIFIC.match(text)
    assert match is not None
    whole, fraction, exponent = (
        match.group(1),
        (match.group(2) or "").rstrip("0"),
        int(match.group(3)),
    )
    if exponent == len(fraction) and (whole + fraction).lstrip("0"):
        return (whole + fraction).lstrip("0")
    # Fewer mantissa digits than the number has: Excel rounded it, the rest became zeros.
    return PhoneResult(
        error="is in scientific notation: Excel has lost digits of this number; "
        "format the column as Text and type the numbers again"
    )


def _tidy(text: str) -> str:
    """Undo what spreadsheets and copy-paste add around a number: full-width digits, invisible
    direction marks, Excel's text-forcing apostrophe, a `tel:` link."""
    text = "".join(
        c for c in unicodedata.normalize("NFKC", text) if unicodedata.category(c) != "Cf"
    ).strip()
    text = text.lstrip("'").strip()
    return _TEL_PREFIX.sub("", text).strip()


def normalise_phone(raw: str | None, region: str | None) -> PhoneResult:
    """One phone as E.164 digits, parsed with `region` (LR/RW) for local forms."""
    if raw is not None and len(raw) > MAX_PHONE_CHARS:
        # Before any pattern runs (and outside the cache): some cost the square of the length.
        return PhoneResult(error=f"is too long to be a phone number ({len(raw):,} characters)")
    return _normalise_phone(raw, region)


@lru_cache(maxsize=65536)
def _normalise_phone(raw: str | None, region: str | None) -> PhoneResult:
    text = _tidy(raw or "")
    if not text:
        return PhoneResult(error="phone is missing")
    if _TWO_NUMBERS.search(text):
        return PhoneResult(error="holds two phone numbers; put one number per row")
    if _SCIENTIFIC.match(text):
        recovered = _recover_scientific(text)
        if isinstance(recovered, PhoneResult):
            return recovered
        text = recovered
    float_match = _EXCEL_FLOAT.match(text)
    if float_match:  # a number Excel stored as a float: 231770123456.0
        text = float_match.group(1)
    if _DATE.match(text):  # an Excel date cell, read as calamine writes dates
        return PhoneResult(error="is a date, not a phone number (is the column formatted as Date?)")
    if not _ALLOWED.match(text):
        return PhoneResult(error="is not a phone number")
    digits = _SEPARATORS.sub("", text)
    international = digits.startswith(("+", "00"))
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if not international and region is None:
        if not digits.startswith(("231", "250")):
            return PhoneResult(error=NEEDS_COUNTRY)
        digits = "+" + digits
    number = _parse(digits, region)
    if (number is None or not phonenumbers.is_valid_number(number)) and not international:
        # Country code written without "+" for a number of another market: 250788123456.
        number = _parse("+" + digits.lstrip("+"), None) or number
    if number is None:
        return PhoneResult(error="is not a phone number")
    country = phonenumbers.region_code_for_number(number)
    if not phonenumbers.is_valid_number(number):
        where = COUNTRY_NAMES.get(country or region or "", "")
        return PhoneResult(error=f"is not a valid {where + ' ' if where else ''}phone number")
    if country not in SUPPORTED_COUNTRIES:
        return PhoneResult(
            error=f"is a {_country_name(number, country)} number; only Liberia (LR) and "
            "Rwanda (RW) numbers can be paid"
        )
    kind = phonenumbers.number_type(number)
    if kind not in _MOBILE_TYPES:
        return PhoneResult(
            error=f"is {_TYPE_WORDS.get(kind, 'a non-mobile')} number, not a mobile number"
        )
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    operator = carrier.name_for_number(number, "en") or None
    return PhoneResult(e164=e164, country=country, operator=operator)


def _country_name(number: phonenumbers.PhoneNumber, region: str | None) -> str:
    # Imported only for this message: its data costs ~0.6 s and >100 MB in every process.
    from phonenumbers import geocoder

    name = geocoder.country_name_for_number(number, "en")
    return f"{name} ({region})" if name and region else (region or "foreign")


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


# ---- vectorised fast path -------------------------------------------------------------


@dataclass(frozen=True)
class _Market:
    region: str
    code: str  # country calling code, e.g. "231"
    mobile: str  # anchored regex of mobile national numbers
    general: str
    lengths: tuple[int, ...]
    other: str | None  # anchored regex of types phonenumbers checks before mobile


def _anchored(pattern: str) -> str:
    return f"^(?:{pattern})$"


@cache
def _markets() -> tuple[_Market, ...]:
    markets = []
    for region in sorted(SUPPORTED_COUNTRIES):
        meta = PhoneMetadata.metadata_for_region(region)
        assert meta is not None and meta.mobile is not None and meta.general_desc is not None
        earlier = [
            desc.national_number_pattern
            for desc in (
                meta.premium_rate,
                meta.toll_free,
                meta.shared_cost,
                meta.voip,
                meta.personal_number,
                meta.pager,
                meta.uan,
                meta.voicemail,
            )
            if desc is not None and desc.national_number_pattern
        ]
        markets.append(
            _Market(
                region=region,
                code=str(meta.country_code),
                mobile=_anchored(meta.mobile.national_number_pattern or "$^"),
                general=_anchored(meta.general_desc.national_number_pattern or "$^"),
                lengths=tuple(meta.mobile.possible_length or ()),
                other=_anchored("|".join(earlier)) if earlier else None,
            )
        )
    return tuple(markets)


@cache
def _operator_prefixes() -> tuple[int, dict[str, str]]:
    """phonenumbers' carrier table for supported codes, every prefix widened to one length."""
    codes = tuple(m.code for m in _markets())
    table = {k: v["en"] for k, v in CARRIER_DATA.items() if k.startswith(codes) and "en" in v}
    width = max(len(k) for k in table)
    widened: dict[str, str] = {}
    for prefix in sorted(table, key=len):  # longer prefixes overwrite shorter ones
        pad = width - len(prefix)
        for tail in range(10**pad):
            widened[prefix + (f"{tail:0{pad}d}" if pad else "")] = table[prefix]
    return width, widened


def _operator_expr(e164: pl.Expr) -> pl.Expr:
    """Longest-prefix carrier lookup, as one hash lookup of the number's first digits."""
    width, widened = _operator_prefixes()
    return e164.str.slice(0, width).replace_strict(widened, default=None, return_dtype=pl.String)


_NORMALISED = pl.Struct({"_e164": pl.String, "_phone_country": pl.String, "_operator": pl.String})


def normalise_phones(frame: pl.LazyFrame, phone: str, region: str) -> pl.LazyFrame:
    """Add `_e164`, `_phone_country` and `_operator` to `frame`; a null `_e164` means the fast
    path did not accept the number (ask `normalise_phone`). A column that repeats its phones
    is read once per distinct (phone, region): the phones, not the rows, drive the work."""
    cells = pl.struct(pl.col(phone).alias("phone"), pl.col(region).alias("region"))
    return frame.with_columns(
        cells.map_batches(_per_distinct, return_dtype=_NORMALISED).alias("_p_read")
    ).with_columns(
        pl.col("_p_read").struct.field(f).alias(f) for f in ("_e164", "_phone_country", "_operator")
    ).drop("_p_read")


def _per_distinct(cells: pl.Series) -> pl.Series:
    """The fast path over a column of (phone, region) structs: on every row when most are
    distinct (a payroll: one row per person), else on the distinct ones, joined back."""
    parts = cells.struct.unnest()
    # Counting distinct phone hashes is ~15x cheaper than finding the distinct values; a
    # collision (or regions that differ) only changes which way is taken, never the result.
    distinct = parts.get_column("phone").hash().n_unique()
    fields = pl.struct("_e164", "_phone_country", "_operator").alias(cells.name)
    if distinct * 2 > parts.height:
        return _fast_path(parts.lazy(), "phone", "region").select(fields).collect().to_series()
    read = _fast_path(parts.unique().lazy(), "phone", "region").collect()
    return parts.join(
        read, on=["phone", "region"], how="left", nulls_equal=True, maintain_order="left"
    ).select(fields).to_series()


def _fast_path(frame: pl.LazyFrame, phone: str, region: str) -> pl.LazyFrame:
    """`normalise_phones` on every row of `frame`, as polars expressions."""
    # Each stage is its own with_columns so polars computes every intermediate once.
    stripped = pl.col(phone).str.strip_chars()
    # 231770123456.0 is a number Excel stored as a float; cheaper than a capturing regex.
    excel_float = stripped.str.contains(r"^[0-9]+\.0+$")
    integer = stripped.str.strip_chars_end("0").str.strip_suffix(".")
    raw = pl.when(excel_float).then(integer).otherwise(stripped)
    # Literal separators are cheaper than a regex; a number with rarer whitespace (a tab, a
    # line break) fails the digits check below and goes to `normalise_phone`, which reads it.
    separators = [" ", "-", ".", "(", ")", "/", "\u00a0"]
    staged = frame.with_columns(
        raw.str.replace_many(separators, [""] * len(separators)).alias("_p_clean")
    )
    cleaned = pl.col("_p_clean")
    international = cleaned.str.starts_with("+") | cleaned.str.starts_with("00")
    digits = (
        pl.when(cleaned.str.starts_with("+"))
        .then(cleaned.str.slice(1))
        .when(cleaned.str.starts_with("00"))
        .then(cleaned.str.slice(2))
        .otherwise(cleaned)
    )
    staged = staged.with_columns(
        international.alias("_p_intl"),
        pl.when(digits.str.contains(r"^[0-9]+$")).then(digits).alias("_p_digits"),
    )
    digits, international, area = pl.col("_p_digits"), pl.col("_p_intl"), pl.col(region)
    national_by_market = []
    for market in _markets():
        rest = digits.str.slice(len(market.code))
        from_intl = pl.when(
            (international | area.is_null()) & digits.str.starts_with(market.code)
        ).then(rest)
        from_local = pl.when(~international & (area == market.region)).then(
            pl.when(digits.str.starts_with("0"))
            .then(digits.str.slice(1))
            # Too long to be a national number: the country code written without "+".
            .when(
                digits.str.starts_with(market.code) & (digits.str.len_chars() > max(market.lengths))
            )
            .then(rest)
            .otherwise(digits)
        )
        national_by_market.append(pl.coalesce(from_intl, from_local).alias(f"_p_{market.region}"))
    staged = staged.with_columns(national_by_market)
    e164 = pl.lit(None, pl.String)
    country = pl.lit(None, pl.String)
    for market in _markets():
        national = pl.col(f"_p_{market.region}")
        ok = (
            national.str.contains(market.mobile)
            & national.str.contains(market.general)
            & national.str.len_chars().is_in(list(market.lengths))
        )
        if market.other is not None:
            ok = ok & ~national.str.contains(market.other)
        e164 = pl.when(ok.fill_null(False)).then(pl.lit(market.code) + national).otherwise(e164)
        country = pl.when(ok.fill_null(False)).then(pl.lit(market.region)).otherwise(country)
    staged = staged.with_columns(e164.alias("_e164"), country.alias("_phone_country"))
    staged = staged.with_columns(_operator_expr(pl.col("_e164")).alias("_operator"))
    return staged.drop("_p_clean", "_p_intl", "_p_digits", *[f"_p_{m.region}" for m in _markets()])
