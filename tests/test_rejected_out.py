"""`--rejected-out`: the invalid rows back in the sheet's own format with a `problems` column and
the original row number; fixed, that file pays as its own batch and nobody is paid twice
(issue 16)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from batch.cli import main
from tests.engine_helpers import QUICK_PAYOUTS, cli, paid_exactly_once, phone


@pytest.fixture
def quick(sandbox):  # type: ignore[no-untyped-def]
    sandbox.set_faults(**QUICK_PAYOUTS)
    return sandbox


def test_csv_rejected_rows_keep_delimiter_encoding_and_cells(tmp_path: Path) -> None:
    source = tmp_path / "paie.csv"
    source.write_bytes(
        "Matricule;Nom;Téléphone;Montant;Devise\r\n"
        "E1;Amélie Uwase;0781234567;1500;RWF\r\n"
        "E2;Zoé Mukamana;12;2000;RWF\r\n"
        "E3;Éric Habimana;0788765432;;RWF\r\n".encode("cp1252")
    )
    out = tmp_path / "a_corriger.csv"
    result = CliRunner().invoke(
        main, ["validate", str(source), "--country", "RW", "--rejected-out", str(out)]
    )
    assert result.exit_code == 1
    assert "2 invalid row(s) written to" in result.output
    text = out.read_bytes().decode("cp1252")  # the source's encoding, not UTF-8
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert rows[0] == ["Matricule", "Nom", "Téléphone", "Montant", "Devise", "problems",
                       "original row"]
    assert [r[:5] for r in rows[1:]] == [
        ["E2", "Zoé Mukamana", "12", "2000", "RWF"], ["E3", "Éric Habimana", "0788765432", "",
                                                      "RWF"],
    ]
    assert [r[6] for r in rows[1:]] == ["3", "4"]
    assert rows[1][5].startswith("phone: ") and rows[2][5] == "amount: amount is missing"


def test_xlsx_rejected_rows_keep_values_and_number_formats(tmp_path: Path) -> None:
    source = tmp_path / "pay.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Payroll"])
    sheet.append(["Name", "Phone", "Amount", "Currency", "Start date"])
    sheet.append(["Musu Dolo", "0770123456", 1250.5, "USD", None])
    sheet.append(["Sando Kollie", "0770", 850, "USD", None])
    sheet.append(["=Not a formula", "0886123456", 1234.567, "USD", None])
    sheet["A5"].data_type = "s"
    for r in (3, 4, 5):
        sheet.cell(r, 3).number_format = "#,##0.00"
    book.save(source)
    out = tmp_path / "fix.xlsx"
    result = CliRunner().invoke(
        main, ["validate", str(source), "--country", "LR", "--rejected-out", str(out)]
    )
    assert result.exit_code == 1, result.output
    rows = list(openpyxl.load_workbook(out).active.iter_rows())  # type: ignore[union-attr]
    assert [c.value for c in rows[0]] == ["Name", "Phone", "Amount", "Currency", "Start date",
                                          "problems", "original row"]
    assert [c.value for c in rows[1]][:4] == ["Sando Kollie", "0770", 850, "USD"]
    assert rows[1][2].number_format == "#,##0.00" and rows[1][6].value == 4
    assert rows[2][0].value == "=Not a formula" and rows[2][0].data_type == "s"
    assert rows[2][2].value == 1234.567 and "decimal" in rows[2][5].value
    assert len(rows) == 3


def test_rejected_out_must_match_the_sheets_format(tmp_path: Path) -> None:
    source = tmp_path / "p.csv"
    source.write_text("name,phone,amount,currency\nA,12,5,USD\n", encoding="utf-8")
    result = CliRunner().invoke(
        main, ["validate", str(source), "--country", "LR", "--rejected-out",
               str(tmp_path / "x.xlsx")]
    )
    assert result.exit_code == 1 and "are written as .csv" in result.output
    assert "Traceback" not in result.output


def test_fix_two_rejected_rows_and_pay_them_nobody_twice(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    phones = [phone(i) for i in range(5)]
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    lines = ["name,phone,amount,currency,country"]
    for i, p in enumerate(phones):
        typed = p[:6] if i in (1, 3) else p  # rows 3 and 5: a phone cut short
        lines.append(f"Person {i},{typed},10.50,USD,LR")
    sheet.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fix = tmp_path / "nov-fix.csv"
    code, out, err = cli(
        ["run", str(sheet), "--yes", "--skip-invalid", "--rejected-out", str(fix)],
        quick.base_url, ledger,
    )
    assert code == 6, err  # settled, two rows left out (issue 13's exit code)
    assert out["counts"]["COMPLETED"] == 3 and out["counts"]["SKIPPED"] == 2
    with fix.open(encoding="utf-8", newline="") as f:
        rejected = list(csv.DictReader(f))
    assert [r["original row"] for r in rejected] == ["3", "5"]
    for r in rejected:  # the user types the right numbers in
        r["phone"] = phones[int(r["original row"]) - 2]
    with fix.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rejected[0]))
        writer.writeheader()
        writer.writerows(rejected)
    code, out, err = cli(["run", str(fix), "--yes"], quick.base_url, ledger)
    assert code == 0, err
    assert {s: n for s, n in out["counts"].items() if n} == {"COMPLETED": 2}
    assert paid_exactly_once(quick, phones) == {}  # everybody once, nobody twice
    code, out, err = cli(["run", str(fix), "--yes"], quick.base_url, ledger)  # again: no-op
    assert paid_exactly_once(quick, phones) == {}
