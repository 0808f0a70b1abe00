"""Peak RSS of `paybatch plan` (or `run`) at its stage boundaries (load, validate, predict, ...).

    python tests/perf/bench_memory.py [--rows 20000] [--tracemalloc] [--run] [--fast-api]

Plans ROWS new rows in-process against a sandbox (no latency, no limit) in its own process;
prints ru_maxrss after each stage and, with --tracemalloc, the top allocation sites at the peak.
--run: `paybatch run SHEET --yes` instead (plan, pay, settle, automatic report) in one process.
--fast-api: the real ApiClient over an httpx.MockTransport answering every call at once
(tests/fake_dollr.py's answers, no request kept) instead of the sandbox: the sandbox answers
~200 calls/s on 2 cores, so 100k rows x ~7 calls would take most of an hour.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from bench_engine import CREDENTIALS, sandbox_process, write_sheet  # noqa: E402

STARTED = time.perf_counter()


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_now_mb() -> float:
    """Resident memory now (maxrss only shows a stage that goes above every earlier one)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def mark(stage: str) -> None:
    current = ""
    if tracemalloc.is_tracing():
        now, peak = tracemalloc.get_traced_memory()
        current = f"  traced now {now / 2**20:7.1f} MB  traced peak {peak / 2**20:7.1f} MB"
    # os.write: CliRunner replaces sys.stdout while the command runs
    os.write(1, f"{time.perf_counter() - STARTED:7.1f}s  {stage:<28} maxrss {maxrss_mb():7.1f} MB"
                f"  rss {rss_now_mb():7.1f} MB{current}\n".encode())
    if tracemalloc.is_tracing() and stage.startswith("after"):
        for s in tracemalloc.take_snapshot().statistics("lineno")[:6]:
            line = f"          {s.size / 2**20:6.1f} MB {s.count:8d}  {s.traceback}\n"
            os.write(1, line.encode())


def traced(module: Any, name: str) -> None:
    """Print maxrss after each call of module.name."""
    original = getattr(module, name)
    if hasattr(original, "__code__") and original.__code__.co_flags & 0x80:  # coroutine
        @functools.wraps(original)
        async def wrapper_async(*a: Any, **kw: Any) -> Any:
            out = await original(*a, **kw)
            mark(f"after {name}")
            return out
        setattr(module, name, wrapper_async)
        return

    @functools.wraps(original)
    def wrapper(*a: Any, **kw: Any) -> Any:
        out = original(*a, **kw)
        mark(f"after {name}")
        return out
    setattr(module, name, wrapper)


def use_fast_api() -> None:
    """Every client the pipeline opens talks to an in-process FakeDollr that keeps nothing."""
    sys.path.insert(0, str(Path(__file__).parents[1]))
    import fake_dollr

    import batch.endpoint
    import batch.pipeline
    from batch.dollr.client import ApiClient

    class Forgetful(fake_dollr.FakeDollr):
        async def handle(self, request: Any) -> Any:  # no request log, no interleaving sleeps
            return self._answer(request)

    def open_client(endpoint: Any, settings: Any) -> ApiClient:
        return ApiClient(fake_dollr.BASE_URL, fake_dollr.credentials(),
                         transport=Forgetful().transport(), rate=settings.rate)

    # Both modules' names: the paced client (endpoint.py) and the reads (pipeline.py).
    batch.endpoint.open_client = open_client  # type: ignore[assignment]
    batch.pipeline.open_client = open_client  # type: ignore[assignment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--run", action="store_true", help="paybatch run (plan, pay, report)")
    parser.add_argument("--fast-api", action="store_true", help="in-process instant API")
    args = parser.parse_args()
    os.environ.update(CREDENTIALS)
    mark("start")
    from click.testing import CliRunner

    import batch.intake.load
    import batch.intake.validate
    import batch.planning.flow
    import batch.planning.identity
    import batch.planning.predict
    import batch.report.files
    from batch.cli import main as cli
    from batch.engine.runner import Runner
    from batch.ledger import Ledger

    mark("imports")
    traced(batch.intake.load, "load_sheet")
    traced(batch.intake.validate, "validate_sheet")
    traced(batch.planning.identity, "new_rows")
    traced(Ledger, "create_batch")
    traced(batch.planning.predict, "predict_rows")
    traced(batch.planning.flow, "plan_result")
    traced(batch.planning.flow, "plan_sheet")
    traced(Runner, "run")
    traced(batch.report.files, "load_report")
    traced(batch.report.files, "write_report")
    if args.fast_api:
        use_fast_api()
    if args.tracemalloc:
        tracemalloc.start(8)
    with tempfile.TemporaryDirectory() as tmp, sandbox_process() as url:
        sheet = Path(tmp) / "big.csv"
        write_sheet(sheet, args.rows, "25.50")  # fake_dollr's executions pay 25.50
        mark("sheet written")
        command = ["run", "--yes", "--wait", "600", "--poll-first", "0.5", "--poll-max", "2"]
        if args.fast_api:  # it keeps nothing, so it "knows" every id the fresh-ledger check asks
            command.append("--adopt")
        result = CliRunner().invoke(cli, [
            *(command if args.run else ["plan"]), str(sheet), "--rate", "100000",
            "--concurrency", "64", "--base-url", url, "--ledger", str(Path(tmp) / "big.db"),
            "--json", "--quiet"])
        mark(f"{'run' if args.run else 'plan'} done (exit {result.exit_code})")
        if result.exit_code == 0 and args.run:
            counts = json.loads(result.stdout).get("counts")
            os.write(1, f"         counts {counts}\n".encode())
        if result.exit_code:
            print(result.output[-800:], result.exception)
        if args.tracemalloc:
            stats = tracemalloc.take_snapshot().statistics("traceback")[:8]
            for s in stats:
                print(f"{s.size / 2**20:7.1f} MB {s.count:8d} blocks")
                for line in s.traceback.format()[-6:]:
                    print("     ", line)


if __name__ == "__main__":
    main()
