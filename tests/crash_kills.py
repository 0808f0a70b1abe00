"""Kill a `paybatch run` subprocess at a chosen phase, judged from its ledger as it runs.

The test process reads the ledger file (SQLite WAL, read-only) every few milliseconds and
SIGKILLs the run as soon as the phase shows: planning, recipient setup, right after a
SUBMITTING commit, a poll settling a row, or everything settled (finishing up).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

PHASES = ("planning", "recipient", "submitting", "polling", "finishing", "random")
PROBE_EVERY = 0.002  # seconds between ledger reads while waiting for the phase


@dataclass(frozen=True)
class Snapshot:
    """What the ledger shows of one batch at one moment."""

    last_event: dict[str, int]  # to_state -> highest event id
    unpredicted: int  # rows still waiting for their operator/fee prediction
    open_rows: int  # rows not COMPLETED / FAILED / SKIPPED
    batch_exists: bool


def snapshot(ledger: Path, batch: str) -> Snapshot | None:
    """The batch as the ledger shows it now, or None if it cannot be read yet."""
    if not ledger.exists():
        return None
    try:
        con = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=0.5)
        try:
            found = con.execute("SELECT id FROM batches WHERE name = ?", (batch,)).fetchone()
            if found is None:
                return Snapshot({}, 0, 0, batch_exists=False)
            (batch_id,) = found
            events = con.execute(
                "SELECT to_state, max(id) FROM events WHERE batch_id = ? GROUP BY to_state",
                (batch_id,),
            ).fetchall()
            unpredicted, open_rows = con.execute(
                "SELECT sum(predicted_fee IS NULL AND state != 'SKIPPED'),"
                " sum(state NOT IN ('COMPLETED', 'FAILED', 'SKIPPED'))"
                " FROM rows WHERE batch_id = ?",
                (batch_id,),
            ).fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return None  # being created or migrated: not readable yet
    return Snapshot(
        {state: n for state, n in events if state}, unpredicted or 0, open_rows or 0, True
    )


def _new_event(now: Snapshot, before: Snapshot | None, states: tuple[str, ...]) -> bool:
    seen = before.last_event if before else {}
    return any(now.last_event.get(s, 0) > seen.get(s, 0) for s in states)


def phase_reached(phase: str, now: Snapshot, before: Snapshot | None) -> bool:
    """Whether the run (which started at `before`) is now in `phase`."""
    if not now.batch_exists:
        return False
    if phase == "planning":
        return now.unpredicted > 0
    if phase == "recipient":
        return _new_event(now, before, ("RECIPIENT_READY",))
    if phase == "submitting":
        return _new_event(now, before, ("SUBMITTING",))
    if phase == "polling":
        return _new_event(now, before, ("COMPLETED", "FAILED"))  # a status poll settled one
    if phase == "finishing":
        return now.open_rows == 0
    return False


def kill_at(
    proc: subprocess.Popen[bytes], ledger: Path, batch: str, phase: str, fallback: float
) -> str:
    """SIGKILL `proc` once `phase` shows in the ledger (or after `fallback` seconds).

    Returns how it ended: the phase, "timer (...)" or "exited" (finished before the kill).
    """
    before = snapshot(ledger, batch)
    deadline = time.monotonic() + fallback
    while True:
        if proc.poll() is not None:
            return "exited"
        now = snapshot(ledger, batch) if phase != "random" else None
        hit = now is not None and phase_reached(phase, now, before)
        if hit or time.monotonic() >= deadline:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return phase if hit or phase == "random" else f"timer ({phase} not seen)"
        time.sleep(PROBE_EVERY)  # test harness only: how often the ledger is looked at
