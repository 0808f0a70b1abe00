"""`paybatch review` (issue 17): each finding on crafted batch pairs, and the command itself on a
real ledger file (text, --json, --out review.xlsx)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from batch.cli import main
from batch.ledger import HistoryLine, Ledger, NewRow
from batch.planning.review import History, Kind, ReviewRow, find_changes, largest

PREV = 1  # the previous batch's id in the crafted pairs


def _row(row: int, name: str, phone: str, amount: int, *, ext: str | None = None,
         currency: str = "USD") -> ReviewRow:
    return ReviewRow(row, name, phone, amount, currency, ext)


def _was(row: int, name: str, phone: str, amount: int, *, ext: str | None = None,
         batch: int = PREV, currency: str = "USD") -> HistoryLine:
    return HistoryLine(batch, row, name, phone, amount, currency, ext)


def _findings(rows: list[ReviewRow], before: list[HistoryLine],
              older: list[HistoryLine] = ()) -> list:  # type: ignore[assignment,type-arg]
    history = History.of([*before, *older], {PREV: "oct", 0: "sep"})
    return find_changes(rows, before, history)


BASE = [
    _was(2, "Musu Dolo", "231770000001", 100_000),
    _was(3, "Sando Kollie", "231770000002", 80_000),
    _was(4, "Fatu Kamara", "231770000003", 90_000),
]


def _kinds(findings: list) -> list[tuple[Kind, int | None]]:  # type: ignore[type-arg]
    return [(f.kind, f.row) for f in findings]


def test_same_batch_again_has_no_findings() -> None:
    rows = [_row(2, "Musu Dolo", "231770000001", 100_000),
            _row(3, "sando  KOLLIE", "231770000002", 80_000),  # case and spacing do not count
            _row(4, "Fatu Kamara", "231770000003", 90_000)]
    assert _findings(rows, BASE) == []


def test_new_recipient_points_to_its_row_and_says_never_paid() -> None:
    rows = [_row(2, "Musu Dolo", "231770000001", 100_000),
            _row(3, "Sando Kollie", "231770000002", 80_000),
            _row(4, "Fatu Kamara", "231770000003", 90_000),
            _row(5, "Peter Ghost", "231770000099", 95_000)]
    found = _findings(rows, BASE)
    assert _kinds(found) == [(Kind.NEW, 5)]
    assert "never paid on this ledger" in found[0].message and "'oct'" in found[0].message


def test_missing_recipient_points_to_the_earlier_batch_row() -> None:
    rows = [_row(2, "Musu Dolo", "231770000001", 100_000),
            _row(3, "Fatu Kamara", "231770000003", 90_000)]
    found = _findings(rows, BASE)
    assert _kinds(found) == [(Kind.MISSING, None)]
    assert (found[0].batch, found[0].batch_row, found[0].name) == ("oct", 3, "Sando Kollie")


def test_changed_amount_gives_absolute_and_percent() -> None:
    rows = [_row(2, "Musu Dolo", "231770000001", 110_000),
            _row(3, "Sando Kollie", "231770000002", 80_000),
            _row(4, "Fatu Kamara", "231770000003", 90_000)]
    found = _findings(rows, BASE)
    assert _kinds(found) == [(Kind.AMOUNT_CHANGED, 2)]
    f = found[0]
    assert f.data["before"] == "1000.00" and f.data["after"] == "1100.00"
    assert f.data["change"] == "100.00" and f.data["change_pct"] == "10.0"
    assert "+10.0%" in f.message and f.batch_row == 2


def test_phone_now_under_another_name() -> None:
    rows = [_row(2, "Musu Dolo", "231770000001", 100_000),
            _row(3, "Sando Kollie", "231770000002", 80_000),
            _row(4, "Jacob Impostor", "231770000003", 90_000)]
    found = _findings(rows, BASE)
    assert (Kind.PHONE_OTHER_NAME, 4) in _kinds(found)
    f = next(f for f in found if f.kind is Kind.PHONE_OTHER_NAME)
    assert f.data["earlier_name"] == "Fatu Kamara" and f.batch_row == 4


def test_name_now_at_another_phone_matched_by_employee_id() -> None:
    before = [_was(2, "Musu Dolo", "231770000001", 100_000, ext="E1"),
              _was(3, "Sando Kollie", "231770000002", 80_000, ext="E2")]
    rows = [_row(2, "Musu Dolo", "231880000555", 100_000, ext="E1"),
            _row(3, "Sando Kollie", "231770000002", 80_000, ext="E2")]
    found = _findings(rows, before)
    assert _kinds(found) == [(Kind.NAME_OTHER_PHONE, 2)]  # not "new" + "missing"
    assert found[0].data["earlier_phone"] == "231770000001"


def test_same_phone_on_several_names_in_the_batch() -> None:
    rows = [_row(2, "Musu Dolo", "231770000001", 100_000),
            _row(3, "Sando Kollie", "231770000002", 80_000),
            _row(4, "Fatu Kamara", "231770000003", 90_000),
            _row(5, "Ghost Worker", "231770000002", 70_000)]
    found = _findings(rows, BASE)
    shared = [f.row for f in found if f.kind is Kind.SHARED_PHONE]
    assert shared == [3, 5]
    assert "row 5 (Ghost Worker)" in next(f for f in found if f.row == 3
                                          and f.kind is Kind.SHARED_PHONE).message


def test_amount_far_outside_the_recipients_history() -> None:
    older = [_was(2, "Musu Dolo", "231770000001", 100_000, batch=0)]
    rows = [_row(2, "Musu Dolo", "231770000001", 1_000_000),  # an extra zero
            _row(3, "Sando Kollie", "231770000002", 80_000),
            _row(4, "Fatu Kamara", "231770000003", 90_000)]
    found = _findings(rows, BASE, older)
    history = next(f for f in found if f.kind is Kind.OUTLIER_HISTORY)
    assert history.row == 2 and history.data["ratio"] == "10.00"
    assert "2 earlier amount(s)" in history.message


def test_a_modest_raise_is_not_an_outlier() -> None:
    rows = [_row(2, "Musu Dolo", "231770000001", 150_000),
            _row(3, "Sando Kollie", "231770000002", 80_000),
            _row(4, "Fatu Kamara", "231770000003", 90_000)]
    assert _kinds(_findings(rows, BASE)) == [(Kind.AMOUNT_CHANGED, 2)]


@pytest.mark.parametrize(("odd", "flagged"), [(900_000, True), (200_000, False), (9_000, True)])
def test_amount_far_outside_the_batchs_distribution(odd: int, flagged: bool) -> None:
    rows = [_row(i, f"P{i}", f"23177000{i:04d}", 90_000 + 1000 * i) for i in range(2, 12)]
    rows.append(_row(12, "Odd One", "231770009999", odd))
    found = find_changes(rows, [], History.of([], {}))
    assert ([f.row for f in found if f.kind is Kind.OUTLIER_BATCH] == [12]) is flagged


def test_collections_speak_of_payers() -> None:
    rows = [*(_row(r.sheet_row, r.name or "", r.phone or "", r.amount_minor or 0)
              for r in BASE), _row(9, "New Payer", "231770000111", 5_000)]
    history = History.of(BASE, {PREV: "oct"})
    found = find_changes(rows, BASE, history, party="payer")
    assert found[0].message.startswith("new payer")


def test_largest_per_currency() -> None:
    rows = [_row(i, f"P{i}", "2317", 1000 * i) for i in range(2, 12)]
    rows.append(_row(20, "L", "2318", 5, currency="LRD"))
    top = largest(rows, per_currency=3)
    assert [(x.currency, x.row) for x in top] == [("LRD", 20), ("USD", 11), ("USD", 10),
                                                  ("USD", 9)]


# -- the command on a real ledger ----------------------------------------------------------


def _batch(ledger: Ledger, name: str, rows: list[tuple[str, str, int, str | None]]) -> int:
    return ledger.create_batch(
        name=name, source_file=f"{name}.csv", content_hash=name, payout_set_hash=name,
        rows=[NewRow(sheet_row=i + 2, name=n, phone=p, amount_minor=a, currency="USD",
                     country="LR", reference_id=f"{name}-{i}", external_id=e)
              for i, (n, p, a, e) in enumerate(rows)],
    )


@pytest.fixture
def two_months(tmp_path: Path) -> Path:
    path = tmp_path / "l.db"
    with Ledger(path) as ledger:
        oct_id = _batch(ledger, "oct", [("Musu Dolo", "231770000001", 100_000, "E1"),
                                        ("Sando Kollie", "231770000002", 80_000, "E2"),
                                        ("Fatu Kamara", "231770000003", 90_000, "E3")])
        ledger.mark_batch_started(oct_id)  # run: what was paid last time
        _batch(ledger, "abandoned", [("Peter Ghost", "231770000099", 1, "E9")])  # never run
        _batch(ledger, "nov", [("Musu Dolo", "231880000555", 100_000, "E1"),  # changed phone
                               ("Sando Kollie", "231770000002", 800_000, "E2"),  # extra zero
                               ("Peter Ghost", "231770000099", 95_000, "E9")])  # ghost; E3 gone
    return path


def test_review_command_json_points_each_finding_to_its_row(two_months: Path) -> None:
    result = CliRunner().invoke(main, ["review", "nov", "--ledger", str(two_months), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["compared_with"]["batch"] == "oct" and out["kind"] == "payout"
    got = {(f["kind"], f["row"]) for f in out["findings"]}
    assert {("name_other_phone", 2), ("amount_changed", 3), ("outlier_history", 3),
            ("new", 4), ("missing", None)} <= got
    assert out["totals"]["USD"]["amount"] == "9950.00"
    assert out["largest"][0]["row"] == 3 and len(out["plan_hash"]) == 64
    assert out["required"] == 0 and out["approvals"] == []


def test_review_command_text_and_workbook(two_months: Path, tmp_path: Path) -> None:
    book = tmp_path / "review.xlsx"
    result = CliRunner().invoke(
        main, ["review", "nov", "--ledger", str(two_months), "--out", str(book)]
    )
    assert result.exit_code == 0, result.output
    assert "Compared with oct" in result.stdout and "new recipient" in result.stdout
    sheets = load_workbook(book)
    assert sheets.sheetnames == ["Summary", "Findings", "Largest"]
    findings = list(sheets["Findings"].iter_rows(values_only=True))
    assert findings[0][:2] == ("Sheet row", "Finding")
    assert (4, "new") in {(r[0], r[1]) for r in findings[1:]}


def test_review_of_an_unknown_batch_is_one_clear_line(two_months: Path) -> None:
    result = CliRunner().invoke(main, ["review", "dec", "--ledger", str(two_months)])
    assert result.exit_code == 1
    assert "dec: no such batch" in result.stderr and "Traceback" not in result.output
