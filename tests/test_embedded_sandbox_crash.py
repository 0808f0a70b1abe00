"""A killed `paybatch run` against the embedded sandbox (no --base-url) finishes on rerun.

The README's first command starts a sandbox inside the run; its state lives next to the
ledger, so a rerun answers status for the earlier reference_ids and nobody is paid twice.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from batch.sandbox import SandboxConfig, running_sandbox
from batch.sandbox.persist import state_path_for

RUN_TIMEOUT = 60.0


def _env() -> dict[str, str]:
    """A run with no base URL: the embedded sandbox; fast polls, the default 404 grace."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOLLR_", "PAYBATCH_"))}
    env.update(PAYBATCH_POLL_FIRST="0.1", PAYBATCH_POLL_MAX="0.4")
    return env


def _command(sheet: Path, ledger: Path) -> list[str]:
    return [sys.executable, "-m", "batch", "run", str(sheet), "--yes", "--quiet",
            "--ledger", str(ledger), "--wait", "20", "--concurrency", "4", "--rate", "400"]


def _submitted(ledger: Path) -> int:
    """Attempts whose execute may have left (read-only, never blocks the run)."""
    if not ledger.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=0.1) as db:
            return int(db.execute(
                "SELECT count(*) FROM attempts WHERE submitted_at IS NOT NULL").fetchone()[0])
    except sqlite3.OperationalError:  # schema not there yet, or busy for a moment
        return 0


def test_killed_embedded_run_finishes_on_rerun(samples: Path, tmp_path: Path) -> None:
    sheet, ledger = samples / "payroll_liberia.csv", tmp_path / "ledger.db"
    proc = subprocess.Popen(_command(sheet, ledger), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + RUN_TIMEOUT
    while _submitted(ledger) < 3 and proc.poll() is None:
        assert time.monotonic() < deadline, "no payout was submitted in time"
        time.sleep(0.005)  # polling another process's file: test I/O edge
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    rerun = subprocess.run(_command(sheet, ledger), env=_env(), capture_output=True,
                           timeout=RUN_TIMEOUT, check=False)
    assert rerun.returncode == 0, rerun.stderr.decode(errors="replace")[-2000:]

    # Judged from the sandbox's own record, reopened from the state file next to the ledger.
    with sqlite3.connect(ledger) as db:
        phones = [p for (p,) in db.execute("SELECT phone FROM rows WHERE state = 'COMPLETED'")]
        invalid = db.execute("SELECT count(*) FROM rows WHERE state != 'COMPLETED'").fetchone()
    assert phones and invalid == (0,)
    with running_sandbox(SandboxConfig(state_path=state_path_for(ledger))) as sandbox:
        per_phone = sandbox.recipients()
    assert {p: per_phone.get(p, {}).get("COMPLETED", 0) for p in phones} == dict.fromkeys(
        phones, 1)
    assert sum(sum(c.values()) for c in per_phone.values()) == len(phones)  # no extra attempts
