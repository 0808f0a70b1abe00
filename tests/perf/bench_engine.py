"""The payout engine against a rate-limited, slow sandbox in its own process. Prints figures.

    python tests/perf/bench_engine.py [--rows 2000] [--concurrency 16] [--big 100000]
                                      [--defaults] [--varied-amounts] [--split]

Sandbox: `python -m batch sandbox --latency-ms 40 --rate-limit 100`. Batch 1 pays ROWS new
recipients; batch 2 pays the same recipients again (their ids come from the ledger). Per
batch: rows/s, API calls per row (status polls apart), 429s, CPU ms per row of the paybatch
process (getrusage of children), efficiency versus the bound (limit / calls per row) of the
whole command, and without the report written after the last row settled; peak RSS.
`--big N` plans N rows (a sandbox without latency or limit) for the memory check.
Runs use `--wait 60`; an execute answered 429 is re-sent with its reference_id once
Retry-After has passed and status says not found. The first status poll comes 2 s after an
execute (PAYBATCH_POLL_FIRST): the sandbox's payouts settle 1.5 s after it.
`--defaults` runs with no --rate and no --concurrency (what a new user gets: the adaptive
rate, which the repeat batch resumes from the ledger). Each whole `run` also prints its
planning apart: `plan_s` (the phases `paybatch` logs) and `plan_calls` (predictions and fee
schedule calls: paying asks neither). `--varied-amounts` gives every row its own amount (a real payroll; one fee quote per
distinct amount unless the fee schedule prices them). `--split` runs `plan` then `run` as
two commands and prints planning seconds and calls per row apart from paying;
`--split --plan-only` stops after planning.
`BENCH_KEEP=DIR` keeps the sheets and ledgers there for a look afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

CREDENTIALS = {
    "DOLLR_CLIENT_ID": "sandbox",
    "DOLLR_CLIENT_SECRET": "sandbox-secret",
    "DOLLR_PASSCODE": "0000",
    "DOLLR_PASSCODE_PHONE": "231770000000",
}
STATUS = "status.payout"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def sandbox_process(*flags: str) -> Iterator[str]:
    """`python -m batch sandbox FLAGS` on a free port; yields its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "batch", "sandbox", "--port", str(port), *flags],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{url}/_sandbox/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)  # waiting for the server to listen
        yield url
    finally:
        proc.terminate()
        proc.wait()


def write_sheet(path: Path, n: int, amount: str, *, varied: bool = False) -> None:
    lines = ["name,phone,amount,currency,country"]
    lines += [
        f"Person {i},231{'77' if i % 2 else '88'}{i:07d},"
        f"{Decimal(amount) + Decimal(i) / 100 if varied else amount},USD,LR"
        for i in range(n)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def requests_by_endpoint(url: str) -> dict[str, Counter[str]]:
    stats = httpx.get(f"{url}/_sandbox/stats").json()
    return {name: Counter(per) for name, per in stats["requests"].items()}


def run_paybatch(url: str, ledger: Path, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """One `paybatch` subprocess; returns its JSON, wall seconds, CPU seconds and maxrss (MB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "batch", *args, "--base-url", url, "--ledger", str(ledger),
         "--json", "--quiet"],
        env={**os.environ, **CREDENTIALS, **env}, capture_output=True, text=True, check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if out.returncode not in (0, 3):
        print(f"paybatch {args[0]} exited {out.returncode}: {out.stdout[-600:]}"
              f" {out.stderr[-600:]}", file=sys.stderr)
    # ru_maxrss of children is the largest child so far (KiB on Linux): the sandbox is not
    # waited for until the end, so this is paybatch's.
    return {"json": json.loads(out.stdout), "wall": wall, "ended": time.time(), "cpu": cpu,
            "maxrss_mb": after.ru_maxrss / 1024, "began": time.time() - wall}


def timeline(url: str, began: float, ended: float) -> dict[str, Any]:
    """Where the command's time went, from the sandbox's own record of arrivals: seconds
    before the first request (start-up), after the last (report, exit), and requests in each
    second between (a ramp or a tail shows as seconds under the limit)."""
    tenths = {int(k): n for k, n in httpx.get(f"{url}/_sandbox/stats").json()["timeline"].items()
              if began * 10 <= int(k) <= ended * 10 + 1}
    if not tenths:
        return {}
    first, last = min(tenths) / 10, (max(tenths) + 1) / 10
    per_second: Counter[int] = Counter()
    for tenth, n in tenths.items():
        per_second[int(tenth / 10 - began)] += n
    return {"before_first_request_s": round(first - began, 2),
            "after_last_request_s": round(ended - last, 2),
            "requests_per_second": [per_second[s] for s in range(int(last - began) + 1)]}


def finished_at(ledger: Path, batch_id: int) -> float:
    """When the batch's last row settled (epoch seconds): what follows is the report."""
    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as conn:
        (finished,) = conn.execute(
            "SELECT finished_at FROM batches WHERE id = ?", (batch_id,)
        ).fetchone()
    return datetime.fromisoformat(finished).timestamp()


def batch_figures(
    label: str, url: str, rows: int, limit: float, run: dict[str, Any],
    before: dict[str, Counter[str]], after: dict[str, Counter[str]], report_s: float,
) -> dict[str, Any]:
    delta = {k: after.get(k, Counter()) - before.get(k, Counter()) for k in after}
    total = sum(sum(c.values()) for c in delta.values())
    polls = sum(delta.get(STATUS, Counter()).values())
    throttled = sum(c.get("429", 0) for c in delta.values())
    calls_per_row = total / rows
    bound = limit / calls_per_row  # rows/s the server's limit allows at this many calls
    rate = rows / run["wall"]
    return {
        "batch": label,
        "rows": rows,
        "exit": run["json"].get("exit_code"),
        "wall_s": round(run["wall"], 2),
        "rows_per_s": round(rate, 2),
        "calls_per_row": round(calls_per_row, 3),
        "calls_per_row_without_polls": round((total - polls) / rows, 3),
        "status_polls_per_row": round(polls / rows, 3),
        "calls_by_endpoint": {k: sum(c.values()) for k, c in delta.items() if c},
        "429s": throttled,
        "429_pct": round(100 * throttled / max(total, 1), 2),
        "bound_rows_per_s": round(bound, 2),
        "efficiency": round(rate / bound, 3),
        "report_s": round(report_s, 2),
        "efficiency_before_report": round(rows / (run["wall"] - report_s) / bound, 3),
        "cpu_ms_per_row": round(1000 * run["cpu"] / rows, 3),
        "peak_rss_mb": round(run["maxrss_mb"], 1),
    }


def plan_figures(
    rows: int, run: dict[str, Any], before: dict[str, Counter[str]],
    after: dict[str, Counter[str]],
) -> dict[str, Any]:
    """Planning alone: seconds, calls per row by endpoint, and where the fees came from."""
    delta = {k: after.get(k, Counter()) - before.get(k, Counter()) for k in after}
    total = sum(sum(c.values()) for c in delta.values())
    return {
        "plan_wall_s": round(run["wall"], 2),
        "plan_cpu_s": round(run["cpu"], 2),  # paybatch's own CPU (the sandbox's apart)
        "plan_calls": total,
        "plan_calls_per_row": round(total / rows, 3),
        "plan_calls_by_endpoint": {k: sum(c.values()) for k, c in delta.items() if c},
        "plan_429s": sum(c.get("429", 0) for c in delta.values()),
        "fee_sources": run["json"].get("fee_sources"),
    }


PHASE = re.compile(r"plan timing: (?P<phase>[a-z ,_-]+?) in (?P<s>[0-9.]+) s")
PLANNING_ENDPOINTS = ("predictions.", "fees.")  # paying never asks these


def planning_within(
    log: Path, rows: int, before: dict[str, Counter[str]], after: dict[str, Counter[str]]
) -> dict[str, Any]:
    """Planning inside one `run`: its phases' seconds (as logged) and its calls."""
    phases = {m["phase"]: float(m["s"]) for m in PHASE.finditer(log.read_text())}
    calls = {k: sum((after.get(k, Counter()) - before.get(k, Counter())).values())
             for k in after if k.startswith(PLANNING_ENDPOINTS)}
    return {
        "plan_s": round(sum(phases.values()), 2),
        "plan_phases_s": phases,
        "plan_calls": sum(calls.values()),
        "plan_calls_per_row": round(sum(calls.values()) / rows, 3),
    }


def engine_bench(
    rows: int, concurrency: int, limit: float, workdir: Path, *,
    defaults: bool = False, varied: bool = False, split: bool = False, plan_only: bool = False,
    show_timeline: bool = False,
) -> None:
    ledger = workdir / "bench.db"
    env = {"PAYBATCH_POLL_FIRST": "2"}  # the sandbox's payouts settle in 1.5 s
    flags = ["--latency-ms", "40", "--rate-limit", str(limit),
             "--pending-seconds", "0.5", "--processing-seconds", "1"]
    tuning = [] if defaults else ["--rate", str(limit), "--concurrency", str(concurrency)]
    run_args = ["--yes", "--wait", "60", *tuning]
    with sandbox_process(*flags) as url:
        for label, amount in (("new recipients", "10.50"), ("repeat recipients", "11.25")):
            sheet = workdir / f"{label.split()[0]}.csv"
            write_sheet(sheet, rows, amount, varied=varied)
            before = requests_by_endpoint(url)
            planned: dict[str, Any] = {}
            plan_wall = 0.0
            # The same people again on purpose: the row guard (issue 11) refuses it otherwise.
            again = ["--allow-repeat"] if label.startswith("repeat") else []
            if split:
                plan = run_paybatch(url, ledger, ["plan", str(sheet), *tuning, *again], env)
                middle = requests_by_endpoint(url)
                planned, plan_wall = plan_figures(rows, plan, before, middle), plan["wall"]
                if plan_only:
                    print(json.dumps({"batch": label, "rows": rows, **planned}))
                    continue
            log = workdir / f"{label.split()[0]}.log"
            run = run_paybatch(url, ledger, ["run", str(sheet), *run_args, *again,
                                             "--log-file", str(log)], env)
            after = requests_by_endpoint(url)
            report_s = run["ended"] - finished_at(ledger, run["json"]["batch_id"])
            if not split:
                planned = planning_within(log, rows, before, after)
            if split:
                planned["pay_wall_s"] = round(run["wall"], 2)
                planned["pay_calls_per_row"] = round(sum(
                    sum((after.get(k, Counter()) - middle.get(k, Counter())).values())
                    for k in after) / rows, 3)
                run = {**run, "wall": run["wall"] + plan_wall}  # the whole: plan + run
            figures = batch_figures(label, url, rows, limit, run, before, after, report_s)
            shape = timeline(url, run["began"], run["ended"]) if show_timeline else {}
            print(json.dumps({**figures, **planned, **shape}))


def big_plan(rows: int, workdir: Path) -> None:
    sheet, ledger = workdir / "big.csv", workdir / "big.db"
    write_sheet(sheet, rows, "10.50")
    with sandbox_process() as url:
        run = run_paybatch(url, ledger, ["plan", str(sheet), "--rate", "100000",
                                         "--concurrency", "64"], {})
    print(json.dumps({"plan_rows": rows, "wall_s": round(run["wall"], 1),
                      "cpu_ms_per_row": round(1000 * run["cpu"] / rows, 3),
                      "peak_rss_mb": round(run["maxrss_mb"], 1),
                      "ledger_mb": round(ledger.stat().st_size / 2**20, 1)}))


@contextmanager
def _kept(path: str) -> Iterator[str]:
    Path(path).mkdir(parents=True, exist_ok=True)
    yield path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--limit", type=float, default=100.0, help="sandbox requests/s")
    parser.add_argument("--big", type=int, default=0, help="also plan this many rows")
    parser.add_argument("--defaults", action="store_true", help="no --rate, no --concurrency")
    parser.add_argument("--varied-amounts", action="store_true", help="a distinct amount a row")
    parser.add_argument("--split", action="store_true", help="plan, then run: timed apart")
    parser.add_argument("--plan-only", action="store_true", help="with --split: no run")
    parser.add_argument("--timeline", action="store_true",
                        help="also print requests per second, as the sandbox saw them")
    args = parser.parse_args()
    keep = os.environ.get("BENCH_KEEP")
    with tempfile.TemporaryDirectory() if not keep else _kept(keep) as tmp:
        if args.rows:
            engine_bench(args.rows, args.concurrency, args.limit, Path(tmp),
                         defaults=args.defaults, varied=args.varied_amounts, split=args.split,
                         plan_only=args.plan_only, show_timeline=args.timeline)
        if args.big:
            big_plan(args.big, Path(tmp))


if __name__ == "__main__":
    main()
