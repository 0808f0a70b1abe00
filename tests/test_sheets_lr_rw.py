"""Sheets as Liberia and Rwanda write them (issue 16): decimal commas, French and Kinyarwanda
headers, split salaries, per-currency limits, Excel floats, HTML saved as .xls, long names."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from batch.cli import main
from batch.errors import SheetError
from batch.intake.decimal_comma import DETECTED
from batch.intake.load import load_sheet
from batch.intake.validate import validate_sheet
from batch.options import ValidationOptions

RW = ValidationOptions(default_country="RW")
LR = ValidationOptions(default_country="LR")


def _csv(path: Path, text: str, encoding: str = "cp1252") -> Path:
    path.write_bytes(text.replace("\n", "\r\n").encode(encoding))
    return path


def test_decimal_comma_detected_when_the_whole_column_is_unambiguous(tmp_path: Path) -> None:
    path = _csv(tmp_path / "paie.csv", "Nom;Téléphone;Montant;Devise\n"
                "Amélie Uwase;0781234567;1.250,00;USD\n"
                "Zoé Mukamana;0788765432;15 000;RWF\n"
                "Éric Habimana;0788765433;2500,5;USD\n")
    report = validate_sheet(load_sheet(path), RW)
    assert report.ok, report.problem_list()
    assert [r.amount for r in report.rows] == [Decimal("1250.00"), Decimal(15000),
                                               Decimal("2500.50")]
    assert DETECTED in report.notices


def test_a_mixed_column_is_not_guessed_and_names_the_option(tmp_path: Path) -> None:
    path = _csv(tmp_path / "p.csv", "Name;Phone;Amount;Currency\n"
                "A;0781234567;1.250,00;USD\nB;0788765432;1,250.00;USD\n")
    report = validate_sheet(load_sheet(path), RW)
    [problem] = report.problem_list()
    assert problem.row == 2 and "--decimal-comma" in problem.message
    assert DETECTED not in report.notices


def test_decimal_comma_option_reads_dot_thousands(tmp_path: Path) -> None:
    path = _csv(tmp_path / "p.csv", "Name;Phone;Amount;Currency\n"
                "A;0781234567;1.250;RWF\nB;0788765432;RWF 2.000.000;RWF\n")
    assert not validate_sheet(load_sheet(path), RW).ok  # 1.250 is ambiguous without it
    report = validate_sheet(
        load_sheet(path), ValidationOptions(default_country="RW", decimal_comma=True)
    )
    assert report.ok and [r.amount for r in report.rows] == [Decimal(1250), Decimal(2000000)]


@pytest.mark.parametrize(
    "header",
    ["Nom;Téléphone;Montant;Devise;Pays", "Amazina;Telefoni;Amafaranga;Ifaranga;Igihugu",
     "Noms et prénoms;Numéro de téléphone;Net à payer;Monnaie;Pays"],
)
def test_french_and_kinyarwanda_headers(tmp_path: Path, header: str) -> None:
    path = _csv(tmp_path / "p.csv", f"{header}\nAline Uwase;0781234567;15000;RWF;Rwanda\n",
                encoding="utf-8")
    report = validate_sheet(load_sheet(path), ValidationOptions())
    assert report.ok, report.problem_list()
    assert report.rows[0].name == "Aline Uwase" and report.rows[0].currency == "RWF"


def test_a_split_salary_is_not_a_duplicate_but_the_same_currency_is(tmp_path: Path) -> None:
    path = _csv(tmp_path / "p.csv", "Name,Phone,Amount,Currency\n"
                "Musu Dolo,0770123456,300.00,USD\nMusu Dolo,0770123456,20000.00,LRD\n")
    assert validate_sheet(load_sheet(path), LR).ok
    path.write_text(path.read_text() + "Musu Dolo,+231 770 123 456,5.00,USD\n")
    messages = [p.message for p in validate_sheet(load_sheet(path), LR).problem_list()]
    assert messages == [
        "same phone and currency as row(s) 4 (pass --allow-duplicates if each is meant)",
        "same phone and currency as row(s) 2 (pass --allow-duplicates if each is meant)",
    ]


def test_max_amount_per_currency_on_the_command_line(tmp_path: Path) -> None:
    path = _csv(tmp_path / "p.csv", "Name,Phone,Amount,Currency\n"
                "A,0770123456,3500.00,USD\nB,0886123456,450000.00,LRD\n"
                "C,0777123456,600000.00,LRD\n", encoding="utf-8")
    result = CliRunner().invoke(
        main, ["validate", str(path), "--country", "LR", "--json",
               "--max-amount", "USD=3000", "--max-amount", "LRD=500000"],
    )
    rows = {r["row"]: r for r in json.loads(result.stdout)["rows"]}
    assert rows[2]["problems"][0]["message"] == "is above --max-amount USD=3000"
    assert rows[3]["status"] == "valid"
    assert rows[4]["problems"][0]["message"] == "is above --max-amount LRD=500000"
    bad = CliRunner().invoke(main, ["validate", str(path), "--max-amount", "EUR=5"])
    assert bad.exit_code == 2 and "not a supported currency" in bad.output


def test_an_excel_float_shows_its_real_value_and_how_to_round_it(tmp_path: Path) -> None:
    path = tmp_path / "p.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Name", "Phone", "Amount", "Currency"])
    sheet.append(["Musu Dolo", "0770123456", 77013.914999999994, "LRD"])
    sheet["C2"].number_format = "#,##0.00"
    book.save(path)
    [problem] = validate_sheet(load_sheet(path), LR).problem_list()
    assert problem.value.startswith("77013.91")  # the stored value, not the 2-dp display
    assert "=ROUND(..., 2)" in problem.message


def test_an_html_table_saved_as_xls_says_what_it_is(tmp_path: Path) -> None:
    path = tmp_path / "export.xls"
    path.write_text("<html><body><table><tr><td>Name</td><td>Phone</td><td>Amount</td></tr>"
                    "</table></body></html>")
    with pytest.raises(SheetError, match="web page .* save it as .xlsx"):
        load_sheet(path)


def test_a_name_longer_than_200_characters_is_rejected(tmp_path: Path) -> None:
    long_name = "Musu Dolo " + "x" * 200
    path = _csv(tmp_path / "p.csv", f"Name,Phone,Amount,Currency\n{long_name},0770123456,5,USD\n"
                "Sando Kollie,0886123456,5,USD\n", encoding="utf-8")
    report = validate_sheet(load_sheet(path), LR)
    [problem] = report.problem_list()
    assert problem.row == 2 and problem.column == "name"
    assert "longer than 200 characters" in problem.message
