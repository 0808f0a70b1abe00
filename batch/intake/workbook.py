"""What an XLSX workbook hides from the person who checks it in Excel (issue 16, pure).

Hidden rows and rows a filter hides, a hidden sheet, hidden columns, formula cells that show an
error or whose value Excel never saved, amounts whose number format hides decimals, merged
cells in the data area. Read from the file's own XML (values as Excel stored them, never
recomputed); the sheet is only scanned (workbook_scan) when a literal look at its bytes says
something may be there, or a number format could hide decimals.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from posixpath import join, normpath
from xml.etree.ElementTree import ParseError, fromstring

from batch.intake.workbook_scan import Scan, WorkbookFindings

__all__ = ["WorkbookFindings", "findings_for", "inspect_workbook", "shown_decimals"]

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
# Something worth a full look may be in a sheet's XML (any namespace prefix): literal look-ups.
_SUSPECT = (b'hidden="', b"<f>", b"<f ", b":f>", b":f ", b't="e"', b"mergeCell")
_QUOTED = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]')


def shown_decimals(code: str) -> int | None:
    """Decimals a number format shows ("#,##0.00" -> 2, "0" -> 0); None for General, text,
    dates, percents and anything else that does not round a plain number."""
    section = _QUOTED.sub("", code.split(";")[0])
    if not section or section.lower() == "general" or "@" in section or "%" in section:
        return None
    if re.search(r"(?i)[ymdhse]", section) or not re.search(r"[0#?]", section):
        return None
    found = re.search(r"\.([0#?]*)", section)
    return len(found.group(1)) if found else 0


class _Book:
    """The parts of the workbook package the scan needs: sheets, their files, cell styles."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        book = fromstring(archive.read("xl/workbook.xml"))
        rels = self._rels("xl/_rels/workbook.xml.rels")
        self.sheets: list[tuple[str, str, str]] = []  # name, state, part
        for sheet in book.iter(f"{_MAIN}sheet"):
            target = rels.get(sheet.get(f"{_REL}id", ""), "")
            part = target.lstrip("/") if target.startswith("/") else normpath(join("xl", target))
            self.sheets.append((sheet.get("name", ""), sheet.get("state", "visible"), part))
        self.decimals = self._style_decimals()

    def _rels(self, part: str) -> dict[str, str]:
        try:
            tree = fromstring(self.archive.read(part))
        except KeyError:
            return {}
        return {r.get("Id", ""): r.get("Target", "") for r in tree.iter(f"{_PKG_REL}Relationship")}

    def _style_decimals(self) -> list[tuple[int | None, str]]:
        """Per cell style index: (decimals its number format shows, the format's code)."""
        from openpyxl.styles.numbers import BUILTIN_FORMATS

        try:
            styles = fromstring(self.archive.read("xl/styles.xml"))
        except KeyError:
            return []
        custom = {
            int(f.get("numFmtId", "0")): f.get("formatCode", "")
            for f in styles.iter(f"{_MAIN}numFmt")
        }
        found: list[tuple[int | None, str]] = []
        xfs = styles.find(f"{_MAIN}cellXfs")
        for xf in [] if xfs is None else list(xfs):
            number = int(xf.get("numFmtId", "0"))
            code = custom.get(number) or BUILTIN_FORMATS.get(number, "General")
            found.append((shown_decimals(code), code))
        return found


def inspect_workbook(
    data: bytes, sheet: str | None, header_row: int, columns: dict[str, int],
    header_cells: Sequence[str | None],
) -> WorkbookFindings:
    """What the sheet read (by name, else the first) hides below its header row.

    columns: canonical column -> position in the loaded grid; header_cells: the grid's header
    row (for naming hidden columns). Unreadable parts are no finding: the loader's own reading
    stands, and it reports corruption itself.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            book = _Book(archive)
            chosen = next(
                (s for s in book.sheets if sheet is None or s[0] == sheet), None
            )
            if chosen is None:
                return WorkbookFindings()
            name, state, part = chosen
            hidden_sheet = state != "visible"
            with archive.open(part) as stream:
                head = stream.read()
            if not any(mark in head for mark in _SUSPECT) and not any(
                d is not None for d, _ in book.decimals
            ):
                return WorkbookFindings(name, hidden_sheet)
            scan = Scan(book.decimals, header_row, columns, header_cells)
            scan.run(head)
            return scan.findings(name, hidden_sheet)
    except (KeyError, zipfile.BadZipFile, ParseError, ValueError, OSError):
        return WorkbookFindings()


def findings_for(data: bytes, sheet: str | None, grid: object) -> WorkbookFindings:
    """inspect_workbook for a loaded grid (a polars frame of text cells, grid row i = Excel
    row i + 1) whose header `find_header` recognises."""
    from batch.intake.headers import find_header

    top = grid.head(_HEADER_SCAN_ROWS).rows()  # type: ignore[attr-defined]
    match = find_header(top)
    if match is None:
        return WorkbookFindings()
    return inspect_workbook(data, sheet, match.index + 1, match.columns, top[match.index])


_HEADER_SCAN_ROWS = 30
