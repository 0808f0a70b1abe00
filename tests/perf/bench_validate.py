"""Benchmark: load + validate 100k and 1M-row CSVs and a 100k-row XLSX; prints rows/s and peak RSS.

Run: python tests/perf/bench_validate.py [--keep DIR] [--repeat N] [--before REV]. Each
measurement runs in a fresh subprocess so peak memory belongs to that size alone. Wall and CPU
seconds are both printed (polars uses every core: CPU can exceed wall; on a shared machine the
CPU figure is the steadier one). --before REV also measures git revision REV's code (its
`batch` and `sql` extracted to a temporary folder) on the same files. After the 1M-row CSV,
"where the time goes" times each stage of validate_sheet on its own (approximate: the real
run collects them together), and the per-row phonenumbers + Decimal loop gives the ratio
issue 16 asks about (target >= 15x).
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
start, cpu = time.perf_counter(), time.process_time()
sheet = load_sheet(Path(sys.argv[1]))
loaded = time.perf_counter()
report = validate_sheet(sheet, ValidationOptions(default_country="LR"))
counts = report.counts
totals = report.totals
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
usage = resource.getrusage(resource.RUSAGE_SELF)
peak_mb = usage.ru_maxrss / 1024
print(f"{counts['total']} {elapsed:.3f} {peak_mb:.0f} {counts['valid']} {counts['invalid']} "
      f"{loaded - start:.3f} {cpu:.3f}")
"""

# validate_sheet's stages one by one (as validate.py runs them), each collected on its own.
_STAGES = """
import sys, time
from pathlib import Path
import polars as pl
from batch.intake import validate as v
from batch.intake.load import BLANK, load_sheet
from batch.intake.outcome import ValidationReport
options = v.ValidationOptions(default_country="LR")
MEM = "in-memory"  # as validate_sheet collects
took = {}
def stage(name, work):
    start, cpu = time.perf_counter(), time.process_time()
    out = work()
    took[name] = (time.perf_counter() - start, time.process_time() - cpu)
    return out
sheet = stage("load (read the CSV, map headers)", lambda: load_sheet(Path(sys.argv[1])))
rows = sheet.frame.filter(~pl.col(BLANK)).drop(BLANK)
extra = stage("extra rows, decimal comma", lambda: v.find_extra_rows(
    v.read_decimal_comma(rows, "amount", declared=False)[0], sheet.phoneless))
cells = stage("names, countries, currencies", lambda: rows.lazy().with_columns(
    v._text("name").map_batches(v.collapse_whitespace, is_elementwise=True).alias("_name"),
    pl.col("country").map_batches(v.per_distinct(v._country_code), pl.String,
                                  is_elementwise=True).alias("_country_given"),
    pl.col("currency").map_batches(v.per_distinct(v._currency_code), pl.String,
                                   is_elementwise=True).alias("_currency"),
).with_columns(pl.coalesce("_country_given", pl.lit("LR")).alias("_region")).collect(engine=MEM))
phones = stage("phones (polars, per distinct phone)",
               lambda: v.normalise_phones(cells.lazy(), "phone", "_region").collect(engine=MEM))
amounts = stage("amounts (common form fast, rest in full)",
                lambda: v.read_amounts(phones.lazy(), "amount", "_currency").collect(engine=MEM))
checked = stage("phones polars did not accept (phonenumbers)", lambda: v._slow_phones(amounts)
                .with_columns(pl.coalesce("_region", "_phone_country").alias("_country")))
keys = {"_dup_phone_rows": (pl.col("_e164"), pl.col("_e164") + ":" + pl.col("_currency")),
        "_dup_external_id_rows": v._text("external_id")}
dups = stage("duplicates", lambda: checked.with_columns(v.find_duplicates(checked, keys)))
problems = stage("rules -> problems", lambda: v._problems(dups, v._rules(options), extra))
report = stage("report (statuses, counts, totals)", lambda: ValidationReport.build(
    sheet.file, dups, problems, (), ()))
stage("", lambda: (report.counts, report.totals))
took["report (statuses, counts, totals)"] = tuple(
    a + b for a, b in zip(took.pop("report (statuses, counts, totals)"), took.pop("")))
for name, (wall, cpu) in took.items():
    print(f"{name}|{wall:.3f}|{cpu:.3f}")
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


def measure(path: Path, code: Path | None = None) -> tuple[int, float, float, float, float]:
    """Rows, wall seconds of load + validate, peak RSS in MB, the load's seconds alone and the
    CPU seconds, from a fresh interpreter (run in `code`, another revision's folder, if given)."""
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path.resolve())], check=True, capture_output=True,
        text=True, cwd=code,
    ).stdout.split()
    rows, seconds, peak_mb, valid, invalid, load, cpu = out
    assert int(invalid) == 0, f"{path.name}: {invalid} invalid rows in generated data"
    return int(rows), float(seconds), float(peak_mb), float(load), float(cpu)


def stages(path: Path) -> list[tuple[str, float, float]]:
    """(stage, wall, CPU seconds) of validate_sheet's stages, each run on its own."""
    out = subprocess.run([sys.executable, "-c", _STAGES, str(path)], check=True,
                         capture_output=True, text=True).stdout
    return [(n, float(w), float(c)) for n, w, c in (line.split("|") for line in out.splitlines())]


def extract(rev: str) -> Path:
    """The `batch` package (and its `sql`) of git revision `rev`, in a temporary folder."""
    repo = Path(__file__).resolve().parent.parent.parent
    folder = Path(tempfile.mkdtemp(prefix=f"bench-{rev}-"))
    archive = subprocess.run(["git", "-C", str(repo), "archive", rev, "batch", "sql"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


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
    parser.add_argument("--before", help="also measure this git revision's code")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        cases = [
            ("csv", 100_000, folder / "bench_100k.csv", write_csv),
            ("csv", 1_000_000, folder / "bench_1m.csv", write_csv),
            ("xlsx", 100_000, folder / "bench_100k.xlsx", write_xlsx),
        ]
        codes: list[tuple[str, Path | None]] = [("", None)]
        if args.before:
            codes = [(f"before ({args.before}) ", extract(args.before)), ("after ", None)]
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        for kind, count, path, writer in cases:
            if not path.exists():
                writer(path, count)
            best = {}
            for label, code in codes:
                runs = [measure(path, code) for _ in range(args.repeat)]
                rows, seconds, peak_mb, load, cpu = best[label] = min(runs, key=lambda r: r[1])
                size_mb = path.stat().st_size / 1e6
                print(
                    f"{label}{kind:4} {rows:>9,} rows ({size_mb:6.1f} MB): {seconds:6.2f} s "
                    f"({cpu:5.2f} s CPU) = {rows / seconds:>10,.0f} rows/s, peak RSS "
                    f"{peak_mb:,.0f} MB; load {load:.2f} s, validate {seconds - load:.2f} s",
                    flush=True,
                )
            if kind == "csv" and count == 1_000_000:
                print("     where the time goes (each stage on its own):")
                for name, wall, cpu in stages(path):
                    print(f"       {name:46} {wall:5.2f} s ({cpu:5.2f} s CPU)")
                loop = loop_seconds_per_row(path) * count
                print(
                    f"     per-row phonenumbers + Decimal loop: {loop:.2f} s for {count:,} rows "
                    f"(extrapolated from 100k; one core, so its CPU = wall)"
                )
                for label, (_, seconds, _, _, cpu) in best.items():
                    print(f"     {label}paybatch is {loop / seconds:.1f}x faster "
                          f"({loop / cpu:.1f}x by CPU seconds)")
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
