"""The ledger's connection: open the SQLite file safely, apply migrations, nestable transactions."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

import batch
from batch.errors import LedgerError
from batch.ledger.integrity import (
    check_file,
    damaged,
    is_damage,
    unwritable_hint,
    write_backup,
)

BUSY_SECONDS = 10.0  # how long a statement waits for another process's lock

Clock = Callable[[], datetime]

MIGRATIONS_TABLE = "schema_migrations"


# The wall clock is read once per process; from then on time moves by the monotonic clock
# (issue 11): grace windows, session margins and --wait within a run are never shortened or
# stretched by a wall-clock step (NTP, a user, a VM resumed), forward or backward.
_WALL_AT_START = datetime.now(UTC)
_MONOTONIC_AT_START = time.monotonic()


def utc_now() -> datetime:
    """The current time, aware UTC: the process's first wall-clock reading plus monotonic
    time since (never jumps within a process)."""
    return _WALL_AT_START + timedelta(seconds=time.monotonic() - _MONOTONIC_AT_START)


def sql_dir() -> Path:
    """The migrations folder: inside the package when installed, at the repo top in source."""
    packaged = Path(batch.__file__).parent / "sql"
    if packaged.is_dir() and any(packaged.glob("*.sql")):
        return packaged
    return Path(batch.__file__).parent.parent / "sql"


def migration_files(directory: Path | None = None) -> list[Path]:
    """Migration files in apply order (NNN_name.sql)."""
    return sorted((directory or sql_dir()).glob("[0-9][0-9][0-9]_*.sql"))


def _create_private(path: Path) -> bool:
    """Create the ledger file with owner-only permissions before SQLite opens it; whether it
    is new (or still empty)."""
    if path.exists():
        return path.stat().st_size == 0
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)  # umask cannot widen 0600, but be explicit
    return True


def _connect(path: Path, patience: float = BUSY_SECONDS) -> sqlite3.Connection:
    """A connection in WAL mode, waiting for other processes up to `patience` seconds.

    While another process opens or closes the same file (WAL recovery, the checkpoint on
    close), SQLite can answer "database is locked" at once instead of waiting: retried.
    """
    deadline = time.monotonic() + patience
    while True:
        # Autocommit mode: transactions are ours alone, opened by atomic().
        conn = sqlite3.connect(path, isolation_level=None, timeout=patience)
        try:
            conn.execute(f"PRAGMA busy_timeout={int(patience * 1000)}")
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL survives a process crash without an fsync per commit;
            # transactions that must survive a power cut too (SUBMITTING) ask for
            # atomic(durable=True).
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.OperationalError as exc:
            conn.close()
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)  # opening, not the payout path: a short real wait
            continue
        conn.row_factory = sqlite3.Row
        return conn


@contextmanager
def translate_errors(action: str) -> Iterator[None]:
    """Map sqlite3 errors to LedgerError, once, at the boundary."""
    try:
        yield
    except sqlite3.Error as exc:
        raise LedgerError(f"ledger: {action} failed: {exc}") from exc


class LedgerCore:
    """A connection to one ledger file with migrations and `atomic()` transactions."""

    _rows_width: int | None = None  # columns of `rows`, read once (the schema is migrated)

    def __init__(
        self,
        path: Path | str,
        *,
        clock: Clock = utc_now,
        migrate: bool = True,
        migrations_dir: Path | None = None,
        environment: str = "default",
    ) -> None:
        self.path = Path(path)
        # Which API the recipients and fee quotes belong to (ids differ per environment).
        self.environment = environment
        self.clock = clock
        self._migrations_dir = migrations_dir
        self._depth = 0
        # Grouped commits (grouped_commits()): one open transaction, committed at most
        # `window` seconds after its first write; the error of a failed deferred commit.
        self._schedule: Callable[[float, Callable[[], None]], object] | None = None
        self._window = 0.0
        self._group_open = False
        self._groups = 0  # groups opened so far (a deferred commit belongs to one of them)
        self._group_error: LedgerError | None = None
        try:
            new = _create_private(self.path)
        except OSError as exc:  # a read-only or missing folder: one line, not a traceback
            raise LedgerError(f"ledger {self.path} cannot be created ({exc.strerror})") from None
        try:
            self.conn = _connect(self.path)
        except sqlite3.Error as exc:
            if is_damage(exc):
                raise damaged(self.path, "its file header", str(exc)) from None
            hint = unwritable_hint(self.path)
            raise LedgerError(f"ledger: opening {self.path} failed: {exc}{hint}") from exc
        if not new:
            try:
                check_file(self.conn, self.path)  # issue 12: a damaged file is refused at once
            except BaseException:
                self.conn.close()
                raise
        for suffix in ("-wal", "-shm"):
            side = Path(f"{self.path}{suffix}")
            if side.exists():
                os.chmod(side, 0o600)
        if migrate:
            self.migrate()

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (committing grouped writes first)."""
        self.flush_group()
        self.conn.close()

    def backup(self) -> Path:
        """Keep a backup of this ledger next to it (PATH.backup-1, older ones moved down);
        its path. Made after each run; README "Restoring the ledger" says how to use one."""
        self.flush_group()
        with translate_errors("writing a backup"):
            return write_backup(self.conn, self.path)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def now(self) -> str:
        """The current time as the ledger stores it."""
        return self.clock().astimezone(UTC).isoformat()

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def grouped_commits(
        self, schedule: Callable[[float, Callable[[], None]], object], window: float = 0.1
    ) -> Iterator[None]:
        """Within: outermost transactions that are not durable commit together, at most
        `window` seconds after the first of them (`schedule(delay, callback)`, e.g. the event
        loop's call_later), instead of one commit each.

        Each still runs as a savepoint (all or nothing, state checks as before), reads see it
        at once, other processes a moment later. A crash loses at most the last `window` of
        such writes — only what a rerun redoes or re-reads from the API; a durable transaction
        (SUBMITTING: the reference_id before its request leaves) runs in the group's
        transaction and commits it at once, fsynced: itself and everything before it.

        Within, every commit is fsynced (synchronous=FULL: SQLite refuses to change it inside
        a transaction, and a durable one may end any group); they are at most one per
        `window` besides the durable ones, which were fsynced anyway.
        """
        if self._depth:
            raise ValueError("grouped commits must begin outside any transaction")
        with translate_errors("asking for fsynced commits"):
            self.conn.execute("PRAGMA synchronous=FULL")
        self._schedule, self._window = schedule, window
        try:
            yield
        finally:
            self._schedule = None
            try:
                self.flush_group()
            finally:
                with translate_errors("restoring synchronous=NORMAL"):
                    self.conn.execute("PRAGMA synchronous=NORMAL")

    def flush_group(self) -> None:
        """Commit the grouped writes now (a no-op when none are pending)."""
        if not self._group_open:
            return
        if self._depth != 1:  # a transaction is running (not from the event loop): later
            if self._schedule is not None:
                self._schedule_flush()
            return
        self._commit_group()
        if self._group_error is not None and self._schedule is None:
            self._raise_group_error()

    def _raise_group_error(self) -> None:
        error, self._group_error = self._group_error, None
        if error is not None:
            raise error

    def _join_group(self) -> None:
        """Open the group's transaction if needed; this one becomes a savepoint in it."""
        assert self._schedule is not None
        if not self._group_open:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise LedgerError(f"ledger: beginning a transaction failed: {exc}") from exc
            self._group_open, self._depth = True, 1
            self._groups += 1
            self._schedule_flush()

    def _schedule_flush(self) -> None:
        """Commit the open group once its window has passed, unless it was committed already:
        a later group keeps its own window (else each group would cost two commits)."""
        assert self._schedule is not None
        group = self._groups

        def due() -> None:
            if self._groups == group:
                self.flush_group()

        self._schedule(self._window, due)

    @contextmanager
    def atomic(self, *, durable: bool = False) -> Iterator[None]:
        """One transaction; nested calls become savepoints. Rolls back on any exception.

        `durable=True` (outermost only) fsyncs the commit (synchronous=FULL): what it wrote,
        and everything committed before it, survives a power cut. Under grouped_commits() it
        is a savepoint in the group's transaction, which it commits as it ends: one fsynced
        COMMIT for both, the costliest statement of a paid row.
        """
        self._raise_group_error()
        if self._schedule is not None and self._depth == 0:
            self._join_group()
        depth = self._depth
        grouped = self._group_open
        if durable and depth > (1 if grouped else 0):
            raise ValueError("a durable transaction must be the outermost one")
        if grouped:
            durable, commit_group = False, durable  # synchronous is FULL already
        else:
            commit_group = False
        # Plain try blocks, not translate_errors(): a paid row opens several transactions.
        execute = self.conn.execute
        try:
            if durable:
                execute("PRAGMA synchronous=FULL")
            if depth == 0:
                # IMMEDIATE: take the write lock now, so two processes never deadlock upgrading.
                execute("BEGIN IMMEDIATE")
            else:
                execute(f"SAVEPOINT sp{depth}")
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger: beginning a transaction failed: {exc}") from exc
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            try:
                if depth == 0:
                    execute("ROLLBACK")
                else:
                    execute(f"ROLLBACK TO sp{depth}")
                    execute(f"RELEASE sp{depth}")
                if durable:
                    execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as exc:
                raise LedgerError(f"ledger: rolling back failed: {exc}") from exc
            raise
        self._depth -= 1
        try:
            execute("COMMIT" if depth == 0 else f"RELEASE sp{depth}")
            if durable:
                execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger: committing failed: {exc}") from exc
        if commit_group:
            self._commit_group()
            if self._group_error is not None:  # kept as well: the run must stop
                raise LedgerError(str(self._group_error))

    def _commit_group(self) -> None:
        """COMMIT the group's transaction. If that fails the grouped writes are lost with it:
        it is rolled back and the error kept, so that the run stops."""
        self._depth, self._group_open = 0, False
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._group_error = LedgerError(f"ledger: committing grouped writes failed: {exc}")
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")

    def _write(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """One write statement, as atomic() would run it but without a savepoint: a single
        statement is all or nothing by itself (SQLite undoes a failed one), and a savepoint
        costs two more statements. Outside any transaction it still gets one (IMMEDIATE)."""
        if self._depth == 0 and self._schedule is None:
            with self.atomic():
                return self._execute(sql, params)
        self._raise_group_error()
        if self._depth == 0:
            self._join_group()
        return self._execute(sql, params)

    def _execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        # A plain try, not translate_errors(): this runs dozens of times per paid row.
        try:
            return self.conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise self._query_error(exc) from exc

    def _query_error(self, exc: sqlite3.Error) -> LedgerError:
        """The LedgerError of a failed statement: LedgerDamagedError when the file is at fault
        (text that is not UTF-8, a malformed page)."""
        if is_damage(exc):
            return damaged(self.path, "a stored value", str(exc))
        return LedgerError(f"ledger: a query failed: {exc}")

    def _executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> sqlite3.Cursor:
        with translate_errors("a query"):
            return self.conn.executemany(sql, params)

    def _row_width(self) -> int:
        """How many columns `rows` has (where its columns end in a join with attempts)."""
        if self._rows_width is None:
            self._rows_width = len(self._execute("SELECT * FROM rows LIMIT 0").description)
        return self._rows_width

    def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        cursor = self._execute(sql, params)
        try:  # values are decoded as they are fetched
            row: sqlite3.Row | None = cursor.fetchone()
        except sqlite3.Error as exc:
            raise self._query_error(exc) from exc
        return row

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        cursor = self._execute(sql, params)
        try:
            return list(cursor.fetchall())
        except sqlite3.Error as exc:
            raise self._query_error(exc) from exc

    # -- migrations --------------------------------------------------------------------------

    def applied_migrations(self) -> list[str]:
        """Names of the migrations recorded as applied (reads only)."""
        exists = self._one(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (MIGRATIONS_TABLE,)
        )
        if exists is None:
            return []
        return [r["name"] for r in self._all(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY name")]

    def pending_migrations(self) -> list[Path]:
        """Migration files not applied yet; never writes."""
        applied = set(self.applied_migrations())
        return [f for f in migration_files(self._migrations_dir) if f.name not in applied]

    def migrate(self) -> list[str]:
        """Apply pending migrations, each in its own transaction; returns the names applied."""
        with translate_errors("creating the migrations table"):
            self.conn.execute(
                f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} "
                "(name TEXT PRIMARY KEY, sha256 TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
        done: list[str] = []
        for file in self.pending_migrations():
            script = file.read_text(encoding="utf-8")
            digest = hashlib.sha256(script.encode()).hexdigest()
            # The record goes first, in the same transaction: when two processes open a new
            # ledger at once, the second waits on BEGIN IMMEDIATE, then fails on the record's
            # primary key instead of re-running the script, and moves on.
            record = (
                f"INSERT INTO {MIGRATIONS_TABLE} (name, sha256, applied_at) "
                f"VALUES ({_sql_text(file.name)}, '{digest}', {_sql_text(self.now())});\n"
            )
            try:
                # executescript runs statements as given: BEGIN ... record ... script, then we
                # COMMIT, so a failure leaves nothing half-applied.
                self.conn.executescript("BEGIN IMMEDIATE;\n" + record + script)
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                if file.name in self.applied_migrations():
                    continue  # applied by another process meanwhile
                raise LedgerError(f"ledger: migration {file.name} failed: {exc}") from exc
            done.append(file.name)
        return done


def _sql_text(value: str) -> str:
    """A SQL string literal (executescript takes no parameters)."""
    return "'" + value.replace("'", "''") + "'"
