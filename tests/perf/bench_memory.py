"""Peak RSS of `paybatch plan` at its stage boundaries (import, load, validate, ledger, predict).

    python tests/perf/bench_memory.py [--rows 20000] [--tracemalloc]

Plans ROWS new rows in-process against a sandbox (no latency, no limit) in its own process;
prints ru_maxrss after each stage and, with --tracemalloc, the top allocation sites at the peak.
"""

from __future__ import annotations

import argparse
import functools
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


def mark(stage: str) -> None:
    current = ""
    if tracemalloc.is_tracing():
        now, peak = tracemalloc.get_traced_memory()
        current = f"  traced now {now / 2**20:7.1f} MB  traced peak {peak / 2**20:7.1f} MB"
    # os.write: CliRunner replaces sys.stdout while the command runs
    os.write(1, f"{time.perf_counter() - STARTED:7.1f}s  {stage:<28} maxrss {maxrss_mb():7.1f} MB"
                f"{current}\n".encode())
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args()
    os.environ.update(CREDENTIALS)
    mark("start")
    from click.testing import CliRunner

    import batch.load
    import batch.plan
    import batch.planning
    import batch.predict
    import batch.validate
    from batch.cli import main as cli
    from batch.ledger import Ledger

    mark("imports")
    traced(batch.load, "load_sheet")
    traced(batch.validate, "validate_sheet")
    traced(batch.planning, "new_rows")
    traced(Ledger, "create_batch")
    traced(batch.predict, "predict_rows")
    traced(batch.planning, "plan_result")
    if args.tracemalloc:
        tracemalloc.start(8)
    with tempfile.TemporaryDirectory() as tmp, sandbox_process() as url:
        sheet = Path(tmp) / "big.csv"
        write_sheet(sheet, args.rows, "10.50")
        mark("sheet written")
        result = CliRunner().invoke(cli, [
            "plan", str(sheet), "--rate", "100000", "--concurrency", "64",
            "--base-url", url, "--ledger", str(Path(tmp) / "big.db"), "--json", "--quiet"])
        mark(f"plan done (exit {result.exit_code})")
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
