"""Settle attempts in flight: poll status by reference_id until terminal.

A 404 counts as "not found" only after the grace window (REFERENCE §4.3); no timeout ever
turns UNKNOWN or PROCESSING into FAILED. Before that, while the session is still open, an
UNKNOWN attempt may be re-sent with its own reference_id (REFERENCE §4.2) — never a new one.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from batch import errors
from batch.engine.states import (
    ExecuteOutcome,
    RowState,
    not_found_trusted_at,
    poll_delay,
    resend_due_at,
)
from batch.ledger import Ledger, RowRecord
from batch.options import MonitorOptions

if TYPE_CHECKING:
    from batch.engine.operation import Answer, Operation

log = logging.getLogger("paybatch")


@dataclass
class Watch:
    """One row in flight: when to ask next and how often we asked."""

    row_id: int
    due: datetime
    polls: int = 0
    busy: bool = False
    accepted: Accepted | None = None  # set when this runner left the row SUBMITTED


@dataclass(frozen=True, slots=True)
class Accepted:
    """A row this runner has just left SUBMITTED: all a poll of it needs, so the poll reads
    nothing (a RowRecord is ~2.6 KB, and 100k rows may be in flight at once).

    Only this runner moves its batch's rows (it holds the batch's lock), and only through
    this watch while the row is in flight; its transitions still check the state anyway.
    """

    id: int
    batch_id: int
    current_reference_id: str
    state: RowState = field(default=RowState.SUBMITTED, init=False)


class Monitor:
    """Rows in flight and the rules that settle them."""

    def __init__(
        self,
        ledger: Ledger,
        operation: Operation,
        options: MonitorOptions,
        *,
        mint: Callable[[], str],
        on_new_attempt: Callable[[int], None],
        on_stop: Callable[[str], None],
        resend: Callable[[RowRecord], Awaitable[bool]] | None = None,
        on_wallet_short: Callable[[int, str], None] | None = None,
    ) -> None:
        self.ledger = ledger
        # A payout FAILED for the wallet (row id, wallet message): by default the whole run
        # stops; the runner pauses only that row's currency (issue 13).
        self.on_wallet_short = on_wallet_short
        self.resend = resend  # sends the row's current attempt again; False if it may not now
        self.operation = operation
        self.options = options
        self.mint = mint
        self.on_new_attempt = on_new_attempt
        self.on_stop = on_stop
        self.watches: dict[int, Watch] = {}  # row id -> its current watch
        # Due times in heaps (stale entries skipped lazily): cheap with 100k rows in flight.
        # Rows the API accepted (SUBMITTED) are routine polls that may give way to sends
        # (`take_due`'s lag); rows in doubt (UNKNOWN) have resend deadlines and never wait.
        self._urgent: list[tuple[datetime, int, Watch]] = []
        self._routine: list[tuple[datetime, int, Watch]] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        return self.ledger.clock()

    def watch(
        self,
        row_id: int,
        *,
        after: float = 0.0,
        polls: int = 0,
        accepted: Accepted | None = None,
    ) -> None:
        """Poll this row `after` seconds from now; without `accepted`, the poll reads it."""
        watch = Watch(row_id, self.now() + timedelta(seconds=after), polls, accepted=accepted)
        self.watches[row_id] = watch
        heap = self._routine if accepted is not None else self._urgent
        heapq.heappush(heap, (watch.due, next(self._seq), watch))

    def _top(self, heap: list[tuple[datetime, int, Watch]]) -> datetime | None:
        """The heap's earliest live due time (stale entries dropped on the way)."""
        while heap:
            watch = heap[0][2]
            if self.watches.get(watch.row_id) is watch and not watch.busy:
                return heap[0][0]
            heapq.heappop(heap)
        return None

    def _next(self, lag: timedelta) -> tuple[datetime, list[tuple[datetime, int, Watch]]] | None:
        """The next watch to fall due (routine ones `lag` later) and the heap holding it."""
        urgent, routine = self._top(self._urgent), self._top(self._routine)
        if routine is not None and (urgent is None or routine + lag < urgent):
            return routine + lag, self._routine
        return (urgent, self._urgent) if urgent is not None else None

    def take_due(self, limit: int | None = None, *, lag: float = 0.0) -> list[Watch]:
        """Watches whose time has come (at most `limit`), marked busy for a poll; routine
        polls (rows the API accepted) only `lag` seconds after they fell due."""
        now, late = self.now(), timedelta(seconds=lag)
        taken: list[Watch] = []
        while limit is None or len(taken) < limit:
            upcoming = self._next(late)
            if upcoming is None or upcoming[0] > now:
                break
            watch = heapq.heappop(upcoming[1])[2]
            watch.busy = True
            taken.append(watch)
        return taken

    def next_due(self, *, lag: float = 0.0) -> datetime | None:
        """When the next idle watch falls due (routine ones `lag` seconds later)."""
        upcoming = self._next(timedelta(seconds=lag))
        return upcoming[0] if upcoming is not None else None

    # -- answers -----------------------------------------------------------------------------

    async def settle(
        self, row: RowRecord | Accepted, reference_id: str, execution: Answer, polls: int
    ) -> None:
        """Record an answer (`apply`), then the operation's work after a final one."""
        self.apply(row, reference_id, execution, polls)
        if execution.is_completed or execution.is_failed:
            await self.operation.after_final(row.id, reference_id, execution)

    def apply(
        self, row: RowRecord | Accepted, reference_id: str, execution: Answer, polls: int
    ) -> None:
        """Record an execute or status answer and decide what follows."""
        if execution.is_completed:
            self.ledger.mark_completed(row.id, reference_id, execution, seen=row)
            self.watches.pop(row.id, None)
        elif execution.is_failed:
            reason = execution.wallet_message or execution.gateway_message or (
                f"{self.operation.kind} FAILED"
            )
            self.ledger.mark_failed(row.id, reference_id, reason=reason, execution=execution)
            self.watches.pop(row.id, None)
            stop = self.operation.stop_reason(execution)
            if stop is not None and execution.wallet_message and self.on_wallet_short:
                # A short wallet pauses its currency only; other currencies go on (issue 13).
                self.on_wallet_short(row.id, execution.wallet_message)
            elif stop is not None:
                self.on_stop(stop)
        else:
            if not execution.is_known_status:
                # Not one of the four: in flight, never terminal (REFERENCE §4.2); say so.
                log.warning(
                    "reference_id=%s: undocumented status %r taken as still in flight",
                    reference_id,
                    execution.status,
                )
            if row.state in (RowState.SUBMITTING, RowState.UNKNOWN):
                self.ledger.mark_submitted(row.id, reference_id, execution, seen=row)
            else:
                self.ledger.record_poll(reference_id, execution)
            delay = poll_delay(
                polls, first=self.options.first_poll, cap=self.options.max_poll_interval
            )
            accepted = Accepted(row.id, row.batch_id, reference_id)  # SUBMITTED either way
            self.watch(row.id, after=delay, polls=polls + 1, accepted=accepted)

    async def poll(self, watch: Watch) -> None:
        """Ask the status of one row's current attempt and settle what can be settled."""
        watch.busy = True
        try:
            await self._poll(watch)
        except errors.TransitionError:
            self.watches.pop(watch.row_id, None)  # moved elsewhere; nothing left to watch
        finally:
            watch.busy = False
            if self.watches.get(watch.row_id) is watch:
                # The poll ended without deciding (an unexpected error): ask again later.
                self.watch(watch.row_id, after=self.options.max_poll_interval, polls=watch.polls)

    async def _poll(self, watch: Watch) -> None:
        accepted = watch.accepted
        row = accepted if accepted is not None else self.ledger.row(watch.row_id)
        if row is None or row.state not in (
            RowState.SUBMITTING,
            RowState.SUBMITTED,
            RowState.UNKNOWN,
        ):
            self.watches.pop(watch.row_id, None)
            return
        if isinstance(row, RowRecord):
            assert row.current_attempt is not None
        reference_id = row.current_reference_id
        assert reference_id is not None
        delay = poll_delay(
            watch.polls, first=self.options.first_poll, cap=self.options.max_poll_interval
        )
        try:
            execution = await self.operation.status(reference_id)
        except errors.NotFoundError:
            if row.state is RowState.SUBMITTED:
                # The API accepted it once: a 404 now is its inconsistency, never "not paid".
                self.watch(row.id, after=delay, polls=watch.polls + 1, accepted=accepted)
                return
            assert isinstance(row, RowRecord)  # read from the ledger: only SUBMITTED comes noted
            attempt = row.current_attempt
            assert attempt is not None
            submitted = attempt.submitted_at or attempt.created_at
            trusted_from = not_found_trusted_at(
                submitted_at=submitted,
                session_expires_at=attempt.session_expires_at,
                grace=timedelta(seconds=self.options.not_found_grace),
            )
            now = self.now()
            final_before = self.options.not_found_final_before
            if final_before is not None and submitted < final_before:
                trusted_from = now
            if now >= trusted_from:
                self._settle_not_found(row, reference_id)
                return
            next_at = min(now + timedelta(seconds=delay), trusted_from + timedelta(seconds=0.05))
            resend_at = self._resend_due_at(row)
            if resend_at is not None and resend_at > now:
                next_at = min(next_at, resend_at)  # ask once more, then resend
            elif resend_at is not None and self.resend is not None and await self.resend(row):
                return  # the resend's answer decided what follows
            self.watch(row.id, after=(next_at - now).total_seconds(), polls=watch.polls + 1)
            return
        except (errors.AuthError, errors.ForbiddenError) as exc:
            self.on_stop(f"{type(exc).__name__}: {exc}")
            self.watch(row.id, after=delay, polls=watch.polls + 1, accepted=accepted)
            return
        except errors.ApiError:
            # 5xx, 429, no answer: still unknown, keep waiting (REFERENCE §4.3).
            self.watch(row.id, after=delay, polls=watch.polls + 1, accepted=accepted)
            return
        if isinstance(row, RowRecord):
            self._note_adopted(row, reference_id)
        await self.settle(row, reference_id, execution, watch.polls)

    def _note_adopted(self, row: RowRecord, reference_id: str) -> None:
        """A 422 on execute, yet status knows the reference_id: the API holds an execution of
        it after all (e.g. "session already executed" for a send that landed). It is adopted
        and recorded so (issue 11), never replaced by a new reference_id."""
        attempt = row.current_attempt
        if (
            row.state is RowState.UNKNOWN and attempt is not None and not attempt.adopted
            and attempt.execute_outcome is ExecuteOutcome.REJECTED
        ):
            self.ledger.note_adopted(
                row.id, reference_id,
                detail="execute was rejected (422), but status shows this reference_id",
            )

    def _resend_due_at(self, row: RowRecord) -> datetime | None:
        """When this UNKNOWN row's attempt may be re-sent as it is, or None."""
        attempt = row.current_attempt
        if self.resend is None or row.state is not RowState.UNKNOWN or attempt is None:
            return None
        if attempt.execute_outcome is ExecuteOutcome.REJECTED:
            return None  # a 422 would only be rejected again: a new session and id instead
        # A 429 was "probably not processed" (REFERENCE §4.2): once Retry-After has passed and
        # status says not found, resend at once, however often (each waits out Retry-After);
        # the grace and the limit are for answers lost after the work.
        throttled = attempt.execute_outcome is ExecuteOutcome.THROTTLED
        return resend_due_at(
            sent_at=attempt.submitted_at or attempt.created_at,
            session_expires_at=attempt.session_expires_at,
            resends=attempt.resends,
            max_resends=None if throttled else self.options.max_resends,
            grace=timedelta(seconds=0 if throttled else self.options.resend_grace),
            margin=timedelta(seconds=self.options.session_margin),
        )

    def _settle_not_found(self, row: RowRecord, reference_id: str) -> None:
        """Not found after the grace: the SAME reference_id again on a fresh session (issue 11:
        a send that landed unseen is then answered "duplicate" and adopted); FAILED only after
        repeated outright rejections. Never a new reference_id here (engine/adoption.py)."""
        from batch.engine.adoption import NotFound, after_not_found

        self.watches.pop(row.id, None)
        attempt = row.current_attempt
        rejected = attempt is not None and attempt.execute_outcome is ExecuteOutcome.REJECTED
        decision = after_not_found(
            rejected=rejected, fresh_sends=attempt.fresh_sends if attempt else 0,
            max_rejected=self.options.max_rejected_attempts,
        )
        if decision.action is NotFound.FAIL:
            self.ledger.mark_failed(
                row.id,
                reference_id,
                not_found=True,
                reason=f"{attempt.execute_error if attempt else ''} (not found; "
                f"{decision.fresh_sends + 1} sends rejected)",
            )
        elif decision.action is NotFound.KEEP_WATCHING:
            self.watch(row.id, after=self.options.max_poll_interval)
        else:
            self.ledger.mark_fresh_resend(row.id, reference_id, fresh_sends=decision.fresh_sends)
            self.on_new_attempt(row.id)
