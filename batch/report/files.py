"""Reconciliation report, files: read a batch from the ledger, write it as CSV, JSON or XLSX.

The I/O edge of `batch.report.lines`: one function per format, each writing atomically.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

import polars as pl

from batch import errors
from batch.config import user_at_host
from batch.ledger import BatchRecord, Ledger
from batch.ledger.core import utc_now
from batch.report.approvals import approval_state, approvals_json
from batch.report.lines import (
    ATTEMPT_COLUMNS,
    BatchReport,
    Column,
    Line,
    Value,
    build_report,
)
from batch.report.money import money_json
from batch.report.sections import summary_sections
from batch.report.text import cell_text
from batch.report.text import neutralise as neutralise  # where it used to live
from batch.tempfiles import remove_stale, temp_path
from batch.text import json_text

FORMATS = (".xlsx", ".csv", ".json")
CSV_CHUNK = 5000  # report lines turned into a frame and written at a time


def load_report(
    ledger: Ledger, batch: str | int, *, now: datetime | None = None, stream: bool = False
) -> BatchReport:
    """The report of a batch (by name, or by id) as the ledger holds it now.

    stream: its payout and attempt lines are made from rows re-read from the ledger each time
    they are gone through (a 100k-row batch's rows and lines are never all held); the ledger
    must then stay open until the report is written.
    """
    record = ledger.batch_by_id(batch) if isinstance(batch, int) else ledger.batch_by_name(batch)
    if record is None:
        raise errors.InputError(f"{batch}: no such batch in {ledger.path}")
    summary = ledger.summary(record.id)
    assert summary is not None
    rows = ledger.row_stream(record.id) if stream else ledger.rows(record.id)
    generated = now or utc_now()
    if record.kind.value == "collection":  # an invoice per row, and the collection's tables
        from batch.report.collection import collection_parts

        line, extra, code = collection_parts(ledger, record, generated)
        report = build_report(summary, rows, ledger=ledger.path.resolve(),
                              generated_at=generated, generated_by=user_at_host(),
                              row_line=line, extra=extra, exit_code=code)
    else:
        report = build_report(summary, rows, ledger=ledger.path.resolve(),
                              generated_at=generated, generated_by=user_at_host())
    return with_approvals(ledger, record, report)


def with_approvals(ledger: Ledger, record: BatchRecord, report: BatchReport) -> BatchReport:
    """The report with the batch's approvals, when approvals matter to it (issue 17)."""
    from dataclasses import replace

    from batch.planning.release import check_approvals, governed

    if not governed(ledger, record, None):
        return report
    return replace(report, approvals=approval_state(check_approvals(ledger, record)))



def report_format(path: Path) -> str:
    """The format a report path asks for, from its extension."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise errors.InputError(
            f"{path}: unknown report format {suffix or '(none)'!r}; use .xlsx, .csv or .json"
        )
    return suffix


def write_report(report: BatchReport, path: Path) -> list[Path]:
    """Write the report in the format its extension names; return every file written."""
    suffix = report_format(path)
    if suffix == ".xlsx":
        from batch.report.xlsx import write_xlsx

        with _atomic(path) as tmp:
            write_xlsx(report, tmp)
        return [path]
    if suffix == ".json":
        with _atomic(path) as tmp:
            tmp.write_text(json_text(report_json(report), indent=2) + "\n", encoding="utf-8")
        return [path]
    return write_csv(report, path)


def write_run_report(ledger: Ledger, batch_id: int, *, directory: Path | None = None) -> Path:
    """The engine's end-of-run report next to the ledger (see report_path); its path."""
    report = load_report(ledger, batch_id)
    path = report_path(ledger.path, report.identity.name)
    if directory is not None:
        path = directory / path.name
    write_report(report, path)
    return path


def safe_file_name(name: str) -> str:
    """A batch name made safe as a file name."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return cleaned or "batch"


def report_path(ledger: Path, batch: str, suffix: str = ".xlsx") -> Path:
    """Where a batch's report goes by default: next to the ledger, as
    `BATCH.LEDGER-TAG.report.xlsx`. TAG is a hash of the ledger's file name and the exact
    batch name, so two ledgers in one folder (or two names made the same by safe_file_name)
    never overwrite each other's report (issue 12); the same batch always gets the same name."""
    folder = ledger.resolve().parent
    tag = hashlib.sha256(f"{ledger.name}\0{batch}".encode()).hexdigest()[:8]
    stem = safe_file_name(ledger.stem)
    return folder / f"{safe_file_name(batch)}.{stem}-{tag}.report{suffix}"


# -- JSON ------------------------------------------------------------------------------------


def report_json(report: BatchReport) -> dict[str, object]:
    """The whole report as one JSON object (amounts as exact decimal strings)."""
    return {
        "summary": summary_json(report),
        report.rows_title.lower(): [line_json(line) for line in report.payouts],
        "attempts": [line_json(line) for line in report.attempts],
        **{t.title.lower(): [line_json(line) for line in t.lines] for t in report.extra},
    }


def summary_json(report: BatchReport) -> dict[str, Any]:
    """The summary part of a report as JSON-ready values (amounts as exact decimal strings)."""
    i = report.identity
    return {
        "watermark": i.watermark,
        "sandbox": i.sandbox,
        "batch": i.name,
        "batch_id": i.batch_id,
        "period": i.period,
        "purpose": i.purpose,
        "source_file": i.source_file,
        "content_hash": i.content_hash,
        "payout_set_hash": i.payout_set_hash,
        "ledger": i.ledger,
        "created_at": _iso(i.created_at),
        "started_at": _iso(i.started_at),
        "finished_at": _iso(i.finished_at),
        "generated_at": _iso(i.generated_at),
        "cancelled_at": _iso(i.cancelled_at),
        "environment": i.environment,
        "environment_kind": i.environment_kind,
        "planned_by": i.planned_by,
        "generated_by": i.generated_by,
        "rows": report.rows,
        "counts": report.counts,
        "exit_code": report.exit_code,
        "situation": report.situation,
        "totals": [
            {"state": t.state, "currency": t.currency, "rows": t.rows, "amount": str(t.amount)}
            for t in report.totals
        ],
        "fees": [
            {
                "currency": f.currency, "predicted": str(f.predicted),
                "predicted_completed": str(f.predicted_completed), "charged": str(f.charged),
                "difference": str(f.difference),
            }
            for f in report.fees
        ],
        "money": money_json(report.money),
        "failures": [
            {
                "state": g.state, "reason": g.reason, "rows": list(g.rows),
                "amounts": {c: str(a) for c, a in sorted(g.amounts.items())},
                "example": g.example,
            }
            for g in report.failures
        ],
        "in_flight": [line_json(line) for line in report.in_flight],
        "approvals": None if report.approvals is None else approvals_json(report.approvals),
    }


def line_json(line: Line) -> dict[str, Any]:
    """A report line with Decimals as strings and times as ISO text."""
    return {k: _json_value(v) for k, v in line.items()}


def _json_value(value: Value) -> str | int | None:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return _iso(value)
    return value


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# -- CSV -------------------------------------------------------------------------------------


def write_csv(report: BatchReport, path: Path) -> list[Path]:
    """Payouts to PATH, plus `<stem>.summary.csv` and `<stem>.attempts.csv` beside it."""
    summary_path = path.with_name(f"{path.stem}.summary.csv")
    attempts_path = path.with_name(f"{path.stem}.attempts.csv")
    for target, frames in (
        (path, _frames(report.payouts, report.row_columns)),
        (summary_path, iter([summary_frame(report)])),
        (attempts_path, _frames(report.attempts, ATTEMPT_COLUMNS)),
        *((path.with_name(f"{path.stem}.{t.title.lower()}.csv"), _frames(t.lines, t.columns))
          for t in report.extra),
    ):
        with _atomic(target) as tmp, tmp.open("wb") as out:
            for i, frame in enumerate(frames):
                # A BOM so Excel reads the names' accents as UTF-8.
                frame.write_csv(out, include_bom=i == 0, include_header=i == 0)
    extra = [path.with_name(f"{path.stem}.{t.title.lower()}.csv") for t in report.extra]
    return [path, summary_path, attempts_path, *extra]


def _frames(lines: Iterable[Line], columns: Sequence[Column]) -> Iterator[pl.DataFrame]:
    """Lines as frames of CSV_CHUNK lines (at least one frame, for the header)."""
    todo = iter(lines)
    part = list(islice(todo, CSV_CHUNK))
    yield lines_frame(part, columns)
    while part := list(islice(todo, CSV_CHUNK)):
        yield lines_frame(part, columns)


def lines_frame(lines: Sequence[Line], columns: Sequence[Column]) -> pl.DataFrame:
    """Report lines as a frame of text columns (exact amounts, neutralised text, ISO times)."""
    data = {c.header: [_cell_text(line.get(c.key), c) for line in lines] for c in columns}
    return pl.DataFrame(data, schema={c.header: pl.String for c in columns})


def _cell_text(value: object, column: Column) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return cell_text(text) if column.kind == "text" else text


def summary_frame(report: BatchReport) -> pl.DataFrame:
    """The summary as long-form rows: section, item, currency, rows, value."""
    rows: list[tuple[str, str, str | None, int | None, str | None]] = []
    for key, value in summary_json(report).items():
        if isinstance(value, str | int) or value is None:
            rows.append(("batch", key, None, None, None if value is None else str(value)))
    rows += [("state", s, None, n, None) for s, n in report.counts.items()]
    rows += [("money", t.state, t.currency, t.rows, str(t.amount)) for t in report.totals]
    for f in report.fees:
        rows += [
            ("fees", "predicted (all rows)", f.currency, None, str(f.predicted)),
            ("fees", "predicted (completed rows)", f.currency, None, str(f.predicted_completed)),
            ("fees", "charged (completed rows)", f.currency, None, str(f.charged)),
            ("fees", "difference (charged - predicted)", f.currency, None, str(f.difference)),
        ]
    for section in summary_sections(report)[:2]:  # reconciliation, total debit
        for values in section.rows:
            currency = str(values[0])
            rows += [
                (section.title.split(" (")[0].lower(), str(header), currency, None,
                 None if value is None else str(value))
                for header, value in zip(section.headers[1:], values[1:], strict=True)
            ]
    for g in report.failures:
        if not g.amounts:
            rows.append((g.state, g.reason, None, len(g.rows), None))
        for currency, amount in sorted(g.amounts.items()):
            rows.append((g.state, g.reason, currency, g.currency_rows[currency], str(amount)))
    if report.approvals is not None:
        a = report.approvals
        rows.append(("approvals", f"required ({'; '.join(a.reasons) or 'none'})", None,
                     a.required, f"plan {a.plan_hash}"))
        rows += [
            ("approval", line.approver, None, None,
             f"{line.approved_at.isoformat()} plan {line.plan_hash} signature "
             f"{line.signature}: {line.status}" + (f" ({line.why})" if line.why else ""))
            for line in a.lines
        ]
    headers = ("section", "item", "currency", "rows", "value")
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(headers)
    text = {h: [_neutral(v) for v in col] for h, col in zip(headers, cols, strict=True)}
    text["rows"] = [None if v is None else str(v) for v in cols[3]]
    return pl.DataFrame(text, schema={h: pl.String for h in headers})


def _neutral(value: object) -> str | None:
    return None if value is None else cell_text(str(value))


# -- helpers ---------------------------------------------------------------------------------


def current_umask() -> int:
    """The process's umask (read by setting it: there is no other way; set straight back)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """A temporary file beside `path`, moved over it only once it was written completely.
    What an earlier writer killed halfway left beside it is removed first (issue 12)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path)
    tmp = temp_path(path)
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    try:
        yield tmp
        # mkstemp makes 0600; a report follows the user's umask like any file they write, so
        # a shared finance folder can read it (issue 13); the ledger stays owner-only.
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)

