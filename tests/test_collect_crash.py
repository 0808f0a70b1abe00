"""Crash test for collections: SIGKILL `paybatch collect` at random moments — between the
invoice's preparation steps, right after a request's reference_id is committed, while
polling, or at a random time — under faults, then run it again (cron) until every invoice
is paid or has used up its requests. Judged from the sandbox's own record: no payer debited
twice for an invoice, no invoice with a duplicated item, and the ledger agrees.

CI runs a short version; `PAYBATCH_SLOW=1` a long one (`PAYBATCH_CRASH_KILLS`, default 40).
Replay with `PAYBATCH_CRASH_SEED=<seed printed in the figures>`.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.collect_helpers import QUICK_PAYERS, collection_disagreements
from tests.engine_helpers import subprocess_env

FAULTS: dict[str, Any] = {
    **QUICK_PAYERS,
    "latency_ms": 5,
    "latency_jitter_ms": 15,
    "error_rate": 0.05,
    "drop_rate": 0.12,
    "drop_endpoints": ["invoices.create", "invoices.items_add", "invoices.publish",
                       "sessions.checkout", "executions.collection", "status.*",
                       "parties.create"],
    "status_visibility_delay_seconds": 0.3,
    "token_lifetime_seconds": 2.0,
    "payer_decline_rate": 0.2,
    "payer_timeout_rate": 0.1,
    "payer_insufficient_rate": 0.05,
}
PHASES = ("journal", "submitting", "polling", "random")
FINAL = (0, 3)


def write_collection_sheet(path: Path, invoices: int) -> None:
    """`invoices` invoices, every third one with three items."""
    lines = ["Payer,Phone,Invoice,Item,Quantity,Unit price,Currency,Country"]
    for i in range(invoices):
        phone = f"231{'77' if i % 2 else '88'}02{i:05d}"
        if i % 3 == 0:
            for item, qty, price in (("Tuition", 1, "40.00"), ("Books", 3, "2.50"),
                                     ("Uniform", 2, "9.00")):
                lines.append(f"Payer {i},{phone},K{i},{item},{qty},{price},USD,LR")
        else:
            lines.append(f"Payer {i},{phone},,Instalment {i},1,{10 + i}.00,USD,LR")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _probe(ledger: Path, phase: str) -> int:
    """How far the ledger shows `phase` (a count that grows as the run goes)."""
    if not ledger.exists():
        return -1
    try:
        con = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=0.5)
        try:
            if phase == "journal":
                sql = "SELECT count(*) FROM preparation_steps"
            elif phase == "submitting":
                sql = "SELECT count(*) FROM events WHERE to_state = 'SUBMITTING'"
            else:
                sql = "SELECT count(*) FROM events WHERE to_state IN ('COMPLETED', 'FAILED')"
            return int(con.execute(sql).fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return -1


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "batch", "collect", *args, "--json", "--quiet",
             "--wait", "20", "--rate", "100", "--concurrency", "6"],
            env=env, stdout=subprocess.DEVNULL, stderr=err,
        )


def _kill_when(proc: subprocess.Popen[bytes], ledger: Path, phase: str,
               rng: random.Random, deadline: float) -> str:
    """SIGKILL once the ledger shows `phase` moving `rng`-many steps on (or at the deadline)."""
    start = _probe(ledger, phase)
    target = start + rng.randint(1, 4)
    limit = time.monotonic() + deadline
    while proc.poll() is None:
        if phase != "random" and _probe(ledger, phase) >= target:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return phase
        if time.monotonic() >= limit:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return "deadline" if phase != "random" else "random"
        time.sleep(0.003)  # probing the ledger, not timing the logic
    return "ended"


def crash_collect(sandbox: Any, tmp_path: Path, *, kills: int, invoices: int,
                  seed: int) -> dict[str, Any]:
    """Kill `kills` runs, then run until final; assert the sandbox and ledger agree."""
    rng = random.Random(seed)
    sandbox.set_faults(**FAULTS)
    sheet, ledger = tmp_path / "dues.csv", tmp_path / "dues.db"
    write_collection_sheet(sheet, invoices)
    env = {**subprocess_env(sandbox.base_url, ledger), "PAYBATCH_RESEND_GRACE": "0.2"}
    log = tmp_path / "stderr.log"
    first = [str(sheet), "--yes", "--re-request-after", "0s", "--max-requests", "3"]
    started = time.monotonic()
    endings: Counter[str] = Counter()
    for _ in range(kills):
        phase = rng.choice(PHASES)
        args = first  # a kill in planning leaves no batch yet: the file finds or makes it
        deadline = rng.uniform(0.5, 4.0) if phase == "random" else 8.0
        endings[_kill_when(_start(args, env, log), ledger, phase, rng, deadline)] += 1
    code, reruns = None, 0
    while code not in FINAL and reruns < 12:
        reruns += 1
        code = _start(["dues"], env, log).wait(timeout=180)
    collections = sandbox.collections()
    figures = {
        "seed": seed, "invoices": invoices, "kills": kills, "kill_phases": dict(endings),
        "reruns": reruns, "final_exit": code, "wall_seconds": round(time.monotonic() - started, 1),
        "requests": len(collections),
        "debits": sum(1 for c in collections if c.status == "COMPLETED"),
        "invoices_at_sandbox": Counter(i.status for i in sandbox.invoices()),
        "faults_injected": sandbox.stats()["faults"],
    }
    # Money first: no payer debited twice, and the ledger and the sandbox's record agree...
    problems = collection_disagreements(sandbox, ledger, "dues")
    figures["left_unknown"] = len(problems.pop("left for later", []))
    assert not problems, (figures, problems)
    # ...then a final exit, or 4 for rows the engine rightly leaves UNKNOWN (left_for_later).
    assert code in FINAL or (code == 4 and figures["left_unknown"]), (
        figures, log.read_text(errors="replace")[-3000:])
    return figures


def _seed() -> int:
    return int(os.environ.get("PAYBATCH_CRASH_SEED", random.randrange(1_000_000)))


def test_killed_collects_never_debit_a_payer_twice(sandbox: Any, tmp_path: Path) -> None:
    figures = crash_collect(sandbox, tmp_path, kills=4, invoices=8, seed=_seed())
    print(f"collection crash figures: {figures}")


@pytest.mark.slow
def test_killed_collects_never_debit_a_payer_twice_long(sandbox: Any, tmp_path: Path) -> None:
    kills = int(os.environ.get("PAYBATCH_CRASH_KILLS", "40"))
    figures = crash_collect(sandbox, tmp_path, kills=kills, invoices=kills, seed=_seed())
    print(f"collection crash figures: {figures}")
