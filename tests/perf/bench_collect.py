"""Collections against a rate-limited, slow sandbox in its own process. Prints figures.

    python tests/perf/bench_collect.py [--invoices 2000] [--concurrency 32] [--limit 100]
                                       [--defaults]

Sandbox: `python -m batch sandbox --latency-ms 40 --rate-limit 100`, payers approving 1 s
after each request. Batch 1 collects INVOICES invoices from new payers (party,
counterparty and COLLECTION account created); batch 2 collects from the same payers again
(their ids come from the ledger: no party, counterparty or account calls). Per batch:
invoices/s, API calls per invoice (with and without status polls), polls per invoice, 429s,
efficiency against the rate limit's bound (limit / calls per invoice), CPU ms per invoice of
the paybatch process, peak RSS, and the machine's load average (1 min) before and after.
`known_payers_need_no_payer_calls` says whether batch 2 made no party, counterparty or
account call. `--defaults` runs with no --rate and no --concurrency (what a new user gets:
the adaptive rate). `BENCH_KEEP=DIR` keeps sheets and ledgers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import (  # noqa: E402
    _kept,
    finished_at,
    requests_by_endpoint,
    run_paybatch,
    sandbox_process,
    timeline,
)

POLLS = ("status.collection",)
PAYER_SIDE = ("parties.create", "counterparties.create", "payment_accounts.create")


def write_sheet(path: Path, n: int, amount: str) -> None:
    """n invoices, one line item each (every tenth with three)."""
    lines = ["payer,phone,invoice,item,quantity,unit price,currency,country"]
    for i in range(n):
        # ...0 at the end: never one of the sandbox's test numbers (91-94 decline, expire...)
        phone = f"231{'77' if i % 2 else '88'}{i:06d}0"
        if i % 10 == 0:
            lines += [f"Payer {i},{phone},K{i},Tuition,1,{amount},USD,LR",
                      f"Payer {i},{phone},K{i},Books,2,1.25,USD,LR",
                      f"Payer {i},{phone},K{i},Uniform,1,9.00,USD,LR"]
        else:
            lines.append(f"Payer {i},{phone},,Instalment,1,{amount},USD,LR")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def figures(label: str, n: int, limit: float, run: dict[str, Any],
            before: dict[str, Counter[str]], after: dict[str, Counter[str]],
            report_s: float) -> dict[str, Any]:
    delta = {k: after.get(k, Counter()) - before.get(k, Counter()) for k in after}
    total = sum(sum(c.values()) for c in delta.values())
    polls = sum(sum(delta.get(p, Counter()).values()) for p in POLLS)
    throttled = sum(c.get("429", 0) for c in delta.values())
    per = total / n
    bound = limit / per
    rate = n / run["wall"]
    return {
        "batch": label, "invoices": n, "exit": run["json"].get("exit_code"),
        "wall_s": round(run["wall"], 1), "invoices_per_s": round(rate, 2),
        "calls_per_invoice": round(per, 3),
        "calls_per_invoice_without_polls": round((total - polls) / n, 3),
        "polls_per_invoice": round(polls / n, 3),
        "payer_setup_calls": sum(sum(delta.get(p, Counter()).values()) for p in PAYER_SIDE),
        "calls_by_endpoint": {k: sum(c.values()) for k, c in sorted(delta.items()) if c},
        "429s": throttled, "bound_invoices_per_s": round(bound, 2),
        "load_before_after": run["load"],
        "efficiency": round(rate / bound, 3),
        "efficiency_before_report": round(n / (run["wall"] - report_s) / bound, 3),
        "cpu_ms_per_invoice": round(1000 * run["cpu"] / n, 2),
        "peak_rss_mb": round(run["maxrss_mb"], 1),
    }


def bench(n: int, concurrency: int | None, limit: float, workdir: Path,
          show_timeline: bool = False) -> None:
    ledger = workdir / "bench.db"
    env = {"PAYBATCH_POLL_FIRST": "1.6", "PAYBATCH_POLL_MAX": "5"}  # payers answer in ~1.5 s
    flags = ["--latency-ms", "40", "--rate-limit", str(limit), "--pending-seconds", "0.5"]
    args = ["--yes", "--wait", "120"]
    if concurrency is not None:  # None: the defaults (adaptive rate, default concurrency)
        args += ["--rate", str(limit), "--concurrency", str(concurrency)]
    with sandbox_process(*flags) as url:
        httpx.post(f"{url}/_sandbox/faults", json={"payer_answer_seconds": 1.5}).raise_for_status()
        for label, amount in (("new payers", "25.00"), ("known payers", "26.00")):
            sheet = workdir / f"{label.split()[0]}.csv"
            write_sheet(sheet, n, amount)
            before = requests_by_endpoint(url)
            load = round(os.getloadavg()[0], 2)
            run = run_paybatch(url, ledger, ["collect", str(sheet), *args], env)
            run["load"] = [load, round(os.getloadavg()[0], 2)]
            after = requests_by_endpoint(url)
            batch = run["json"]["batch"]
            import sqlite3

            with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as conn:
                (batch_id,) = conn.execute("SELECT id FROM batches WHERE name = ?",
                                           (batch,)).fetchone()
            try:
                report_s = run["ended"] - finished_at(ledger, batch_id)
            except TypeError:  # not finished (exit 4): no report split
                report_s = 0.0
            shown = figures(label, n, limit, run, before, after, report_s)
            if show_timeline:
                shown.update(timeline(url, run["began"], run["ended"]))
            if label == "known payers":
                shown["known_payers_need_no_payer_calls"] = shown["payer_setup_calls"] == 0
            print(json.dumps(shown))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--limit", type=float, default=100.0, help="sandbox requests/s")
    parser.add_argument("--defaults", action="store_true",
                        help="no --rate and no --concurrency: what a new user gets")
    parser.add_argument("--timeline", action="store_true",
                        help="also print requests per second, as the sandbox saw them")
    args = parser.parse_args()
    keep = os.environ.get("BENCH_KEEP")
    with tempfile.TemporaryDirectory() if not keep else _kept(keep) as tmp:
        bench(args.invoices, None if args.defaults else args.concurrency, args.limit, Path(tmp),
              show_timeline=args.timeline)


if __name__ == "__main__":
    main()
