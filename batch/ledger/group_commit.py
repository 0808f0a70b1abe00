"""Group commit: the SUBMITTING marks of all workers ready at once go in one durable commit.

A reference_id is fsynced before its execute request leaves, yet N workers cost one fsync.
"""

from __future__ import annotations

import asyncio

from batch import errors
from batch.ledger import Ledger


class SubmitGate:
    """Group commit: SUBMITTING marks of all workers ready at once go in one durable commit."""

    def __init__(self, ledger: Ledger, run_session: str, batch_id: int | None = None) -> None:
        self.ledger = ledger
        self.run_session = run_session
        self.batch_id = batch_id  # the rows' batch, when one runner's rows go through it
        self._pending: list[tuple[int, str, asyncio.Future[None]]] = []
        self._scheduled = False
        self.commits = 0

    async def commit(self, row_id: int, reference_id: str) -> None:
        """Return once this row's SUBMITTING is durable; only then may the request leave."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((row_id, reference_id, done))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)  # after every worker ready in this turn has queued
        await done

    def _flush(self) -> None:
        self._scheduled = False
        group, self._pending = self._pending, []
        try:
            self.ledger.mark_submitting(
                [(r, ref) for r, ref, _ in group],
                run_session=self.run_session,
                batch_id=self.batch_id,
            )
            self.commits += 1
        except errors.BatchError:
            for row_id, ref, done in group:  # one bad row must not hold the others back
                try:
                    self.ledger.mark_submitting(
                        [(row_id, ref)], run_session=self.run_session, batch_id=self.batch_id
                    )
                    self.commits += 1
                except errors.BatchError as exc:
                    if not done.done():
                        done.set_exception(exc)
                else:
                    if not done.done():
                        done.set_result(None)
            return
        except BaseException as exc:
            for _, _, done in group:
                if not done.done():
                    done.set_exception(exc)
            raise
        # A waiter may be gone (its run interrupted, issue 13): its row stays SUBMITTING with
        # no request sent, which the next run settles like a crash's.
        for _, _, done in group:
            if not done.done():
                done.set_result(None)
