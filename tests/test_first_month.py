"""Issue 13, "what a finance team hit in its first month": guards on what is sent, exits,
no side effects before the input is good, named lock holders, cancel, one number format,
report permissions, the embedded sandbox's switches, and figures that add up."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from batch.cli import main
from batch.ledger import Ledger
from tests.engine_helpers import (
    QUICK_PAYOUTS,
    cli,
    env,
    nonzero,
    paid_exactly_once,
    phone,
    subprocess_env,
    write_sheet,
)


@pytest.fixture
def quick(sandbox):  # type: ignore[no-untyped-def]
    sandbox.set_faults(**QUICK_PAYOUTS)
    return sandbox


def _short_wallet_batch(quick: Any, tmp_path: Path) -> tuple[Path, Path]:
    """6 USD rows of 100.00; the wallet pays two, then FAILS one and pauses USD."""
    quick.set_balances(USD="210.00")
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 6, amount="100.00")
    code, out, _ = cli(["run", str(sheet), "--yes", "--concurrency", "1"], quick.base_url, ledger)
    assert code == 3 and nonzero(out["counts"]) == {"COMPLETED": 2, "FAILED": 1, "NEW": 3}
    return sheet, ledger


# -- 3: the prompt and every guard use what this command sends -------------------------------


def test_retry_failed_guards_and_prompt_count_what_is_sent(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from batch.cli.summary import confirm_question, format_plan
    from batch.config import Settings, credentials_from_env
    from batch.options import RunOptions
    from batch.pipeline import RunRequest, run_batch
    from batch.planning.flow import PlanResult

    _, ledger = _short_wallet_batch(quick, tmp_path)
    quick.set_balances(USD="10000.00")
    # The whole batch debits ~612; this retry sends 4 rows (~408): a 500 limit lets it pass.
    code, _, err = cli(["run", "nov", "--yes", "--retry-failed", "--max-total", "USD=300"],
                       quick.base_url, ledger)
    assert code == 5 and "exceeds --max-total 300" in err and "USD total debit 4" in err
    shown: list[PlanResult] = []
    settings = Settings(ledger=ledger, base_url=quick.base_url,
                        credentials=credentials_from_env(env()), rate=500,
                        run=RunOptions(retry_failed=True))
    request = RunRequest(target="nov", max_total={"USD": Decimal(500)})
    report = run_batch(settings, request, confirm=lambda p: shown.append(p) or True,
                       say=lambda _: None, write_report=False)
    assert report.result.exit_code == 0
    planned = shown[0]
    assert planned.sending_rows == 4 and planned.sending is not None
    assert planned.sending["USD"].payouts == Decimal("400.00")
    assert confirm_question(planned).startswith("Pay these 4 row(s) now (total debit USD 4")
    assert "this run sends 4 row(s):" in format_plan(planned)


# -- 6: usage errors with --json print the JSON error object ---------------------------------


@pytest.mark.parametrize("args", [
    ["run", "--country", "XX", "x.csv", "--json"],
    ["run", "--json"],
    ["status", "--nosuch", "--json"],
])
def test_usage_errors_with_json_print_the_error_object(args: list[str]) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    out = json.loads(result.stdout)
    assert out["exit_code"] == 2 and out["error"] and out["error_type"]
    assert "Usage:" in result.stderr


# -- 7: no side effects before the input is known good ---------------------------------------


@pytest.mark.parametrize("args", [
    ["run", "missing.csv", "--yes"], ["reconcile", "nosuch"], ["plan", "missing.csv"],
    ["run", "invalid.csv", "--yes"],
])
def test_bad_input_creates_no_ledger_and_starts_no_sandbox(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "invalid.csv").write_text("name,phone,amount,currency\nA,12,x,USD\n")
    done = subprocess.run(
        [sys.executable, "-m", "batch", *args, "--json"], cwd=tmp_path, capture_output=True,
        text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith(("DOLLR_", "PAYBATCH_"))}
        | {"PAYBATCH_LEDGER": str(tmp_path / "paybatch.db")},
    )
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["exit_code"] == 1
    assert "SANDBOX" not in done.stderr  # the sandbox never started
    assert sorted(p.name for p in tmp_path.iterdir()) == ["invalid.csv"]  # no ledger, no state


# -- 8: the lock holder is named -------------------------------------------------------------


def test_second_run_names_the_batch_process_and_host(tmp_path: Path) -> None:
    from batch.sandbox import SandboxConfig, running_sandbox, state_path_for

    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 2)
    with Ledger(ledger) as book:
        book.create_batch(name="payroll-nov", source_file="nov.csv", content_hash="c",
                          payout_set_hash="p", rows=[])
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with Ledger(ledger) as book:
            book.acquire_lock(1, pid=holder.pid)
        # Another run's embedded sandbox holds its state file, as a running `run` would.
        with running_sandbox(SandboxConfig(state_path=state_path_for(ledger))):
            result = CliRunner().invoke(
                main, ["run", str(sheet), "--yes", "--ledger", str(ledger), "--json"],
                env={"DOLLR_BASE_URL": "", "PAYBATCH_SANDBOX_SEED": "1"},
            )
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1
    assert (f"batch 'payroll-nov' is being run by process {holder.pid} on "
            f"{socket.gethostname()}") in result.stderr
    assert "sandbox.db" in result.stderr


# -- 10: cancel ------------------------------------------------------------------------------


def test_cancel_before_sending_closes_the_batch_for_good(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 3)
    cli(["plan", str(sheet)], quick.base_url, ledger)
    result = CliRunner().invoke(main, ["cancel", "nov", "--ledger", str(ledger), "--json",
                                       "--reason", "wrong month"])
    out = json.loads(result.stdout)
    assert result.exit_code == 0 and out["cancelled_rows"] == 3
    assert nonzero(out["counts"]) == {"CANCELLED": 3} and out["money"]["USD"]["reconciles"]
    code, _, err = cli(["run", str(sheet), "--yes"], quick.base_url, ledger)
    assert code == 1 and "was cancelled" in err and "can never be run" in err
    assert quick.executions() == []
    with Ledger(ledger) as book:
        events = [e for e in book.events(1) if e.to_state in ("CANCELLED", "BATCH_CANCELLED")]
    assert len(events) == 4 and "wrong month" in str(events[-1].detail)
    status = CliRunner().invoke(main, ["status", "nov", "--ledger", str(ledger), "--json"])
    shown = json.loads(status.stdout)
    assert shown["cancelled_at"] and status.exit_code == 6
    assert shown["failures"][0]["reason"] == "cancelled (paybatch cancel)"


def test_cancel_after_some_were_paid_keeps_them_and_stops_the_rest(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, ledger = _short_wallet_batch(quick, tmp_path)
    result = CliRunner().invoke(main, ["cancel", "nov", "--ledger", str(ledger)])
    assert result.exit_code == 0 and "3 row(s) not sent are CANCELLED" in result.stdout
    with Ledger(ledger) as book:
        assert book.counts(1) == {"COMPLETED": 2, "FAILED": 1, "CANCELLED": 3}
    quick.set_balances(USD="10000.00")
    code, out, _ = cli(["run", "nov", "--yes", "--retry-failed"], quick.base_url, ledger)
    assert code == 1 and len(quick.executions()) == 3  # nothing more was sent
    report = CliRunner().invoke(main, ["report", "nov", "--ledger", str(ledger),
                                       "--out", str(tmp_path / "r.json")])
    assert report.exit_code == 0
    summary = json.loads((tmp_path / "r.json").read_text())["summary"]
    assert summary["cancelled_at"] and summary["money"]["USD"]["cancelled"] == "300.00"


# -- 11: one number format per currency ------------------------------------------------------


def test_one_amount_format_in_plain_text_and_machine_output(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from batch.markets import display_amount, exact

    assert display_amount(Decimal("324352.14"), "USD") == "324,352.14"
    assert display_amount(Decimal("1132.7"), "USD") == "1,132.70"
    assert display_amount(Decimal("250000"), "RWF") == "250,000"
    assert str(exact(Decimal("1132.7"), "LRD")) == "1132.70"
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 3, amount="1132.7")
    result = CliRunner().invoke(main, ["plan", str(sheet), "--base-url", quick.base_url,
                                       "--ledger", str(ledger)], env=env())
    assert "3 payout(s) 3,398.10" in result.stdout  # not a terminal: still 3,398.10
    cli(["run", "nov", "--yes"], quick.base_url, ledger)
    CliRunner().invoke(main, ["report", "nov", "--ledger", str(ledger),
                              "--out", str(tmp_path / "r.csv")])
    text = (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    assert "1132.70" in text and "1132.7," not in text


# -- 12: reports follow the umask; the ledger stays owner-only -------------------------------


def test_reports_follow_the_umask_and_the_ledger_stays_private(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 2)
    old = os.umask(0o022)
    try:
        code, out, _ = cli(["run", str(sheet), "--yes"], quick.base_url, ledger)
        CliRunner().invoke(main, ["report", "nov", "--ledger", str(ledger),
                                  "--out", str(tmp_path / "r.csv")])
    finally:
        os.umask(old)
    for path in (Path(out["report"]), tmp_path / "r.csv", tmp_path / "r.summary.csv"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert stat.S_IMODE(ledger.stat().st_mode) == 0o600


# -- 13: the embedded sandbox's switches -----------------------------------------------------


def test_embedded_sandbox_takes_paybatch_sandbox_variables(tmp_path: Path) -> None:
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 4, amount="600000.00")  # 2.4 million: more than the default USD wallet
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DOLLR_", "PAYBATCH_"))}
    common = ["run", str(sheet), "--yes", "--json", "--ledger", str(ledger), "--rate", "500"]
    done = subprocess.run(
        [sys.executable, "-m", "batch", *common], capture_output=True, text=True, timeout=120,
        env=base | {"PAYBATCH_SANDBOX_BALANCE": "USD=5000000",
                    "PAYBATCH_SANDBOX_PROCESSING_SECONDS": "0.1",
                    "PAYBATCH_SANDBOX_PENDING_SECONDS": "0.05"},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["money"]["USD"]["paid"] == "2400000.00"
    bad = subprocess.run(
        [sys.executable, "-m", "batch", *common], capture_output=True, text=True, timeout=60,
        env=base | {"PAYBATCH_SANDBOX_FAILURE_RATE": "2"},
    )
    assert bad.returncode == 1 and "PAYBATCH_SANDBOX_FAILURE_RATE" in bad.stderr


# -- Done when: failures, skips, a retry and an interruption add up to the sheet --------------


def _xlsx_summary(path: Path) -> list[tuple[Any, ...]]:
    return list(openpyxl.load_workbook(path)["Summary"].iter_rows(values_only=True))


def test_json_and_report_add_up_to_the_sheet_per_currency(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    lines = ["name,phone,amount,currency,country"]
    lines += [f"U{i},{phone(i)},100.00,USD,LR" for i in range(6)]
    lines += [f"L{i},{phone(100 + i)},5000.00,LRD,LR" for i in range(4)]
    lines += ["Bad,12345,70.00,USD,LR", "Worse,231770000999,abc,LRD,LR"]
    sheet.write_text("\n".join(lines) + "\n")
    quick.set_balances(USD="210.00")  # failures: the USD wallet pays two
    code, first, _ = cli(["run", str(sheet), "--yes", "--skip-invalid", "--concurrency", "1"],
                         quick.base_url, ledger)
    assert code == 3
    quick.set_balances(USD="10000.00")
    # An interruption: Ctrl-C while the retry's first payout is still PROCESSING.
    quick.set_faults(pending_seconds=0.05, processing_seconds=2.0)
    sent = len(quick.executions())
    proc = subprocess.Popen(
        [sys.executable, "-m", "batch", "run", "nov", "--yes", "--retry-failed", "--json",
         "--concurrency", "1", "--rate", "500"],
        env=subprocess_env(quick.base_url, ledger) | {"PAYBATCH_INTERRUPT_SETTLE": "0.2"},
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 30
    while len(quick.executions()) == sent:  # wait for the retry's first send
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out_text, err_text = proc.communicate(timeout=60)
    cut = json.loads(out_text)
    assert proc.returncode == 4 and cut["interrupted"] == "SIGINT", err_text
    assert "run the same command again" in err_text
    code, done, _ = cli(["run", "nov", "--yes", "--retry-failed", "--wait", "30"],
                        quick.base_url, ledger)
    assert code == 6  # all sent rows completed; two rows were skipped
    sheet_totals = {"USD": Decimal("670.00"), "LRD": Decimal("20000.00")}  # abc unreadable
    for out in (first, cut, done):
        for cur, total in sheet_totals.items():
            m = out["money"][cur]
            parts = sum(Decimal(m[k]) for k in ("paid", "failed", "in_flight", "not_sent",
                                               "skipped", "cancelled"))
            assert Decimal(m["sheet"]) == total == parts and m["reconciles"], (cur, m)
    assert done["money"]["USD"]["paid"] == "600.00" and done["money"]["USD"]["skipped"] == "70.00"
    assert paid_exactly_once(quick, [phone(i) for i in range(6)]) == {}
    # The report's Summary says the same, with a check mark per currency.
    rows = _xlsx_summary(Path(done["report"]))
    recon = rows[[r[0] for r in rows].index("Currency", next(
        i for i, r in enumerate(rows) if str(r[0]).startswith("Reconciliation to the sheet")
    )) + 1:]
    by_cur = {r[0]: r for r in recon[:2]}
    assert by_cur["USD"][1] == 670 and by_cur["USD"][2] == 600 and by_cur["USD"][6] == 70
    assert by_cur["USD"][8] == "✓" and by_cur["LRD"][8] == "✓"
    flat = [c for r in rows for c in r if c is not None]
    for needed in ("Total debit", "Prepared by", "Checked by", "Approved by", "Environment",
                   "Report generated by (user@host)"):
        assert needed in flat, needed
    assert ("SKIPPED", "USD", 1, 70) in [r[:4] for r in rows]  # "Money by state" has it
