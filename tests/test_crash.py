"""Crash test: SIGKILL `paybatch run` at random moments, rerun until done; nobody is paid twice.

"Paid exactly once" is judged from the sandbox's own record of executions, and the ledger must
agree with it. CI runs a short version; `PAYBATCH_SLOW=1` runs one with 100 kills.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from batch.ledger import Ledger
from batch.states import RowState
from tests.engine_helpers import QUICK_PAYOUTS, paid_exactly_once, subprocess_env, write_sheet

STARTUP = 1.0  # seconds before `python -m batch` is doing anything worth interrupting


def _run(sheet: Path, env: dict[str, str], log: Path, rate: int) -> subprocess.Popen[bytes]:
    with log.open("ab") as err:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "batch",
                "run",
                str(sheet),
                "--yes",
                "--json",
                "--quiet",
                "--wait",
                "20",
                "--rate",
                "200",
                "--concurrency",
                "6",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def crash_and_finish(
    sandbox: Any, tmp_path: Path, *, kills: int, rows: int, seed: int, rate: int = 200
) -> dict[str, Any]:
    """Kill runs `kills` times at random moments, then rerun until exit 0; return figures."""
    rng = random.Random(seed)
    sandbox.set_faults(
        **QUICK_PAYOUTS,
        latency_ms=15,
        latency_jitter_ms=15,
        drop_rate=0.1,
        drop_endpoints=["executions.*"],
        session_lifetime_seconds=1.0,
    )
    sheet, ledger = tmp_path / "crash.csv", tmp_path / "crash.db"
    phones = write_sheet(sheet, rows)
    env = subprocess_env(sandbox.base_url, ledger)
    log = tmp_path / "stderr.log"
    killed_mid_run = 0
    left_submitting = 0
    for _ in range(kills):
        proc = _run(sheet, env, log, rate)
        delay = STARTUP + rng.uniform(0.0, 2.5)
        try:
            proc.wait(timeout=delay)  # finished before the kill: still a valid sample
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            killed_mid_run += 1
            if ledger.exists():
                # Rows whose execute may have left without its answer being recorded.
                with Ledger(ledger) as db:
                    batch = db.batch_by_name("crash")
                    if batch is not None:
                        left_submitting += db.counts(batch.id).get("SUBMITTING", 0)
    started = time.monotonic()
    reruns = 0
    code = None
    while code != 0 and reruns < 6:
        reruns += 1
        proc = _run(sheet, env, log, rate)
        code = proc.wait(timeout=120)
    figures = {
        "seed": seed,
        "kills": kills,
        "killed_mid_run": killed_mid_run,
        "rows_left_submitting_by_kills": left_submitting,
        "reruns": reruns,
        "final_exit": code,
        "finish_seconds": round(time.monotonic() - started, 1),
        "executions": len(sandbox.executions()),
    }
    assert code == 0, (figures, log.read_text(errors="replace")[-2000:])
    assert paid_exactly_once(sandbox, phones) == {}, figures
    # The ledger agrees with the sandbox: each row COMPLETED by the reference the sandbox paid.
    paid = {e.reference_id: e.phone for e in sandbox.executions(status="COMPLETED")}
    db = Ledger(ledger)
    batch = db.batch_by_name("crash")
    assert batch is not None
    for row in db.rows(batch.id):
        assert row.state is RowState.COMPLETED
        assert paid.get(row.current_reference_id or "") == row.phone
    return figures


def test_killed_runs_never_pay_twice(sandbox: Any, tmp_path: Path) -> None:
    seed = random.randrange(1_000_000)
    figures = crash_and_finish(sandbox, tmp_path, kills=3, rows=20, seed=seed)
    print(f"crash test figures: {figures}")


@pytest.mark.slow
def test_killed_runs_never_pay_twice_long(sandbox: Any, tmp_path: Path) -> None:
    kills = int(os.environ.get("PAYBATCH_CRASH_KILLS", "100"))
    seed = random.randrange(1_000_000)
    # A slow rate spreads the batch over all the kills, so most land mid-run.
    figures = crash_and_finish(sandbox, tmp_path, kills=kills, rows=4 * kills, seed=seed, rate=25)
    print(f"crash test figures: {figures}")
