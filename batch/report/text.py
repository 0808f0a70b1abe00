"""Text from a sheet as it goes into a report cell: safe for a spreadsheet to open and readable
as written (one place, every format): formula starts neutralised, control and bidi-override
characters shown as escapes."""

from __future__ import annotations

from batch.text import visible

# Spreadsheet apps run cells starting with these as formulas (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A cell may hold several lines or a tab; every other control character (ESC, BEL…), and the
# bidi overrides that make a name read as another (U+202E), are written as escapes (issue 12).
_KEPT = "\t\n"


def neutralise(value: str) -> str:
    """A text cell that no spreadsheet will run as a formula: a leading quote when needed."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def cell_text(value: str) -> str:
    """A text cell as every report format writes it: visible, then neutralised."""
    return neutralise(visible(value, keep=_KEPT))
