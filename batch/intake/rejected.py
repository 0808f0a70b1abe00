"""The rejected rows of a sheet, written back in the sheet's own format (issue 16).

XLSX in, XLSX out: the original header and columns, each invalid row's values as Excel stored
them with their number formats, then `problems` (what to fix) and `original row`. CSV in, CSV
out: the same delimiter and encoding (BOM included when the source had one). The user fixes
the cells in Excel or LibreOffice and pays that file as its own batch; the two extra columns
are ignored by the loader.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from batch import errors
from batch.intake.headers import find_header
from batch.intake.outcome import RowOutcome, ValidationReport

PROBLEMS, ORIGINAL_ROW = "problems", "original row"
_SCAN = 30  # the header is within this many rows of the top (as the loader looks)


def problems_text(outcome: RowOutcome) -> str:
    """A row's problems as one cell: "phone: is not a valid number; amount: is missing"."""
    return "; ".join(
        f"{p.column}: {p.message}" if p.column != "row" else p.message for p in outcome.problems
    )


def rejected_line(out: Path, written: int) -> str:
    """What `--rejected-out` did, in one line for people."""
    if not written:
        return f"no invalid rows: {out} not written"
    return (
        f"{written} invalid row(s) written to {out} with a '{PROBLEMS}' column: fix them there, "
        "then pay that file as its own batch"
    )


def write_rejected(
    source: Path, kind: str, header_row: int, report: ValidationReport, out: Path,
    *, sheet: str | None = None,
) -> int:
    """Write the invalid rows of `source` (a sheet loaded as `kind`, "csv" or "xlsx", header on
    Excel row `header_row`) to `out`; return how many. Nothing is written when none is."""
    return write_rejected_rows(
        source, kind, header_row, {o.row: problems_text(o) for o in report.invalid_rows()}, out,
        sheet=sheet,
    )


def write_rejected_rows(
    source: Path, kind: str, header_row: int, rejected: dict[int, str], out: Path,
    *, sheet: str | None = None,
) -> int:
    """Write the rows of `source` numbered in `rejected` (Excel row -> what to fix) to `out`;
    return how many (a collection sheet's left-out invoices use it as payouts' rows do)."""
    if not rejected:
        return 0
    suffix = out.suffix.lower()
    wanted = ".csv" if kind == "csv" else ".xlsx"
    if suffix != wanted:
        raise errors.InputError(
            f"{out}: the rejected rows of a {kind.upper()} file are written as {wanted}; "
            f"name the file ...{wanted}"
        )
    if kind == "csv":
        _write_csv(source, header_row, rejected, out)
    else:
        _write_xlsx(source, sheet, header_row, rejected, out)
    return len(rejected)


def _encoding(data: bytes) -> tuple[str, bytes]:
    """The encoding of a CSV as the loader reads it, and the BOM to write back."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8", b"\xef\xbb\xbf"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16", b""  # Python's utf-16 codec writes the BOM itself
    try:
        data.decode("utf-8")
        return "utf-8", b""
    except UnicodeDecodeError:
        return "cp1252", b""


def _write_csv(source: Path, header_row: int, rejected: dict[int, str], out: Path) -> None:
    data = source.read_bytes()
    encoding, bom = _encoding(data)
    text = data[len(bom):].decode(encoding, errors="replace")
    if "\r" in text and "\n" not in text:
        text = text.replace("\r", "\n")
    sep_line = ""
    if text[:4].lower() == "sep=" and "\n" in text:
        sep_line, text = text[: text.index("\n") + 1], text[text.index("\n") + 1 :]
    delimiter = _delimiter(text, header_row)
    records = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    buffer = io.StringIO(newline="")
    buffer.write(sep_line.rstrip("\r\n") + "\r\n" if sep_line else "")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    for number, record in enumerate(records, start=1):
        if number == header_row:
            writer.writerow([*record, PROBLEMS, ORIGINAL_ROW])
        elif number in rejected:
            writer.writerow([*record, rejected[number], number])
    with _atomic(out) as tmp:
        tmp.write_bytes(bom + buffer.getvalue().encode(encoding, errors="replace"))


def _delimiter(text: str, header_row: int) -> str:
    """The delimiter under which the header row names the most known columns."""
    best, chosen = -1, ","
    for delimiter in (",", ";", "\t"):
        rows = []
        for row in csv.reader(io.StringIO(text[: 64 * 1024], newline=""), delimiter=delimiter):
            rows.append(row)
            if len(rows) >= max(_SCAN, header_row):
                break
        match = find_header(rows)
        score = len(match.columns) if match else 0
        if score > best:
            best, chosen = score, delimiter
    return chosen


def _write_xlsx(
    source: Path, sheet: str | None, header_row: int, rejected: dict[int, str], out: Path,
) -> None:
    import openpyxl

    book = openpyxl.load_workbook(source, read_only=True, data_only=True)
    try:
        worksheet = book[sheet] if sheet else book.worksheets[0]
        header: Sequence[object] = ()
        picked: list[tuple[int, list[tuple[object, str]]]] = []
        last = max(rejected)
        for counted, cells in enumerate(worksheet.iter_rows(max_row=last), start=1):
            number = next((c.row for c in cells if getattr(c, "row", None)), counted)
            if number == header_row:
                header = [getattr(c, "value", None) for c in cells]
            elif number in rejected:
                picked.append((number, [
                    (getattr(c, "value", None), getattr(c, "number_format", None) or "General")
                    for c in cells
                ]))
    finally:
        book.close()
    width = max((i + 1 for i, v in enumerate(header) if v not in (None, "")), default=0)
    result = openpyxl.Workbook()
    target = result.active
    assert target is not None
    target.title = "Rejected rows"
    target.append([*header[:width], PROBLEMS, ORIGINAL_ROW])
    for number, found in picked:
        padded = (found + [(None, "General")] * width)[:width]
        target.append([v for v, _ in padded] + [rejected[number], number])
        for column, (value, number_format) in enumerate(padded, start=1):
            cell = target.cell(target.max_row, column)
            cell.number_format = number_format
            if isinstance(value, str) and value.startswith("="):
                cell.data_type = "s"  # text that reads like a formula stays text
    target.freeze_panes = "A2"
    with _atomic(out) as tmp:
        result.save(tmp)


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """A temporary file beside `path`, moved over it once written completely."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o600)  # names, phones and amounts: owner-only, like the ledger
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
