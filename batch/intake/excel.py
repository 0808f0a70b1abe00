"""Read an Excel workbook's sheet as a grid of text cells, turning every way the native reader
can fail (exceptions, a Rust panic, a damaged package) into one SheetError line (issue 12)."""

from __future__ import annotations

import io
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import polars as pl

from batch.errors import SheetError
from batch.intake.headers import find_header

# The native readers log through Python's logging (pyo3-log) under their crate names; with no
# handler anywhere, logging's last resort would print a calamine warning ("'x' not a valid
# worksheet") on stderr above paybatch's own one line. A --log-file does not take them either:
# what is wrong with the file is said once, in paybatch's words.
for _reader in ("calamine", "fastexcel"):
    logging.getLogger(_reader).addHandler(logging.NullHandler())

HEADER_SCAN_ROWS = 30  # the header must sit within this many rows of the top
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls, or an encrypted .xlsx

T = TypeVar("T")


@contextmanager
def _native_stderr() -> Iterator[list[bytes]]:
    """Within: what native code writes on file descriptor 2 (a Rust panic's message and
    backtrace) is caught in the yielded list instead of reaching the user's terminal."""
    caught: list[bytes] = []
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 at all
        yield caught
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield caught
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            caught.append(sink.read())


def guarded(name: str, read: Callable[[], T]) -> T:
    """`read()`, with a panic of the native reader (pyo3's PanicException derives from
    BaseException, so `except Exception` misses it) turned into a SheetError."""
    with _native_stderr():
        try:
            return read()
        except (KeyboardInterrupt, SystemExit, SheetError):
            raise
        except BaseException as exc:
            if isinstance(exc, Exception):
                raise
            panic = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    # Only a panic gets here; what it wrote on stderr (a backtrace) stays caught.
    raise SheetError(
        name,
        f"has a cell the Excel reader cannot convert ({panic}); is a date or time format "
        "applied to a number far out of range?",
    )


def read_excel(name: str, data: bytes, sheet: str | None) -> pl.DataFrame:
    """The sheet (`sheet`, or the first) as text cells; grid row i is Excel row i + 1."""
    if data.startswith(OLE_MAGIC) and "EncryptedPackage".encode("utf-16-le") in data:
        raise SheetError(name, "is password-protected; remove the password in Excel and save again")

    def read() -> pl.DataFrame:
        # skip_rows=0 keeps leading empty rows, so position i is Excel row i + 1.
        return pl.read_excel(
            io.BytesIO(data),
            engine="calamine",
            sheet_id=None if sheet else 1,
            sheet_name=sheet,
            has_header=False,
            infer_schema_length=0,
            drop_empty_rows=False,
            drop_empty_cols=False,
            read_options={"header_row": None, "skip_rows": 0, "dtypes": "string"},
            raise_if_empty=False,
        )

    try:
        return guarded(name, read)
    except SheetError:
        raise
    except Exception:  # calamine reports corruption through several exception types
        pass
    names = sheet_names(name, data)
    if not names:
        raise SheetError(name, "is not a readable Excel file (corrupt or truncated)")
    if sheet is not None and sheet not in names:
        raise SheetError(name, f"has no sheet {sheet!r} (sheets: {', '.join(names)})")
    raise SheetError(name, f"sheet {sheet or names[0]!r} cannot be read (corrupt?)")


def sheet_names(name: str, data: bytes) -> list[str] | None:
    """The workbook's sheet names, or None when even they cannot be read."""
    import fastexcel

    try:
        return guarded(name, lambda: list(fastexcel.read_excel(data).sheet_names))
    except Exception:
        return None


def suggest_sheet(name: str, data: bytes) -> None:
    """The first sheet has no header: say which sheet seems to hold the payouts."""
    import fastexcel

    names = sheet_names(name, data) or []
    for other in names[1:]:

        def head(sheet: str = other) -> list[tuple[str | None, ...]]:
            reader = fastexcel.read_excel(data).load_sheet_by_name(
                sheet, header_row=None, n_rows=HEADER_SCAN_ROWS, dtypes="string"
            )
            return reader.to_polars().rows()

        try:
            rows = guarded(name, head)
        except Exception:  # an unreadable extra sheet is no reason to fail here
            continue
        match = find_header(rows)
        if match is not None and not match.missing:
            raise SheetError(
                name,
                f"sheet {names[0]!r} has no payout table; it seems to be on sheet {other!r}: "
                f"pass --sheet {other!r} (sheets: {', '.join(names)})",
            )
    if len(names) > 1:
        raise SheetError(
            name,
            f"sheet {names[0]!r} has no recognisable header row (expected columns like name, "
            f"phone, amount); pass --sheet NAME (sheets: {', '.join(names)})",
        )
