"""The per-batch run lock, held in the ledger: one `run` per batch; a dead holder's is taken."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from batch.errors import BatchLockedError
from batch.ledger.core import LedgerCore
from batch.tempfiles import pid_alive

__all__ = ["Locks", "pid_alive"]


class Locks(LedgerCore):
    """Acquire and release a batch's lock."""

    def acquire_lock(
        self, batch_id: int, *, pid: int | None = None, host: str | None = None
    ) -> None:
        """Take the batch's lock, or raise BatchLockedError naming the holder."""
        pid = os.getpid() if pid is None else pid
        host = socket.gethostname() if host is None else host
        with self.atomic():
            held = self._one(
                "SELECT l.pid, l.host, l.acquired_at, b.name FROM locks l "
                "JOIN batches b ON b.id = l.batch_id WHERE l.batch_id = ?", (batch_id,)
            )
            if held is not None:
                same = held["pid"] == pid and held["host"] == host
                stale = held["host"] == host and not pid_alive(held["pid"])
                if not same and not stale:
                    raise BatchLockedError(
                        f"batch {held['name']!r} is being run by process {held['pid']} on "
                        f"{held['host']} since {held['acquired_at']}; wait for it to finish",
                        batch_id=batch_id,
                    )
                self._execute("DELETE FROM locks WHERE batch_id = ?", (batch_id,))
                if stale:
                    self._execute(
                        "INSERT INTO events (batch_id, at, detail) VALUES (?, ?, ?)",
                        (batch_id, self.now(),
                         f"lock of dead process {held['pid']} on {held['host']} taken over"),
                    )
            self._execute(
                "INSERT INTO locks (batch_id, pid, host, acquired_at) VALUES (?, ?, ?, ?)",
                (batch_id, pid, host, self.now()),
            )

    def lock_holders(self) -> list[dict[str, object]]:
        """Every batch lock held now: batch name, pid, host, since (issue 13: name them)."""
        return [
            dict(zip(r.keys(), r, strict=True))
            for r in self._all(
                "SELECT b.name, l.pid, l.host, l.acquired_at FROM locks l "
                "JOIN batches b ON b.id = l.batch_id ORDER BY l.acquired_at"
            )
        ]

    def release_lock(self, batch_id: int, *, pid: int | None = None) -> None:
        """Release the batch's lock if this process holds it."""
        pid = os.getpid() if pid is None else pid
        with self.atomic():
            self._execute("DELETE FROM locks WHERE batch_id = ? AND pid = ?", (batch_id, pid))

    @contextmanager
    def locked(self, batch_id: int) -> Iterator[None]:
        """Hold the batch's lock for the duration of the block."""
        self.acquire_lock(batch_id)
        try:
            yield
        finally:
            self.release_lock(batch_id)
