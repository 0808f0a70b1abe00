"""The ledger against real SQLite files: migrations, permissions, transitions, events, locks."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from batch.engine.states import AttemptOutcome, RowState
from batch.errors import BatchLockedError, LedgerError, TransitionError
from batch.ledger import Ledger, NewRow, SkippedRow, migration_files


@dataclass
class Answer:
    """An execution answer as the API client would return it."""

    status: str
    payer_amount: Decimal = Decimal("10.00")
    payer_currency: str = "USD"
    payee_amount: Decimal = Decimal("10.00")
    payee_currency: str = "USD"
    provider_transaction_id: str | None = None
    gateway_message: str | None = None
    wallet_message: str | None = None


def new_rows(n: int, currency: str = "USD") -> list[NewRow]:
    return [
        NewRow(
            sheet_row=i + 2,
            name=f"Person {i}",
            phone=f"23177012{i:04d}",
            amount_minor=1000 + i,
            currency=currency,
            country="LR",
            reference_id=str(uuid.uuid4()),
        )
        for i in range(n)
    ]


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "ledger.db")


def make_batch(ledger: Ledger, n: int = 3, name: str = "june") -> int:
    return ledger.create_batch(
        name=name, source_file="june.csv", content_hash="c" + name, payout_set_hash="p" + name,
        rows=new_rows(n),
    )


def walk_to_submitting(ledger: Ledger, row_id: int) -> str:
    row = ledger.row(row_id)
    assert row is not None and row.current_reference_id
    ref = row.current_reference_id
    ledger.mark_recipient_ready(row_id, payout_account_id=7)
    ledger.mark_session_open(
        row_id, ref, session_id=11, wallet_id=1,
        expires_at=datetime.now(UTC) + timedelta(minutes=5), payout_account_id=7,
    )
    ledger.mark_submitting([(row_id, ref)])
    return ref


def test_new_file_is_owner_only_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "l.db"
    Ledger(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_migrations_applied_once_and_recorded(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    first = Ledger(path)
    names = [f.name for f in migration_files()]
    assert names and names[0] == "001_init.sql"
    assert first.applied_migrations() == names
    assert first.pending_migrations() == []
    first.close()
    again = Ledger(path)
    assert again.migrate() == []


def test_listing_pending_migrations_never_writes(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    unmigrated = Ledger(path, migrate=False)
    assert [p.name for p in unmigrated.pending_migrations()] == [
        f.name for f in migration_files()
    ]
    tables = unmigrated.conn.execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == []


def test_failing_migration_leaves_nothing_half_applied(tmp_path: Path) -> None:
    migrations = tmp_path / "sql"
    migrations.mkdir()
    (migrations / "001_ok.sql").write_text("CREATE TABLE a (x INTEGER);")
    (migrations / "002_bad.sql").write_text("CREATE TABLE b (x INTEGER);\nNOT SQL AT ALL;")
    with pytest.raises(LedgerError, match="002_bad.sql"):
        Ledger(tmp_path / "l.db", migrations_dir=migrations)
    check = Ledger(tmp_path / "l.db", migrations_dir=migrations, migrate=False)
    assert check.applied_migrations() == ["001_ok.sql"]
    names = {r[0] for r in check.conn.execute("SELECT name FROM sqlite_master")}
    assert "a" in names and "b" not in names


def test_create_batch_records_rows_attempts_skipped_and_event(ledger: Ledger) -> None:
    skipped = SkippedRow(
        sheet_row=9, name="Bad", phone="12", amount="x", currency="USD", country="LR",
        problems=[{"column": "phone", "value": "12", "message": "not a mobile number"}],
    )
    batch_id = ledger.create_batch(
        name="june", source_file="june.csv", content_hash="h", payout_set_hash="p",
        rows=new_rows(2), skipped=[skipped], options={"skip_invalid": True},
    )
    rows = ledger.rows(batch_id)
    assert [r.state for r in rows] == [RowState.NEW, RowState.NEW, RowState.SKIPPED]
    assert rows[0].amount == Decimal("10.00")
    assert rows[0].attempts[0].reference_id == rows[0].current_reference_id
    assert rows[2].problems[0]["message"] == "not a mobile number"
    assert "not a mobile number" in (rows[2].failure_reason or "")
    assert ledger.counts(batch_id) == {"NEW": 2, "SKIPPED": 1}
    batch = ledger.batch_by_name("june")
    assert batch is not None and batch.options == {"skip_invalid": True}
    assert ledger.events(batch_id)[0].to_state == "PLANNED"


def test_batch_name_is_unique(ledger: Ledger) -> None:
    make_batch(ledger)
    with pytest.raises(LedgerError):
        make_batch(ledger)


def test_happy_path_and_events(ledger: Ledger) -> None:
    batch_id = make_batch(ledger, 1)
    row_id = ledger.rows(batch_id)[0].id
    ref = walk_to_submitting(ledger, row_id)
    ledger.mark_submitted(row_id, ref, Answer("PROCESSING"))
    ledger.mark_completed(row_id, ref, Answer("COMPLETED", provider_transaction_id="tx1"))
    row = ledger.row(row_id)
    assert row is not None and row.state is RowState.COMPLETED
    attempt = row.current_attempt
    assert attempt is not None
    assert attempt.outcome is AttemptOutcome.COMPLETED
    assert attempt.provider_transaction_id == "tx1"
    assert attempt.payer_amount == Decimal("10.00")
    assert attempt.submitted_at is not None and attempt.session_id == 11
    path = [(e.from_state, e.to_state) for e in ledger.events(batch_id, row_id=row_id)]
    assert path == [
        ("NEW", "RECIPIENT_READY"), ("RECIPIENT_READY", "SESSION_OPEN"),
        ("SESSION_OPEN", "SUBMITTING"), ("SUBMITTING", "SUBMITTED"),
        ("SUBMITTED", "COMPLETED"),
    ]


@pytest.mark.parametrize(
    ("action", "state_needed"),
    [
        ("submitting", "SESSION_OPEN"),
        ("completed", "SUBMITTING"),
        ("unknown", "SUBMITTING"),
        ("session", "RECIPIENT_READY"),
    ],
)
def test_transitions_refuse_the_wrong_state(ledger: Ledger, action: str, state_needed: str) -> None:
    batch_id = make_batch(ledger, 1)
    row = ledger.rows(batch_id)[0]
    ref = row.current_reference_id
    assert ref is not None
    with pytest.raises(TransitionError, match="is NEW"):
        if action == "submitting":
            ledger.mark_submitting([(row.id, ref)])
        elif action == "completed":
            ledger.mark_completed(row.id, ref, Answer("COMPLETED"))
        elif action == "unknown":
            ledger.mark_unknown(row.id, ref, reason="timeout")
        else:
            ledger.mark_session_open(
                row.id, ref, session_id=1, wallet_id=1, expires_at=datetime.now(UTC),
                payout_account_id=1,
            )
    assert ledger.row(row.id).state is RowState.NEW  # type: ignore[union-attr]
    assert len(ledger.events(batch_id)) == 1  # only PLANNED: nothing logged


def test_group_commit_is_all_or_nothing(ledger: Ledger) -> None:
    batch_id = make_batch(ledger, 2)
    first, second = ledger.rows(batch_id)
    ref1 = walk_to_submitting(ledger, first.id)  # already SUBMITTING
    ledger.mark_recipient_ready(second.id, payout_account_id=7)
    ledger.mark_session_open(
        second.id, second.current_reference_id or "", session_id=12, wallet_id=1,
        expires_at=datetime.now(UTC), payout_account_id=7,
    )
    with pytest.raises(TransitionError):
        ledger.mark_submitting([(second.id, second.current_reference_id or ""), (first.id, ref1)])
    assert ledger.row(second.id).state is RowState.SESSION_OPEN  # type: ignore[union-attr]


def test_events_are_append_only(ledger: Ledger) -> None:
    make_batch(ledger, 1)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        ledger.conn.execute("UPDATE events SET detail = 'x'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        ledger.conn.execute("DELETE FROM events")


def test_atomic_rolls_back_and_nests(ledger: Ledger) -> None:
    batch_id = make_batch(ledger, 2)
    first, second = ledger.rows(batch_id)
    with pytest.raises(RuntimeError), ledger.atomic():
        ledger.mark_recipient_ready(first.id, payout_account_id=1)
        raise RuntimeError("boom")
    assert ledger.row(first.id).state is RowState.NEW  # type: ignore[union-attr]
    with ledger.atomic():
        ledger.mark_recipient_ready(first.id, payout_account_id=1)
        with pytest.raises(TransitionError):
            with ledger.atomic():
                ledger.mark_recipient_ready(second.id, payout_account_id=1)
                ledger.mark_recipient_ready(second.id, payout_account_id=1)  # wrong state now
    assert ledger.row(first.id).state is RowState.RECIPIENT_READY  # type: ignore[union-attr]
    assert ledger.row(second.id).state is RowState.NEW  # type: ignore[union-attr]


def test_new_attempt_only_after_confirmed_not_paid(ledger: Ledger) -> None:
    batch_id = make_batch(ledger, 1)
    row_id = ledger.rows(batch_id)[0].id
    ref = walk_to_submitting(ledger, row_id)
    ledger.mark_unknown(row_id, ref, reason="connection reset")
    with pytest.raises(TransitionError, match="not confirmed"):
        ledger.start_new_attempt(row_id, str(uuid.uuid4()), reason="retry")
    fresh = str(uuid.uuid4())
    ledger.start_new_attempt(row_id, fresh, reason="not found", not_found_reference_id=ref)
    row = ledger.row(row_id)
    assert row is not None and row.state is RowState.NEW
    assert row.current_reference_id == fresh
    assert [a.outcome for a in row.attempts] == [AttemptOutcome.NOT_FOUND, None]
    assert row.attempts[1].previous_reference_id == ref and row.attempts[1].attempt_no == 2


def test_failed_row_keeps_its_reason_and_can_retry(ledger: Ledger) -> None:
    batch_id = make_batch(ledger, 1)
    row_id = ledger.rows(batch_id)[0].id
    ref = walk_to_submitting(ledger, row_id)
    ledger.mark_failed(
        row_id, ref, reason="insufficient balance",
        execution=Answer("FAILED", wallet_message="insufficient balance"),
    )
    row = ledger.row(row_id)
    assert row is not None and row.failure_reason == "insufficient balance"
    assert row.attempts[0].wallet_message == "insufficient balance"
    ledger.start_new_attempt(row_id, str(uuid.uuid4()), reason="--retry-failed")
    assert ledger.row(row_id).failure_reason is None  # type: ignore[union-attr]


def test_completed_row_cannot_get_a_new_attempt(ledger: Ledger) -> None:
    batch_id = make_batch(ledger, 1)
    row_id = ledger.rows(batch_id)[0].id
    ref = walk_to_submitting(ledger, row_id)
    ledger.mark_completed(row_id, ref, Answer("COMPLETED"))
    with pytest.raises(TransitionError):
        ledger.start_new_attempt(row_id, str(uuid.uuid4()), reason="oops")


def test_summary_counts_money_and_fees(ledger: Ledger) -> None:
    batch_id = make_batch(ledger, 3)
    rows = ledger.rows(batch_id)
    for r in rows:
        ledger.set_row_prediction(
            r.id, operator="MTN", method="MTN_MOMO_LBR", provider="PAWAPAY",
            predicted_fee=Decimal("0.15"), fee_currency="USD",
        )
    summary = ledger.summary(batch_id)
    assert summary is not None
    assert summary.counts == {"NEW": 3}
    assert summary.money == {"USD": {"NEW": 1000 + 1001 + 1002}}
    assert summary.fees == {"USD": Decimal("0.45")}
    assert [s.batch.name for s in ledger.batches()] == ["june"]


def test_recipients_and_fee_quotes_cache(ledger: Ledger) -> None:
    ledger.save_routing(
        "231770120000", carrier="MTN", country="LR", currencies=["USD", "LRD"],
        method="MTN_MOMO_LBR", provider="PAWAPAY",
    )
    ledger.save_recipient_ids("231770120000", party_id=5)
    ledger.save_recipient_ids("231770120000", counterparty_id=6, payout_account_id=7)
    rec = ledger.recipient("231770120000")
    assert rec is not None
    assert (rec.party_id, rec.counterparty_id, rec.payout_account_id) == (5, 6, 7)
    assert rec.method == "MTN_MOMO_LBR" and rec.currencies == ["USD", "LRD"]
    key = dict(amount=Decimal("10.00"), currency="USD", target_currency="USD",
               method="MTN_MOMO_LBR", provider="PAWAPAY")
    assert ledger.fee_quote(**key) is None
    ledger.save_fee_quote(
        **key, total_fee=Decimal("0.20"), fee_currency="USD", quote={"platform_fee": "0.20"}
    )
    assert ledger.fee_quote(**key) == {"platform_fee": "0.20"}
    other = Ledger(ledger.path, environment="elsewhere")
    assert other.recipient("231770120000") is None and other.fee_quote(**key) is None


def test_second_lock_holder_is_refused(ledger: Ledger, tmp_path: Path) -> None:
    batch_id = make_batch(ledger)
    ledger.acquire_lock(batch_id)
    other = Ledger(tmp_path / "ledger.db")
    live_pid = os.getppid()  # a process that surely runs
    with pytest.raises(BatchLockedError, match="being run by process"):
        other.acquire_lock(batch_id, pid=live_pid)
    ledger.release_lock(batch_id)
    other.acquire_lock(batch_id, pid=live_pid)


def test_lock_of_a_dead_process_is_taken_over(ledger: Ledger) -> None:
    batch_id = make_batch(ledger)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    ledger.acquire_lock(batch_id, pid=dead.pid)
    ledger.acquire_lock(batch_id)  # this process takes over the stale lock
    assert any("taken over" in (e.detail or "") for e in ledger.events(batch_id))
    with ledger.locked(batch_id):
        pass


def test_sqlite_errors_become_ledger_errors(tmp_path: Path) -> None:
    path = tmp_path / "not-a-db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LedgerError):
        Ledger(path)


def test_a_migration_applied_by_another_process_meanwhile_is_skipped(tmp_path: Path) -> None:
    # Two processes open a new ledger at once: both list 001 as pending, one applies it
    # first. The other must move on, not fail with "table batches already exists".
    path = tmp_path / "race.db"
    late = Ledger(path, migrate=False)
    stale = late.pending_migrations()
    assert stale, "a fresh ledger has pending migrations"
    with Ledger(path):
        pass  # the other process wins the race
    late.pending_migrations = lambda: stale  # type: ignore[method-assign]  # listed before
    assert late.migrate() == []
    assert late.applied_migrations() == [f.name for f in stale]
    late.close()


def test_many_processes_opening_a_new_ledger_at_once_all_succeed(tmp_path: Path) -> None:
    path = tmp_path / "crowd.db"
    code = "import sys; from batch.ledger import Ledger; Ledger(sys.argv[1]).close()"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(path)], stderr=subprocess.PIPE)
        for _ in range(6)
    ]
    failures = [p.stderr.read().decode() for p in procs if p.wait(timeout=60) != 0]  # type: ignore[union-attr]
    for p in procs:
        p.stderr.close()  # type: ignore[union-attr]
    assert failures == []


def test_records_read_fast_are_the_records_their_constructor_builds(ledger: Ledger) -> None:
    # from_row fills frozen dataclasses without __init__ (speed): it must give every field.
    from dataclasses import fields

    batch_id = make_batch(ledger, 1)
    row_id = ledger.rows(batch_id)[0].id
    ledger.mark_recipient_ready(row_id, payout_account_id=7)
    ref = ledger.rows(batch_id)[0].current_reference_id or ""
    ledger.mark_session_open(
        row_id, ref, session_id=9, wallet_id=3, payout_account_id=7,
        expires_at=datetime.now(UTC) + timedelta(minutes=5),
    )
    ledger.mark_submitting([(row_id, ref)])
    ledger.mark_completed(row_id, ref, Answer("COMPLETED", provider_transaction_id="tx"))
    row = ledger.row(row_id)
    assert row is not None and row == ledger.rows(batch_id)[0]
    for record in (row, row.attempts[0], ledger.recipient(row.phone or "") or row):
        names = [f.name for f in fields(record)]
        assert list(vars(record)) == names
        rebuilt = type(record)(**{n: getattr(record, n) for n in names})
        assert rebuilt == record
    assert row.state is RowState.COMPLETED and row.attempts[0].payee_amount == Decimal("10.00")
    with pytest.raises(AttributeError):
        row.state = RowState.NEW  # type: ignore[misc]


class Scheduled:
    """A stand-in for loop.call_later: records the deferred commits; the test runs them."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, Callable[[], None]]] = []

    def __call__(self, delay: float, callback: Callable[[], None]) -> None:
        self.calls.append((delay, callback))

    def run_due(self) -> None:
        calls, self.calls = self.calls, []
        for _, callback in calls:
            callback()


def _state_seen_by_another_process(path: Path, row_id: int) -> str:
    con = sqlite3.connect(path)
    try:
        return str(con.execute("SELECT state FROM rows WHERE id = ?", (row_id,)).fetchone()[0])
    finally:
        con.close()


def test_grouped_commits_land_together_after_the_window(ledger: Ledger) -> None:
    batch_id = make_batch(ledger, 2)
    first, second = ledger.rows(batch_id)
    scheduled = Scheduled()
    with ledger.grouped_commits(scheduled, window=0.1):
        ledger.mark_recipient_ready(first.id, payout_account_id=7)
        ledger.mark_recipient_ready(second.id, payout_account_id=7)
        assert [d for d, _ in scheduled.calls] == [0.1]  # one commit for both
        assert ledger.row(first.id).state is RowState.RECIPIENT_READY  # type: ignore[union-attr]
        assert _state_seen_by_another_process(ledger.path, first.id) == "NEW"
        scheduled.run_due()
        assert _state_seen_by_another_process(ledger.path, second.id) == "RECIPIENT_READY"
        # A refused transition undoes only itself; the group's other writes stay.
        ledger.mark_session_open(
            first.id, first.current_reference_id or "", session_id=11, wallet_id=1,
            expires_at=datetime.now(UTC) + timedelta(minutes=5), payout_account_id=7,
        )
        with pytest.raises(TransitionError):
            ledger.mark_completed(second.id, second.current_reference_id or "", Answer("COMPLETED"))
    # Leaving the block commits what is pending without waiting for the window.
    assert _state_seen_by_another_process(ledger.path, first.id) == "SESSION_OPEN"
    assert _state_seen_by_another_process(ledger.path, second.id) == "RECIPIENT_READY"


def test_a_durable_commit_in_a_group_makes_the_earlier_writes_durable_first(
    ledger: Ledger,
) -> None:
    batch_id = make_batch(ledger, 1)
    row = ledger.rows(batch_id)[0]
    ref = row.current_reference_id or ""
    scheduled = Scheduled()
    with ledger.grouped_commits(scheduled):
        ledger.mark_recipient_ready(row.id, payout_account_id=7)
        ledger.mark_session_open(
            row.id, ref, session_id=11, wallet_id=1,
            expires_at=datetime.now(UTC) + timedelta(minutes=5), payout_account_id=7,
        )
        ledger.mark_submitting([(row.id, ref)])  # the reference_id before the request leaves
        # Committed at once, with everything before it: no deferred commit was needed.
        assert _state_seen_by_another_process(ledger.path, row.id) == "SUBMITTING"
        scheduled.run_due()  # the deferred commit finds nothing left to do
        ledger.mark_unknown(row.id, ref, reason="timeout")
        assert _state_seen_by_another_process(ledger.path, row.id) == "SUBMITTING"
    assert _state_seen_by_another_process(ledger.path, row.id) == "UNKNOWN"
    path = [e.to_state for e in ledger.events(batch_id, row_id=row.id)]
    assert path == ["RECIPIENT_READY", "SESSION_OPEN", "SUBMITTING", "UNKNOWN"]


def test_session_open_with_recipient_ready_is_one_all_or_nothing_step(ledger: Ledger) -> None:
    batch_id = make_batch(ledger, 2)
    first, second = ledger.rows(batch_id)
    expires = datetime.now(UTC) + timedelta(minutes=5)
    ledger.mark_session_open(
        first.id, first.current_reference_id or "", session_id=11, wallet_id=1,
        expires_at=expires, payout_account_id=7, recipient_ready=True,
    )
    moves = [(e.from_state, e.to_state) for e in ledger.events(batch_id, row_id=first.id)]
    assert moves == [("NEW", "RECIPIENT_READY"), ("RECIPIENT_READY", "SESSION_OPEN")]
    # The second move fails (no such attempt): the first one must not stay behind.
    with pytest.raises(TransitionError, match="no attempt"):
        ledger.mark_session_open(
            second.id, "not-its-reference", session_id=12, wallet_id=1,
            expires_at=expires, payout_account_id=7, recipient_ready=True,
        )
    assert ledger.row(second.id).state is RowState.NEW  # type: ignore[union-attr]
    assert ledger.events(batch_id, row_id=second.id) == []


def test_moved_record_matches_the_ledger_after_the_transition(ledger: Ledger) -> None:
    batch_id = make_batch(ledger, 1)
    row = ledger.rows(batch_id)[0]
    expires = datetime.now(UTC) + timedelta(minutes=5)
    ledger.mark_session_open(
        row.id, row.current_reference_id or "", session_id=11, wallet_id=1,
        expires_at=expires, payout_account_id=7, recipient_ready=True,
    )
    carried = row.moved(
        RowState.SESSION_OPEN, session_id=11, wallet_id=1, session_expires_at=expires,
        payout_account_id=7,
    )
    read = ledger.row(row.id)
    assert read is not None and carried.state is read.state
    assert carried.current_attempt == read.current_attempt
    assert row.state is RowState.NEW and row.current_attempt.session_id is None  # type: ignore[union-attr]
    with pytest.raises(TypeError, match="no field session"):
        row.moved(RowState.SESSION_OPEN, session=11)


def test_a_transition_outside_a_transaction_is_refused(ledger: Ledger) -> None:
    row = ledger.rows(make_batch(ledger, 1))[0]
    with pytest.raises(RuntimeError, match="inside atomic"):
        ledger._transition(row.id, [RowState.NEW], RowState.RECIPIENT_READY, savepoint=False)


def test_single_statement_writes_join_the_group_and_fail_alone(ledger: Ledger) -> None:
    batch_id = make_batch(ledger, 1)
    row = ledger.rows(batch_id)[0]
    scheduled = Scheduled()
    with ledger.grouped_commits(scheduled, window=0.1):
        ledger.save_recipient_ids("231770120000", party_id=5)  # opens the group's transaction
        assert [d for d, _ in scheduled.calls] == [0.1]
        ledger.mark_recipient_ready(row.id, payout_account_id=7)
        with pytest.raises(LedgerError):  # one failing statement undoes only itself
            ledger._write("INSERT INTO rows (id) VALUES (?)", (row.id,))
        ledger.save_recipient_ids("231770120000", counterparty_id=6)
        assert _state_seen_by_another_process(ledger.path, row.id) == "NEW"  # not committed
        scheduled.run_due()
    assert _state_seen_by_another_process(ledger.path, row.id) == "RECIPIENT_READY"
    known = ledger.recipient("231770120000")
    assert known is not None and (known.party_id, known.counterparty_id) == (5, 6)
    # Outside any transaction a write is still its own transaction.
    ledger.save_recipient_ids("231770120000", payout_account_id=8)
    assert not ledger.conn.in_transaction
    assert ledger.recipient("231770120000").payout_account_id == 8  # type: ignore[union-attr]


def test_a_deferred_commit_belongs_to_its_own_group(ledger: Ledger) -> None:
    batch_id = make_batch(ledger, 2)
    first, second = ledger.rows(batch_id)
    scheduled = Scheduled()
    with ledger.grouped_commits(scheduled, window=0.1):
        ledger.mark_recipient_ready(first.id, payout_account_id=7)  # group 1
        ref = first.current_reference_id or ""
        ledger.mark_session_open(
            first.id, ref, session_id=11, wallet_id=1,
            expires_at=datetime.now(UTC) + timedelta(minutes=5), payout_account_id=7,
        )
        ledger.mark_submitting([(first.id, ref)])  # durable: commits group 1 with it
        assert _state_seen_by_another_process(ledger.path, first.id) == "SUBMITTING"
        ledger.mark_recipient_ready(second.id, payout_account_id=7)  # group 2, its own window
        group_one_due, group_two_due = scheduled.calls
        group_one_due[1]()
        assert _state_seen_by_another_process(ledger.path, second.id) == "NEW"
        group_two_due[1]()
        assert _state_seen_by_another_process(ledger.path, second.id) == "RECIPIENT_READY"


def test_grouped_commits_begin_outside_any_transaction(ledger: Ledger) -> None:
    with ledger.atomic(), pytest.raises(ValueError, match="outside any transaction"):
        with ledger.grouped_commits(Scheduled()):
            pass


def test_a_transition_given_the_row_as_seen_checks_it_in_its_update(ledger: Ledger) -> None:
    batch_id = make_batch(ledger, 1)
    row = ledger.rows(batch_id)[0]
    ref = walk_to_submitting(ledger, row.id)
    seen = ledger.row(row.id)
    assert seen is not None and seen.state is RowState.SUBMITTING
    statements: list[str] = []
    ledger.conn.set_trace_callback(statements.append)
    ledger.mark_submitted(row.id, ref, Answer("PENDING"), seen=seen)
    ledger.conn.set_trace_callback(None)
    assert not [s for s in statements if s.startswith("SELECT")]  # no read before the move
    # A stale or wrong view changes nothing: the full check decides, as without it.
    ledger.mark_completed(row.id, ref, Answer("COMPLETED"), seen=seen)  # it is SUBMITTED now
    assert ledger.row(row.id).state is RowState.COMPLETED  # type: ignore[union-attr]
    moves = [(e.batch_id, e.from_state, e.to_state) for e in ledger.events(batch_id, row_id=row.id)]
    assert moves[-2:] == [
        (batch_id, "SUBMITTING", "SUBMITTED"), (batch_id, "SUBMITTED", "COMPLETED")
    ]
    with pytest.raises(TransitionError, match="is COMPLETED"):
        ledger.mark_completed(row.id, ref, Answer("COMPLETED"), seen=seen)


def test_a_transition_seen_in_another_batch_is_checked_in_full(ledger: Ledger) -> None:
    batch_id = make_batch(ledger, 1)
    row = ledger.rows(batch_id)[0]
    ref = walk_to_submitting(ledger, row.id)
    ledger.mark_submitted(row.id, ref, Answer("PENDING"))
    wrong = ledger.row(row.id)
    assert wrong is not None
    wrong = wrong.moved(RowState.SUBMITTED)
    object.__setattr__(wrong, "batch_id", batch_id + 1)
    ledger.mark_completed(row.id, ref, Answer("COMPLETED"), seen=wrong)
    last = ledger.events(batch_id, row_id=row.id)[-1]
    assert (last.batch_id, last.from_state, last.to_state) == (batch_id, "SUBMITTED", "COMPLETED")


class _LockedOnce:
    """A connection whose first PRAGMA says "database is locked" at once, as SQLite can while
    another process opens or closes the file (no busy handler is asked then)."""

    def execute(self, sql: str) -> None:
        raise sqlite3.OperationalError("database is locked")

    def close(self) -> None:
        pass


def test_opening_retries_a_lock_answered_without_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_connect = sqlite3.connect
    calls: list[str] = []

    def connect(*args: object, **kwargs: object) -> object:
        calls.append("connect")
        return _LockedOnce() if len(calls) == 1 else real_connect(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(sqlite3, "connect", connect)
    with Ledger(tmp_path / "l.db") as ledger:
        assert ledger.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert len(calls) == 2
