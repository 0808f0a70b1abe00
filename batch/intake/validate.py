"""Validate and normalise a loaded sheet: every rule once, as polars expressions (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from batch.intake.amount_column import read_amounts
from batch.intake.amounts import CURRENCY_MARKS
from batch.intake.cells import collapse_whitespace, per_distinct
from batch.intake.decimal_comma import read_decimal_comma
from batch.intake.duplicates import find_duplicates
from batch.intake.extra_rows import ExtraRows, find_extra_rows
from batch.intake.load import BLANK, RAGGED, ROW, Sheet
from batch.intake.outcome import ValidationReport
from batch.intake.phones import COUNTRY_NAMES, NEEDS_COUNTRY, normalise_phone, normalise_phones
from batch.intake.workbook_rules import apply_findings, check_hidden_sheet
from batch.markets import COUNTRY_CURRENCIES, CURRENCY_DECIMALS, SUPPORTED_CURRENCIES
from batch.options import ValidationOptions

# Country cells as people write them: ISO codes, names, calling codes.
_COUNTRY_WORDS = {
    **dict.fromkeys(["LR", "LBR", "LIBERIA", "REPUBLIC OF LIBERIA", "231", "+231"], "LR"),
    **dict.fromkeys(["RW", "RWA", "RWANDA", "REPUBLIC OF RWANDA", "250", "+250"], "RW"),
}
# Currency cells as payroll exports write them: "US$", "L$", "FRW" (Rwanda's French form).
CURRENCY_WORDS = {mark: code for mark, code in CURRENCY_MARKS.items() if mark != "$"}
_EMAIL = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
MAX_NAME = 200  # characters: longer is no person's name (a pasted row, a paragraph)


def _text(column: str) -> pl.Expr:
    """A cell's trimmed text; empty cells are null."""
    stripped = pl.col(column).str.strip_chars()
    return pl.when(stripped != "").then(stripped)


def _country_code(cell: pl.Expr) -> pl.Expr:
    """LR or RW from a country cell as people write it; null when empty or unknown."""
    text = cell.str.strip_chars()
    return (
        pl.when(text != "")
        .then(text)
        .str.to_uppercase()
        .replace_strict(_COUNTRY_WORDS, default=None, return_dtype=pl.String)
    )


def _currency_code(cell: pl.Expr) -> pl.Expr:
    """A currency cell in capitals with "US$", "L$", "FRW" read as ISO codes; null when empty."""
    text = cell.str.strip_chars()
    return pl.when(text != "").then(text).str.to_uppercase().replace(CURRENCY_WORDS)


@dataclass(frozen=True)
class _Rule:
    """One validation rule: where it fails, which column it blames, and what it says."""

    name: str
    column: str
    fails: pl.Expr
    message: pl.Expr
    value: pl.Expr | None = None  # the cell shown with the problem; default: the rule's column


def rule_names(options: ValidationOptions) -> list[str]:
    """The names of the rules `options` switches on, in the order problems are listed."""
    return [rule.name for rule in _rules(options)]


def _rules(options: ValidationOptions, *, excel: bool = False) -> list[_Rule]:
    """Every row rule, each named once; the order is the order problems are listed in a row."""
    currency = pl.col("_currency")
    pair = pl.col("_country") + ":" + currency
    allowed_pairs = [f"{c}:{k}" for c, ks in COUNTRY_CURRENCIES.items() for k in sorted(ks)]
    allowed_text = pl.col("_country").replace_strict(
        {c: ", ".join(sorted(ks)) for c, ks in COUNTRY_CURRENCIES.items()}, default=""
    )
    places = currency.replace_strict(CURRENCY_DECIMALS, default=None, return_dtype=pl.Int64)
    unknown_country = _text("country").is_not_null() & pl.col("_country_given").is_null()
    rules = [
        _Rule(
            "extra_cells",
            "row",
            pl.col(RAGGED),
            pl.lit("has more cells than the header; is a value with a comma (1,250.00) unquoted?"),
            value=pl.lit(""),
        ),
        _Rule("name_missing", "name", _text("name").is_null(), pl.lit("name is missing")),
        _Rule(
            "name_too_long",
            "name",
            pl.col("_name").str.len_chars() > MAX_NAME,
            pl.lit(f"is longer than {MAX_NAME} characters: is a whole row pasted into one cell?"),
            value=pl.col("_name").str.slice(0, 60) + pl.lit("…"),
        ),
        _Rule(
            "phone_invalid",
            "phone",
            # A row whose country is unsupported is told so once, not also "needs a country".
            pl.col("_phone_error").is_not_null()
            & ~(unknown_country & (pl.col("_phone_error") == NEEDS_COUNTRY)),
            pl.col("_phone_error"),
        ),
        _Rule(
            "country_unsupported",
            "country",
            unknown_country,
            pl.lit("country is not supported (use LR or RW)"),
        ),
        _Rule(
            "phone_country_mismatch",
            "phone",
            pl.col("_region").is_not_null()
            & pl.col("_phone_country").is_not_null()
            & (pl.col("_phone_country") != pl.col("_region")),
            pl.lit("is a ")
            + pl.col("_phone_country").replace_strict(COUNTRY_NAMES, default="")
            + " number but the row's country is "
            + pl.col("_region")
            + pl.when(pl.col("_country_given").is_null())
            .then(pl.lit(" (--country)"))
            .otherwise(pl.lit("")),
        ),
        _Rule(
            "currency_missing",
            "currency",
            currency.is_null(),
            pl.lit("currency is missing: add a currency column or pass --currency"),
        ),
        _Rule(
            "currency_unsupported",
            "currency",
            currency.is_not_null() & ~currency.is_in(sorted(SUPPORTED_CURRENCIES)),
            pl.lit("currency is not supported (use USD, LRD or RWF)"),
        ),
        _Rule(
            "currency_country_mismatch",
            "currency",
            currency.is_in(sorted(SUPPORTED_CURRENCIES))
            & pl.col("_country").is_not_null()
            & ~pair.is_in(allowed_pairs),
            currency + " cannot be paid in " + pl.col("_country") + " (use " + allowed_text + ")",
        ),
        _Rule(
            "amount_invalid",
            "amount",
            pl.col("_amount_error").is_not_null(),
            pl.col("_amount_error"),
        ),
        _Rule(
            "amount_decimals",
            "amount",
            pl.col("_amount_error").is_null() & (pl.col("_decimals") > places),
            pl.lit("has ")
            + pl.col("_decimals").cast(pl.String)
            + " decimal place(s); "
            + currency
            + pl.when(places == 0)
            .then(pl.lit(" takes whole amounts only"))
            .otherwise(pl.lit(" allows ") + places.cast(pl.String))
            # A float Excel stored (77013.914999999): say so, and how to round it there.
            + (
                pl.lit("; Excel stores exactly this number: type the amount again, or make it "
                       "=ROUND(..., ") + places.cast(pl.String) + pl.lit(")")
                if excel else pl.lit("")
            ),
        ),
        _Rule(
            "email_malformed",
            "email",
            _text("email").is_not_null() & ~_text("email").str.contains(_EMAIL),
            pl.lit("is not a valid email address"),
        ),
    ]
    if maxima := options.max_amounts():
        limits = {
            code: int(limit.scaleb(CURRENCY_DECIMALS[code]).to_integral_value(
                rounding="ROUND_FLOOR"))
            for code, limit in maxima.items()
        }
        limit = currency.replace_strict(limits, default=None, return_dtype=pl.Int64)
        shown = currency.replace_strict(
            {c: f"{c}={v}" if not isinstance(options.max_amount, Decimal) else str(v)
             for c, v in maxima.items()}, default="", return_dtype=pl.String,
        )
        rules.append(
            _Rule(
                "amount_above_max",
                "amount",
                pl.col("_minor") > limit,
                pl.lit("is above --max-amount ") + shown,
            )
        )
    if not options.allow_duplicates:
        rules += [
            _Rule(
                "duplicate_phone",
                "phone",
                pl.col("_dup_phone_rows").is_not_null(),
                pl.lit("same phone and currency as ")
                + pl.col("_dup_phone_rows")
                + pl.lit(" (pass --allow-duplicates if each is meant)"),
            ),
            _Rule(
                "duplicate_external_id",
                "external_id",
                pl.col("_dup_external_id_rows").is_not_null(),
                pl.lit("same external id as ")
                + pl.col("_dup_external_id_rows")
                + pl.lit(" (pass --allow-duplicates if each is meant)"),
            ),
        ]
    return rules


_HEADER_CURRENCY = re.compile(r"(?i)\b(USD|LRD|RWF|FRW)\b|(US\$|LD?\$)")


def _header_currency(sheet: Sheet) -> str | None:
    """The currency an amount header names ("Amount (USD)", "Net pay in L$"), or None."""
    found = _HEADER_CURRENCY.search(sheet.headers.get("amount", ""))
    return CURRENCY_WORDS[(found.group(1) or found.group(2)).upper()] if found else None


def validate_sheet(sheet: Sheet, options: ValidationOptions) -> ValidationReport:
    """Check every row of a loaded sheet; the report says which rows can be paid and why not."""
    check_hidden_sheet(sheet.file, sheet.workbook, options.include_hidden)
    frame = sheet.frame
    blank_rows = frame.filter(pl.col(BLANK)).get_column(ROW)
    rows = frame.filter(~pl.col(BLANK)).drop(BLANK)
    notices = list(sheet.notices)
    last_data_row = rows.get_column(ROW).max()
    inner_blanks = blank_rows.filter(blank_rows < last_data_row).to_list() if rows.height else []
    if inner_blanks:
        shown = ", ".join(map(str, inner_blanks[:10])) + (" …" if len(inner_blanks) > 10 else "")
        notices.append(f"{len(inner_blanks)} blank row(s) skipped: {shown}")
    rows, detected = read_decimal_comma(rows, "amount", declared=options.decimal_comma)
    notices += [detected] if detected else []
    extra = find_extra_rows(rows, sheet.phoneless)
    notices += extra.notices

    default_country = pl.lit(options.default_country, pl.String)
    staged = rows.lazy().with_columns(
        # "  Jo   Doe " and names split over lines in a cell read as "Jo Doe".
        _text("name").map_batches(collapse_whitespace, is_elementwise=True).alias("_name"),
        pl.col("country")
        .map_batches(per_distinct(_country_code), pl.String, is_elementwise=True)
        .alias("_country_given"),
        pl.col("currency")
        .map_batches(per_distinct(_currency_code), pl.String, is_elementwise=True)
        .alias("_currency"),
    )
    staged = staged.with_columns(pl.coalesce("_country_given", default_country).alias("_region"))
    staged = read_amounts(
        normalise_phones(staged, "phone", "_region"),
        "amount",
        "_currency",
        default_currency=_header_currency(sheet) or options.default_currency,
    )
    rows = _slow_phones(staged.collect(engine="in-memory"))
    rows = rows.with_columns(pl.coalesce("_region", "_phone_country").alias("_country"))
    if not options.allow_duplicates:
        rows = rows.with_columns(
            find_duplicates(
                rows,
                # A split salary (USD and LRD to one phone, common in Liberia) is no duplicate.
                {
                    "_dup_phone_rows": (
                        pl.col("_e164"), pl.col("_e164") + ":" + pl.col("_currency").fill_null("")
                    ),
                    "_dup_external_id_rows": _text("external_id"),
                },
            )
        )
    problems = _problems(rows, _rules(options, excel=sheet.kind == "xlsx"), extra)
    problems, found = apply_findings(
        problems, rows.get_column(ROW), extra.skipped, sheet.workbook, options.include_hidden
    )
    notices += found
    return ValidationReport.build(sheet.file, rows, problems, extra.skipped, tuple(notices))


def _problems(rows: pl.DataFrame, rules: list[_Rule], extra: ExtraRows) -> pl.DataFrame:
    """One line per broken rule per row (row, column, value, message, rule), in sheet order.
    Skipped rows have none; a totals row that does not add up has that one problem only."""
    skipped = pl.col(ROW).is_in([*extra.skipped, *extra.mismatched])
    flags = [
        (rule.fails.fill_null(False) & ~skipped).alias(f"_broke_{i}")
        for i, rule in enumerate(rules)
    ]
    # Flags for every row, but messages only for the (usually few) rows that broke a rule.
    bad = rows.lazy().with_columns(flags).filter(pl.any_horizontal("^_broke_.*$")).collect()
    mismatched = rows.filter(pl.col(ROW).is_in(list(extra.mismatched))).select(
        pl.col(ROW).alias("row"),
        pl.lit(-1, pl.Int32).alias("_order"),
        pl.lit("amount").alias("column"),
        pl.lit("totals_mismatch").alias("rule"),
        pl.col("amount").fill_null("").alias("value"),
        pl.col(ROW)
        .replace_strict(list(extra.mismatched), list(extra.mismatched.values()), default="")
        .cast(pl.String)
        .alias("message"),
    )
    return (
        pl.concat(
            [
                mismatched,
                *(
                    bad.filter(pl.col(f"_broke_{order}")).select(
                        pl.col(ROW).alias("row"),
                        pl.lit(order, pl.Int32).alias("_order"),
                        pl.lit(rule.column).alias("column"),
                        pl.lit(rule.name).alias("rule"),
                        (pl.col(rule.column) if rule.value is None else rule.value)
                        .fill_null("")
                        .alias("value"),
                        rule.message.cast(pl.String).alias("message"),
                    )
                    for order, rule in enumerate(rules)
                ),
            ]
        )
        .sort("row", "_order")
        .select("row", "column", "value", "message", "rule")
    )


def _slow_phones(rows: pl.DataFrame) -> pl.DataFrame:
    """Ask phonenumbers itself, once per distinct (phone, country), about numbers the fast
    path did not accept; it either accepts them too or says why not."""
    if rows.get_column("_e164").null_count() == 0:
        return rows.with_columns(pl.lit(None, pl.String).alias("_phone_error"))
    pending = rows.filter(pl.col("_e164").is_null()).select("phone", "_region").unique()
    if pending.height == 0:
        return rows.with_columns(pl.lit(None, pl.String).alias("_phone_error"))
    results = [normalise_phone(phone, region) for phone, region in pending.iter_rows()]
    answers = pending.with_columns(
        pl.Series("_slow_e164", [r.e164 for r in results], pl.String),
        pl.Series("_slow_country", [r.country for r in results], pl.String),
        pl.Series("_slow_operator", [r.operator for r in results], pl.String),
        pl.Series("_phone_error", [r.error for r in results], pl.String),
    )
    joined = rows.join(
        answers, on=["phone", "_region"], how="left", nulls_equal=True, maintain_order="left"
    )
    return joined.with_columns(
        pl.coalesce("_e164", "_slow_e164").alias("_e164"),
        pl.coalesce("_phone_country", "_slow_country").alias("_phone_country"),
        pl.coalesce("_operator", "_slow_operator").alias("_operator"),
    ).drop("_slow_e164", "_slow_country", "_slow_operator")
