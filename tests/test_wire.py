"""Issue 5 wired into the engine: the report after every run, progress, cron behaviour, output.

Against the real sandbox over loopback, through the CLI (in-process and as a subprocess).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import click
import openpyxl
import pytest
from click.testing import CliRunner

from batch.cli import main
from batch.ledger import Ledger
from batch.report.files import report_path
from tests.engine_helpers import QUICK_PAYOUTS, cli, env, nonzero, subprocess_env, write_sheet


@pytest.fixture
def quick(sandbox):  # type: ignore[no-untyped-def]
    sandbox.set_faults(**QUICK_PAYOUTS)
    return sandbox


def paybatch(args: list[str], base_url: str, ledger: Path) -> subprocess.CompletedProcess[str]:
    """`python -m batch ARGS` as cron would run it: no terminal on stdin, stdout or stderr."""
    rate = ["--rate", "500"] if args[0] == "run" else []
    return subprocess.run(
        [sys.executable, "-m", "batch", *args, *rate], env=subprocess_env(base_url, ledger),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )


def summary_tables(xlsx: Path) -> tuple[dict[str, int], set[tuple[str, str, int, Decimal]]]:
    """The Summary sheet's outcome counts and money-by-state lines, as written."""
    rows = list(openpyxl.load_workbook(xlsx)["Summary"].iter_rows(values_only=True))
    counts: dict[str, int] = {}
    money: set[tuple[str, str, int, Decimal]] = set()
    for i, row in enumerate(rows):
        if row[:2] == ("State", "Rows"):
            for line in rows[i + 1:]:
                if not line[0]:
                    break
                counts[str(line[0])] = int(line[1])  # type: ignore[arg-type]
        if row[:4] == ("State", "Currency", "Rows", "Amount"):
            for line in rows[i + 1:]:
                if not line[0]:
                    break
                state, cur, n, amount = line[:4]
                money.add((str(state), str(cur), int(n), Decimal(str(amount))))  # type: ignore[arg-type]
    return counts, money


# -- cron -------------------------------------------------------------------------------------


def test_cron_run_without_yes_exits_5_having_sent_nothing(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 3)
    done = paybatch(["run", str(sheet)], quick.base_url, ledger)
    assert done.returncode == 5, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("paybatch: error")]
    assert errors == ["paybatch: error: no terminal to confirm on: pass --yes to pay "
                      "without asking"]
    assert "Traceback" not in done.stderr
    assert quick.executions() == []
    assert not report_path(ledger, "nov").exists()  # nothing ran, nothing to report


def test_cron_run_yes_json_report_matches_status(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    quick.set_balances(USD="25.00")  # two payouts, then the wallet is empty: some FAILED
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 6)
    done = paybatch(["run", str(sheet), "--yes", "--json", "--concurrency", "1",
                     "--log-file", str(tmp_path / "cron.log")], quick.base_url, ledger)
    out = json.loads(done.stdout)  # stdout is one JSON object and nothing else
    assert done.stdout.strip().count("\n") == 0
    assert done.returncode == out["exit_code"] == 3, done.stderr
    assert out["counts"]["FAILED"] >= 1 and out["counts"]["COMPLETED"] >= 1
    report = Path(out["report"])
    assert report == report_path(ledger, "nov") and report.is_file()
    assert "Traceback" not in done.stderr

    status = paybatch(["status", "nov", "--json"], quick.base_url, ledger)
    assert status.returncode == 3
    shown = json.loads(status.stdout)
    counts, money = summary_tables(report)
    assert counts == nonzero(shown["counts"]) == nonzero(out["counts"])
    assert money == {
        (t["state"], t["currency"], t["rows"], Decimal(t["amount"])) for t in shown["totals"]
    }
    # The money reconciles with the sandbox's own record of what was paid.
    paid = sum(e.amount for e in quick.executions(status="COMPLETED"))
    assert {(s, a) for s, _, _, a in money if s == "COMPLETED"} == {("COMPLETED", paid)}
    log = (tmp_path / "cron.log").read_text()
    assert "wallet: USD payouts paused" in log and f"report: {report}" in log


def test_reconcile_rewrites_the_report_with_rows_settled(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sandbox.set_faults(pending_seconds=0.05, processing_seconds=1.5)
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 3)
    code, out, _ = cli(["run", str(sheet), "--yes", "--wait", "0"], sandbox.base_url, ledger)
    assert code == 4 and out["in_flight"] == 3
    counts, _ = summary_tables(Path(out["report"]))
    assert counts == {"SUBMITTED": 3}
    code, out, _ = cli(["reconcile", "nov", "--wait", "10"], sandbox.base_url, ledger)
    assert code == 0 and nonzero(out["counts"]) == {"COMPLETED": 3}
    counts, money = summary_tables(Path(out["report"]))
    assert counts == {"COMPLETED": 3}
    assert money == {("COMPLETED", "USD", 3, Decimal("31.50"))}


def test_a_report_that_cannot_be_written_is_a_warning(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 2)
    report_path(ledger, "nov").mkdir()  # the report's place is taken
    code, out, err = cli(["run", str(sheet), "--yes"], quick.base_url, ledger)
    assert code == 0 and nonzero(out["counts"]) == {"COMPLETED": 2}
    assert out["report"] is None and "could not write the report" in out["report_error"]
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "paybatch report" in warnings[0]
    assert Ledger(ledger).counts(out["batch_id"]) == {"COMPLETED": 2}


def test_every_batch_gets_a_workbook_report(tmp_path: Path) -> None:
    """No automatic switch to CSV any more (issue 16): the run's report is a workbook."""
    from batch import pipeline
    from tests._report_ledger import build

    assert not hasattr(pipeline, "AUTO_XLSX_MAX_ROWS")
    built = build(tmp_path / "l.db")
    with Ledger(built.path) as ledger:
        path, problem = pipeline.write_report_safely(ledger, built.batch_id)
    assert problem is None and path == report_path(built.path, "payroll-2026-11", ".xlsx")
    assert openpyxl.load_workbook(path)["Payouts"].max_row == 1 + 10
    assert not list(tmp_path.glob("*.csv"))


# -- progress and messages ---------------------------------------------------------------------


def test_plain_progress_off_a_terminal_and_in_the_log(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sheet, ledger, logfile = tmp_path / "nov.csv", tmp_path / "l.db", tmp_path / "run.log"
    write_sheet(sheet, 4)
    result = CliRunner().invoke(
        main, ["run", str(sheet), "--yes", "--base-url", quick.base_url, "--ledger", str(ledger),
               "--rate", "500", "--log-file", str(logfile)],
        env=env(), catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    assert "planning: 4/4 rows predicted" in result.stderr
    last = [line for line in result.stderr.splitlines() if line.startswith("paying:")][-1]
    assert last.startswith("paying: submitted 4, completed 4/4, failed 0, in flight 0")
    # Plain text on stdout: totals, then the summary with the report's path.
    assert "total debit" in result.stdout and "COMPLETED 4" in result.stdout
    assert f"report: {report_path(ledger, 'nov')}" in result.stdout
    log = logfile.read_text()
    assert "paybatch.progress: paying: submitted 4" in log
    assert "paybatch.engine: plan: batch 'nov'" in log
    assert "paybatch.engine: end of run: batch 'nov': COMPLETED 4" in log


def test_quiet_keeps_stderr_clean_but_logs_progress(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sheet, ledger, logfile = tmp_path / "nov.csv", tmp_path / "l.db", tmp_path / "run.log"
    write_sheet(sheet, 2)
    code, out, err = cli(["run", str(sheet), "--yes", "--quiet", "--log-file", str(logfile)],
                         quick.base_url, ledger)
    assert code == 0 and out["report"]
    assert "paying:" not in err and "planning:" not in err
    assert "paying: submitted 2, completed 2/2" in logfile.read_text()


def test_plan_json_stays_pure_with_progress(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 3)
    code, out, err = cli(["plan", str(sheet)], quick.base_url, ledger)
    assert code == 0 and nonzero(out["counts"]) == {"NEW": 3}
    assert "planning: 3/3 rows predicted" in err


def _on_a_terminal(args: list[str], base_url: str, ledger: Path, **extra: str) -> str:
    """Run paybatch with stdout and stderr on a pseudo-terminal; everything it showed."""
    import pty

    main_fd, child_fd = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "batch", *args, "--rate", "500"],
            env={**subprocess_env(base_url, ledger), "COLUMNS": "120", **extra},
            stdin=subprocess.DEVNULL, stdout=child_fd, stderr=child_fd,
        )
        os.close(child_fd)
        chunks = []
        while True:
            try:
                data = os.read(main_fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(timeout=60) == 0
    finally:
        os.close(main_fd)
    return b"".join(chunks).decode("utf-8", "replace")


def test_rich_totals_bars_and_summary_on_a_terminal(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 3)
    shown = _on_a_terminal(["run", str(sheet), "--yes"], quick.base_url, ledger, NO_COLOR="1")
    assert "Total debit" in shown and "Predicted fees" in shown  # render_plan's table
    assert "submitted" in shown and "in flight" in shown  # the bars
    assert "every row completed" in shown and "report:" in shown  # render_run
    assert "\x1b[32m" not in shown and "\x1b[31m" not in shown  # NO_COLOR: no colours


# -- help -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("plan", ["--batch-name", "--skip-invalid", "--allow-repeat", "--ledger", "--json"]),
        ("run", ["--yes", "--max-total", "--wait", "--retry-failed", "--concurrency", "--rate",
                 "--json", "--quiet", "--log-file", "--ledger", "--base-url"]),
        ("reconcile", ["--wait", "--ledger", "--json", "--log-file"]),
    ],
)
def test_paying_commands_help_lists_their_options(name: str, options: list[str]) -> None:
    result = CliRunner().invoke(main, [name, "--help"], terminal_width=100)
    assert result.exit_code == 0
    for option in options:
        assert option in result.output, f"{name} --help lacks {option}"
    assert "Exit codes" in result.output or name == "plan"
    for param in main.commands[name].params:
        if not isinstance(param, click.Option) or param.hidden:
            continue
        assert param.help, f"{name} {param.opts} has no help text"
