"""Benchmark: reconciliation report of a large batch, each format. Prints per-row figures.

Run: python tests/perf/bench_report.py [ROWS ...] [--formats .lines,.xlsx]
(default: 5000 100000, every format)

Each format is written by a fresh process, as `run` writes it (rows streamed from the ledger),
so its peak memory (max RSS) is its own. ".lines" only reads the report's lines (the rows
streamed from the ledger, shaped): a format's own cost is its time minus that.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report_ledger import small_batch  # noqa: E402

from batch.ledger import Ledger  # noqa: E402
from batch.report.files import load_report, write_report  # noqa: E402


def write_one(db: Path, out: Path) -> None:
    """Child: load the report streaming, write one format, print seconds, size and peak RSS."""
    import batch.report.xlsx  # noqa: F401  # its import (~0.3 s, once per process) is not per row

    with Ledger(db) as ledger:
        start = time.perf_counter()
        report = load_report(ledger, "bench", stream=True)
        loaded = time.perf_counter() - start
        if out.suffix == ".lines":  # only read the lines: what streaming the rows costs
            sum(1 for _ in report.payouts) + sum(1 for _ in report.attempts)
            written = []
        else:
            written = write_report(report, out)
        took = time.perf_counter() - start - loaded
    size = sum(p.stat().st_size for p in written)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{loaded:.3f} {took:.3f} {size} {peak:.0f}")


def main(sizes: list[int], formats: tuple[str, ...] = (".lines", ".xlsx", ".csv", ".json")) -> None:
    import batch

    print(f"code: {Path(batch.__file__).parent}; load average {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} CPUs")
    for rows in sizes:
        folder = Path(tempfile.mkdtemp())
        db = folder / "bench.db"
        # Built by a child too: Linux carries a process's peak RSS across fork and exec, so a
        # parent grown by building 100k rows would show in every child's figure.
        subprocess.run([sys.executable, __file__, "--build", str(db), str(rows)], check=True)
        print(f"rows {rows}:")
        for suffix in formats:
            child = subprocess.run(
                [sys.executable, __file__, "--one", str(db), str(folder / f"bench{suffix}")],
                check=True, capture_output=True, text=True,
            )
            loaded, took, size, peak = child.stdout.split()[-4:]
            print(
                f"  {suffix:5} {float(took):6.2f}s  {float(took) * 1000 / rows:.3f} ms/row  "
                f"(load {float(loaded):.2f}s)  {int(size) / 1e6:6.1f} MB file  "
                f"peak RSS {peak} MB"
            )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--build"]:
        outcomes = ["completed", "completed", "completed", "failed", "unknown", "new"]
        count = int(sys.argv[3])
        small_batch(Path(sys.argv[2]), "bench", [outcomes[i % len(outcomes)] for i in range(count)])
    elif sys.argv[1:2] == ["--one"]:
        write_one(Path(sys.argv[2]), Path(sys.argv[3]))
    else:  # --formats .lines,.xlsx picks some
        args = sys.argv[1:]
        chosen = ()
        if "--formats" in args:
            at = args.index("--formats")
            chosen = tuple(args[at + 1].split(","))
            del args[at : at + 2]
        main([int(a) for a in args] or [5000, 100_000], *([chosen] if chosen else []))
