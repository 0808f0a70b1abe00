"""The per-attempt journal of multi-step preparations whose API calls carry no idempotency key.

A collection creates an invoice, adds its items and publishes it before the payer is asked to
pay; none of those calls can be repeated safely without knowing whether the last one landed.
Each step's returned id is committed (fsynced) before the next call, the same discipline as
SUBMITTING, so a restarted run continues from the last recorded step instead of repeating it.
"""

from __future__ import annotations

from batch.ledger.core import LedgerCore


class Journal(LedgerCore):
    """Record and read the steps of one attempt's preparation."""

    def record_step(self, row_id: int, reference_id: str, step: str, value: str) -> None:
        """Commit one step's result durably; recording the same step twice is refused."""
        with self.atomic(durable=True):
            self._execute(
                "INSERT INTO preparation_steps (row_id, reference_id, step, value, at) "
                "VALUES (?, ?, ?, ?, ?)",
                (row_id, reference_id, step, value, self.now()),
            )

    def steps(self, reference_id: str) -> dict[str, str]:
        """The steps recorded for this attempt, in the order they were made."""
        return {
            r["step"]: r["value"]
            for r in self._all(
                "SELECT step, value FROM preparation_steps WHERE reference_id = ? "
                "ORDER BY rowid",
                (reference_id,),
            )
        }
