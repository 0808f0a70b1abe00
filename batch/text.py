"""Text from a sheet, a file name or an API answer, made safe to print or to write (issue 12).

A sheet's cell can hold terminal escape sequences (colours, hidden OSC-8 links, clear screen),
control characters, or a right-to-left override (U+202E) that makes a name read as another.
`visible` writes every such character as an escape (`\\x1b`, `\\u202e`) that shows what is
there and does nothing; `json_text` does the same to JSON text.
"""

from __future__ import annotations

import json
import re
from typing import Any

# C0 and C1 controls and DEL; the bidirectional embeddings, overrides and isolates, the
# invisible direction marks, and the line and paragraph separators.
_BIDI_AND_SEPARATORS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029"
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI_AND_SEPARATORS}]")
# The user info of a URL ("https://user:pw@host"): up to the last "@" before a space, so a
# password holding "/" or ":" is covered too (issue 12: it reached errors, logs, the ledger).
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s@]*@")
# In JSON text C0 controls are escaped already; these are not (ensure_ascii=False).
_UNSAFE_IN_JSON = re.compile(f"[\x7f-\x9f{_BIDI_AND_SEPARATORS}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, keep: str = "") -> str:
    """`text` with every control, bidi-override and separator character written as an escape;
    the characters in `keep` (e.g. tab and line feed in a report cell) stay as they are."""
    if not keep:
        return _UNSAFE.sub(_escape, text)
    return _UNSAFE.sub(lambda m: m.group() if m.group() in keep else _escape(m), text)


def redact_userinfo(text: str) -> str:
    """`text` with the user name and password of every URL in it replaced by `***`."""
    return _USERINFO.sub(r"\1***@", text)


def json_text(value: Any, **options: Any) -> str:
    """`json.dumps(value, ensure_ascii=False, **options)` with C1 controls and bidi overrides
    written as \\u escapes too: the same JSON value, but nothing in it acts on a terminal."""
    text = json.dumps(value, ensure_ascii=False, **options)
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
