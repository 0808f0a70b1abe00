"""An HTML table saved under an Excel name (.xls): many payroll and bank systems "export to
Excel" that way. Recognised so the user is told what the file is and what to do."""

from __future__ import annotations

import re

_HTML = re.compile(
    rb"(?i)^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|table|body|meta)\b",
    re.DOTALL,
)
HTML_AS_EXCEL = (
    "is a web page (an HTML table) saved with an Excel name, not a workbook: open it in Excel "
    "and save it as .xlsx (File > Save As > Excel Workbook)"
)


def looks_like_html(data: bytes) -> bool:
    """Whether a file is HTML (many payroll and bank systems "export to Excel" that way)."""
    head = data[:4096].removeprefix(b"\xef\xbb\xbf")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = data[2:8192].decode("utf-16-le" if data[0] == 0xFF else "utf-16-be",
                                   "ignore").encode()
    return bool(_HTML.match(head))
