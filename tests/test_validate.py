"""Validation rules, one test each, on real sheets written to a temp dir (CSV and XLSX)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sheets import check, payroll

from batch.errors import SheetError
from batch.intake.load import load_sheet
from batch.intake.outcome import ValidationReport
from batch.intake.validate import rule_names, validate_sheet
from batch.options import ValidationOptions

GOOD = ["Musu Dolo", "0770123456", "1,250.00", "USD", "LR"]
OTHER = ["Sando Kollie", "0886220145", "850", "USD", "LR"]


def problems(report: ValidationReport) -> list[tuple[int, str, str]]:
    return [(row, column, rule) for row, column, _, _, rule in report.problems.iter_rows()]


def test_clean_sheet_is_ok(tmp_path: Path, kind: str) -> None:
    report = check(tmp_path, payroll(GOOD, OTHER), kind)
    assert report.ok and report.problems.height == 0
    assert report.counts == {"valid": 2, "invalid": 0, "skipped": 0, "total": 2}
    assert report.totals == {"USD": Decimal("2100.00")}
    first = report.payout_rows()[0]
    assert (first.row, first.phone, first.amount, first.currency, first.country) == (
        2,
        "231770123456",
        Decimal("1250.00"),
        "USD",
        "LR",
    )
    assert first.operator_hint == "Orange"


@pytest.mark.parametrize(
    ("row", "options", "column", "rule", "message"),
    [
        (["", "0555301778", "5", "USD", "LR"], {}, "name", "name_missing", "name is missing"),
        (["A", "call me", "5", "USD", "LR"], {}, "phone", "phone_invalid", "not a phone number"),
        (["A", "2.3177E+11", "5", "USD", "LR"], {}, "phone", "phone_invalid", "scientific"),
        (["A", "+231 21 234 567", "5", "USD", "LR"], {}, "phone", "phone_invalid", "fixed-line"),
        (["A", "0555301778", "5", "USD", "GH"], {}, "country", "country_unsupported", "LR or RW"),
        (
            ["A", "+250788123456", "5", "USD", "LR"],
            {},
            "phone",
            "phone_country_mismatch",
            "is a Rwanda number but the row's country is LR",
        ),
        (
            ["A", "+250788123456", "5", "USD", ""],
            {"default_country": "LR"},
            "phone",
            "phone_country_mismatch",
            "country is LR (--country)",
        ),
        (["A", "0555301778", "5", "", "LR"], {}, "currency", "currency_missing", "--currency"),
        (["A", "0555301778", "5", "EUR", "LR"], {}, "currency", "currency_unsupported", "USD"),
        (
            ["A", "0555301778", "5", "RWF", "LR"],
            {},
            "currency",
            "currency_country_mismatch",
            "RWF cannot be paid in LR (use LRD, USD)",
        ),
        (
            ["A", "0788123456", "5", "LRD", "RW"],
            {},
            "currency",
            "currency_country_mismatch",
            "LRD cannot be paid in RW",
        ),
        (["A", "0555301778", "five", "USD", "LR"], {}, "amount", "amount_invalid", "not an amount"),
        (["A", "0555301778", "0", "USD", "LR"], {}, "amount", "amount_invalid", "more than zero"),
        (["A", "0555301778", "-5", "USD", "LR"], {}, "amount", "amount_invalid", "more than zero"),
        (["A", "0555301778", "", "USD", "LR"], {}, "amount", "amount_invalid", "missing"),
        (
            ["A", "0555301778", "1.005", "USD", "LR"],
            {},
            "amount",
            "amount_decimals",
            "has 3 decimal place(s); USD allows 2",
        ),
        (
            ["A", "0788123456", "100.5", "RWF", "RW"],
            {},
            "amount",
            "amount_decimals",
            "RWF takes whole amounts only",
        ),
        (
            ["A", "0555301778", "5000.01", "USD", "LR"],
            {"max_amount": Decimal(5000)},
            "amount",
            "amount_above_max",
            "above --max-amount 5000",
        ),
    ],
)
def test_each_rule(
    tmp_path: Path,
    kind: str,
    row: list[str],
    options: dict[str, Any],
    column: str,
    rule: str,
    message: str,
) -> None:
    report = check(tmp_path, payroll(GOOD, row), kind, **options)
    assert problems(report) == [(3, column, rule)]
    assert message in report.problems.get_column("message")[0]
    assert not report.ok
    assert [r.row for r in report.invalid_rows()] == [3]
    assert [r.row for r in report.payout_rows()] == [2]


def test_email_well_formed_when_given(tmp_path: Path) -> None:
    rows = [
        ["Name", "Phone", "Amount", "Currency", "Country", "Email"],
        [*GOOD, "musu@example.lr"],
        [*OTHER, "sando@"],
        ["C", "0555301778", "5", "USD", "LR", ""],
    ]
    report = check(tmp_path, rows)
    assert problems(report) == [(3, "email", "email_malformed")]


def test_unquoted_comma_shifting_a_csv_row_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text('Name,Phone,Amount\nA,0770123456,1,250.00\nB,0886220145,"1,250.00"\n')
    report = validate_sheet(
        load_sheet(path), ValidationOptions(default_currency="USD", default_country="LR")
    )
    assert problems(report) == [(2, "row", "extra_cells")]
    assert "unquoted" in report.problems.get_column("message")[0]


def test_max_amount_is_per_row_in_its_currency(tmp_path: Path) -> None:
    rows = payroll(
        ["A", "0770123456", "5000", "USD", "LR"], ["B", "0886220145", "5000.00", "LRD", "LR"]
    )
    assert check(tmp_path, rows, max_amount=Decimal(5000)).ok


def test_duplicate_phone_flags_every_copy_in_any_form(tmp_path: Path, kind: str) -> None:
    rows = payroll(GOOD, OTHER, ["Musu again", "+231 77 012 3456", "5", "USD", "LR"])
    report = check(tmp_path, rows, kind)
    assert problems(report) == [(2, "phone", "duplicate_phone"), (4, "phone", "duplicate_phone")]
    assert report.problems.get_column("message").to_list() == [
        "same phone and currency as row(s) 4 (pass --allow-duplicates if each is meant)",
        "same phone and currency as row(s) 2 (pass --allow-duplicates if each is meant)",
    ]
    assert check(tmp_path, rows, kind, allow_duplicates=True).ok


def test_duplicate_external_id(tmp_path: Path) -> None:
    rows = [
        ["Staff ID", "Name", "Phone", "Amount", "Currency"],
        ["E1", "A", "+231770123456", "5", "USD"],
        ["E1", "B", "+231886220145", "5", "USD"],
    ]
    report = check(tmp_path, rows)
    assert problems(report) == [
        (2, "external_id", "duplicate_external_id"),
        (3, "external_id", "duplicate_external_id"),
    ]
    assert check(tmp_path, rows, allow_duplicates=True).ok


def test_blank_rows_skipped_with_notice(tmp_path: Path, kind: str) -> None:
    report = check(tmp_path, payroll(GOOD, ["", "", "", "", ""], OTHER, [], []), kind)
    assert report.ok and report.counts["total"] == 2
    assert "1 blank row(s) skipped: 3" in report.notices


def test_trailing_totals_row_skipped_with_notice(tmp_path: Path, kind: str) -> None:
    total: Any = "2,100.00" if kind == "csv" else 2100
    report = check(tmp_path, payroll(GOOD, OTHER, ["TOTAL", "", total, "", ""]), kind)
    assert report.ok
    assert report.counts == {"valid": 2, "invalid": 0, "skipped": 1, "total": 3}
    assert [r.status for r in report.rows] == ["valid", "valid", "skipped"]
    assert any("row 4: totals row" in n for n in report.notices)


def test_totals_row_with_wrong_sum_is_one_clear_error(tmp_path: Path) -> None:
    report = check(tmp_path, payroll(GOOD, OTHER, ["Total", "", "9999", "", ""]))
    assert problems(report) == [(4, "amount", "totals_mismatch")]
    assert report.problem_list()[0].message == (
        "looks like a totals row, but 9999 is not the sum of the rows above (expected 2100)"
    )
    assert [r.status for r in report.rows] == ["valid", "valid", "invalid"]


def test_country_from_column_then_option_then_phone(tmp_path: Path) -> None:
    rows = [
        ["Name", "Phone", "Amount", "Currency", "Country"],
        ["A", "0788123456", "5", "RWF", "Rwanda"],  # column (a name works too)
        ["B", "0770123456", "5", "USD", ""],  # --country
        ["C", "+250722456789", "5", "RWF", ""],
    ]  # phone prefix when no default applies
    report = check(tmp_path, rows[:3])
    assert problems(report) == [(3, "phone", "phone_invalid")]  # local number, no country
    report = check(tmp_path, rows[:3], default_country="LR")
    assert [r.country for r in report.rows] == ["RW", "LR"]
    report = check(tmp_path, [rows[0], rows[3]])
    assert [(r.country, r.phone) for r in report.rows] == [("RW", "250722456789")]


def test_default_currency_fills_blank_cells(tmp_path: Path) -> None:
    rows = payroll(["A", "0770123456", "5", "", "LR"], ["B", "0886220145", "5", "LRD", "LR"])
    report = check(tmp_path, rows, default_currency="USD")
    assert [r.currency for r in report.rows] == ["USD", "LRD"]
    assert report.totals == {"LRD": Decimal("5.00"), "USD": Decimal("5.00")}


def test_xlsx_float_phone_and_formatted_amount(tmp_path: Path) -> None:
    rows = payroll(["A", 231770123456, 1250.5, "USD", "LR"], ["B", 2.3177e11, 10, "USD", "LR"])
    report = check(tmp_path, rows, "xlsx")
    assert report.rows[0].phone == "231770123456" and report.rows[0].amount == Decimal("1250.50")


def test_json_shape(tmp_path: Path) -> None:
    report = check(tmp_path, payroll(GOOD, ["", "call me", "1.005", "USD", "LR"]))
    data = report.to_json()
    assert set(data) >= {"file", "rows", "counts", "totals"}
    assert data["counts"] == {"valid": 1, "invalid": 1, "skipped": 0, "total": 2}
    assert data["totals"] == {"USD": "1250.00"}
    assert data["rows"][0] == {
        "row": 2,
        "status": "valid",
        "name": "Musu Dolo",
        "phone": "231770123456",
        "amount": "1250.00",
        "currency": "USD",
        "country": "LR",
        "operator_hint": "Orange",
        "external_id": None,
        "problems": [],
    }
    assert [p["column"] for p in data["rows"][1]["problems"]] == ["name", "phone", "amount"]
    assert data["rows"][1]["problems"][1]["value"] == "call me"


def test_messy_sample_breaks_every_rule(samples: Path) -> None:
    options = ValidationOptions(max_amount=Decimal(5000))
    report = validate_sheet(load_sheet(samples / "payroll_messy.csv"), options)
    assert set(report.problems.get_column("rule")) == set(rule_names(options))
    assert report.counts["skipped"] == 1 and any("blank row" in n for n in report.notices)


@pytest.mark.parametrize(
    "name", ["payroll_liberia.csv", "payroll_rwanda.csv", "payroll_excel.xlsx"]
)
def test_clean_samples_are_valid(samples: Path, name: str) -> None:
    report = validate_sheet(load_sheet(samples / name), ValidationOptions())
    assert report.ok, report.problem_list()


def test_options_reject_misuse() -> None:
    with pytest.raises(ValueError):
        ValidationOptions(default_country="NG")
    with pytest.raises(ValueError):
        ValidationOptions(max_amount=Decimal(0))


_FIXTURE_OK = [HealthCheck.function_scoped_fixture]
_CELLS = st.sampled_from(list(',;"\r\n .-+()0123456789eE$Totalé'))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.text(alphabet=_CELLS, max_size=300))
def test_any_body_under_a_header_validates_without_crashing(tmp_path: Path, body: str) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_text("Name,Phone,Amount,Currency,Country\n" + body, encoding="utf-8")
    try:
        sheet = load_sheet(path)
    except SheetError:
        return
    report = validate_sheet(sheet, ValidationOptions(default_country="LR", default_currency="USD"))
    json.dumps(report.to_json())
    assert (
        report.counts["total"]
        == report.counts["valid"] + report.counts["invalid"] + report.counts["skipped"]
    )
    assert len(report.payout_rows()) == report.counts["valid"]
