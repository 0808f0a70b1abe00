"""The scan behind `batch.intake.workbook`: regular expressions over one sheet's XML, each
looking for one thing a person checking the workbook in Excel would not see (pure)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

_CELL_REF = re.compile(r"([A-Z]+)(\d+)")
_LISTED = 10  # addresses quoted in one warning; the rest are counted


@dataclass(frozen=True)
class WorkbookFindings:
    """What the workbook hides, in terms of Excel rows, columns and cell addresses."""

    sheet: str = ""  # the sheet read
    sheet_hidden: bool = False
    hidden_rows: dict[int, str] = field(default_factory=dict)  # row -> "hidden"/"filtered out"
    # (row, canonical column) -> what is wrong with that cell, said better than a rule can
    cell_problems: dict[tuple[int, str], str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def column_letters(index: int) -> str:
    """Excel's letters for a 1-based column number (1 -> A, 28 -> AB)."""
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _column_number(letters: str) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + ord(ch) - 64
    return number


def _listed(addresses: Sequence[str]) -> str:
    more = len(addresses) - _LISTED
    return ", ".join(addresses[:_LISTED]) + (f" and {more} more" if more > 0 else "")


def rows_text(rows: Sequence[int]) -> str:
    return _listed([str(r) for r in rows])


_P = rb"(?:\w+:)?"  # an optional namespace prefix on a tag
_HIDDEN_ROW = re.compile(rb"<" + _P + rb'row\b[^>]*?\bhidden="(?:1|true)"[^>]*>')
_R_ATTR = re.compile(rb'\br="([A-Z]*)(\d+)"')
_COL = re.compile(rb"<" + _P + rb"col\b([^>]*)>")
_AUTOFILTER = re.compile(rb"<" + _P + rb'autoFilter\b[^>]*?\bref="([^"]+)"')
_MERGE = re.compile(rb"<" + _P + rb'mergeCell\b[^>]*?\bref="([^"]+)"')
_ERROR_CELL = re.compile(
    rb"<" + _P + rb'c\b([^>]*?\bt="e"[^>]*)>(.*?)</' + _P + rb"c>", re.DOTALL
)
_FORMULA = re.compile(rb"<" + _P + rb"f[ >/]")
_VALUE = re.compile(rb"<" + _P + rb"v>([^<]+)</")
_STYLE = re.compile(rb'\bs="(\d+)"')
_TYPE = re.compile(rb'\bt="(\w+)"')
_NOISE = Decimal("1e-9")  # a float's last digits (512.0599999999999): not decimals anyone typed


class Scan:
    """One pass of regular expressions over a sheet's XML (an XML parser costs ~10x more on a
    100,000-row sheet); each looks for one thing and most find nothing."""

    def __init__(
        self, decimals: list[tuple[int | None, str]], header_row: int, columns: dict[str, int],
        header_cells: Sequence[str | None],
    ) -> None:
        self.decimals, self.header_row = decimals, header_row
        self.columns, self.header_cells = columns, header_cells
        self.hidden_rows: list[int] = []
        self.hidden_columns: list[int] = []
        self.filter_ref: str | None = None
        self.merged: list[str] = []
        self.first_column = 1  # the first Excel column holding a value: grid column 0
        self.errors: list[tuple[int, int, str]] = []  # row, column, shown error
        self.unsaved: list[tuple[int, int]] = []
        self.rounded: list[tuple[int, int, str, str]] = []  # row, column, stored, shown

    def run(self, xml: bytes) -> None:
        # Literal look-ups first (fast): most sheets have none of these.
        self.first_column = _first_column(xml)
        if b'hidden="' in xml:
            for found in _HIDDEN_ROW.finditer(xml):
                ref = _R_ATTR.search(found.group(0))
                if ref:
                    self.hidden_rows.append(int(ref.group(2)))
            for found in _COL.finditer(xml):
                attrs = found.group(1)
                if re.search(rb'\bhidden="(?:1|true)"', attrs):
                    first, last = _number(attrs, b"min"), _number(attrs, b"max")
                    self.hidden_columns += range(first, min(last, first + 200) + 1)
        if b"autoFilter" in xml and (found_filter := _AUTOFILTER.search(xml)):
            self.filter_ref = found_filter.group(1).decode()
        if b"mergeCell" in xml:
            self.merged = [m.group(1).decode() for m in _MERGE.finditer(xml)]
        if b't="e"' in xml:
            for found in _ERROR_CELL.finditer(xml):
                ref = _R_ATTR.search(found.group(1))
                value = _VALUE.search(found.group(2))
                if ref and int(ref.group(2)) > self.header_row:
                    shown = value.group(1).decode() if value else "#error"
                    column = _column_number(ref.group(1).decode())
                    self.errors.append((int(ref.group(2)), column, shown))
        if any(tag in xml for tag in (b"<f>", b"<f ", b":f>", b":f ")):
            self._unsaved_formulas(xml)
        if "amount" in self.columns and any(d is not None for d, _ in self.decimals):
            self._rounded_amounts(xml, column_letters(self.first_column + self.columns["amount"]))

    def _unsaved_formulas(self, xml: bytes) -> None:
        for found in _FORMULA.finditer(xml):
            start = max(xml.rfind(b"<c ", 0, found.start()), xml.rfind(b":c ", 0, found.start()))
            end = xml.find(b"c>", found.end())
            if start < 0 or end < 0:
                continue
            cell = xml[start:end]
            head = cell[: cell.find(b">")]
            kind = _TYPE.search(head)
            ref = _R_ATTR.search(head)
            if ref is None or (kind is not None and kind.group(1) == b"e"):
                continue
            if _VALUE.search(cell) is None and int(ref.group(2)) > self.header_row:
                self.unsaved.append((int(ref.group(2)), _column_number(ref.group(1).decode())))

    def _rounded_amounts(self, xml: bytes, letters: str) -> None:
        """Number cells of the amount column (as Excel writes them: r, s, then the value)
        whose value has more decimals than their format shows."""
        places = {i: p for i, (p, _) in enumerate(self.decimals) if p is not None}
        fewest = min(places.values())
        # Only values with more decimals than any such format shows (or an exponent) match.
        cell = re.compile(
            rb'<c r="' + letters.encode() + rb'(\d+)" s="(\d+)"(?: t="n")?>'
            rb"(?:<f[^<]*(?:</f>)?)?<v>(-?\d*\.\d{" + str(fewest + 1).encode()
            + rb",}(?:E[-+]?\d+)?|-?\d+(?:\.\d+)?E[-+]?\d+)</v>"
        )
        for row, style, value in cell.findall(xml):
            shows = places.get(int(style))
            if shows is None:
                continue
            dot = value.find(b".")
            if (dot < 0 or len(value) - dot - 1 <= shows) and b"E" not in value:
                continue  # no more decimals than shown: the usual case, no Decimal needed
            if int(row) > self.header_row:
                self._check_rounding(int(style), int(row), value.decode())

    def _check_rounding(self, style: int, row: int, value: str) -> None:
        places, _ = self.decimals[style]
        if places is None:
            return
        try:
            stored = Decimal(value)
        except InvalidOperation:
            return
        exponent = stored.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -9:
            stored = stored.quantize(_NOISE).normalize()
        shown = stored.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        if shown != stored:
            column = self.first_column + self.columns["amount"]
            self.rounded.append((row, column, f"{stored.normalize():,f}", f"{shown:,f}"))

    def _canonical(self, column: int) -> str | None:
        grid = column - max(self.first_column, 1)
        return next((c for c, i in self.columns.items() if i == grid), None)

    def _header(self, column: int) -> str:
        grid = column - max(self.first_column, 1)
        text = self.header_cells[grid] if 0 <= grid < len(self.header_cells) else None
        return f" ({text.strip()!r})" if text and text.strip() else ""

    def findings(self, sheet: str, sheet_hidden: bool) -> WorkbookFindings:
        filtered = _filter_rows(self.filter_ref)
        hidden = {
            row: "filtered out" if row in filtered else "hidden"
            for row in self.hidden_rows if row > self.header_row
        }
        problems: dict[tuple[int, str], str] = {}
        warnings: list[str] = []
        used = range(max(self.first_column, 1), max(self.first_column, 1) + len(self.header_cells))
        columns = [c for c in self.hidden_columns if c in used]
        if columns:
            shown = ", ".join(f"{column_letters(c)}{self._header(c)}" for c in columns[:_LISTED])
            warnings.append(f"hidden column(s) in the sheet: {shown}; unhide to check them")
        addresses = []
        for row, column, error in self.errors:
            address = f"{column_letters(column)}{row}"
            addresses.append(f"{address} ({error})")
            if (canonical := self._canonical(column)) is not None:
                problems[(row, canonical)] = f"{address}: the cell shows {error}; fix it in Excel"
        if addresses:
            warnings.append(f"cells showing an error value: {_listed(addresses)}")
        addresses = []
        for row, column in self.unsaved:
            address = f"{column_letters(column)}{row}"
            addresses.append(address)
            if (canonical := self._canonical(column)) is not None:
                problems[(row, canonical)] = (
                    f"{address}: formula with no saved value: open and save it in Excel"
                )
        if addresses:
            warnings.append(
                f"formula cells with no saved value (open and save the file in Excel): "
                f"{_listed(addresses)}"
            )
        rounded = [
            f"{column_letters(c)}{r} shows {shown} but holds {stored}"
            for r, c, stored, shown in self.rounded if self._canonical(c) == "amount"
        ]
        if rounded:
            warnings.append(
                f"amounts whose number format hides decimals (the stored value is paid): "
                f"{_listed(rounded)}"
            )
        merged = [ref for ref in self.merged if _last_row(ref) > self.header_row]
        if merged:
            warnings.append(
                f"merged cells in the data area (only the top-left cell holds a value): "
                f"{_listed(merged)}"
            )
        return WorkbookFindings(sheet, sheet_hidden, hidden, problems, tuple(warnings))


def _number(attrs: bytes, name: bytes) -> int:
    found = re.search(rb"\b" + name + rb'="(\d+)"', attrs)
    return int(found.group(1)) if found else 1


_VALUE_CELL = rb'"[^>/]*>\s*<(?:v|is)\b'


def _first_column(xml: bytes) -> int:
    """The leftmost column holding a value (what the loader's grid starts at): usually A."""
    for number in range(1, 27):
        pattern = rb'<c r="' + column_letters(number).encode() + rb"\d+" + _VALUE_CELL
        if re.search(pattern, xml):
            return number
    return 1


def _last_row(ref: str) -> int:
    rows = [int(m.group(2)) for m in _CELL_REF.finditer(ref)]
    return max(rows, default=0)


def _filter_rows(ref: str | None) -> range:
    """The rows an autofilter covers below its header (empty without a filter)."""
    if not ref:
        return range(0)
    rows = [int(m.group(2)) for m in _CELL_REF.finditer(ref)]
    return range(min(rows) + 1, max(rows) + 1) if rows else range(0)
