"""`paybatch status` and `paybatch report` through the CLI: output, JSON, totals, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from _report_ledger import BATCH, Built, build, small_batch
from click.testing import CliRunner

from batch.cli import main
from batch.ledger import Ledger
from batch.markets import from_minor
from batch.report.files import load_report, report_path

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def built(tmp_path: Path) -> Built:
    return build(tmp_path / "paybatch.db")


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_status_json_of_one_batch_matches_ledger_and_report(built: Built) -> None:
    code, out, _ = invoke("status", BATCH, "--ledger", str(built.path), "--json")
    data = json.loads(out)
    with Ledger(built.path) as ledger:
        summary = ledger.summary(built.batch_id)
        report = load_report(ledger, BATCH)
    assert summary is not None
    assert code == data["exit_code"] == 4
    assert data["batch"] == BATCH
    assert {s: n for s, n in data["counts"].items() if n} == summary.counts
    for cur, states in summary.money.items():
        got = data["money"][cur]
        assert Decimal(got["paid"]) == from_minor(states.get("COMPLETED", 0), cur)
        assert Decimal(got["failed"]) == from_minor(states.get("FAILED", 0), cur)
        pending = sum(n for s, n in states.items() if s not in ("COMPLETED", "FAILED", "SKIPPED"))
        assert Decimal(got["pending"]) == from_minor(pending, cur)
    # status == report == ledger
    assert {(t["state"], t["currency"]): Decimal(t["amount"]) for t in data["totals"]} == {
        (t.state, t.currency): t.amount for t in report.totals
    }
    assert [r["row"] for r in data["in_flight"]] == [6, 7]


def test_status_text_of_one_batch(built: Built) -> None:
    code, out, _ = invoke("status", BATCH, "--ledger", str(built.path))
    assert code == 4
    assert BATCH in out and "in flight" in out and "Insufficient wallet balance" in out
    assert "255.50" in out  # USD paid
    assert "\x1b[" not in out  # not a terminal: no escape codes


def test_status_lists_every_batch(tmp_path: Path) -> None:
    ledger = tmp_path / "l.db"
    small_batch(ledger, "october", ["completed", "completed"])
    small_batch(ledger, "november", ["completed", "failed", "unknown"], day=30)
    code, out, _ = invoke("status", "--ledger", str(ledger), "--json")
    data = json.loads(out)
    assert code == 0 == data["exit_code"]
    assert [b["batch"] for b in data["batches"]] == ["november", "october"]
    nov = data["batches"][0]
    assert nov["rows"] == 3 and nov["exit_code"] == 4
    usd = nov["money"]["USD"]
    assert {k: usd[k] for k in ("paid", "pending", "in_flight", "not_sent", "failed")} == {
        "paid": "10.00", "pending": "10.00", "in_flight": "10.00", "not_sent": "0.00",
        "failed": "10.00"}
    assert usd["sheet"] == "30.00" and usd["reconciles"]  # the same figures as `run --json`
    code, out, _ = invoke("status", "--ledger", str(ledger))
    assert code == 0 and "october" in out and "november" in out and "1 in flight" in out


@pytest.mark.parametrize(
    ("outcomes", "code"),
    [
        (["completed", "completed"], 0),
        (["completed", "failed"], 3),
        (["completed", "failed", "unknown"], 4),
        (["completed", "new"], 4),
    ],
)
def test_status_exit_code_per_outcome(tmp_path: Path, outcomes: list[str], code: int) -> None:
    ledger = tmp_path / "l.db"
    small_batch(ledger, "b", outcomes)
    got, out, _ = invoke("status", "b", "--ledger", str(ledger), "--json")
    assert got == code == json.loads(out)["exit_code"]


def test_missing_ledger_or_batch_is_one_line_exit_1(tmp_path: Path, built: Built) -> None:
    code, out, err = invoke("status", "--ledger", str(tmp_path / "none.db"))
    assert code == 1 and out == "" and err.count("\n") == 1 and "no ledger" in err
    assert not (tmp_path / "none.db").exists()
    code, _, err = invoke("report", "nope", "--ledger", str(built.path))
    assert code == 1 and "nope: no such batch" in err and BATCH in err


def test_report_command_writes_each_format(tmp_path: Path, built: Built) -> None:
    for name in ("r.xlsx", "r.json", "r.csv"):
        code, out, _ = invoke("report", BATCH, "--ledger", str(built.path),
                              "--out", str(tmp_path / name))
        assert code == 0 and out.splitlines()[0] == str(tmp_path / name)
        assert (tmp_path / name).stat().st_size > 0
    code, out, _ = invoke("report", BATCH, "--ledger", str(built.path), "--json")
    data = json.loads(out)
    assert code == 0 and data["files"] == [str(report_path(built.path, BATCH))]
    assert data["batch_exit_code"] == 4


def test_report_refuses_unknown_extension_as_usage_error(built: Built, tmp_path: Path) -> None:
    code, _, err = invoke("report", BATCH, "--ledger", str(built.path), "--out",
                          str(tmp_path / "r.pdf"))
    assert code == 2 and ".xlsx, .csv or .json" in err


def test_status_as_a_cron_subprocess(built: Built) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "batch", "status", BATCH, "--json"],
        capture_output=True, text=True, cwd=REPO, env={"PAYBATCH_LEDGER": str(built.path),
                                                       "PATH": "/usr/bin:/bin"},
        stdin=subprocess.DEVNULL, timeout=60,
    )
    assert done.returncode == 4 and done.stderr == ""
    assert json.loads(done.stdout)["counts"]["UNKNOWN"] == 1
