"""Two-person release end to end (issue 17): the CLI against the real sandbox over loopback.

`run` refuses (exit 5) an unapproved batch, or one whose plan changed after approval, and
sends nothing; the sandbox's own record says who was paid.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from batch.cli import main
from batch.ledger import Ledger
from batch.planning import signing
from tests.engine_helpers import QUICK_PAYOUTS, cli, nonzero, paid_exactly_once, write_sheet


@pytest.fixture
def quick(sandbox):  # type: ignore[no-untyped-def]
    sandbox.set_faults(**QUICK_PAYOUTS)
    return sandbox


def approve(ledger: Path, *args: str, **env: str) -> tuple[int, dict[str, Any], str]:
    """`paybatch approve ... --json` (ledger only: no --base-url)."""
    result = CliRunner().invoke(
        main, ["approve", *args, "--ledger", str(ledger), "--json"], env=env
    )
    out = result.stdout.strip()
    return result.exit_code, json.loads(out) if out else {}, result.stderr


def events(ledger: Path, name: str) -> list[str]:
    with Ledger(ledger) as book:
        batch = book.batch_by_name(name)
        assert batch is not None
        return [e.to_state or "" for e in book.events(batch.id) if e.row_id is None]


def test_unapproved_batch_is_refused_with_exit_5_then_paid_once_approved(  # type: ignore[no-untyped-def]
    quick, tmp_path: Path
) -> None:
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    phones = write_sheet(sheet, 3)
    code, out, err = cli(["plan", str(sheet), "--require-approvals", "1", "--as", "alice"],
                         quick.base_url, ledger)
    assert code == 0, out
    assert "approval required before paying" in err and "other than alice" in err
    code, out, err = cli(["run", "nov", "--yes"], quick.base_url, ledger)  # cron: --yes --json
    assert code == 5 and out["exit_code"] == 5 and out["error_type"] == "ApprovalError"
    assert "needs 1 approval(s)" in err and "nothing was sent" in err
    assert quick.executions() == []
    assert approve(ledger, "nov", "--as", "alice")[0] == 1  # the maker may not approve
    code, done, _ = approve(ledger, "nov", "--as", "bob")
    assert code == 0 and done["satisfied"]
    # Planning the same sheet again changes nothing: the approval still holds.
    assert cli(["plan", str(sheet)], quick.base_url, ledger)[0] == 0
    code, out, err = cli(["run", str(sheet), "--yes"], quick.base_url, ledger)
    assert code == 0 and nonzero(out["counts"]) == {"COMPLETED": 3}
    assert f"approved by bob (plan {done['plan_hash'][:16]})" in err
    assert paid_exactly_once(quick, phones) == {}
    report = tmp_path / "nov.json"
    result = CliRunner().invoke(main, ["report", "nov", "--ledger", str(ledger), "--out",
                                       str(report)])
    assert result.exit_code == 0
    shown = json.loads(report.read_text())["summary"]["approvals"]
    assert shown["approved_by"] == ["bob"] and shown["maker"] == "alice"
    assert shown["plan_hash"] == done["plan_hash"]


def test_policy_from_the_environment_at_run_time_also_applies(  # type: ignore[no-untyped-def]
    quick, tmp_path: Path
) -> None:
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 2)
    assert cli(["plan", str(sheet)], quick.base_url, ledger)[0] == 0  # no policy recorded
    code, _, err = cli(["run", "nov", "--yes"], quick.base_url, ledger,
                       PAYBATCH_REQUIRE_APPROVALS="1")
    assert code == 5 and "needs 1 approval(s)" in err
    assert quick.executions() == []


def test_tier_needs_two_distinct_approvers_above_its_amount(  # type: ignore[no-untyped-def]
    quick, tmp_path: Path
) -> None:
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 3, amount="10.00")  # 30.00 plus fees
    code, _, _ = cli(["plan", str(sheet), "--approval-tier", "USD=25:2", "--as", "alice"],
                     quick.base_url, ledger)
    assert code == 0
    assert approve(ledger, "nov", "--as", "bob")[1]["required"] == 2
    code, _, err = cli(["run", "nov", "--yes"], quick.base_url, ledger)
    assert code == 5 and "needs 2 approval(s)" in err and "exceeds 25" in err
    assert quick.executions() == []
    assert approve(ledger, "nov", "--as", "carol")[1]["satisfied"]
    assert cli(["run", "nov", "--yes"], quick.base_url, ledger)[0] == 0


def test_a_batch_under_the_tier_needs_no_approval(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 1, amount="10.00")
    code, out, _ = cli(["run", str(sheet), "--yes", "--approval-tier", "USD=25:2"],
                       quick.base_url, ledger)
    assert code == 0 and nonzero(out["counts"]) == {"COMPLETED": 1}


def test_edited_sheet_after_approval_is_refused_and_voids_it(  # type: ignore[no-untyped-def]
    quick, tmp_path: Path
) -> None:
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 3)
    assert cli(["plan", str(sheet), "--require-approvals", "1", "--as", "alice"],
               quick.base_url, ledger)[0] == 0
    assert approve(ledger, "nov", "--as", "bob")[0] == 0
    write_sheet(sheet, 3, amount="99.00")  # edited under the same name after approval
    code, out, err = cli(["run", str(sheet), "--yes"], quick.base_url, ledger)
    assert code == 5 and "approval is now void" in err and "nothing was sent" in err
    assert quick.executions() == []
    assert events(ledger, "nov")[-1] == "APPROVAL_VOIDED"
    code, _, err = cli(["run", "nov", "--yes"], quick.base_url, ledger)
    assert code == 5 and "edited sheet" in err  # the batch itself needs a new approval now


def test_retry_failed_is_a_new_plan_that_needs_a_new_approval(  # type: ignore[no-untyped-def]
    quick, tmp_path: Path
) -> None:
    quick.set_faults(payout_failure_rate=1.0)
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    phones = write_sheet(sheet, 2)
    assert cli(["plan", str(sheet), "--require-approvals", "1", "--as", "alice"],
               quick.base_url, ledger)[0] == 0
    assert approve(ledger, "nov", "--as", "bob")[0] == 0
    assert cli(["run", "nov", "--yes"], quick.base_url, ledger)[0] == 3
    sent = len(quick.executions())
    quick.set_faults(payout_failure_rate=0.0)
    code, _, err = cli(["run", "nov", "--yes", "--retry-failed"], quick.base_url, ledger)
    assert code == 5 and "--retry-failed made new attempts for row(s) 2, 3" in err
    assert len(quick.executions()) == sent  # nothing new sent
    assert events(ledger, "nov")[-2:] == ["APPROVED", "APPROVAL_VOIDED"]
    assert approve(ledger, "nov", "--as", "bob")[0] == 0
    code, out, _ = cli(["run", "nov", "--yes"], quick.base_url, ledger)
    assert code == 0 and nonzero(out["counts"]) == {"COMPLETED": 2}
    assert paid_exactly_once(quick, phones) == {}


def test_a_forged_signed_approval_is_refused(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key = tmp_path / "grace.key"
    public = signing.generate_key(key)
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 2)
    assert cli(["plan", str(sheet), "--approver-pubkey", public, "--as", "alice"],
               quick.base_url, ledger)[0] == 0
    code, done, _ = approve(ledger, "nov", "--as", "grace", PAYBATCH_APPROVER_KEY=str(key))
    assert code == 0 and done["approvals"][0]["signature"] == "verified"
    # Someone with write access to the ledger raises an amount and re-points the approval.
    with sqlite3.connect(ledger) as db:
        db.execute("UPDATE rows SET amount_minor = 500000 WHERE sheet_row = 2")
    with Ledger(ledger) as book:
        from batch.planning.release import current_plan_hash, find_batch

        forged = current_plan_hash(book, find_batch(book, "nov"))
    with sqlite3.connect(ledger) as db:
        db.execute("UPDATE approvals SET plan_hash = ?", (forged,))
    code, _, err = cli(["run", "nov", "--yes"], quick.base_url, ledger)
    assert code == 5 and "signature does not verify" in err
    assert quick.executions() == []


def test_readme_story_flags_the_ghost_and_the_changed_phone(  # type: ignore[no-untyped-def]
    quick, tmp_path: Path, samples: Path
) -> None:
    ledger = tmp_path / "l.db"
    assert cli(["run", str(samples / "payroll_liberia.csv"), "--yes", "--batch-name",
                "payroll-october", "--period", "2026-10"], quick.base_url, ledger)[0] == 0
    code, _, _ = cli(["plan", str(samples / "payroll_liberia_next.csv"), "--as", "Alice",
                      "--period", "2026-11", "--repeat-window", "0"],
                     quick.base_url, ledger, PAYBATCH_REQUIRE_APPROVALS="1")
    assert code == 0
    result = CliRunner().invoke(
        main, ["review", "payroll_liberia_next", "--ledger", str(ledger), "--json"]
    )
    found = {(f["kind"], f["row"]) for f in json.loads(result.stdout)["findings"]}
    assert {("new", 26), ("name_other_phone", 9), ("amount_changed", 19),
            ("missing", None)} == found
    sent = len(quick.executions())
    assert cli(["run", "payroll_liberia_next", "--yes"], quick.base_url, ledger)[0] == 5
    assert len(quick.executions()) == sent
    assert approve(ledger, "payroll_liberia_next", "--as", "Grace")[0] == 0
    assert cli(["run", "payroll_liberia_next", "--yes"], quick.base_url, ledger)[0] == 0
    book = tmp_path / "r.xlsx"
    CliRunner().invoke(main, ["report", "payroll_liberia_next", "--ledger", str(ledger),
                              "--out", str(book)])
    from openpyxl import load_workbook

    cells = [c for row in load_workbook(book)["Summary"].iter_rows(values_only=True)
             for c in row if isinstance(c, str)]
    assert any(c.startswith("Approvals: 1 of 1") for c in cells) and "Grace" in cells


def test_keys_in_the_runs_environment_refuse_unsigned_approvals(  # type: ignore[no-untyped-def]
    quick, tmp_path: Path
) -> None:
    key = tmp_path / "grace.key"
    public = signing.generate_key(key)
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 2)
    assert cli(["plan", str(sheet), "--require-approvals", "1", "--as", "alice"],
               quick.base_url, ledger)[0] == 0
    assert approve(ledger, "nov", "--as", "bob")[0] == 0  # a claim, not signed
    code, _, err = cli(["run", "nov", "--yes"], quick.base_url, ledger,
                       PAYBATCH_APPROVER_KEYS=public)
    assert code == 5 and "not signed by a key the policy allows" in err
    assert quick.executions() == []
    assert approve(ledger, "nov", "--as", "grace", PAYBATCH_APPROVER_KEY=str(key))[0] == 0
    code, out, _ = cli(["run", "nov", "--yes"], quick.base_url, ledger,
                       PAYBATCH_APPROVER_KEYS=public)
    assert code == 0 and nonzero(out["counts"]) == {"COMPLETED": 2}


def test_cron_run_of_an_unapproved_sheet_exits_5_and_sends_nothing(  # type: ignore[no-untyped-def]
    quick, tmp_path: Path
) -> None:
    import subprocess
    import sys

    from tests.engine_helpers import subprocess_env

    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 2)
    env = {**subprocess_env(quick.base_url, ledger), "PAYBATCH_REQUIRE_APPROVALS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "batch", "run", str(sheet), "--yes", "--json"],
        env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 5, done.stderr
    assert json.loads(done.stdout)["exit_code"] == 5 and "Traceback" not in done.stderr
    assert quick.executions() == []
