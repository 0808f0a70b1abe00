"""Logging for cron: `--log-file PATH` appends UTC-stamped lines with phones and secrets masked.

`log_file_option` is the shared click option; `mask` is the pure redaction every line goes through.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from pathlib import Path
from typing import Any

import click

from batch.text import redact_userinfo, visible

ENV_LOG_FILE = "PAYBATCH_LOG_FILE"
LOGGER = "paybatch"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# A phone is 9-15 digits (E.164, with or without "+") not glued to letters, digits or "-":
# so reference_ids (UUIDs) and hashes are left alone.
_PHONE = re.compile(r"(?<![\w-])(\+?)(\d{3})(\d{4,10})(\d{2})(?![\w-])")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_SECRET = re.compile(
    r"(?i)\b(client_secret|secret|passcode|password|access_token|refresh_token|token)"
    r"(\"?\s*[:=]\s*\"?)([^\s\"',&}]+)"
)


def mask(text: str) -> str:
    """The text with phone numbers masked (231*******02) and secrets, tokens and the user
    info of URLs replaced."""
    text = visible(redact_userinfo(text), keep="\n")  # a sheet's escape codes stay inert
    text = _BEARER.sub(lambda m: f"{m.group(1)} ***", text)
    text = _SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    return _PHONE.sub(lambda m: m.group(1) + m.group(2) + "*" * len(m.group(3)) + m.group(4), text)


class MaskingFormatter(logging.Formatter):
    """A formatter that masks every formatted line (messages, arguments and tracebacks)."""

    def __init__(self, fmt: str, datefmt: str) -> None:
        super().__init__(fmt, datefmt)
        self.converter = time.gmtime  # UTC timestamps, whatever the machine's zone

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


def add_log_file(path: Path, *, level: int = logging.INFO) -> logging.Handler:
    """Append paybatch's log to `path` (created owner-only); returns the handler."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(MaskingFormatter(FORMAT, datefmt="%Y-%m-%dT%H:%M:%SZ"))
    handler.setLevel(level)
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > level:
        logger.setLevel(level)
    return handler


def _log_file_callback(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is None or ctx.meta.get("paybatch.log_file"):
        return
    handler = add_log_file(value)
    ctx.meta["paybatch.log_file"] = value
    logger = logging.getLogger(LOGGER)
    logger.info("start: paybatch %s", " ".join(sys.argv[1:]))

    def close() -> None:
        logger.info("end")
        logger.removeHandler(handler)
        handler.close()

    ctx.call_on_close(close)


def log_file_option(func: Any) -> Any:
    """--log-file PATH (env PAYBATCH_LOG_FILE): append a masked, UTC-stamped log there."""
    return click.option(
        "--log-file",
        type=click.Path(path_type=Path, dir_okay=False),
        envvar=ENV_LOG_FILE,
        expose_value=False,
        is_eager=True,
        callback=_log_file_callback,
        help="Append a log (UTC, phones masked, no secrets) to this file; for cron.",
    )(func)
