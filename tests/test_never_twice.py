"""Issue 11 end to end: never twice beyond one ledger file, counted from the sandbox's record.

Edited sheets, other names, other ledgers or machines, sandbox vs live, the next period,
deliberate repeats, a status that lags longer than any grace. The CLI runs against the real
sandbox over loopback; "paid once" is the sandbox's own count of COMPLETED executions.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from batch.cli import main
from batch.engine.states import ExecuteOutcome
from batch.ledger import Ledger
from batch.operations.payout import PayoutOperation
from tests.engine_helpers import (
    QUICK_PAYOUTS,
    cli,
    env,
    nonzero,
    paid_exactly_once,
    subprocess_env,
    write_sheet,
)


@pytest.fixture
def quick(sandbox):  # type: ignore[no-untyped-def]
    sandbox.set_faults(**QUICK_PAYOUTS)
    return sandbox


def completed(sandbox: Any, phones: list[str]) -> dict[str, int]:
    """COMPLETED executions per phone, from the sandbox's own record."""
    per_phone = sandbox.recipients()
    return {p: per_phone.get(p, {}).get("COMPLETED", 0) for p in phones}


def test_edited_sheet_under_a_new_name_is_refused_and_only_new_pays_nobody(
    quick: Any, tmp_path: Path
) -> None:
    ledger = tmp_path / "l.db"
    phones = write_sheet(tmp_path / "hr.csv", 20)
    assert cli(["run", str(tmp_path / "hr.csv"), "--yes"], quick.base_url, ledger)[0] == 0
    # Fix one amount, run again: the name is refused, and the message does not offer a
    # path that pays twice.
    text = (tmp_path / "hr.csv").read_text().replace(f"{phones[6]},10.50", f"{phones[6]},11.50")
    (tmp_path / "hr.csv").write_text(text)
    code, _, err = cli(["run", str(tmp_path / "hr.csv"), "--yes"], quick.base_url, ledger)
    assert code == 1 and "already used" in err and "--only-new" in err
    # Do what it says, but forget --only-new: the row guard lists every row.
    code, _, err = cli(["run", str(tmp_path / "hr.csv"), "--yes", "--batch-name", "hr2"],
                       quick.base_url, ledger)
    assert code == 1
    assert "20 of 20 rows were paid in batch 'hr'" in err and "rows 2-21" in err
    assert "row 8 was paid 10.50 USD, now 11.50 USD" in err
    code, out, _ = cli(
        ["run", str(tmp_path / "hr.csv"), "--yes", "--batch-name", "hr2", "--only-new"],
        quick.base_url, ledger,
    )
    # Exit 6 (issue 13): settled, but rows were left out (here: paid already).
    assert code == 6 and nonzero(out["counts"]) == {"SKIPPED": 20}
    assert paid_exactly_once(quick, phones) == {}


def test_last_months_sheet_plus_a_late_hire_only_new_pays_the_late_hire_once(
    quick: Any, tmp_path: Path
) -> None:
    ledger = tmp_path / "l.db"
    phones = write_sheet(tmp_path / "nov.csv", 25)
    assert cli(["run", str(tmp_path / "nov.csv"), "--yes"], quick.base_url, ledger)[0] == 0
    everyone = write_sheet(tmp_path / "nov-late.csv", 26)
    code, _, err = cli(["run", str(tmp_path / "nov-late.csv"), "--yes"], quick.base_url, ledger)
    assert code == 1 and "25 of 26 rows were paid in batch 'nov'" in err
    assert len(quick.executions()) == 25  # nothing sent
    code, out, _ = cli(["run", str(tmp_path / "nov-late.csv"), "--yes", "--only-new"],
                       quick.base_url, ledger)
    assert code == 6 and nonzero(out["counts"]) == {"COMPLETED": 1, "SKIPPED": 25}
    assert paid_exactly_once(quick, everyone) == {}
    assert phones == everyone[:25]


def test_deleted_ledger_after_half_a_batch_everyone_once(quick: Any, tmp_path: Path) -> None:
    first = tmp_path / "first.db"
    half = write_sheet(tmp_path / "half.csv", 10)
    assert cli(["run", str(tmp_path / "half.csv"), "--yes"], quick.base_url, first)[0] == 0
    first.unlink()  # lost: a new laptop, a colleague's machine, another folder
    everyone = write_sheet(tmp_path / "payroll.csv", 20)
    fresh = tmp_path / "fresh.db"
    code, _, err = cli(["run", str(tmp_path / "payroll.csv"), "--yes"], quick.base_url, fresh)
    assert code == 1 and "already knows 2 of 5 sampled payments" in err and "--adopt" in err
    assert "NEW LEDGER" in err
    assert len(quick.executions()) == 10  # the sample only read; nothing was sent
    code, out, _ = cli(["run", str(tmp_path / "payroll.csv"), "--yes", "--adopt"],
                       quick.base_url, fresh)
    assert code == 0 and nonzero(out["counts"]) == {"COMPLETED": 20}, out
    assert paid_exactly_once(quick, everyone) == {}
    assert half == everyone[:10]
    rows = Ledger(fresh).rows(out["batch_id"])
    assert sum(1 for r in rows if r.attempts[0].adopted) == 10


def test_two_ledgers_run_the_same_sheet_at_once_everyone_once(
    sandbox: Any, tmp_path: Path
) -> None:
    sandbox.set_faults(pending_seconds=0.1, processing_seconds=0.5, latency_ms=5)
    sheet = tmp_path / "nov.csv"
    phones = write_sheet(sheet, 30)
    cmd = [sys.executable, "-m", "batch", "run", str(sheet), "--yes", "--json", "--adopt",
           "--wait", "30", "--rate", "500"]
    procs = [
        subprocess.Popen(cmd, env=subprocess_env(sandbox.base_url, tmp_path / f"{i}.db"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for i in range(2)
    ]
    outs = [(p.communicate(timeout=120), p.returncode) for p in procs]
    for (out, err), code in outs:
        assert code == 0, err.decode()[-2000:]
        assert nonzero(json.loads(out)["counts"]) == {"COMPLETED": 30}
    assert paid_exactly_once(sandbox, phones) == {}


@pytest.mark.parametrize("n", [60, pytest.param(300, marks=pytest.mark.slow)])
def test_three_runs_under_three_names_at_once_pay_everyone_once(
    quick: Any, tmp_path: Path, n: int
) -> None:
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    phones = write_sheet(sheet, n)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "batch", "run", str(sheet), "--yes", "--json",
             "--batch-name", name, "--wait", "30", "--rate", "500"],
            env=subprocess_env(quick.base_url, ledger),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for name in ("a", "b", "c")
    ]
    for p in procs:
        p.communicate(timeout=120)
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 1, 1]  # one batch; the row guard refused the other two
    assert paid_exactly_once(quick, phones) == {}
    assert len(Ledger(ledger).batches()) == 1


def test_next_period_pays_everyone_again_once_and_allow_repeat_once_more(
    quick: Any, tmp_path: Path
) -> None:
    ledger = tmp_path / "l.db"
    phones = write_sheet(tmp_path / "pay.csv", 5)
    assert cli(["run", str(tmp_path / "pay.csv"), "--yes", "--period", "2026-11"],
               quick.base_url, ledger)[0] == 0
    # The same name under another period is not silently resumed.
    code, _, err = cli(["run", str(tmp_path / "pay.csv"), "--yes", "--period", "2026-12"],
                       quick.base_url, ledger)
    assert code == 1 and "pass another --batch-name" in err
    code, out, _ = cli(["run", str(tmp_path / "pay.csv"), "--yes", "--period", "2026-12",
                        "--batch-name", "dec", "--repeat-window", "0"], quick.base_url, ledger)
    assert code == 0 and out["period"] == "2026-12"
    assert completed(quick, phones) == dict.fromkeys(phones, 2)
    code, out, _ = cli(["run", str(tmp_path / "pay.csv"), "--yes", "--period", "2026-12",
                        "--batch-name", "dec-again", "--allow-repeat"], quick.base_url, ledger)
    assert code == 0 and nonzero(out["counts"]) == {"COMPLETED": 5}
    assert completed(quick, phones) == dict.fromkeys(phones, 3)
    batch = Ledger(ledger).batch_by_name("dec-again")
    assert batch is not None and batch.repeat_no == 1 and batch.options["allow_repeat"]


def test_a_second_purpose_in_one_period_pays_and_is_shown(quick: Any, tmp_path: Path) -> None:
    ledger = tmp_path / "l.db"
    phones = write_sheet(tmp_path / "pay.csv", 3)
    assert cli(["run", str(tmp_path / "pay.csv"), "--yes"], quick.base_url, ledger)[0] == 0
    code, out, err = cli(["run", str(tmp_path / "pay.csv"), "--yes", "--purpose", "bonus",
                          "--batch-name", "bonus"], quick.base_url, ledger)
    assert code == 0 and out["purpose"] == "bonus"
    assert "note: 3 of 3 rows were paid in batch 'pay' (payroll" in err
    assert completed(quick, phones) == dict.fromkeys(phones, 2)


def _embedded(args: list[str], ledger: Path, **extra: str) -> tuple[int, dict[str, Any], str]:
    """`paybatch ARGS --json` with no base URL: the embedded sandbox."""
    result = CliRunner().invoke(
        main, [*args, "--ledger", str(ledger), "--json"],
        env={**env(), "DOLLR_BASE_URL": "", **extra}, catch_exceptions=False,
    )
    out = result.stdout.strip()
    return result.exit_code, (json.loads(out) if out else {}), result.stderr


def test_a_batch_belongs_to_one_api(quick: Any, tmp_path: Path) -> None:
    ledger = tmp_path / "l.db"
    write_sheet(tmp_path / "demo.csv", 2)
    code, out, _ = _embedded(["plan", str(tmp_path / "demo.csv")], ledger)
    assert code == 0 and out["sandbox"] is True
    # Marked wherever it shows: status, every report format.
    code, status = _reading(["status", "demo"], ledger)
    assert status["sandbox"] is True
    text = CliRunner().invoke(main, ["status", "demo", "--ledger", str(ledger)]).stdout
    assert "SANDBOX" in text
    _reading(["report", "demo", "--out", str(tmp_path / "demo.json")], ledger)
    summary = json.loads((tmp_path / "demo.json").read_text())["summary"]
    assert summary["watermark"].startswith("SANDBOX") and summary["sandbox"] is True
    CliRunner().invoke(main, ["report", "demo", "--out", str(tmp_path / "demo.xlsx"),
                              "--ledger", str(ledger)])
    import openpyxl

    cells = [c.value for c in openpyxl.load_workbook(tmp_path / "demo.xlsx")["Summary"]["A"][:3]]
    assert any(str(v).startswith("SANDBOX") for v in cells)
    code, _, err = cli(["run", "demo", "--yes"], quick.base_url, ledger)
    assert code == 1 and "planned on the embedded SANDBOX" in err
    code, _, err = cli(["run", str(tmp_path / "demo.csv"), "--yes"], quick.base_url, ledger)
    assert code == 1 and "planned on the embedded SANDBOX" in err
    assert quick.executions() == []
    write_sheet(tmp_path / "live.csv", 2, start=50)
    code, out, _ = cli(["plan", str(tmp_path / "live.csv")], quick.base_url, ledger)
    assert code == 0 and out["sandbox"] is False
    code, _, err = _embedded(["run", "live", "--yes"], ledger)
    assert code == 1 and f"planned on {quick.base_url}" in err
    code, _, err = _embedded(["reconcile", "live"], ledger)
    assert code == 1 and "nothing was sent" in err


def test_default_ledgers_live_in_the_data_dir_one_for_the_sandbox(
    quick: Any, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    sheet = tmp_path / "nov.csv"
    write_sheet(sheet, 2)
    runner = CliRunner()
    extra = {**env(), "XDG_DATA_HOME": str(data), "PAYBATCH_LEDGER": ""}
    result = runner.invoke(main, ["plan", str(sheet), "--base-url", quick.base_url, "--json"],
                           env=extra)
    assert result.exit_code == 0, result.stderr
    assert "NEW LEDGER" in result.stderr and str(data / "paybatch" / "ledger.db") in result.stderr
    assert (data / "paybatch" / "ledger.db").is_file()
    result = runner.invoke(main, ["plan", str(sheet), "--json"],
                           env={**extra, "DOLLR_BASE_URL": ""})
    assert result.exit_code == 0, result.stderr
    assert (data / "paybatch" / "sandbox.db").is_file()
    result = runner.invoke(main, ["status", "--json"],
                           env={**extra, "DOLLR_BASE_URL": quick.base_url})
    assert json.loads(result.stdout)["ledger"] == str(data / "paybatch" / "ledger.db")


def test_status_lag_longer_than_any_grace_pays_nobody_twice(
    sandbox: Any, tmp_path: Path
) -> None:
    """Answers dropped after the work, status "not found" for 3 s, a grace of 0.5 s and
    sessions of 1 s: "not found" is trusted while the payouts exist (as after a clock jump)."""
    sandbox.set_faults(
        **QUICK_PAYOUTS, drop_rate=1.0, drop_endpoints=["executions.payout"],
        status_visibility_delay_seconds=3.0, session_lifetime_seconds=1.0,
    )
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    phones = write_sheet(sheet, 6)
    code, out, _ = cli(["run", str(sheet), "--yes", "--wait", "20"], sandbox.base_url, ledger,
                       PAYBATCH_RESEND_GRACE="600")
    assert code == 0, out
    assert paid_exactly_once(sandbox, phones) == {}
    rows = Ledger(ledger).rows(out["batch_id"])
    assert all(len(r.attempts) == 1 for r in rows)  # never a new reference_id
    # "not found" was trusted, and the same reference_id went out again on a fresh session
    assert any(r.attempts[0].fresh_sends and r.attempts[0].not_found_seen for r in rows)


def _reading(args: list[str], ledger: Path) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(main, [*args, "--ledger", str(ledger), "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_recheck_flags_reversals_and_status_and_report_agree(quick: Any, tmp_path: Path) -> None:
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    phones = write_sheet(sheet, 10)
    args = ["run", str(sheet), "--yes", "--period", "2026-11"]
    assert cli(args, quick.base_url, ledger)[0] == 0
    code, out, _ = cli(["reconcile", "nov", "--recheck"], quick.base_url, ledger)
    assert code == 0 and out["checked"] == 10 and out["reversed"] == []
    quick.set_faults(reversal_rate=0.5, reversal_after_seconds=0)  # weeks later
    code, out, err = cli(["reconcile", "nov", "--recheck", "--since", "30d"],
                         quick.base_url, ledger)
    taken_back = sorted(p for p, n in quick.recipients().items() if n.get("FAILED"))
    assert code == 3 and 0 < len(taken_back) < 10
    assert len(out["reversed"]) == len(taken_back) and "reversed by the operator" in err
    code, status = _reading(["status", "nov"], ledger)
    assert code == 3 and status["counts"]["REVERSED"] == len(taken_back)
    assert status["counts"]["COMPLETED"] == 10 - len(taken_back)
    code, _ = _reading(["report", "nov", "--out", str(tmp_path / "r.json")], ledger)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["summary"]["counts"]["REVERSED"] == len(taken_back)
    reversed_rows = {p["phone"] for p in report["payouts"] if p["state"] == "REVERSED"}
    assert sorted(reversed_rows) == taken_back and set(reversed_rows) <= set(phones)
    code, out, _ = cli(["reconcile", "nov", "--recheck"], quick.base_url, ledger)
    assert code == 0 and out["reversed"] == []  # recorded once; nothing new


def test_sandbox_reference_ids_are_unique_per_merchant_across_sessions_and_restarts(
    tmp_path: Path,
) -> None:
    from contextlib import closing

    from batch.sandbox import SandboxConfig, running_sandbox
    from tests._dollr import client, execution_body, make_account, open_session

    config = SandboxConfig(state_path=tmp_path / "sb.db")
    with running_sandbox(config) as sb, closing(client(sb.base_url)) as api:
        account = make_account(api)
        body = execution_body(open_session(api, account))
        assert api.post("/v1/executions/payout", json=body).status_code == 200
        again = execution_body(open_session(api, account), body["reference_id"])
        refused = api.post("/v1/executions/payout", json=again)
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "reference_id"]
    with running_sandbox(config) as sb, closing(client(sb.base_url)) as api:
        later = execution_body(open_session(api, account), body["reference_id"])
        assert api.post("/v1/executions/payout", json=later).status_code == 422
        assert len(sb.executions()) == 1


def test_a_forward_clock_jump_mid_run_pays_nobody_twice(sandbox: Any, tmp_path: Path) -> None:
    """Execute answers dropped, status "not found" for 3 s, and the ledger's clock jumps 40
    minutes 0.5 s into the run (past every session and the 180 s grace): "not found" is
    trusted while the payouts exist. The same reference_ids go out again; nobody twice."""
    import asyncio
    import time
    from datetime import UTC, datetime, timedelta

    from batch.dollr.client import ApiClient
    from batch.engine.runner import Runner
    from batch.options import MonitorOptions, RunOptions
    from batch.pipeline import SANDBOX_CREDENTIALS

    sandbox.set_faults(**QUICK_PAYOUTS, drop_rate=1.0, drop_endpoints=["executions.payout"],
                       status_visibility_delay_seconds=3.0)
    sheet, path = tmp_path / "nov.csv", tmp_path / "l.db"
    phones = write_sheet(sheet, 8)
    code, out, _ = cli(["plan", str(sheet)], sandbox.base_url, path)
    assert code == 0
    start = time.monotonic()

    def jumping() -> datetime:
        jump = timedelta(minutes=40) if time.monotonic() - start > 0.5 else timedelta(0)
        return datetime.now(UTC) + jump

    async def pay() -> None:
        with Ledger(path, clock=jumping) as ledger:
            async with ApiClient(sandbox.base_url, SANDBOX_CREDENTIALS, rate=500) as api:
                options = RunOptions(concurrency=4, wait=20, monitor=MonitorOptions(
                    first_poll=0.1, max_poll_interval=0.4, resend_grace=600))
                await Runner(ledger, PayoutOperation(ledger, api), out["batch_id"], options).run()

    asyncio.run(pay())
    assert paid_exactly_once(sandbox, phones) == {}
    rows = Ledger(path).rows(out["batch_id"])
    assert [r.state.value for r in rows] == ["COMPLETED"] * 8
    assert all(len(r.attempts) == 1 for r in rows)  # never a new reference_id


def test_the_ledger_clock_does_not_follow_wall_clock_steps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import UTC, datetime, timedelta

    import batch.ledger.core as core

    class Stepped(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Stepped:  # the wall clock has stepped an hour ahead
            return cls.fromtimestamp((datetime.now(UTC) + timedelta(hours=1)).timestamp(), tz)

    before = core.utc_now()
    monkeypatch.setattr(core, "datetime", Stepped)
    after = core.utc_now()
    assert 0 <= (after - before).total_seconds() < 60


def test_an_old_default_ledger_in_this_folder_is_not_silently_left_behind(
    quick: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_sheet(tmp_path / "nov.csv", 2)
    Ledger(tmp_path / "paybatch.db").close()  # what an earlier paybatch left here
    extra = {**env(), "PAYBATCH_LEDGER": ""}
    result = CliRunner().invoke(main, ["run", "nov.csv", "--yes", "--base-url", quick.base_url],
                                env=extra)
    assert result.exit_code == 1 and "--ledger paybatch.db" in result.stderr
    assert quick.executions() == []


def test_an_execution_adopted_as_failed_is_retried_once_under_a_new_id(
    quick: Any, tmp_path: Path
) -> None:
    quick.set_faults(payout_failure_rate=1.0)
    phones = write_sheet(tmp_path / "nov.csv", 4)
    first = tmp_path / "first.db"
    assert cli(["run", str(tmp_path / "nov.csv"), "--yes"], quick.base_url, first)[0] == 3
    first.unlink()
    quick.set_faults(payout_failure_rate=0.0)
    fresh = tmp_path / "fresh.db"
    code, out, _ = cli(["run", str(tmp_path / "nov.csv"), "--yes", "--adopt"],
                       quick.base_url, fresh)
    assert code == 3 and nonzero(out["counts"]) == {"FAILED": 4}  # adopted as the API holds them
    assert completed(quick, phones) == dict.fromkeys(phones, 0)
    code, out, _ = cli(["run", "nov", "--yes", "--retry-failed"], quick.base_url, fresh)
    assert code == 0 and nonzero(out["counts"]) == {"COMPLETED": 4}
    assert paid_exactly_once(quick, phones) == {}
    for row in Ledger(fresh).rows(out["batch_id"]):
        assert [a.adopted for a in row.attempts] == [True, False]


def test_three_plans_under_three_names_at_once_make_one_batch(
    quick: Any, tmp_path: Path
) -> None:
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 40)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "batch", "plan", str(sheet), "--json", "--batch-name", name],
            env=subprocess_env(quick.base_url, ledger),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for name in ("a", "b", "c")
    ]
    errs = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert sorted(p.returncode for p in procs) == [0, 1, 1], errs
    assert sum("40 of 40 rows are paid or planned" in e for e in errs) == 2
    assert len(Ledger(ledger).batches()) == 1


def test_recheck_flags_an_attempt_once_not_found_that_completed(
    quick: Any, tmp_path: Path
) -> None:
    """An older paybatch trusted a "not found" and minted a new id; the first send had landed
    after all. `--recheck` finds it COMPLETED and says: possible double payment."""
    from contextlib import closing
    from datetime import UTC, datetime, timedelta

    from tests._dollr import client, execution_body, make_account, open_session

    sheet, path = tmp_path / "nov.csv", tmp_path / "l.db"
    phones = write_sheet(sheet, 2)
    code, out, _ = cli(["plan", str(sheet)], quick.base_url, path)
    ledger = Ledger(path)
    row = ledger.rows(out["batch_id"])[0]
    lost = row.current_reference_id or ""
    with closing(client(quick.base_url)) as api:  # the first send landed, unseen
        session = open_session(api, make_account(api, row.phone or ""), amount=10.5)
        assert api.post("/v1/executions/payout",
                        json=execution_body(session, lost)).status_code == 200
    ledger.mark_batch_started(out["batch_id"])
    ledger.mark_recipient_ready(row.id, account_id=999)
    ledger.mark_session_open(row.id, lost, session_id=999, wallet_id=None, account_id=999,
                             expires_at=datetime.now(UTC) - timedelta(minutes=10))
    ledger.mark_submitting([(row.id, lost)])
    ledger.mark_unknown(row.id, lost, outcome=ExecuteOutcome.AMBIGUOUS, reason="ambiguous")
    ledger.start_new_attempt(row.id, "unused", reason="old rule: not found",
                             not_found_reference_id=lost)
    ledger.close()
    assert cli(["run", "nov", "--yes"], quick.base_url, path)[0] == 0
    assert completed(quick, phones)[row.phone or ""] == 2  # what the old rule did
    code, out, err = cli(["reconcile", "nov", "--recheck"], quick.base_url, path)
    assert code == 3 and len(out["possible_double_payments"]) == 1
    assert f"row {row.sheet_row}" in out["possible_double_payments"][0] and lost in err


def test_another_folder_uses_the_same_ledger_and_pays_nobody_again(
    quick: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = {**env(), "PAYBATCH_LEDGER": "", "DOLLR_BASE_URL": quick.base_url}
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        phones = write_sheet(tmp_path / folder / "nov.csv", 3)
    monkeypatch.chdir(tmp_path / "a")
    result = CliRunner().invoke(main, ["run", "nov.csv", "--yes", "--json"], env=extra)
    assert result.exit_code == 0, result.stderr
    monkeypatch.chdir(tmp_path / "b")  # the same, already paid sheet, from another folder
    result = CliRunner().invoke(main, ["run", "nov.csv", "--yes", "--json"], env=extra)
    assert result.exit_code == 0 and "NEW LEDGER" not in result.stderr
    assert nonzero(json.loads(result.stdout)["counts"]) == {"COMPLETED": 3}
    assert paid_exactly_once(quick, phones) == {}
    # Forgetting the base URL: the sandbox's own ledger, which does not hold the live batch.
    result = CliRunner().invoke(main, ["run", "nov", "--yes", "--json"],
                                env={**extra, "DOLLR_BASE_URL": ""})
    assert result.exit_code == 1 and "no such file or batch" in result.stderr
    assert len(quick.executions()) == 3
