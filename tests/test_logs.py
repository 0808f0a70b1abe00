"""Cron logging: phones and secrets masked, UTC lines in the --log-file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _report_ledger import BATCH, build
from click.testing import CliRunner

from batch.cli import main
from batch.cli.logs import mask


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("paying 231770123456", "paying 231*******56"),
        ("phone=+250781234567 ok", "phone=+250*******67 ok"),
        ("Authorization: Bearer eyJhbGciOi.x.y", "Authorization: Bearer ***"),
        ("Authorization: Basic c2FuZGJveDpzZWNyZXQ=", "Authorization: Basic ***"),
        ('{"client_secret": "s3cret", "passcode": "0000"}',
         '{"client_secret": "***", "passcode": "***"}'),
        ("token=abc123&x=1", "token=***&x=1"),
        # reference_ids, hashes and amounts stay readable
        ("ref 2b7e1f0a-1234-4abc-9def-123456789012",) * 2,
        ("amount 1500000.00 USD", "amount 1500000.00 USD"),
    ],
)
def test_mask(text: str, masked: str) -> None:
    assert mask(text) == masked


def test_log_file_from_the_command_line(tmp_path: Path) -> None:
    built = build(tmp_path / "paybatch.db")
    log = tmp_path / "logs" / "paybatch.log"
    for args in (["--log-file", str(log), "status", BATCH], ["status", "nope", "--log-file",
                                                              str(log)]):
        CliRunner().invoke(main, [*args, "--ledger", str(built.path)])
    text = log.read_text()
    lines = text.splitlines()
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ", line) for line in lines)
    assert "start: paybatch" in text and "error (exit 1): nope: no such batch" in text
    assert not re.search(r"\d{9,}", text)  # no phone (or other long number) in clear
    assert (log.stat().st_mode & 0o077) == 0
