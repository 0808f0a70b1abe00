"""`paybatch plan` of a big sheet against a sandbox in its own process. Prints figures.

    python tests/perf/bench_plan.py [--rows 500000] [--known 1.0] [--latency-ms 0]
                                    [--rate-limit 0] [--rate R] [--phones N]

The sheet has ROWS rows (one amount, USD, Liberia) over N distinct phones (default: one a
row). `--known F` first records the routing of that share of the phones in the ledger, as an
earlier batch's planning would have (`Ledger.save_routing`, fresh), so planning asks
`mmo-provider-info` only for the rest: new phones are call-bound (500,000 new phones at
100 req/s is 83 minutes), known ones are not. Sandbox: `--latency-ms`, `--rate-limit`
(0: none). Prints the whole command's wall and CPU seconds, CPU ms per row, peak RSS, API
calls by endpoint, and the seconds of each planning phase as `paybatch plan` logs them
(validation, recording the batch, predicting, totals). `uptime`'s load is printed too:
on a shared machine figures are depressed by other work.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_engine import CREDENTIALS, requests_by_endpoint, run_paybatch, sandbox_process  # noqa: E402

PHASE = re.compile(
    r"plan timing: (?P<phase>[a-z ,_-]+?) in (?P<s>[0-9.]+) s \(CPU (?P<cpu>[0-9.]+) s\)"
)


def write_sheet(path: Path, rows: int, phones: int) -> list[str]:
    """ROWS rows over PHONES distinct phones; returns the phones."""
    numbers = [f"231{'77' if i % 2 else '88'}{i:07d}" for i in range(phones)]
    with path.open("w", encoding="utf-8") as out:
        out.write("name,phone,amount,currency,country\n")
        for i in range(rows):
            out.write(f"Person {i % phones},{numbers[i % phones]},10.50,USD,LR\n")
    return numbers


def seed_routing(ledger: Path, url: str, phones: list[str]) -> float:
    """Record these phones' operators as an earlier planning would have; seconds taken."""
    from batch.ledger import Ledger

    started = time.perf_counter()
    environment = f"{url}#{CREDENTIALS['DOLLR_CLIENT_ID']}"
    with Ledger(ledger, environment=environment) as db, db.atomic():
        for phone in phones:
            orange = phone.startswith("23177")
            db.save_routing(
                phone, carrier="Orange" if orange else "Lonestar Cell", country="LR",
                currencies=["USD", "LRD"],
                method="ORANGE_MONEY_LBR" if orange else "MTN_MOMO_LBR",
                provider="PAWAPAY",
            )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--phones", type=int, default=0, help="distinct phones (default: rows)")
    parser.add_argument("--known", type=float, default=1.0, help="share of phones known")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=float, default=0.0, help="sandbox req/s, 0: none")
    parser.add_argument("--rate", type=float, default=0.0, help="paybatch --rate (0: adaptive)")
    args = parser.parse_args()
    phones = args.phones or args.rows
    flags = ["--latency-ms", str(args.latency_ms)]
    if args.rate_limit:
        flags += ["--rate-limit", str(args.rate_limit)]
    tuning = ["--rate", str(args.rate)] if args.rate else []
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp, sandbox_process(*flags) as url:
        sheet, ledger, log = Path(tmp) / "big.csv", Path(tmp) / "big.db", Path(tmp) / "plan.log"
        numbers = write_sheet(sheet, args.rows, phones)
        seeded = seed_routing(ledger, url, numbers[: round(phones * args.known)])
        before = requests_by_endpoint(url)
        run = run_paybatch(url, ledger, ["plan", str(sheet), "--log-file", str(log), *tuning], {})
        after = requests_by_endpoint(url)
        calls = {k: sum((after.get(k, Counter()) - before.get(k, Counter())).values())
                 for k in after}
        phases = {m["phase"]: [float(m["s"]), float(m["cpu"])]
                  for m in PHASE.finditer(log.read_text())}
        print(json.dumps({
            "rows": args.rows, "phones": phones, "known": args.known,
            "sandbox": {"latency_ms": args.latency_ms, "rate_limit": args.rate_limit or None},
            "exit": run["json"].get("exit_code"),
            "wall_s": round(run["wall"], 1), "cpu_s": round(run["cpu"], 1),
            "cpu_ms_per_row": round(1000 * run["cpu"] / args.rows, 3),
            "peak_rss_mb": round(run["maxrss_mb"], 1),
            "calls": {k: v for k, v in calls.items() if v},
            "phases_wall_cpu_s": phases,
            "seed_s": round(seeded, 1),
            "ledger_mb": round(ledger.stat().st_size / 2**20, 1),
            "load_before": [round(x, 2) for x in load],
            "load_after": [round(x, 2) for x in os.getloadavg()],
        }))


if __name__ == "__main__":
    main()
