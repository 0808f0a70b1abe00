"""Durable sandbox state: a SQLite journal of every record, so a killed run's sandbox lives on.

The Store marks what a request changed; `flush` writes it in one transaction before the
response leaves (the fault layer calls it). WAL with synchronous=NORMAL survives a killed
process, which is the crash a sandbox must outlive. One process holds the file at a time.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from batch.sandbox.invoice_state import CheckoutSession, Collection, Invoice
from batch.sandbox.state import Counterparty, Execution, Party, PaymentAccount, PayoutSession

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, key)
) WITHOUT ROWID;
"""
# kind -> how a record of it is (de)serialised; Decimals travel as exact strings.
ADAPTERS: dict[str, TypeAdapter[Any]] = {
    "party": TypeAdapter(Party),
    "counterparty": TypeAdapter(Counterparty),
    "account": TypeAdapter(PaymentAccount),
    "session": TypeAdapter(PayoutSession),
    "execution": TypeAdapter(Execution),
    "invoice": TypeAdapter(Invoice),
    "checkout": TypeAdapter(CheckoutSession),
    "collection": TypeAdapter(Collection),
}
BALANCES = TypeAdapter(dict[str, Decimal])
COUNTERS = TypeAdapter(dict[str, int])


def state_path_for(ledger: Path) -> Path:
    """Where the embedded sandbox of a ledger keeps its state: `<ledger>.sandbox.db`."""
    return ledger.with_name(ledger.name + ".sandbox.db")


class StateInUseError(RuntimeError):
    """Another process has this sandbox state open."""


@dataclass
class Snapshot:
    """Everything a journal holds; empty for a new file."""

    instance_id: str
    records: dict[str, list[Any]] = field(default_factory=dict)
    balances: dict[str, Decimal] | None = None
    counters: dict[str, int] | None = None


class Journal:
    """Keeps nothing: the in-memory sandbox (the default)."""

    def __init__(self) -> None:
        self.instance_id = str(uuid.uuid4())

    def load(self) -> Snapshot:
        """What there is to restore: nothing."""
        return Snapshot(self.instance_id)

    def mark(self, kind: str, key: object, record: object) -> None:
        """Note a record created or changed by the current request."""

    def mark_wallet(self, balances: dict[str, Decimal], counters: dict[str, int]) -> None:
        """Note the wallet balances and id counters as they now stand."""

    def flush(self) -> None:
        """Make everything marked durable."""

    def wipe(self) -> None:
        """Forget every record (reset): a new instance, as ids start over."""
        self.instance_id = str(uuid.uuid4())

    def close(self) -> None:
        """Release the file."""


class SqliteJournal(Journal):
    """The sandbox's records in a SQLite file, flushed before each response."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():  # owner-only, like the ledger: it holds names and phones
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        self.path = path
        self._db = sqlite3.connect(path, timeout=0.5, isolation_level=None,
                                   check_same_thread=False)
        self._pending: dict[tuple[str, str], object] = {}
        self._wallet: tuple[dict[str, Decimal], dict[str, int]] | None = None
        try:
            # EXCLUSIVE: the lock taken below is held until close (or the process dies).
            self._db.execute("PRAGMA locking_mode = EXCLUSIVE")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")
        except sqlite3.OperationalError as exc:
            self._db.close()
            if "locked" in str(exc) or "busy" in str(exc):
                raise StateInUseError(
                    f"{path} is in use by another process (another paybatch run or sandbox)"
                ) from exc
            raise
        found = self._db.execute("SELECT value FROM meta WHERE key = 'instance_id'").fetchone()
        self.instance_id = found[0] if found else str(uuid.uuid4())
        if not found:
            self._set_meta("instance_id", self.instance_id)

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def load(self) -> Snapshot:
        """Every record, wallet and counter the file holds."""
        snapshot = Snapshot(self.instance_id)
        for kind, adapter in ADAPTERS.items():
            rows = self._db.execute("SELECT body FROM records WHERE kind = ?", (kind,))
            snapshot.records[kind] = [adapter.validate_json(body) for (body,) in rows]
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if "balances" in meta:
            snapshot.balances = BALANCES.validate_json(meta["balances"])
        if "counters" in meta:
            snapshot.counters = COUNTERS.validate_json(meta["counters"])
        return snapshot

    def mark(self, kind: str, key: object, record: object) -> None:
        self._pending[(kind, str(key))] = record

    def mark_wallet(self, balances: dict[str, Decimal], counters: dict[str, int]) -> None:
        self._wallet = (balances, counters)

    def flush(self) -> None:
        if not self._pending and self._wallet is None:
            return
        rows = [(kind, key, ADAPTERS[kind].dump_json(record).decode())
                for (kind, key), record in self._pending.items()]
        self._db.execute("BEGIN")
        try:
            self._db.executemany("INSERT OR REPLACE INTO records VALUES (?, ?, ?)", rows)
            if self._wallet is not None:
                balances, counters = self._wallet
                self._set_meta("balances", BALANCES.dump_json(balances).decode())
                self._set_meta("counters", COUNTERS.dump_json(counters).decode())
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._pending.clear()
        self._wallet = None

    def wipe(self) -> None:
        self._pending.clear()
        self._wallet = None
        self.instance_id = str(uuid.uuid4())
        self._db.execute("BEGIN")
        self._db.execute("DELETE FROM records")
        self._db.execute("DELETE FROM meta")
        self._set_meta("instance_id", self.instance_id)
        self._db.execute("COMMIT")

    def close(self) -> None:
        self.flush()
        self._db.close()


def open_journal(path: Path | None) -> Journal:
    """A SQLite journal at `path`, or the in-memory default when None."""
    return SqliteJournal(path) if path is not None else Journal()
