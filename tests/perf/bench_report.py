"""Benchmark: reconciliation report of a large batch, each format. Prints per-row figures.

Run: python tests/perf/bench_report.py [ROWS ...] [--formats .lines,.xlsx] [--before REV]
(default: 5000 100000, every format)

Each format is written by a fresh process, as `run` writes it (rows streamed from the ledger),
so its peak memory (max RSS) is its own. ".lines" only reads the report's lines (the rows
streamed from the ledger, shaped): a format's own cost is its time minus that.
--before REV also writes each format with the code of git revision REV (its `batch` and `sql`
extracted to a temporary folder, reading the same ledger), printed as "before" beside "after".

Per format: "write" is writing the file from the loaded report, "load" is load_report (the
summary's pass over the rows); "end to end" is both. Wall and CPU seconds are both printed:
on a shared machine the CPU figure is the steadier one. ms/row is write wall time per row.
Targets (issue 16): XLSX <= 0.2 ms per row, 100,000 rows in <= 20 s and <= 300 MB.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def write_one(db: Path, out: Path) -> None:
    """Child: load the report streaming, write one format, print seconds, size and peak RSS."""
    import batch.report.xlsx  # noqa: F401  # its import (~0.3 s, once per process) is not per row
    from batch.ledger import Ledger
    from batch.report.files import load_report, write_report

    with Ledger(db) as ledger:
        start, cpu0 = time.perf_counter(), time.process_time()
        report = load_report(ledger, "bench", stream=True)
        loaded, cpu1 = time.perf_counter() - start, time.process_time()
        if out.suffix == ".lines":  # only read the lines: what streaming the rows costs
            sum(1 for _ in report.payouts) + sum(1 for _ in report.attempts)
            written = []
        else:
            written = write_report(report, out)
        took, cpu2 = time.perf_counter() - start - loaded, time.process_time()
    size = sum(p.stat().st_size for p in written)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{loaded:.3f} {took:.3f} {cpu1 - cpu0:.3f} {cpu2 - cpu1:.3f} {size} {peak:.0f}")


def extract(rev: str) -> Path:
    """The `batch` package (and its `sql`) of git revision `rev`, in a temporary folder."""
    repo = HERE.parent.parent
    folder = Path(tempfile.mkdtemp(prefix=f"bench-{rev}-"))
    archive = subprocess.run(["git", "-C", str(repo), "archive", rev, "batch", "sql"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def run_child(db: Path, out: Path, code: Path | None) -> str:
    """One format written by a fresh process (with `code`'s batch package, if given)."""
    args = [sys.executable, __file__, "--one", str(db), str(out)]
    if code is not None:
        args += ["--code", str(code)]
    child = subprocess.run(args, check=True, capture_output=True, text=True)
    loaded, took, cpu_load, cpu_write, size, peak = child.stdout.split()[-6:]
    rows = int(db.stem.rsplit("-", 1)[-1])
    end_to_end = float(loaded) + float(took)
    return (
        f"write {float(took):6.2f}s ({float(cpu_write):6.2f}s CPU)  "
        f"{float(took) * 1000 / rows:.3f} ms/row  "
        f"load {float(loaded):5.2f}s ({float(cpu_load):5.2f}s CPU)  "
        f"end to end {end_to_end:6.2f}s ({float(cpu_load) + float(cpu_write):6.2f}s CPU)  "
        f"{int(size) / 1e6:5.1f} MB file  peak RSS {peak} MB"
    )


def main(
    sizes: list[int], formats: tuple[str, ...] = (".lines", ".xlsx", ".csv", ".json"),
    before: str | None = None,
) -> None:
    import batch

    print(f"code: {Path(batch.__file__).parent}; load average {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} CPUs")
    old = extract(before) if before else None
    for rows in sizes:
        folder = Path(tempfile.mkdtemp())
        db = folder / f"bench-{rows}.db"
        # Built by a child too: Linux carries a process's peak RSS across fork and exec, so a
        # parent grown by building 100k rows would show in every child's figure.
        subprocess.run([sys.executable, __file__, "--build", str(db), str(rows)], check=True)
        print(f"rows {rows}:")
        for suffix in formats:
            out = folder / f"bench{suffix}"
            if old is not None:
                print(f"  {suffix:5} before ({before}): {run_child(db, out, old)}", flush=True)
            label = "after: " if old is not None else ""
            print(f"  {suffix:5} {label}{run_child(db, out, None)}", flush=True)
        print(f"  (load average now {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    if "--code" in sys.argv:  # a child running another revision's code: it goes first
        at = sys.argv.index("--code")
        sys.path.insert(0, sys.argv[at + 1])
        del sys.argv[at : at + 2]
    if sys.argv[1:2] == ["--build"]:
        from _report_ledger import small_batch

        outcomes = ["completed", "completed", "completed", "failed", "unknown", "new"]
        count = int(sys.argv[3])
        small_batch(Path(sys.argv[2]), "bench", [outcomes[i % len(outcomes)] for i in range(count)])
    elif sys.argv[1:2] == ["--one"]:
        write_one(Path(sys.argv[2]), Path(sys.argv[3]))
    else:  # --formats .lines,.xlsx picks some; --before REV compares with that revision
        args = sys.argv[1:]
        if {"-h", "--help"} & set(args):
            print(__doc__)
            sys.exit(0)
        options: dict[str, str] = {}
        for flag in ("--formats", "--before"):
            if flag in args:
                at = args.index(flag)
                options[flag] = args[at + 1]
                del args[at : at + 2]
        chosen = tuple(options["--formats"].split(",")) if "--formats" in options else None
        main([int(a) for a in args] or [5000, 100_000],
             *([chosen] if chosen else []), before=options.get("--before"))
