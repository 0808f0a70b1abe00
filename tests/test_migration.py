"""A ledger written by the release before issue 10 opens, migrates in place and resumes.

The fixture (tests/fixtures/v2_half_paid/, made by its make.sh with commit dcc0a07) is a
half-paid batch of 12 rows: 4 COMPLETED, 3 UNKNOWN (their execute answers were dropped after
the sandbox did the work, so they ARE paid), 1 FAILED (the wallet ran short, new payouts
stopped) and 4 NEW; with the sandbox's own state file from that run.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from batch.engine.states import PAYOUT, AttemptOutcome, ExecuteOutcome, OperationKind, RowState
from batch.errors import LedgerError
from batch.ledger import Ledger, NewRow
from batch.sandbox import SandboxConfig, running_sandbox
from tests.engine_helpers import cli, nonzero

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "v2_half_paid"
OLD_ENVIRONMENT = "http://127.0.0.1:29431#sandbox"  # make.sh's --base-url and client id
BATCH = "payroll"


def _copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copyfile(FIXTURE / name, target)
    return target


def _raw(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    return conn


def _v2_facts(path: Path) -> tuple[dict[str, sqlite3.Row], dict[str, int | None]]:
    """The old ledger as written: attempts by reference_id, payout account per phone."""
    with _raw(path) as conn:
        migrations = [r["name"] for r in conn.execute("SELECT name FROM schema_migrations")]
        assert migrations == ["001_init.sql", "002_resends.sql"], "not a v2 ledger"
        attempts = {r["reference_id"]: r for r in conn.execute("SELECT * FROM attempts")}
        accounts = {
            r["phone"]: r["payout_account_id"]
            for r in conn.execute("SELECT phone, payout_account_id FROM recipients")
        }
    conn.close()
    return attempts, accounts


def test_the_fixture_is_a_half_paid_v2_batch(tmp_path: Path) -> None:
    with _raw(_copy(tmp_path, "ledger.db")) as conn:
        counts = dict(conn.execute("SELECT state, COUNT(*) FROM rows GROUP BY state").fetchall())
        errors = [r[0] for r in conn.execute(
            "SELECT a.execute_error FROM rows r JOIN attempts a "
            "ON a.reference_id = r.current_reference_id WHERE r.state = 'UNKNOWN'")]
    conn.close()
    assert counts == {"COMPLETED": 4, "UNKNOWN": 3, "FAILED": 1, "NEW": 4}
    assert all(e and e.startswith("ambiguous: NetworkError") for e in errors), errors


def test_a_v2_ledger_is_migrated_in_place(tmp_path: Path) -> None:
    path = _copy(tmp_path, "ledger.db")
    old_attempts, old_accounts = _v2_facts(path)

    with Ledger(path, environment=OLD_ENVIRONMENT) as ledger:
        assert "003_operations.sql" in ledger.applied_migrations()
        assert ledger.pending_migrations() == []
        batch = ledger.batch_by_name(BATCH)
        assert batch is not None
        rows = {r.id: r for r in ledger.each_row_with_attempts(batch.id)}
        recipient = ledger.recipient("231880100000", PAYOUT)
        unknown_account = rows[1].current_attempt.account_id if rows[1].current_attempt else None

    with _raw(path) as conn:
        kinds = [r[0] for r in conn.execute("SELECT kind FROM batches")]
        attempt_columns = {r["name"] for r in conn.execute("PRAGMA table_info(attempts)")}
        new_attempts = {r["reference_id"]: r for r in conn.execute("SELECT * FROM attempts")}
        recipient_pk = sorted(
            (r["pk"], r["name"]) for r in conn.execute("PRAGMA table_info(recipients)") if r["pk"]
        )
        recipients = list(conn.execute("SELECT * FROM recipients"))
        steps_table = conn.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'preparation_steps'"
        ).fetchone()[0]
    conn.close()

    assert kinds == [OperationKind.PAYOUT.value]
    assert "payout_account_id" not in attempt_columns and "account_id" in attempt_columns
    assert new_attempts.keys() == old_attempts.keys()
    for ref, old in old_attempts.items():
        new = new_attempts[ref]
        assert new["account_id"] == old["payout_account_id"], ref
        assert new["execute_error"] == old["execute_error"], ref
        # Typed from the old text: every execute_error of this ledger is an ambiguous one.
        expected = ExecuteOutcome.AMBIGUOUS.value if old["execute_error"] else None
        assert new["execute_outcome"] == expected, ref
    assert sum(1 for a in new_attempts.values() if a["execute_outcome"]) == 3

    assert recipient_pk == [(1, "environment"), (2, "phone"), (3, "operation_type")]
    assert len(recipients) == len(old_accounts) == 12
    for r in recipients:
        assert r["operation_type"] == PAYOUT
        assert r["environment"] == OLD_ENVIRONMENT
        assert r["account_id"] == old_accounts[r["phone"]]
    assert recipient is not None and recipient.account_id == old_accounts["231880100000"] == 901
    assert steps_table == 1

    # What the engine reads: the typed outcome and the account of the UNKNOWN rows' attempts.
    unknown = [r for r in rows.values() if r.state is RowState.UNKNOWN]
    assert len(unknown) == 3
    for row in unknown:
        assert row.current_attempt is not None
        assert row.current_attempt.execute_outcome is ExecuteOutcome.AMBIGUOUS
        assert row.current_attempt.outcome is None
    assert unknown_account == old_accounts["231880100000"]

    # Opening again applies nothing more.
    with Ledger(path, environment=OLD_ENVIRONMENT) as again:
        assert again.migrate() == []


def test_v2_execute_error_prefixes_become_typed_outcomes(tmp_path: Path) -> None:
    """The three texts the previous release wrote (batch/execute.py at dcc0a07)."""
    path = _copy(tmp_path, "ledger.db")
    texts = {
        "rejected (422): session expired": ExecuteOutcome.REJECTED,
        "throttled (429): slow down": ExecuteOutcome.THROTTLED,
        "resend answered FAILED (session already executed); confirming by status":
            ExecuteOutcome.AMBIGUOUS,
    }
    with _raw(path) as conn:
        refs = [r[0] for r in conn.execute(
            "SELECT current_reference_id FROM rows WHERE state = 'UNKNOWN' ORDER BY id")]
        for ref, text in zip(refs, texts, strict=True):
            conn.execute("UPDATE attempts SET execute_error = ? WHERE reference_id = ?",
                         (text, ref))
    conn.close()
    with Ledger(path) as ledger:
        outcomes = [a.execute_outcome for a in (ledger.attempt(ref) for ref in refs) if a]
    assert outcomes == list(texts.values())


def test_a_half_paid_v2_batch_resumes_and_pays_everyone_exactly_once(tmp_path: Path) -> None:
    ledger_path = _copy(tmp_path, "ledger.db")
    state_path = _copy(tmp_path, "sandbox_state.db")
    old_attempts, old_accounts = _v2_facts(ledger_path)
    with _raw(ledger_path) as conn:
        old_rows = {r["id"]: r for r in conn.execute("SELECT * FROM rows")}
    conn.close()

    with running_sandbox(SandboxConfig(state_path=state_path)) as sandbox:
        base_url = sandbox.base_url
        phones = sorted(r["phone"] for r in old_rows.values())
        # The sandbox's own record before: the COMPLETED and the UNKNOWN rows are paid.
        before = {e.phone: e for e in sandbox.executions(status="COMPLETED")}
        paid_rows = [r for r in old_rows.values() if r["state"] in ("COMPLETED", "UNKNOWN")]
        assert {r["phone"] for r in paid_rows} == set(before)
        assert all(before[r["phone"]].reference_id == r["current_reference_id"]
                   for r in paid_rows)
        sandbox.set_balances(USD="1000")  # the wallet that ran short is topped up

        # The same API (same state file) now answers on another port: the ids the ledger
        # keeps for it are valid there, so its recipients are this environment's.
        with Ledger(ledger_path, environment=OLD_ENVIRONMENT):
            pass  # migrations applied in place
        with _raw(ledger_path) as conn:
            conn.execute("UPDATE recipients SET environment = ?", (f"{base_url}#sandbox",))
        conn.close()

        code, out, err = cli(["run", BATCH, "--retry-failed", "--yes"], base_url, ledger_path)
        assert code == 0, (out, err)
        assert nonzero(out["counts"]) == {"COMPLETED": 12}, out

        # The sandbox's own record: everyone paid exactly once, nobody twice.
        per_phone = sandbox.recipients()
        assert {p: per_phone.get(p, {}).get("COMPLETED", 0) for p in phones} == {
            p: 1 for p in phones
        }
        completed = {e.phone: e for e in sandbox.executions(status="COMPLETED")}
        # The paid UNKNOWN rows were settled by status, never sent again under any id.
        for row in paid_rows:
            assert completed[row["phone"]].reference_id == row["current_reference_id"]
            assert len(sandbox.executions(phone=row["phone"])) == 1
        new_attempt_accounts = {
            e.phone: e.payout_account_id for e in completed.values() if e.phone not in before
        }

    with Ledger(ledger_path, environment=f"{base_url}#sandbox") as ledger:
        batch = ledger.batch_by_name(BATCH)
        assert batch is not None and batch.kind is OperationKind.PAYOUT
        rows = list(ledger.each_row_with_attempts(batch.id))
        recipients = {p: ledger.recipient(p, PAYOUT) for p in phones}
    by_phone = {r.phone: r for r in rows}
    for phone, row in by_phone.items():
        # The ledger agrees with the sandbox: the row's COMPLETED attempt is the paid one.
        assert row.state is RowState.COMPLETED
        assert row.current_reference_id == completed[phone].reference_id
        assert row.current_attempt is not None
        assert row.current_attempt.account_id == completed[phone].payout_account_id
        finished = [a for a in row.attempts if a.outcome is AttemptOutcome.COMPLETED]
        assert len(finished) == 1
    # The row the wallet refused got a new attempt on the migrated recipient's account.
    (refused,) = [r for r in old_rows.values() if r["state"] == "FAILED"]
    retried = by_phone[refused["phone"]]
    assert [a.outcome for a in retried.attempts] == [AttemptOutcome.FAILED,
                                                     AttemptOutcome.COMPLETED]
    assert retried.attempts[1].previous_reference_id == refused["current_reference_id"]
    assert retried.attempts[1].account_id == old_accounts[refused["phone"]]
    # The rows never sent got accounts, saved on their migrated recipient records.
    for row in (r for r in old_rows.values() if r["state"] == "NEW"):
        saved = recipients[row["phone"]]
        assert saved is not None and saved.account_id == new_attempt_accounts[row["phone"]]
        assert len(by_phone[row["phone"]].attempts) == 1


def test_preparation_steps_are_durable_ordered_and_recorded_once(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    ledger = Ledger(path)
    batch_id = ledger.create_batch(
        name="b", source_file="b.csv", content_hash="h", payout_set_hash="p",
        rows=[NewRow(sheet_row=2 + i, name=f"N{i}", phone=f"23177010000{i}", amount_minor=1050,
                     currency="USD", country="LR", reference_id=f"ref-{i}") for i in range(2)],
    )
    first, second = ledger.rows(batch_id)
    assert first.current_reference_id == "ref-0"

    pending: list[object] = []  # grouped commits whose window never comes: only durable ones
    with ledger.grouped_commits(lambda _delay, callback: pending.append(callback), 60.0):
        ledger.record_step(first.id, "ref-0", "invoice", "inv-42")
        # Committed before the next call: another connection sees it at once.
        with _raw(path) as other:
            seen = other.execute("SELECT step, value FROM preparation_steps").fetchall()
        other.close()
        assert [tuple(r) for r in seen] == [("invoice", "inv-42")]
        ledger.record_step(first.id, "ref-0", "item:2", "it-7")
        ledger.record_step(second.id, "ref-1", "invoice", "inv-43")
        ledger.record_step(first.id, "ref-0", "item:1", "it-8")
        ledger.record_step(first.id, "ref-0", "published", "OPEN")

    with pytest.raises(LedgerError):
        ledger.record_step(first.id, "ref-0", "invoice", "inv-99")  # the same step again
    with pytest.raises(LedgerError):
        ledger.record_step(first.id, "no-such-attempt", "invoice", "inv-1")
    ledger.close()

    with Ledger(path) as reopened:  # what a restarted run reads
        steps = reopened.steps("ref-0")
        assert list(steps.items()) == [
            ("invoice", "inv-42"), ("item:2", "it-7"), ("item:1", "it-8"), ("published", "OPEN")
        ]
        assert reopened.steps("ref-1") == {"invoice": "inv-43"}
        assert reopened.steps("ref-none") == {}
