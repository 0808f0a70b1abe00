"""The report workbook's look: fonts, fills, number formats, and its cell formats made once.

Each cell's format is also wanted as the `s="N"` attribute of its XML (xlsx_sheet writes the
big tables' rows as XML): `Formats.style` makes that once per format.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from batch.markets import CURRENCY_DECIMALS

TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
HEADER: dict[str, Any] = {
    "bold": True, "font_color": "#FFFFFF", "bg_color": "#305496", "pattern": 1,
}
TITLE: dict[str, Any] = {"bold": True, "font_size": 14}
SECTION: dict[str, Any] = {"bold": True, "font_size": 12}
# Whole-row highlights on the Payouts sheet: what needs a person's attention.
STATE_FILLS = {
    "FAILED": "#FFC7CE",
    "UNKNOWN": "#FFEB9C",
    "SUBMITTING": "#FFEB9C",
    "SUBMITTED": "#FFEB9C",
}
_EPOCH = datetime(1899, 12, 30)  # Excel's day 0 (with its 1900 leap-year bug built in)
_EPOCH_UTC = _EPOCH.replace(tzinfo=UTC)
_DAY = 86400.0


def money_format(currency: str | None) -> str:
    """Excel number format for an amount in this currency (2 dp USD/LRD, 0 dp RWF)."""
    if currency is None or currency not in CURRENCY_DECIMALS:
        return "General"
    places = CURRENCY_DECIMALS[currency]
    return "#,##0" + ("." + "0" * places if places else "")


def excel_time(value: datetime) -> float:
    """A time as Excel's serial day number, in UTC (a naive time is taken as UTC)."""
    # An aware time minus an aware epoch is its UTC time minus the epoch: no conversion.
    return (value - (_EPOCH_UTC if value.tzinfo else _EPOCH)).total_seconds() / _DAY


class Formats:
    """The workbook's cell formats, made once each: (number format, fill, font) -> Format."""

    def __init__(self, book: Any) -> None:
        self.book = book
        self._made: dict[tuple[str | None, str | None, str | None], Any] = {}
        self._styles: dict[tuple[str | None, str | None, str | None], str] = {}
        self._fonts: dict[str, dict[str, Any]] = {
            "title": TITLE, "section": SECTION, "header": HEADER,
        }

    def get(
        self, number: str | None = None, fill: str | None = None, font: str | None = None
    ) -> Any:
        key = (number, fill, font)
        if key not in self._made:
            spec: dict[str, Any] = dict(self._fonts[font]) if font else {}
            if number is not None:
                spec["num_format"] = number
            if fill is not None:
                spec.update(bg_color=fill, pattern=1)
            self._made[key] = self.book.add_format(spec) if spec else None
        return self._made[key]

    def style(
        self, number: str | None = None, fill: str | None = None, font: str | None = None
    ) -> str:
        """The format as a cell's XML attribute (' s="N"'), or "" for none. xlsxwriter numbers
        a format when a cell first uses it: so does this, so the numbers come out the same."""
        key = (number, fill, font)
        found = self._styles.get(key)
        if found is None:
            fmt = self.get(number, fill, font)
            found = f' s="{fmt._get_xf_index()}"' if fmt is not None else ""
            self._styles[key] = found
        return found
