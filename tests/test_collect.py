"""`paybatch collect` end to end against the sandbox: the sample's payers approve, decline,
time out and lack funds; re-requests on later runs; cancel; cron exit codes; the report."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
from click.testing import CliRunner

from batch.cli import main
from batch.ledger import Ledger
from tests.collect_helpers import QUICK_PAYERS, collection_disagreements
from tests.engine_helpers import cli

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "collections_liberia.csv"
BATCH = "collections_liberia"


def _local(args: list[str], ledger: Path) -> tuple[int, dict[str, Any]]:
    """A ledger-only command (status, report), in-process."""
    result = CliRunner().invoke(main, [*args, "--ledger", str(ledger)], catch_exceptions=False)
    out = result.stdout.strip()
    return result.exit_code, json.loads(out) if out.startswith("{") else {}


def _collect(sandbox: Any, ledger: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    return cli(["collect", *args, "--wait", "30"], sandbox.base_url, ledger)


def test_the_sample_collects_then_re_requests_until_requests_are_used_up(
    sandbox: Any, tmp_path: Path
) -> None:
    sandbox.set_faults(**QUICK_PAYERS)
    ledger = tmp_path / "l.db"
    code, out, err = _collect(sandbox, ledger, str(SAMPLE), "--yes", "--re-request-after", "0s")
    assert code == 4, err
    # 91 declines, 92 never answers, 93 lacks funds, 94 declines its first request.
    assert out["invoices"] == {"PAID": 4, "DUE": 4}
    assert out["totals"]["USD"] == {"invoices": 7, "requested": "615.00", "fees": "21.49",
                                    "fee_bearer": "PAYER", "fx_invoices": 0,
                                    "payer_debits": {"USD": "636.49"}}
    assert not collection_disagreements(sandbox, ledger, BATCH)
    by_phone = {c.phone: c for c in sandbox.collections()}
    assert by_phone["231770000192"].gateway_message.startswith("The payment request expired")
    # Cron, later: the due ones are asked again on the same invoice; 94 pays this time.
    code, out, _ = _collect(sandbox, ledger, BATCH)
    assert (code, out["re_requested"], out["invoices"]) == (4, 4, {"PAID": 5, "DUE": 3})
    code, out, _ = _collect(sandbox, ledger, BATCH)
    assert (code, out["invoices"]) == (3, {"PAID": 5, "EXHAUSTED": 3})
    # Nothing more is sent once the requests are used up.
    before = len(sandbox.collections())
    code, out, _ = _collect(sandbox, ledger, BATCH)
    assert code == 3 and len(sandbox.collections()) == before
    assert not collection_disagreements(sandbox, ledger, BATCH)
    # Each re-request is a new reference_id on the same invoice, linked to the last.
    with Ledger(ledger) as db:
        batch = db.batch_by_name(BATCH)
        assert batch is not None
        row = next(r for r in db.rows(batch.id) if r.phone == "231770000191")
        assert [a.previous_reference_id for a in row.attempts][1:] == [
            a.reference_id for a in row.attempts[:-1]]
        invoice_ids = {c.invoice_id for c in sandbox.collections(phone="231770000191")}
        assert len(invoice_ids) == 1 and len(row.attempts) == 3
        paid = next(r for r in db.rows(batch.id) if r.phone == "231770000102")
        receipt = db.invoice_record(paid.id)
        assert receipt is not None and receipt.receipt is not None
        assert receipt.source_status == "PAID"
        assert [i["name"] for i in receipt.receipt["items"]] == [
            "Term 2 tuition", "Exercise books", "Uniform"]


def test_a_request_is_not_repeated_before_it_is_due(sandbox: Any, tmp_path: Path) -> None:
    sandbox.set_faults(**QUICK_PAYERS)
    ledger = tmp_path / "l.db"
    code, out, _ = _collect(sandbox, ledger, str(SAMPLE), "--yes")  # default: 24 h later
    assert code == 4 and out["invoices"] == {"PAID": 4, "LATER": 4}
    assert out["next_due"] is not None
    sent = len(sandbox.collections())
    code, out, _ = _collect(sandbox, ledger, BATCH)
    assert code == 4 and out["re_requested"] == 0 and len(sandbox.collections()) == sent
    # A policy given on the command line is the batch's from then on.
    code, out, _ = _collect(sandbox, ledger, BATCH, "--re-request-after", "0s",
                            "--max-requests", "2")
    assert out["re_requested"] == 4 and len(sandbox.collections()) == sent + 4
    code, status = _local(["status", BATCH, "--json"], ledger)
    assert code == 3 and status["exit_code"] == 3  # 91, 92, 93 used their 2 requests


def test_cancel_stops_the_re_requests_and_cancels_the_invoice(
    sandbox: Any, tmp_path: Path
) -> None:
    sandbox.set_faults(**QUICK_PAYERS)
    ledger = tmp_path / "l.db"
    _collect(sandbox, ledger, str(SAMPLE), "--yes", "--re-request-after", "0s")
    code, out, _ = cli(["cancel", BATCH, "--rows", "7,8,9,10,2", "--reason", "paid in cash"],
                       sandbox.base_url, ledger)
    # Row 2 is PAID: left alone; the four unpaid ones are cancelled at the API.
    assert code == 0 and sorted(out["cancelled"]) == [7, 8, 9, 10]
    cancelled = [i for i in sandbox.invoices() if i.status == "CANCELED"]
    assert len(cancelled) == 4
    code, out, _ = _collect(sandbox, ledger, BATCH)
    assert code == 0 and out["invoices"] == {"PAID": 4, "CANCELLED": 4}
    assert out["re_requested"] == 0


def test_the_report_and_status_match_the_ledger_and_the_sandbox(
    sandbox: Any, tmp_path: Path
) -> None:
    sandbox.set_faults(**QUICK_PAYERS)
    ledger = tmp_path / "l.db"
    code, out, _ = _collect(sandbox, ledger, str(SAMPLE), "--yes")
    assert code == 4
    book = openpyxl.load_workbook(Path(out["report"]), read_only=True)
    assert book.sheetnames == ["Summary", "Invoices", "Attempts", "Collection", "Ageing"]
    header = next(book["Invoices"].iter_rows(max_row=1, values_only=True))
    assert "Invoice" in header and "Requests and outcomes" in header
    code, _ = _local(["report", BATCH, "--out", str(tmp_path / "r.json")], ledger)
    assert code == 0
    data = json.loads((tmp_path / "r.json").read_text())
    by_currency = {t["currency"]: t for t in data["collection"]}
    debits = sandbox.collections(status="COMPLETED")
    for currency in ("USD", "LRD"):
        collected = sum((c.amount for c in debits if c.currency == currency), Decimal(0))
        fees = sum((c.fee for c in debits if c.currency == currency), Decimal(0))
        assert Decimal(by_currency[currency]["collected"]) == collected
        assert Decimal(by_currency[currency]["fees"]) == fees
    usd = by_currency["USD"]
    assert (usd["requested"], usd["outstanding"], usd["collection_rate"]) == (
        "615.00", "415.00", "32.5%")
    assert data["ageing"] == [{"currency": "USD", "age": "0-1", "invoices": 4,
                               "outstanding": "415.00"}]
    kollie = next(i for i in data["invoices"] if i["phone"] == "231770000102")
    assert kollie["items"].startswith("1 x Term 2 tuition @ 120.00; 6 x Exercise books")
    assert kollie["invoice_status"] == "PAID" and kollie["platform_fee"] == "2.48"
    declined = next(i for i in data["invoices"] if i["phone"] == "231770000191")
    assert "declined" in declined["request_history"] and declined["days_unpaid"] == 0
    # status --json says the same, and exits as the campaign stands (4: due later).
    code, status = _local(["status", BATCH, "--json"], ledger)
    assert code == 4 and status["collection"] == data["collection"]
    # reconcile settles a collection batch with the collection's calls; run refuses it.
    code, _, _ = cli(["reconcile", BATCH, "--wait", "5"], sandbox.base_url, ledger)
    assert code == 4
    code, _, err = cli(["run", BATCH, "--yes"], sandbox.base_url, ledger)
    assert code == 1 and "paybatch collect" in err


def test_a_bad_collection_sheet_names_row_and_column(sandbox: Any, tmp_path: Path) -> None:
    sheet = tmp_path / "bad.csv"
    sheet.write_text(
        "Payer,Phone,Invoice,Item,Quantity,Unit price,Currency,Country\n"
        "Ann,231770000301,A1,Books,two,1.50,USD,LR\n"
        "Ann,231770000301,A1,Fees,1,10,USD,LR\n"
        "Ben,231770000302,B1,Fees,1,10,USD,LR\n"
        "Bob,231770000303,B1,Fees,1,10,USD,LR\n",
        encoding="utf-8",
    )
    code, out, err = cli(["collect", str(sheet), "--yes"], sandbox.base_url, tmp_path / "l.db")
    assert code == 1, err
    text = json.dumps(out) + err
    assert "row 2, qty 'two'" in text and "row 5, phone" in text
    assert not sandbox.invoices()


def test_a_payer_with_two_invoices_has_one_request_pending_at_a_time(
    sandbox: Any, tmp_path: Path
) -> None:
    sandbox.set_faults(**QUICK_PAYERS)
    sheet = tmp_path / "two.csv"
    sheet.write_text(
        "Payer,Phone,Invoice,Item,Amount,Currency,Country\n"
        "Ann Kollie,231770000401,A1,Term fees,50.00,USD,LR\n"
        "Ann Kollie,231770000401,A2,Books,12.00,USD,LR\n"
        "Ben Doe,231770000402,,Dues,10.00,USD,LR\n",
        encoding="utf-8",
    )
    ledger = tmp_path / "l.db"
    code, out, err = cli(["collect", str(sheet), "--yes", "--wait", "30"], sandbox.base_url,
                         ledger)
    # Ann's second invoice waits for her first request to be settled: the next run.
    assert code == 4 and out["invoices"] == {"PAID": 2, "OPEN": 1}, err
    assert len(sandbox.collections(phone="231770000401")) == 1
    code, out, _ = cli(["collect", "two", "--wait", "30"], sandbox.base_url, ledger)
    assert code == 0 and out["invoices"] == {"PAID": 3}
    first, second = sandbox.collections(phone="231770000401")
    assert first.status == "COMPLETED" and second.created_at > first.created_at
    assert not collection_disagreements(sandbox, ledger, "two")


def test_no_request_without_yes_off_a_terminal(sandbox: Any, tmp_path: Path) -> None:
    code, _, err = cli(["collect", str(SAMPLE)], sandbox.base_url, tmp_path / "l.db")
    assert code == 5 and "--yes" in err
    assert not sandbox.invoices() and not sandbox.collections()


def test_skip_invalid_collects_the_valid_invoices_and_keeps_the_others_recorded(
    sandbox: Any, tmp_path: Path
) -> None:
    sandbox.set_faults(**QUICK_PAYERS)
    sheet = tmp_path / "mixed.csv"
    sheet.write_text(
        "Payer,Phone,Invoice,Item,Quantity,Unit price,Currency,Country\n"
        "Ann,231770000301,A1,Books,two,1.50,USD,LR\n"  # bad quantity: invoice A1 left out
        "Ann,231770000301,A1,Fees,1,10,USD,LR\n"
        "Cee,231770000304,C1,Fees,1,12,USD,LR\n"
        "Dee,12345,,Fees,1,7,USD,LR\n"  # bad phone
        "Eve,231770000305,,Dues,1,8.50,USD,LR\n",
        encoding="utf-8",
    )
    ledger = tmp_path / "l.db"
    rejected = tmp_path / "rejected.csv"
    # Without --skip-invalid: nothing recorded, nothing requested, the rows written out.
    code, _, err = cli(["collect", str(sheet), "--yes", "--rejected-out", str(rejected)],
                       sandbox.base_url, ledger)
    assert code == 1 and "--skip-invalid" in err and str(rejected) in err
    assert not sandbox.invoices()
    lines = rejected.read_text(encoding="utf-8").splitlines()
    assert lines[0].endswith(",problems,original row")
    assert [line.rsplit(",", 1)[1] for line in lines[1:]] == ["2", "3", "5"]
    assert "qty: is not a whole number" in lines[1] and "belongs to an invoice with an invalid row" in lines[2]
    # With it: the two valid invoices are collected; the three rows are kept as SKIPPED.
    code, out, err = _collect(sandbox, ledger, str(sheet), "--yes", "--skip-invalid")
    assert code == 0, err
    assert out["rows"]["COMPLETED"] == 2 and out["rows"]["SKIPPED"] == 3
    assert sorted(c.phone for c in sandbox.collections(status="COMPLETED")) == [
        "231770000304", "231770000305"]
    with Ledger(ledger) as db:
        batch = db.batch_by_name("mixed")
        assert batch is not None
        skipped = {r.sheet_row: r for r in db.rows(batch.id) if r.state.value == "SKIPPED"}
    assert sorted(skipped) == [2, 3, 5]
    assert "qty" in (skipped[2].failure_reason or "")
    assert not collection_disagreements(sandbox, ledger, "mixed")
    code, status = _local(["status", "mixed", "--json"], ledger)
    assert code == 0 and status["counts"]["SKIPPED"] == 3
