"""Helpers for the engine's end-to-end tests: sheets, CLI invocations, sandbox checks."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from batch.cli import main

CREDENTIALS = {
    "DOLLR_CLIENT_ID": "sandbox",
    "DOLLR_CLIENT_SECRET": "sandbox-secret",
    "DOLLR_PASSCODE": "0000",
    "DOLLR_PASSCODE_PHONE": "231770000000",
}
# Fast polling and a short not-found grace so fault tests finish in seconds.
FAST = {"PAYBATCH_POLL_FIRST": "0.1", "PAYBATCH_POLL_MAX": "0.4", "PAYBATCH_NOT_FOUND_GRACE": "0.5"}
# Quick payouts in the sandbox: PENDING then PROCESSING for a fraction of a second.
QUICK_PAYOUTS = {"pending_seconds": 0.05, "processing_seconds": 0.1}


def phone(i: int) -> str:
    """A valid Liberian mobile number (MTN/Lonestar 77 or Orange 88), distinct per i."""
    return f"231{'77' if i % 2 else '88'}01{i:05d}"


def write_sheet(path: Path, n: int, *, amount: str = "10.50", start: int = 0) -> list[str]:
    """A valid CSV of n USD payouts; returns the phones."""
    phones = [phone(start + i) for i in range(n)]
    lines = ["name,phone,amount,currency,country"]
    lines += [f"Person {start + i},{p},{amount},USD,LR" for i, p in enumerate(phones)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return phones


def env(**extra: str) -> dict[str, str]:
    """The environment of a CLI run against a running sandbox."""
    return {**CREDENTIALS, **FAST, **extra}


def cli(
    args: list[str], base_url: str, ledger: Path, **extra: str
) -> tuple[int, dict[str, Any], str]:
    """Run `paybatch ARGS --json` in-process; returns exit code, JSON output, stderr."""
    runner = CliRunner()
    result = runner.invoke(
        main,
        [*args, "--base-url", base_url, "--ledger", str(ledger), "--json", "--rate", "500"],
        env=env(**extra),
        catch_exceptions=False,
    )
    out = result.stdout.strip()
    return result.exit_code, (json.loads(out) if out else {}), result.stderr


def subprocess_env(base_url: str, ledger: Path) -> dict[str, str]:
    """Environment for `python -m batch` in a subprocess."""
    return {
        **os.environ,
        **env(),
        "DOLLR_BASE_URL": base_url,
        "PAYBATCH_LEDGER": str(ledger),
    }


def paid_exactly_once(sandbox: Any, phones: list[str]) -> dict[str, int]:
    """Phones whose COMPLETED count in the sandbox's own record is not exactly 1."""
    per_phone = sandbox.recipients()
    wrong = {p: per_phone.get(p, {}).get("COMPLETED", 0) for p in phones}
    return {p: n for p, n in wrong.items() if n != 1}


def nonzero(counts: dict[str, int]) -> dict[str, int]:
    """A JSON `counts` object (every state, zeros included) without its zero states."""
    return {s: n for s, n in counts.items() if n}


def left_for_later(row: Any, now: datetime) -> bool:
    """A row a run may rightly leave UNKNOWN (exit 4) however often it is rerun at once: its
    same-id fresh sends are used up (a person decides, engine/adoption.py), or its status
    cannot be trusted as "not found" before its session expires plus the grace."""
    from batch.engine.adoption import MAX_FRESH_SENDS
    from batch.engine.states import RowState
    from batch.options import MonitorOptions

    attempt = row.current_attempt
    if row.state is not RowState.UNKNOWN or attempt is None:
        return False
    if attempt.fresh_sends >= MAX_FRESH_SENDS:
        return True
    expires = attempt.session_expires_at
    grace = timedelta(seconds=MonitorOptions().not_found_grace)
    return expires is not None and expires + grace > now
