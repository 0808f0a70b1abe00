"""Benchmark: hostile sheets through `paybatch validate --json` (issue 12); prints figures.

Run: python tests/perf/bench_hostile.py [--cases N] [--limit SECONDS]

1. Named hostile files (10,000 rows with one phone; a 32,000-digit and a 100 KB phone cell;
   a 100 KB amount cell), each in a fresh subprocess: seconds, peak RSS, bytes of output,
   exit code, traceback or not. A run past --limit is killed and counted as a hang.
2. N generated CSV and XLSX files (tests/hostile_sheets.py strategies, hypothesis), in this
   process: how many, tracebacks, hangs over --limit, other failures, slowest, peak RSS.
"""

from __future__ import annotations

import argparse
import collections
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HEADER = "Name,Phone,Amount,Currency,Country\r\n"


def _files(folder: Path) -> dict[str, Path]:
    files = {
        "10,000 rows, same phone": HEADER + "Jo,0770123456,10,USD,LR\r\n" * 10_000,
        "32,000-digit phone cell": HEADER + f"Jo,{'7' * 32_000},10,USD,LR\r\n",
        "100 KB phone cell": HEADER + f"Jo,{'7' * 100_000},10,USD,LR\r\n",
        "100 KB amount cell (spaces)": HEADER + f"Jo,0770123456,{' ' * 100_000}1x,USD,LR\r\n",
        "100 KB header cell of '('": (
            "Name,Phone,Amount," + "(" * 100_000 + "\r\nJo,0770123456,1,USD\r\n"
        ),
    }
    paths = {}
    for index, (label, text) in enumerate(files.items()):
        path = folder / f"hostile{index}.csv"
        path.write_text(text, encoding="utf-8")
        paths[label] = path
    return paths


def _run(path: Path, limit: float) -> tuple[float, float, int, int | None, bool]:
    """(seconds, peak MB, stdout bytes, exit code or None if killed, traceback seen)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "batch", "validate", "--json", str(path)], stdout=out, stderr=err
        )
        deadline = started + limit
        status = None
        usage = None
        while time.perf_counter() < deadline:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.05)
        else:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            status = None
        seconds = time.perf_counter() - started
        size = out.seek(0, 2)
        err.seek(0)
        traceback = b"Traceback" in err.read()
    code = os.waitstatus_to_exitcode(status) if status is not None else None
    assert usage is not None
    return seconds, usage.ru_maxrss / 1024, size, code, traceback


def _named(limit: float) -> None:
    print(f"{'file':32} {'seconds':>8} {'peak MB':>8} {'stdout':>12} {'exit':>5} traceback")
    with tempfile.TemporaryDirectory() as folder:
        for label, path in _files(Path(folder)).items():
            seconds, peak, size, code, tb = _run(path, limit)
            shown = "KILLED" if code is None else str(code)
            print(f"{label:32} {seconds:8.1f} {peak:8.0f} {size:12,} {shown:>5} {tb}")


def _fuzz(cases: int, limit: float) -> None:
    from hostile_sheets import csv_bytes, problems_of, validate_file, xlsx_bytes
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    tally: collections.Counter[str] = collections.Counter()
    slowest = [0.0, ""]
    examples: dict[str, str] = {}
    folder = Path(tempfile.mkdtemp())

    @settings(max_examples=cases, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.one_of(csv_bytes().map(lambda b: (".csv", b)),
                     xlsx_bytes().map(lambda b: (".xlsx", b))))
    def case(sample: tuple[str, bytes]) -> None:
        suffix, data = sample
        path = folder / f"case{suffix}"
        path.write_bytes(data)
        outcome = validate_file(path, limit=limit)
        tally["cases"] += 1
        tally[suffix] += 1
        if outcome.seconds > slowest[0]:
            slowest[:] = [outcome.seconds, suffix]
        for problem in problems_of(outcome, len(data)):
            kind = problem.split(":")[0].split(" (")[0]
            tally[kind] += 1
            if kind == "traceback":
                last = problem.strip().splitlines()[-1]
                examples.setdefault(last[:120], suffix)
            elif kind == "stderr is not one line":
                examples.setdefault(problem[:160], suffix)

    started = time.perf_counter()
    case()
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"generated cases: {tally['cases']} ({tally['.csv']} CSV, {tally['.xlsx']} XLSX) "
          f"in {elapsed:.0f} s")
    print(f"tracebacks: {tally['traceback']}  hangs over {limit:.0f} s: {tally['hung']}  "
          f"other: exit codes {tally['exit code']}, multi-line stderr "
          f"{tally['stderr is not one line']}, output not linear {tally['output']}")
    print(f"slowest case: {slowest[0]:.2f} s ({slowest[1]})  peak RSS of the run: {peak:.0f} MB")
    for message, suffix in sorted(examples.items()):
        print(f"  {suffix:5} {message}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--limit", type=float, default=10.0)
    parser.add_argument("--skip-named", action="store_true")
    args = parser.parse_args()
    if not args.skip_named:
        _named(args.limit * 6)
    if args.cases:
        _fuzz(args.cases, args.limit)


if __name__ == "__main__":
    main()
