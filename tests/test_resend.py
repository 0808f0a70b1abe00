"""Re-sending an UNKNOWN attempt with its own reference_id (REFERENCE §4.2), against the sandbox.

An execute whose answer was ambiguous (5xx, 429, lost) and whose status says "not found" is
sent again with the same reference_id while its session is open; the API keeps one execution
per reference_id, so nobody is paid twice. Checked against the sandbox's own record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
from engine_helpers import QUICK_PAYOUTS, cli, nonzero, paid_exactly_once, write_sheet

from batch.ledger import Ledger

EXECUTE = "executions.payout"
# Fresh attempts impossible within a test: only a resend of the same id can settle a row.
NO_FRESH_ATTEMPT = {"PAYBATCH_NOT_FOUND_GRACE": "600"}


def execute_requests(sandbox: Any) -> int:
    return sum(sandbox.stats()["requests"].get(EXECUTE, {}).values())


def every_execute_fails(sandbox: Any) -> None:
    """Every execute answered 5xx before any work: each is ambiguous to the client."""
    sandbox.set_faults(**QUICK_PAYOUTS, error_rate=1.0, error_endpoints=[EXECUTE])


def test_lost_and_failed_executes_are_resent_with_the_same_id_and_pay_once(
    sandbox: Any, tmp_path: Path
) -> None:
    # Half the executes fail before the work, the other half of the bad ones land but lose
    # their answer; a landed one stays invisible to status for a while, so some resends hit
    # an execution that exists: the sandbox answers with it instead of paying again.
    sandbox.set_faults(
        **QUICK_PAYOUTS,
        error_rate=0.3, error_endpoints=[EXECUTE],
        drop_rate=0.3, drop_endpoints=[EXECUTE],
        status_visibility_delay_seconds=0.3,
    )
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    phones = write_sheet(sheet, 16)
    code, out, _ = cli(
        ["run", str(sheet), "--yes", "--wait", "30"], sandbox.base_url, ledger,
        **NO_FRESH_ATTEMPT, PAYBATCH_RESEND_GRACE="0.1", PAYBATCH_MAX_RESENDS="50",
    )
    assert code == 0, out
    assert paid_exactly_once(sandbox, phones) == {}
    rows = Ledger(ledger).rows(out["batch_id"])
    assert all(len(r.attempts) == 1 for r in rows)  # never a new reference_id
    assert sum(r.attempts[0].resends for r in rows) > 0
    executed = {e.reference_id for e in sandbox.executions()}
    assert executed == {r.current_reference_id for r in rows}
    resent = [
        e for e in Ledger(ledger).events(out["batch_id"])
        if e.from_state == "UNKNOWN" and e.to_state == "SUBMITTING"
    ]
    assert len(resent) == sum(r.attempts[0].resends for r in rows)


def test_reconcile_never_resends_and_the_next_run_does_once(
    sandbox: Any, tmp_path: Path
) -> None:
    every_execute_fails(sandbox)
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    phones = write_sheet(sheet, 2)
    slow_resend = {**NO_FRESH_ATTEMPT, "PAYBATCH_RESEND_GRACE": "600"}
    code, out, _ = cli(["run", str(sheet), "--yes", "--wait", "0.3"], sandbox.base_url, ledger,
                       **slow_resend)
    assert code == 4 and nonzero(out["counts"]) == {"UNKNOWN": 2}
    assert execute_requests(sandbox) == 2

    sandbox.set_faults(error_rate=0.0)  # the API is healthy again
    code, out, _ = cli(["reconcile", "nov", "--wait", "0.5"], sandbox.base_url, ledger,
                       **NO_FRESH_ATTEMPT, PAYBATCH_RESEND_GRACE="0")
    assert code == 4 and nonzero(out["counts"]) == {"UNKNOWN": 2}
    assert execute_requests(sandbox) == 2  # reconcile starts no payout, not even a resend

    code, out, _ = cli(["run", "nov", "--yes", "--wait", "10"], sandbox.base_url, ledger,
                       **NO_FRESH_ATTEMPT, PAYBATCH_RESEND_GRACE="0")
    assert code == 0 and nonzero(out["counts"]) == {"COMPLETED": 2}
    assert paid_exactly_once(sandbox, phones) == {}
    assert execute_requests(sandbox) == 4
    for row in Ledger(ledger).rows(out["batch_id"]):
        assert [(a.outcome, a.resends) for a in row.attempts] == [("COMPLETED", 1)]
    book = openpyxl.load_workbook(out["report"], read_only=True)
    try:  # a read-only workbook holds its file open until closed
        header, *lines = list(book["Attempts"].values)
    finally:
        book.close()
    assert [line[header.index("Resends (same ID)")] for line in lines] == [1, 1]


def test_resends_stop_at_the_limit_and_the_row_stays_unknown(
    sandbox: Any, tmp_path: Path
) -> None:
    every_execute_fails(sandbox)
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 1)
    code, out, _ = cli(
        ["run", str(sheet), "--yes", "--wait", "2"], sandbox.base_url, ledger,
        **NO_FRESH_ATTEMPT, PAYBATCH_RESEND_GRACE="0.05", PAYBATCH_MAX_RESENDS="2",
    )
    assert code == 4 and nonzero(out["counts"]) == {"UNKNOWN": 1}  # never guessed FAILED
    assert execute_requests(sandbox) == 3  # the send and two resends
    (row,) = Ledger(ledger).rows(out["batch_id"])
    assert [(a.outcome, a.resends) for a in row.attempts] == [(None, 2)]
    assert sandbox.executions() == []


def test_no_resend_into_a_closing_session_the_same_id_follows_its_expiry(
    sandbox: Any, tmp_path: Path
) -> None:
    every_execute_fails(sandbox)
    sandbox.set_faults(session_lifetime_seconds=1.0)
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    phones = write_sheet(sheet, 1)
    code, out, _ = cli(["run", str(sheet), "--yes", "--wait", "0.2"], sandbox.base_url, ledger,
                       **NO_FRESH_ATTEMPT)
    assert code == 4
    sandbox.set_faults(error_rate=0.0)
    # The resend would fall due after the session closes: none; "not found" is trusted
    # once the session has expired and the grace has passed, then the same id is sent on a
    # fresh session (issue 11: never a new id while merely not found).
    code, out, _ = cli(["run", "nov", "--yes", "--wait", "10"], sandbox.base_url, ledger,
                       PAYBATCH_RESEND_GRACE="5", PAYBATCH_NOT_FOUND_GRACE="0.5")
    assert code == 0, out
    assert paid_exactly_once(sandbox, phones) == {}
    (row,) = Ledger(ledger).rows(out["batch_id"])
    assert [(a.outcome, a.fresh_sends) for a in row.attempts] == [("COMPLETED", 1)]


def test_a_failed_answer_to_a_resend_is_confirmed_by_status_first(
    sandbox: Any, tmp_path: Path
) -> None:
    # The first sends land but their answers are lost, and status does not show them yet.
    sandbox.set_faults(
        **QUICK_PAYOUTS, drop_rate=1.0, drop_endpoints=[EXECUTE],
        status_visibility_delay_seconds=4.0,
    )
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    phones = write_sheet(sheet, 2)
    code, out, _ = cli(["run", str(sheet), "--yes", "--wait", "0.2"], sandbox.base_url, ledger,
                       **NO_FRESH_ATTEMPT, PAYBATCH_RESEND_GRACE="600")
    assert code == 4 and nonzero(out["counts"]) == {"UNKNOWN": 2}
    # An API that answers a repeated reference_id "FAILED: session already executed".
    sandbox.set_faults(drop_rate=0.0, repeat_send_failed=True)
    code, out, _ = cli(["run", "nov", "--yes", "--wait", "15"], sandbox.base_url, ledger,
                       **NO_FRESH_ATTEMPT, PAYBATCH_RESEND_GRACE="0")
    # never FAILED, so never re-paid
    assert code == 0 and nonzero(out["counts"]) == {"COMPLETED": 2}
    assert paid_exactly_once(sandbox, phones) == {}
    db = Ledger(ledger)
    assert all(r.attempts[0].resends >= 1 for r in db.rows(out["batch_id"]))
    assert any("resend answered FAILED" in (e.detail or "") for e in db.events(out["batch_id"]))


def test_a_throttled_execute_is_resent_once_retry_after_has_passed(
    sandbox: Any, tmp_path: Path
) -> None:
    # Executes limited to 2 a second: most of a 6-row burst draws 429. A 429 is "probably not
    # processed" (REFERENCE §4.2): after Retry-After and a not-found status the same id goes
    # again at once. The resend grace for lost answers is 10 min here, so only that path can
    # settle the rows within the run; and it is not bound by the resend limit (0 here).
    sandbox.set_faults(
        **QUICK_PAYOUTS, rate_limit_rps=2, rate_limit_endpoints=[EXECUTE], retry_after_seconds=1
    )
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    phones = write_sheet(sheet, 6)
    code, out, _ = cli(
        ["run", str(sheet), "--yes", "--wait", "30", "--concurrency", "6"],
        sandbox.base_url, ledger,
        **NO_FRESH_ATTEMPT, PAYBATCH_RESEND_GRACE="600", PAYBATCH_MAX_RESENDS="0",
    )
    assert code == 0, out
    assert sandbox.stats()["requests"][EXECUTE]["429"] > 0
    assert paid_exactly_once(sandbox, phones) == {}
    rows = Ledger(ledger).rows(out["batch_id"])
    assert all(len(r.attempts) == 1 for r in rows)  # never a new reference_id
    assert sum(r.attempts[0].resends for r in rows) >= sandbox.stats()["requests"][EXECUTE]["429"]
