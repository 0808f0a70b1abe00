"""The engine end to end: the CLI against the real sandbox over loopback, with faults."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from batch.engine.states import RowState
from batch.ledger import Ledger
from tests.engine_helpers import QUICK_PAYOUTS, cli, nonzero, paid_exactly_once, phone, write_sheet


@pytest.fixture
def quick(sandbox):  # type: ignore[no-untyped-def]
    sandbox.set_faults(**QUICK_PAYOUTS)
    return sandbox


def test_run_pays_every_row_once_and_again_changes_nothing(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    phones = write_sheet(sheet, 12)
    code, out, _ = cli(["run", str(sheet), "--yes"], quick.base_url, ledger)
    assert code == 0, out
    assert out["batch"] == "nov" and nonzero(out["counts"]) == {"COMPLETED": 12}
    assert out["exit_code"] == 0
    assert out["money"]["USD"]["paid"] == out["money"]["USD"]["sheet"] == "126.00"
    assert paid_exactly_once(quick, phones) == {}
    code, out, _ = cli(["run", str(sheet), "--yes"], quick.base_url, ledger)
    assert code == 0 and nonzero(out["counts"]) == {"COMPLETED": 12}
    assert len(quick.executions()) == 12  # nothing sent the second time
    rows = Ledger(ledger).rows(out["batch_id"])
    assert all(r.current_attempt and r.current_attempt.provider_transaction_id for r in rows)


def test_plan_records_the_batch_and_predictions_without_paying(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 4)
    code, out, _ = cli(["plan", str(sheet)], quick.base_url, ledger)
    assert code == 0 and out["created"] is True and nonzero(out["counts"]) == {"NEW": 4}
    assert sum(out["totals"]["USD"]["operators"].values()) == 4
    assert out["totals"]["USD"]["fees"] != "0"
    code, again, _ = cli(["plan", str(sheet)], quick.base_url, ledger)
    assert code == 0 and again["created"] is False and again["batch_id"] == out["batch_id"]
    assert quick.executions() == []
    refs = [r.current_reference_id for r in Ledger(ledger).rows(out["batch_id"])]
    assert len(set(refs)) == 4 and None not in refs


def test_name_reused_for_other_content_is_refused(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ledger = tmp_path / "l.db"
    write_sheet(tmp_path / "a.csv", 3)
    write_sheet(tmp_path / "b.csv", 3, amount="11.00")
    assert (
        cli(["plan", str(tmp_path / "a.csv"), "--batch-name", "nov"], quick.base_url, ledger)[0]
        == 0
    )
    code, _, err = cli(
        ["plan", str(tmp_path / "b.csv"), "--batch-name", "nov"], quick.base_url, ledger
    )
    assert code == 1 and "already used" in err


def test_repeat_guard_refuses_a_recent_copy_unless_allowed(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ledger = tmp_path / "l.db"
    write_sheet(tmp_path / "nov.csv", 3)
    write_sheet(tmp_path / "nov-copy.csv", 3)
    assert cli(["plan", str(tmp_path / "nov.csv")], quick.base_url, ledger)[0] == 0
    code, _, err = cli(["plan", str(tmp_path / "nov-copy.csv")], quick.base_url, ledger)
    assert code == 1 and "'nov'" in err and "--allow-repeat" in err
    code, _, _ = cli(
        ["plan", str(tmp_path / "nov-copy.csv"), "--repeat-window", "0"], quick.base_url, ledger
    )
    assert code == 1  # outside the window but the same pay period (issue 11)
    code, _, _ = cli(
        ["plan", str(tmp_path / "nov-copy.csv"), "--repeat-window", "0", "--period", "2031-01"],
        quick.base_url, ledger,
    )
    assert code == 0  # outside the window, another period: next month's identical payroll
    write_sheet(tmp_path / "third.csv", 3)
    assert (
        cli(["plan", str(tmp_path / "third.csv"), "--allow-repeat"], quick.base_url, ledger)[0] == 0
    )


def test_invalid_rows_refused_or_kept_as_skipped(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sheet, ledger = tmp_path / "mixed.csv", tmp_path / "l.db"
    write_sheet(sheet, 3)
    sheet.write_text(sheet.read_text() + "Bad Number,12345,10.00,USD,LR\n")
    code, _, err = cli(["run", str(sheet), "--yes"], quick.base_url, ledger)
    assert code == 1 and "invalid" in err and quick.executions() == []
    assert not ledger.exists()  # issue 13: refused input leaves no ledger behind
    code, out, _ = cli(["run", str(sheet), "--yes", "--skip-invalid"], quick.base_url, ledger)
    # Issue 13: rows left out are not "every row completed": exit 6, said in the last line.
    assert code == 6 and nonzero(out["counts"]) == {"COMPLETED": 3, "SKIPPED": 1}
    assert out["skipped"] == 1 and "NOT paid: 1 SKIPPED" in out["last_line"]
    assert out["money"]["USD"]["skipped"] == "10.00" and out["money"]["USD"]["reconciles"]
    skipped = Ledger(ledger).rows(out["batch_id"], states=[RowState.SKIPPED])
    assert skipped[0].sheet_row == 5 and skipped[0].problems


def test_guards_abort_with_exit_5(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 3)
    code, _, err = cli(["run", str(sheet)], quick.base_url, ledger)  # no TTY, no --yes
    assert code == 5 and "--yes" in err
    code, out, err = cli(
        ["run", str(sheet), "--yes", "--max-total", "USD=20"], quick.base_url, ledger
    )
    assert code == 5 and "exceeds --max-total" in err
    # --json: the reason is on stdout too, for a cron job that parses it
    assert out["exit_code"] == 5 and out["error_type"] == "AbortedError"
    assert out["error"] in err
    assert quick.executions() == []


def test_base_url_without_credentials_is_a_config_error(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from batch.cli import main

    write_sheet(tmp_path / "nov.csv", 1)
    result = CliRunner().invoke(
        main,
        [
            "plan",
            str(tmp_path / "nov.csv"),
            "--base-url",
            "http://127.0.0.1:9",
            "--ledger",
            str(tmp_path / "l.db"),
        ],
        env={"DOLLR_CLIENT_ID": "", "DOLLR_CLIENT_SECRET": "", "DOLLR_PASSCODE": ""},
    )
    assert result.exit_code == 1 and "DOLLR_CLIENT_ID" in result.stderr


def test_faults_drops_5xx_429_short_sessions_and_tokens_still_pay_once(
    sandbox, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    sandbox.set_faults(
        **QUICK_PAYOUTS,
        drop_rate=0.3,
        drop_endpoints=["executions.*"],
        error_rate=0.15,
        status_visibility_delay_seconds=0.3,
        session_lifetime_seconds=1.0,
        token_lifetime_seconds=1.5,
        rate_limit_rps=80,
        retry_after_seconds=1,
    )
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    phones = write_sheet(sheet, 16)
    for _ in range(6):
        code, out, _ = cli(["run", str(sheet), "--yes", "--wait", "10"], sandbox.base_url, ledger)
        if code == 0:
            break
    assert code == 0, out
    assert paid_exactly_once(sandbox, phones) == {}
    stats = sandbox.stats()
    assert stats["faults"]  # faults were really injected
    db = Ledger(ledger)
    events = db.events(out["batch_id"])
    # A dropped answer goes through UNKNOWN. (At drop_rate 0.3, 1 run in ~300 drops none of
    # the 16 executes: the sandbox's draws depend on test order.)
    if stats["faults"].get("dropped", 0):
        assert any(e.to_state == "UNKNOWN" for e in events)


def test_slow_processing_gives_exit_4_then_reconcile_settles(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sandbox.set_faults(pending_seconds=0.1, processing_seconds=2.0)
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    phones = write_sheet(sheet, 4)
    code, out, _ = cli(["run", str(sheet), "--yes", "--wait", "0.2"], sandbox.base_url, ledger)
    assert code == 4 and out["in_flight"] == 4 and nonzero(out["counts"]) == {"SUBMITTED": 4}
    code, out, _ = cli(["reconcile", "nov", "--wait", "10"], sandbox.base_url, ledger)
    assert code == 0 and nonzero(out["counts"]) == {"COMPLETED": 4}
    assert paid_exactly_once(sandbox, phones) == {}


def test_failed_payouts_exit_3_and_retry_failed_pays_them_once(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    quick.set_faults(payout_failure_rate=1.0)
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    phones = write_sheet(sheet, 3)
    code, out, _ = cli(["run", str(sheet), "--yes"], quick.base_url, ledger)
    assert code == 3 and nonzero(out["counts"]) == {"FAILED": 3}
    quick.set_faults(payout_failure_rate=0.0)
    code, out, _ = cli(["run", "nov", "--yes"], quick.base_url, ledger)
    assert code == 3  # without --retry-failed nothing new starts
    code, out, _ = cli(["run", "nov", "--yes", "--retry-failed"], quick.base_url, ledger)
    assert code == 0 and nonzero(out["counts"]) == {"COMPLETED": 3}
    assert paid_exactly_once(quick, phones) == {}
    row = Ledger(ledger).rows(out["batch_id"])[0]
    assert len(row.attempts) == 2
    assert row.attempts[1].previous_reference_id == row.attempts[0].reference_id


def test_short_wallet_pauses_only_its_currency(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 13: a short USD wallet pauses USD only; LRD goes on; unsent USD rows stay NEW;
    the message says how much finishing needs; a plain rerun adds no FAILED rows."""
    quick.set_balances(USD="25.00")  # two payouts of 10.50 plus fees at most
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    lines = ["name,phone,amount,currency,country"]
    lines += [f"U{i},{phone(i)},10.50,USD,LR" for i in range(8)]
    lines += [f"L{i},{phone(100 + i)},500.00,LRD,LR" for i in range(4)]
    sheet.write_text("\n".join(lines) + "\n")
    code, out, err = cli(["run", str(sheet), "--yes", "--concurrency", "1"], quick.base_url,
                         ledger)
    assert code == 3 and out["stopped"] is None
    assert out["money"]["LRD"]["paid"] == "2000.00" and out["money"]["LRD"]["rows"]["paid"] == 4
    usd = out["money"]["USD"]
    assert usd["rows"]["failed"] == 1 and usd["rows"]["paid"] == 2 and usd["rows"]["not_sent"] == 5
    assert out["counts"]["NEW"] == 5  # not sent, not FAILED
    short = out["wallet_short"]["USD"]
    assert short["rows"] == 6 and Decimal(short["payouts"]) == Decimal("63.00")
    assert Decimal(short["needed"]) == Decimal(short["payouts"]) + Decimal(short["fees"])
    assert "fund the USD wallet" in err and "--retry-failed" in err
    # Rerun without funding: USD stays paused, nothing new FAILS.
    code, again, err = cli(["run", "nov", "--yes", "--concurrency", "1"], quick.base_url, ledger)
    assert code == 3 and again["counts"]["FAILED"] == 1 and again["counts"]["NEW"] == 5
    assert "paused since an earlier run" in err
    quick.set_balances(USD="1000.00")
    code, done, _ = cli(["run", "nov", "--yes", "--retry-failed"], quick.base_url, ledger)
    assert code == 0 and nonzero(done["counts"]) == {"COMPLETED": 12}
    assert done["money"]["USD"]["paid"] == "84.00" and done["money"]["USD"]["reconciles"]


def test_second_run_on_a_locked_batch_is_refused(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 2)
    code, out, _ = cli(["plan", str(sheet)], quick.base_url, ledger)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        Ledger(ledger).acquire_lock(out["batch_id"], pid=holder.pid)
        code, _, err = cli(["run", str(sheet), "--yes"], quick.base_url, ledger)
        assert code == 1 and f"process {holder.pid}" in err
    finally:
        holder.kill()
        holder.wait()
    code, _, _ = cli(["run", str(sheet), "--yes"], quick.base_url, ledger)
    assert code == 0  # the dead holder's lock is taken over


def test_lost_attempt_confirmed_not_found_is_resent_with_its_own_id(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    phones = write_sheet(sheet, 2)
    code, out, _ = cli(["plan", str(sheet)], quick.base_url, ledger)
    db = Ledger(ledger)
    row = db.rows(out["batch_id"])[0]
    lost = row.current_reference_id
    assert lost is not None
    # A crashed run: the SUBMITTING mark was committed, the request never reached the API,
    # and its session has long expired.
    db.mark_recipient_ready(row.id, account_id=999)
    db.mark_session_open(
        row.id,
        lost,
        session_id=999,
        wallet_id=1,
        account_id=999,
        expires_at=datetime.now(UTC) - timedelta(minutes=10),
    )
    db.mark_submitting([(row.id, lost)])
    code, out, _ = cli(["run", str(sheet), "--yes"], quick.base_url, ledger)
    assert code == 0 and nonzero(out["counts"]) == {"COMPLETED": 2}
    assert paid_exactly_once(quick, phones) == {}
    again = Ledger(ledger).row(row.id)
    # Issue 11: "not found" may still have landed: the same reference_id on a fresh session.
    assert again is not None and [a.outcome for a in again.attempts] == ["COMPLETED"]
    (attempt,) = again.attempts
    assert attempt.reference_id == lost and attempt.fresh_sends == 1 and attempt.not_found_seen
    assert attempt.session_id != 999


def test_unknown_within_the_grace_window_is_never_guessed(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 1)
    code, out, _ = cli(["plan", str(sheet)], quick.base_url, ledger)
    db = Ledger(ledger)
    row = db.rows(out["batch_id"])[0]
    ref = row.current_reference_id or ""
    db.mark_recipient_ready(row.id, account_id=999)
    db.mark_session_open(
        row.id,
        ref,
        session_id=999,
        wallet_id=1,
        account_id=999,
        expires_at=datetime.now(UTC) + timedelta(minutes=10),  # could still land
    )
    db.mark_submitting([(row.id, ref)])
    code, out, _ = cli(["reconcile", "nov", "--wait", "0.5"], quick.base_url, ledger)
    assert code == 4 and nonzero(out["counts"]) == {"UNKNOWN": 1}
    assert quick.executions() == []


def test_without_a_base_url_the_embedded_sandbox_runs_the_sample(
    samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from batch.cli import main

    monkeypatch.delenv("DOLLR_BASE_URL", raising=False)
    result = CliRunner().invoke(
        main,
        [
            "run",
            str(samples / "payroll_liberia.csv"),
            "--yes",
            "--json",
            "--rate",
            "500",
            "--ledger",
            str(tmp_path / "l.db"),
        ],
        env={"PAYBATCH_POLL_FIRST": "0.5", "PAYBATCH_POLL_MAX": "1"},
    )
    assert "SANDBOX — simulated API, no money moves" in result.stderr
    out = json.loads(result.stdout)
    assert result.exit_code == 0 and nonzero(out["counts"]) == {"COMPLETED": 25}


def test_forbidden_passcode_stops_the_batch(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 5)
    code, out, _ = cli(
        ["run", str(sheet), "--yes", "--concurrency", "1", "--wait", "0.3"],
        quick.base_url,
        ledger,
        DOLLR_PASSCODE="9999",
    )
    # A 403 is the API's gate (REFERENCE §4.2): nothing was processed, so this is a
    # configuration error (exit 1) naming what to fix, and the refused row is not in flight.
    assert code == 1 and "DOLLR_PASSCODE" in (out["stopped"] or "")
    assert set(nonzero(out["counts"])) <= {"NEW", "SESSION_OPEN"}, out["counts"]
    assert out["counts"].get("NEW", 0) >= 4  # nothing else was started
    assert quick.executions() == []


def test_two_concurrent_runs_one_is_refused(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.engine_helpers import subprocess_env

    sandbox.set_faults(pending_seconds=0.1, processing_seconds=3.0)
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    phones = write_sheet(sheet, 4)
    cmd = [sys.executable, "-m", "batch", "run", str(sheet), "--yes", "--json", "--wait", "20"]
    env = subprocess_env(sandbox.base_url, ledger)
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=60), p.stderr.read().decode()) for p in procs]  # type: ignore[union-attr]
    for p in procs:
        p.stdout.close()  # type: ignore[union-attr]
        p.stderr.close()  # type: ignore[union-attr]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1], results
    refused = next(err for code, err in results if code == 1)
    assert "is being run by process" in refused
    assert paid_exactly_once(sandbox, phones) == {}
