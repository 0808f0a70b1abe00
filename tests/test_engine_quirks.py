"""The engine end to end against a sandbox answering the way another Dollr reading might.

Each run switches on sandbox quirks (batch.sandbox.quirks) for REFERENCE.md's [UNKNOWN]
parts and checks, from the sandbox's own record, that every row is paid exactly once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from batch.ledger import Ledger
from tests.engine_helpers import QUICK_PAYOUTS, cli, nonzero, paid_exactly_once, write_sheet


def test_odd_but_readable_answers_still_pay_everyone_once(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Server clock 10 minutes behind ours, sessions of 30 s: by our clock every session has
    # expired before it arrives. Plus lower-case / renamed statuses, string amounts and ids,
    # null fields left out, session without status and wallet_id.
    sandbox.set_faults(
        **QUICK_PAYOUTS,
        clock_skew_seconds=-600,
        session_lifetime_seconds=30,
        status_names={"PENDING": "queued", "PROCESSING": "IN_PROGRESS", "COMPLETED": "completed"},
        amounts_as_strings=True,
        ids_as_strings=True,
        sparse_answers=True,
    )
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    phones = write_sheet(sheet, 6)
    code, out, _ = cli(["run", str(sheet), "--yes", "--wait", "10"], sandbox.base_url, ledger)
    assert code == 0 and nonzero(out["counts"]) == {"COMPLETED": 6}, out
    assert paid_exactly_once(sandbox, phones) == {}
    rows = Ledger(ledger).rows(out["batch_id"])
    assert all(r.current_attempt and r.current_attempt.payee_amount for r in rows)
    requests = sandbox.stats()["requests"]
    assert requests.get("sessions.payout", {}).get("200") == 6  # no renewals
    assert not [name for name in requests if name.endswith(".list")]  # list shape can't matter


def test_status_422_for_unknown_and_briefly_invisible_executions(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Lost execute answers, and a status that says 422 (not 404) until the execution shows.
    sandbox.set_faults(
        **QUICK_PAYOUTS,
        status_unknown_code=422,
        status_visibility_delay_seconds=0.3,
        drop_rate=1.0,  # every execute answer is lost: status alone must settle them
        drop_endpoints=["executions.*"],
    )
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    phones = write_sheet(sheet, 8)
    code, out, _ = cli(["run", str(sheet), "--yes", "--wait", "10"], sandbox.base_url, ledger)
    assert code == 0 and nonzero(out["counts"]) == {"COMPLETED": 8}, out
    assert paid_exactly_once(sandbox, phones) == {}
    assert sandbox.stats()["faults"].get("dropped")  # some answers really were lost


def test_status_422_for_a_lost_attempt_is_trusted_after_the_grace_window(
    sandbox, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    sandbox.set_faults(**QUICK_PAYOUTS, status_unknown_code=422)
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    phones = write_sheet(sheet, 2)
    _, out, _ = cli(["plan", str(sheet)], sandbox.base_url, ledger)
    db = Ledger(ledger)
    row = db.rows(out["batch_id"])[0]
    lost = row.current_reference_id or ""
    db.mark_recipient_ready(row.id, account_id=999)
    db.mark_session_open(
        row.id, lost, session_id=999, wallet_id=None, account_id=999,
        expires_at=datetime.now(UTC) - timedelta(minutes=10),
    )
    db.mark_submitting([(row.id, lost)])  # a crash: the request never reached the API
    code, out, _ = cli(["run", str(sheet), "--yes"], sandbox.base_url, ledger)
    assert code == 0 and nonzero(out["counts"]) == {"COMPLETED": 2}, out
    assert paid_exactly_once(sandbox, phones) == {}
    again = Ledger(ledger).row(row.id)
    # Issue 11: resent with its own reference_id on a fresh session, never a new id.
    assert again is not None and [a.outcome for a in again.attempts] == ["COMPLETED"]
    assert again.attempts[0].reference_id == lost and again.attempts[0].fresh_sends == 1


def test_undocumented_final_status_is_never_taken_as_terminal(
    sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    sandbox.set_faults(**QUICK_PAYOUTS, status_names={"COMPLETED": "SUCCESSFUL"})
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    phones = write_sheet(sheet, 3)
    with caplog.at_level(logging.WARNING, logger="paybatch"):
        code, out, _ = cli(["run", str(sheet), "--yes", "--wait", "1"], sandbox.base_url, ledger)
    assert code == 4 and nonzero(out["counts"]) == {"SUBMITTED": 3}, out  # in flight, not guessed
    assert "undocumented status 'SUCCESSFUL'" in caplog.text
    # Nobody was paid twice: one execution each, and reconcile settles once it reads COMPLETED.
    assert len(sandbox.executions()) == 3
    sandbox.set_faults(status_names={})
    code, out, _ = cli(["reconcile", "nov", "--wait", "5"], sandbox.base_url, ledger)
    assert code == 0 and nonzero(out["counts"]) == {"COMPLETED": 3}
    assert paid_exactly_once(sandbox, phones) == {}
