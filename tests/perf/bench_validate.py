"""Benchmark: load + validate 100k and 1M-row CSVs and a 100k-row XLSX; prints rows/s and peak RSS.

Run: python tests/perf/bench_validate.py [--keep DIR]. Each measurement runs in a fresh
subprocess so peak memory belongs to that size alone.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

_MEASURE = """
import resource, sys, time
from pathlib import Path
from batch.intake.load import load_sheet
from batch.intake.validate import validate_sheet
from batch.options import ValidationOptions
start = time.perf_counter()
sheet = load_sheet(Path(sys.argv[1]))
loaded = time.perf_counter()
report = validate_sheet(sheet, ValidationOptions(default_country="LR"))
counts = report.counts
totals = report.totals
elapsed = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
peak_mb = usage.ru_maxrss / 1024
print(f"{counts['total']} {elapsed:.3f} {peak_mb:.0f} {counts['valid']} {counts['invalid']} "
      f"{loaded - start:.3f}")
"""

# The yardstick of issue 16: one phonenumbers parse and one Decimal per row, nothing else.
_LOOP = """
import csv, sys, time
from decimal import Decimal
import phonenumbers
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8")))[1:int(sys.argv[2]) + 1]
start = time.perf_counter()
for row in rows:
    number = phonenumbers.parse(row[2], "LR")
    phonenumbers.is_valid_number(number)
    Decimal(row[3].replace(",", ""))
print(f"{(time.perf_counter() - start) / len(rows):.9f}")
"""

_PREFIXES = ("77", "88", "555")


def _rows(count: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        prefix = _PREFIXES[index % 3]
        national = prefix + f"{index:0{9 - len(prefix)}d}"  # distinct, valid LR mobile
        phone = ("0" + national) if index % 2 else ("+231 " + national)
        currency = "USD" if index % 4 else "LRD"
        cents = rng.randrange(100, 500_000)
        amount = f"{cents // 100:,}.{cents % 100:02d}"
        rows.append([f"E{index:07d}", f"Employee {index}", phone, amount, currency])
    return rows


def write_csv(path: Path, count: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["Employee ID", "Full Name", "Phone", "Net Pay", "Currency"])
        writer.writerows(_rows(count, seed=count))


def write_xlsx(path: Path, count: int) -> None:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Payroll")
    sheet.append(["Payroll benchmark"])
    sheet.append(["Employee ID", "Full Name", "Phone", "Net Pay", "Currency"])
    for emp, name, phone, amount, currency in _rows(count, seed=count):
        digits = "231" + phone.lstrip("+0").replace("231 ", "")
        sheet.append([emp, name, int(digits), float(amount.replace(",", "")), currency])
    book.save(path)


def measure(path: Path) -> tuple[int, float, float, float]:
    """Rows, wall seconds of load + validate, peak RSS in MB and the load's seconds alone, from
    a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)], check=True, capture_output=True, text=True
    ).stdout.split()
    rows, seconds, peak_mb, valid, invalid, load = out
    assert int(invalid) == 0, f"{path.name}: {invalid} invalid rows in generated data"
    return int(rows), float(seconds), float(peak_mb), float(load)


def loop_seconds_per_row(path: Path, rows: int = 100_000) -> float:
    """The per-row phonenumbers + Decimal loop on the first `rows` rows of a CSV."""
    out = subprocess.run(
        [sys.executable, "-c", _LOOP, str(path), str(rows)], check=True, capture_output=True,
        text=True,
    ).stdout
    return float(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", type=Path, help="write the files here and keep them")
    parser.add_argument("--repeat", type=int, default=1, help="runs per file; the best is shown")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        cases = [
            ("csv", 100_000, folder / "bench_100k.csv", write_csv),
            ("csv", 1_000_000, folder / "bench_1m.csv", write_csv),
            ("xlsx", 100_000, folder / "bench_100k.xlsx", write_xlsx),
        ]
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        for kind, count, path, writer in cases:
            if not path.exists():
                writer(path, count)
            runs = [measure(path) for _ in range(args.repeat)]
            rows, seconds, peak_mb, load = min(runs, key=lambda run: run[1])
            size_mb = path.stat().st_size / 1e6
            print(
                f"{kind:4} {rows:>9,} rows ({size_mb:6.1f} MB): {seconds:6.2f} s "
                f"= {rows / seconds:>10,.0f} rows/s, peak RSS {peak_mb:,.0f} MB; "
                f"where the time goes: load {load:.2f} s, validate {seconds - load:.2f} s"
            )
            if kind == "csv" and count == 1_000_000:
                loop = loop_seconds_per_row(path) * rows
                print(
                    f"     per-row phonenumbers + Decimal loop: {loop:.2f} s for {rows:,} rows "
                    f"(extrapolated from 100k); paybatch is {loop / seconds:.1f}x faster"
                )


if __name__ == "__main__":
    main()
