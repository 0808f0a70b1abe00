"""The report workbook opens cleanly in LibreOffice (converted headless): its Payouts sheet
reads back with the same rows, exact amounts and neutralised text (issue 16). Skipped where
LibreOffice is not installed."""

from __future__ import annotations

import csv
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from _report_ledger import ROWS, build

from batch.ledger import Ledger
from batch.markets import from_minor
from batch.report.files import load_report, write_report

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
# CSV filter: comma, double quotes, UTF-8, from line 1, ..., sheet 2 (Payouts)
PAYOUTS_CSV = 'csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,2'


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is not installed")
def test_libreoffice_reads_the_report_workbook(tmp_path: Path) -> None:
    built = build(tmp_path / "l.db")
    xlsx = tmp_path / "report.xlsx"
    with Ledger(built.path) as ledger:
        write_report(load_report(ledger, built.batch_id), xlsx)
    assert SOFFICE is not None
    subprocess.run(
        [SOFFICE, "--headless", "--norestore",
         f"-env:UserInstallation=file://{tmp_path / 'profile'}",
         "--convert-to", PAYOUTS_CSV, str(xlsx), "--outdir", str(tmp_path)],
        check=True, capture_output=True, timeout=180,
    )
    with (tmp_path / "report-Payouts.csv").open(encoding="utf-8", newline="") as f:
        lines = list(csv.DictReader(f))
    assert [int(line["Row"]) for line in lines] == sorted([*ROWS, 11])  # 11: skipped
    for line in lines:
        row = int(line["Row"])
        if row != 11:  # skipped: no valid amount
            assert Decimal(line["Amount"]) == from_minor(ROWS[row][2], ROWS[row][3])
    name3 = next(line["Name"] for line in lines if line["Row"] == "3")
    assert name3 == "'" + str(ROWS[3][0])  # a text cell, never a formula
