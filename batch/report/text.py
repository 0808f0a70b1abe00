"""Text from a sheet as it goes into a report cell: safe for a spreadsheet to open."""

from __future__ import annotations

# Spreadsheet apps run cells starting with these as formulas (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    """A text cell that no spreadsheet will run as a formula: a leading quote when needed."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value
