"""Issue 13: Ctrl-C / SIGTERM during `run` stops starting rows, settles, records, says what
to do, and exits 4; a second signal stops at once; the rerun pays everyone exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.engine_helpers import nonzero, paid_exactly_once, subprocess_env, write_sheet


def _start(args: list[str], base_url: str, ledger: Path, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "batch", *args, "--rate", "500"],
        env={**subprocess_env(base_url, ledger), **extra},
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _until(condition: Any, timeout: float = 30.0) -> None:
    """Wait for a condition the test observes (not for a guessed duration)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_settles_records_and_exits_4(sandbox, tmp_path: Path, sig: int) -> None:  # type: ignore[no-untyped-def]
    # Each payout PROCESSING for a while, one row at a time: the run is mid-batch when hit.
    sandbox.set_faults(pending_seconds=0.05, processing_seconds=0.3)
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    phones = write_sheet(sheet, 30)
    proc = _start(["run", str(sheet), "--yes", "--json", "--concurrency", "1"],
                  sandbox.base_url, ledger, PAYBATCH_INTERRUPT_SETTLE="2")
    _until(lambda: len(sandbox.executions()) >= 3)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, err
    result = json.loads(out)
    assert result["interrupted"] == signal.Signals(sig).name and result["exit_code"] == 4
    paid = result["counts"]["COMPLETED"]
    assert 3 <= paid < 30 and result["not_sent"] > 0
    assert "Traceback" not in err and "Aborted" not in err
    assert (f"interrupted: {paid} paid, {result['in_flight']} in flight, "
            f"{result['not_sent']} not sent — run the same command again") in err
    # Everything is recorded: the ledger's figures add up, and a rerun finishes the batch.
    assert result["money"]["USD"]["reconciles"]
    sent = len(sandbox.executions())
    assert sent < 30  # no new row was started after the signal... beyond those in hand
    rerun = subprocess.run(
        [sys.executable, "-m", "batch", "run", "nov", "--yes", "--json", "--rate", "500"],
        env=subprocess_env(sandbox.base_url, ledger), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert nonzero(json.loads(rerun.stdout)["counts"]) == {"COMPLETED": 30}
    assert paid_exactly_once(sandbox, phones) == {}


def test_second_interrupt_stops_at_once_still_safely(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Payouts stay PROCESSING far longer than the test: only a second signal ends it soon.
    sandbox.set_faults(pending_seconds=0.05, processing_seconds=3600)
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    phones = write_sheet(sheet, 10)
    proc = _start(["run", str(sheet), "--yes", "--json", "--concurrency", "2"],
                  sandbox.base_url, ledger, PAYBATCH_INTERRUPT_SETTLE="3600")
    _until(lambda: len(sandbox.executions()) >= 2)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")))
    reader.start()
    proc.send_signal(signal.SIGINT)
    _until(lambda: any("settling rows in flight" in line for line in lines))
    proc.send_signal(signal.SIGINT)
    out = proc.stdout.read()
    proc.wait(timeout=30)  # not the 3600 s settle window
    reader.join()
    proc.stdout.close()
    proc.stderr.close()
    err = "".join(lines)
    assert proc.returncode == 4, err
    result = json.loads(out)
    assert result["interrupted"] == "SIGINT" and result["in_flight"] >= 1
    # The rows sent are still known by their reference_id: a rerun pays the rest and sends
    # none of them again (payouts stay PROCESSING in this sandbox: all in flight, exit 4).
    rerun = subprocess.run(
        [sys.executable, "-m", "batch", "run", "nov", "--yes", "--json", "--rate", "500",
         "--wait", "1"],
        env={**subprocess_env(sandbox.base_url, ledger), "PAYBATCH_POLL_FIRST": "0.1",
             "PAYBATCH_POLL_MAX": "0.3"},
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )
    again = json.loads(rerun.stdout)
    assert rerun.returncode == 4 and again["in_flight"] == 10, rerun.stderr
    per_phone = sandbox.recipients()
    assert all(sum(per_phone.get(p, {}).values()) == 1 for p in phones)  # one execution each
