"""The async runner: settle rows left in flight, then start new rows with bounded concurrency.

Generic over the operation kind (`batch.engine.operation.Operation`). Per row: prepare
(recipient or payer, reused when known) -> session just in time -> SUBMITTING committed
(group commit) -> execute once -> the monitor settles whatever is not terminal.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from batch import errors
from batch.engine.adoption import fresh_sends_after_interrupt, is_duplicate_reference
from batch.engine.health import MAX_ROW_DEFERRALS, CallHealth, deferral_delay
from batch.engine.monitor import Monitor
from batch.engine.operation import Operation
from batch.engine.outcome import RunResult
from batch.engine.states import (
    IN_FLIGHT,
    Action,
    ExecuteOutcome,
    RowState,
    may_retry,
    next_action,
)
from batch.ledger import Ledger, RowRecord
from batch.ledger.group_commit import SubmitGate
from batch.options import RunOptions

if TYPE_CHECKING:
    from batch.engine.progress import Progress

MAX_STEPS = 8  # recipient, session (renewed a few times), submit
# While rows are on their way to execute, a routine poll (of a row the API accepted) gives
# way to them for up to this many seconds past its due time. The API's rate is shared:
# polled at once, the last rows' polls come only after the last send plus the first poll's
# delay, seconds of a run with nothing else to do; held back, a backlog of polls fills
# those seconds. The cost: an outcome only status tells (a FAILED payout) is seen that much
# later.
POLL_GIVE_WAY = 20.0
PROGRESS_EVERY = timedelta(seconds=0.5)  # how often the progress display reads the counts
PROGRESS_COST_SHARE = 100  # ...but no more than 1% of the time (the count is ~20 ms at 100k rows)
_PAYABLE = (RowState.NEW, RowState.RECIPIENT_READY, RowState.SESSION_OPEN)  # not sent yet


class Runner:
    """Runs one batch: resume in flight first, then new rows, then poll until settled or --wait."""

    def __init__(
        self,
        ledger: Ledger,
        operation: Operation,
        batch_id: int,
        options: RunOptions,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        mint: Callable[[], str] = lambda: str(uuid.uuid4()),
        say: Callable[[str], None] = lambda _: None,
        progress: Progress | None = None,
    ) -> None:
        self.ledger = ledger
        self.progress = progress
        self.submitted = 0  # execute requests sent by this run
        self.accepted = 0  # ...and answered by the API
        self.refused: str | None = None  # the API's gate refused us (401/403): what to fix
        self.health = CallHealth()
        self._deferrals: dict[int, int] = {}  # row id -> times deferred in this run
        self._deferred: list[tuple[datetime, int, int]] = []  # (due, seq, row id), a heap
        self._seq = itertools.count()
        self.submitted = 0  # rows whose execute this run sent (first sends)
        self.resent = 0  # executes re-sent with the same reference_id (counted apart)
        self._progress_at: datetime | None = None
        self.operation = operation
        # The operation's own timings, under those the options give (field by field).
        defaults = operation.monitor_defaults
        self.timings = options.monitor.over(defaults) if options.monitor else defaults
        self.batch_id = batch_id
        self.options = options
        self.sleep = sleep
        self.monotonic = monotonic  # --wait's deadline
        self.mint = mint
        self.say = say
        self.stopped: str | None = None
        self.paused: dict[str, str] = {}  # currency -> wallet message: start no more rows
        self.work: deque[int] = deque()
        self._queued: set[int] = set()  # rows queued or being worked on
        self.gate = SubmitGate(ledger, run_session=str(uuid.uuid4()), batch_id=batch_id)
        self._recipient_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.monitor = Monitor(
            ledger,
            operation,
            self.timings,
            mint=mint,
            on_new_attempt=self._requeue,
            on_stop=self.stop,
            resend=self._resend,
            on_wallet_short=self._pause_currency,
        )

    # -- control -----------------------------------------------------------------------------

    def stop(self, reason: str) -> None:
        """Start no new rows; rows already sent are still settled."""
        if self.stopped is None:
            self.stopped = reason
            self.say(f"stopping new {self.operation.kind}s: {reason}")

    def _pause_currency(self, row_id: int, message: str) -> None:
        """A payout FAILED for the wallet: start no more rows in its currency (issue 13)."""
        row = self.ledger.row(row_id)
        currency = row.currency if row is not None else None
        if currency is None:
            self.stop(f"wallet: {message}")
        elif currency not in self.paused:
            self.paused[currency] = message
            self.say(f"wallet: {currency} payouts paused ({message}); other currencies go on")

    def _requeue(self, row_id: int) -> None:
        if not self.options.reconcile_only:
            self._enqueue(row_id)

    def _enqueue(self, row_id: int) -> None:
        """Queue a row for a worker, once: two workers on one row would race its transitions."""
        if row_id not in self._queued:
            self._queued.add(row_id)
            self.work.append(row_id)

    async def run(self) -> RunResult:
        """Settle, pay, poll; returns the batch's counts afterwards."""
        # A commit per transition was the engine's largest CPU cost: they go in groups; the
        # SUBMITTING mark (group_commit.py) stays durable before its request leaves.
        loop = asyncio.get_running_loop()
        with self.ledger.grouped_commits(loop.call_later, self.options.commit_window):
            return await self._run()

    async def _run(self) -> RunResult:
        if self.progress is not None:
            from batch.engine.progress import Phase

            counts = self.ledger.counts(self.batch_id)
            total = sum(counts.values()) - counts.get(RowState.SKIPPED.value, 0)
            self.progress.start(Phase.RUN, total, counts)
        # Rows are read a page at a time: 100k RowRecords with attempts would cost ~250 MB.
        for row in self.ledger.each_row(self.batch_id):
            if row.state is RowState.SUBMITTING:
                # A previous run died between commit and answer: the request may have left.
                # (A few rows at most, one per worker: read with their attempts.)
                full = self.ledger.row(row.id)
                attempt = full.current_attempt if full is not None else None
                assert row.current_reference_id is not None and attempt is not None
                self.ledger.mark_unknown(
                    row.id, row.current_reference_id, outcome=ExecuteOutcome.AMBIGUOUS,
                    reason="run interrupted before the answer",
                    fresh_sends=fresh_sends_after_interrupt(
                        fresh_sends=attempt.fresh_sends, resends=attempt.resends),
                )
                self.monitor.watch(row.id)
            elif row.state in IN_FLIGHT:
                self.monitor.watch(row.id)
        # Resume before new work (STYLE.md 8): one status round for everything left in flight.
        await self._gather_polls()
        if not self.options.reconcile_only:
            retry = self.options.retry_failed  # only a FAILED row's attempts are looked at
            read = self.ledger.each_row_with_attempts if retry else self.ledger.each_row
            for row in read(self.batch_id):
                self._queue_if_payable(row)
        await self._loop()
        counts = self.ledger.counts(self.batch_id)
        if self.progress is not None:
            self.progress.sync(counts, submitted=self.submitted, resent=self.resent)
        return RunResult(
            self.batch_id, counts, self.stopped, refused=self.refused, accepted=self.accepted,
            paused=dict(self.paused),
        )

    def _show_progress(self) -> None:
        """Refresh the progress display from the ledger's counts (one GROUP BY, rate-limited)."""
        if self.progress is None:
            return
        now = self.ledger.clock()
        if self._progress_at is None or now >= self._progress_at:
            began = time.perf_counter()  # measuring the query's cost, not timing the logic
            self.progress.sync(
                self.ledger.counts(self.batch_id), submitted=self.submitted, resent=self.resent
            )
            cost = timedelta(seconds=(time.perf_counter() - began) * PROGRESS_COST_SHARE)
            self._progress_at = now + max(PROGRESS_EVERY, cost)

    def _queue_if_payable(self, row: RowRecord) -> None:
        if row.state in _PAYABLE:
            self._enqueue(row.id)
        elif self.options.retry_failed and row.state is RowState.FAILED:
            if may_retry([a.outcome for a in row.attempts]):
                self.ledger.start_new_attempt(row.id, self.mint(), reason="--retry-failed")
                self._enqueue(row.id)

    async def _gather_polls(self) -> None:
        gate = asyncio.Semaphore(self.options.concurrency)

        async def one(watch: Any) -> None:
            async with gate:
                await self.monitor.poll(watch)

        await asyncio.gather(*(one(w) for w in self.monitor.take_due()))

    async def _loop(self) -> None:
        workers: set[asyncio.Task[None]] = set()
        polls: set[asyncio.Task[None]] = set()
        deadline: float | None = None
        try:
            while True:
                self._release_deferred()
                while (
                    self.work and self.stopped is None and len(workers) < self.options.concurrency
                ):
                    workers.add(asyncio.create_task(self._pay(self.work.popleft())))
                free = self.options.concurrency - len(polls)
                sending = self.stopped is None and bool(self.work or workers)
                lag = POLL_GIVE_WAY if sending else 0.0
                for watch in self.monitor.take_due(limit=max(0, free), lag=lag):
                    polls.add(asyncio.create_task(self.monitor.poll(watch)))
                now = self.ledger.clock()
                waiting = self.stopped is None and bool(self.work or self._deferred)
                idle = not workers and not waiting
                if idle and deadline is None:
                    # --wait runs on monotonic time: a step of the wall clock neither ends
                    # the run early nor holds it (issue 11).
                    deadline = self.monotonic() + self.options.wait
                if idle and not polls and not self.monitor.watches:
                    return
                if idle and deadline is not None and self.monotonic() >= deadline:
                    return  # --wait is over: polls still running are reads, cancelled below
                timeout: float | None = None
                next_due = self.monitor.next_due(lag=lag)
                if self._deferred and self.stopped is None:
                    due = self._deferred[0][0]
                    next_due = due if next_due is None else min(next_due, due)
                if next_due is not None:
                    timeout = max(0.0, (next_due - now).total_seconds())
                if idle and deadline is not None:
                    left = max(0.0, deadline - self.monotonic())
                    timeout = left if timeout is None else min(timeout, left)
                running = workers | polls
                if running:
                    done, _ = await asyncio.wait(
                        running, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                    )
                    for task in done:
                        workers.discard(task)
                        polls.discard(task)
                        task.result()  # a bug surfaces here; the ledger stays consistent
                    self._show_progress()
                else:
                    await self.sleep(timeout or 0.0)
        finally:
            for task in workers | polls:
                task.cancel()
            if workers or polls:
                await asyncio.gather(*workers, *polls, return_exceptions=True)

    # -- one row -----------------------------------------------------------------------------

    async def _pay(self, row_id: int) -> None:
        """Take one row as far as execute; the monitor does the rest."""
        try:
            await self._pay_steps(row_id)
        except errors.TransitionError as exc:
            # The ledger refused a move: the row is not where we thought. Leave it; the state
            # checks are what keep it from being paid twice.
            self.say(f"row {row_id}: {exc}; left as it is")
        finally:
            self._queued.discard(row_id)

    async def _pay_steps(self, row_id: int) -> None:
        margin = timedelta(seconds=self.timings.session_margin)
        # Read once: each step below returns the row as its transition left it (the ledger
        # checks the state each transition starts from, so a stale copy cannot slip through).
        row = self.ledger.row(row_id)
        assert row is not None
        try:
            for _ in range(MAX_STEPS):
                if self.stopped is not None or row.currency in self.paused:
                    return  # not sent: the row stays where it is for the next run
                attempt = row.current_attempt
                action = next_action(
                    row.state,
                    now=self.ledger.clock(),
                    session_expires_at=attempt.session_expires_at if attempt else None,
                    session_margin=margin,
                )
                if action is Action.ENSURE_RECIPIENT:
                    account = await self._recipient_account(row)
                    # The recipient's ids are in the ledger now: RECIPIENT_READY goes in with
                    # SESSION_OPEN, one transaction instead of two (a crash in between only
                    # repeats the session call, which moves no money).
                    row = await self._open_session(row, account=account, recipient_ready=True)
                    self.health.record(True)
                    margin = timedelta(0)
                elif action is Action.OPEN_SESSION:
                    row = await self._open_session(row)
                    self.health.record(True)
                    # Just opened: submit now, however short the session's life (no margin).
                    margin = timedelta(0)
                elif action is Action.SUBMIT:
                    await self._submit(row)
                    return
                else:
                    return
            self.say(f"row {row_id}: its session keeps expiring before submit; left for later")
        except errors.NotNowError as exc:
            self.say(f"row {row_id}: {exc}; left for a later run")  # nothing was sent
        except (errors.ForbiddenError, errors.AuthError) as exc:
            self._refused(exc)
        except errors.ApiError as exc:
            if isinstance(exc, errors.Transient):
                # Still failing after the client's retries: try the row again later in this
                # run (backoff), and stop starting rows only if most recent calls fail.
                self.health.record(False, f"{type(exc).__name__}: {exc}")
                self._defer(row_id, exc)
                if self.health.failing():
                    self.stop(self.health.describe())
                return
            row = self.ledger.row(row_id)
            assert row is not None
            if row.state in (RowState.NEW, RowState.RECIPIENT_READY, RowState.SESSION_OPEN):
                self.ledger.mark_failed(
                    row.id,
                    row.current_reference_id,
                    reason=f"{type(exc).__name__}: {exc}",
                )

    def _defer(self, row_id: int, exc: errors.ApiError) -> None:
        """Try this row again after a backoff, a few times per run; then the next run."""
        times = self._deferrals.get(row_id, 0) + 1
        self._deferrals[row_id] = times
        if times > MAX_ROW_DEFERRALS:
            self.say(f"row {row_id}: left for the next run ({type(exc).__name__}: {exc})")
            return
        delay = deferral_delay(times)
        self.say(f"row {row_id}: deferred {delay:g} s ({type(exc).__name__}: {exc})")
        due = self.ledger.clock() + timedelta(seconds=delay)
        heapq.heappush(self._deferred, (due, next(self._seq), row_id))

    def _release_deferred(self) -> None:
        """Queue the deferred rows whose backoff is over."""
        now = self.ledger.clock()
        while self._deferred and self._deferred[0][0] <= now:
            self._enqueue(heapq.heappop(self._deferred)[2])

    def _refused(self, exc: errors.ApiError) -> None:
        """The API refused us at its gate (REFERENCE §4.2: 401 after a refresh, 403): stop
        the batch and say which setting to fix. Rows not sent stay as they are."""
        if isinstance(exc, errors.TokenUnavailableError):
            # No token at all (the token call kept failing): not a refusal, run again later.
            self.stop(f"{type(exc).__name__}: {exc}")
            return
        if isinstance(exc, errors.AuthError):
            fix = "check DOLLR_CLIENT_ID and DOLLR_CLIENT_SECRET"
        else:
            fix = (
                "check DOLLR_PASSCODE and DOLLR_PASSCODE_PHONE (or DOLLR_PASSCODE_USER_ID), "
                "and that the merchant account is verified"
            )
        message = f"the API refused at its gate (HTTP {exc.status}: {exc}): {fix}"
        if self.refused is None:
            self.refused = message
        self.stop(f"{type(exc).__name__}: {message}")

    async def _recipient_account(self, row: RowRecord) -> int:
        """The account to execute against (one preparation per phone at a time)."""
        assert row.phone is not None
        async with self._recipient_locks[row.phone]:
            return await self.operation.prepare(row)

    async def _open_session(
        self, row: RowRecord, *, account: int | None = None, recipient_ready: bool = False
    ) -> RowRecord:
        """Open a session; `recipient_ready`: mark RECIPIENT_READY in the same commit.

        Returns the row as SESSION_OPEN with its attempt's new session.
        """
        assert row.amount is not None and row.currency is not None
        assert row.current_reference_id is not None
        if account is None:
            account = await self._recipient_account(row)
        session = await self.operation.open_session(row, account)
        expires_at = session.expires_by_our_clock(self.ledger.clock())  # clocks differ
        self.ledger.mark_session_open(
            row.id,
            row.current_reference_id,
            session_id=session.id,
            wallet_id=session.wallet_id,
            expires_at=expires_at,
            account_id=account,
            recipient_ready=recipient_ready,
            seen=row,
        )
        return row.moved(
            RowState.SESSION_OPEN,
            session_id=session.id,
            wallet_id=session.wallet_id,
            session_expires_at=expires_at,
            account_id=account,
        )

    async def _submit(self, row: RowRecord) -> None:
        attempt = row.current_attempt
        reference_id = row.current_reference_id
        assert attempt is not None and reference_id is not None
        assert attempt.session_id is not None and attempt.account_id is not None
        await self.gate.commit(row.id, reference_id)  # durable before the request leaves
        await self._send(
            row.moved(RowState.SUBMITTING),
            attempt.session_id,
            attempt.account_id,
            reference_id,
        )

    def _adopt_existing(
        self, row: RowRecord, reference_id: str, exc: errors.ApiValidationError
    ) -> None:
        """Execute said "duplicate reference_id": adopt that execution, settle it by status
        (issue 11). It keeps its reference_id while merely not found (SUBMITTED)."""
        self.ledger.mark_adopting(
            row.id, reference_id, reason=f"duplicate reference_id (422): {exc}"
        )
        self.monitor.watch(row.id)

    async def _resend(self, row: RowRecord) -> bool:
        """Send an UNKNOWN row's attempt again, same reference_id (the monitor found it due).

        Not in `reconcile` (it starts no payout) nor once new payouts are stopped.
        """
        attempt = row.current_attempt
        reference_id = row.current_reference_id
        if self.stopped is not None or self.options.reconcile_only or attempt is None:
            return False
        assert reference_id is not None
        assert attempt.session_id is not None and attempt.account_id is not None
        self.ledger.mark_resending(
            row.id, reference_id, resends=attempt.resends + 1, run_session=self.gate.run_session
        )
        self.say(f"row {row.id}: status says not found; re-sending reference_id {reference_id}")
        await self._send(
            row.moved(RowState.SUBMITTING, resends=attempt.resends + 1),
            attempt.session_id,
            attempt.account_id,
            reference_id,
            resend=True,
        )
        return True

    async def _send(
        self,
        row: RowRecord,
        session_id: int,
        account_id: int,
        reference_id: str,
        *,
        resend: bool = False,
    ) -> None:
        """The execute request of a row already SUBMITTING, and what its answer decides."""
        assert row.state is RowState.SUBMITTING
        if resend:
            self.resent += 1
        else:
            self.submitted += 1
        try:
            execution = await self.operation.execute(
                row, session_id=session_id, account_id=account_id, reference_id=reference_id
            )
        except errors.ApiValidationError as exc:
            if is_duplicate_reference(exc):  # issue 11: the API holds this id; follow it
                self._adopt_existing(row, reference_id, exc)
                return
            # Rejected, probably nothing moved; confirm by status before any new attempt.
            self.ledger.mark_unknown(
                row.id, reference_id, outcome=ExecuteOutcome.REJECTED,
                reason=f"rejected (422): {exc}",
            )
            self.monitor.watch(row.id, after=self.timings.first_poll)
        except errors.RateLimitedError as exc:
            # Probably not processed (REFERENCE §4.2): status is asked once Retry-After has
            # passed (the throttle holds every request until then), and if not found the
            # same reference_id is sent again at once.
            self.ledger.mark_unknown(
                row.id, reference_id, outcome=ExecuteOutcome.THROTTLED,
                reason=f"throttled (429): {exc}",
            )
            self.monitor.watch(row.id)
        except (errors.ForbiddenError, errors.AuthError) as exc:
            # Refused at the gate, nothing processed (REFERENCE §4.2): the row goes back to
            # its open session with the same reference_id, so a later send of it cannot pay
            # twice even if this one had landed after all.
            self.ledger.mark_refused(row.id, reference_id, reason=f"{type(exc).__name__}: {exc}")
            self._refused(exc)
        except errors.ApiError as exc:
            self.ledger.mark_unknown(
                row.id, reference_id, outcome=ExecuteOutcome.AMBIGUOUS,
                reason=f"ambiguous: {type(exc).__name__}: {exc}",
            )
            self.monitor.watch(row.id, after=self.timings.first_poll)
        else:
            self.accepted += 1
            if resend and execution.is_failed:
                # The first send may have landed unseen, and an API may answer a repeat with
                # "session already executed": only status, by reference_id, may say FAILED.
                self.ledger.mark_unknown(
                    row.id, reference_id, outcome=ExecuteOutcome.AMBIGUOUS,
                    reason=f"resend answered FAILED ({execution.gateway_message or ''}); "
                    "confirming by status",
                )
                self.monitor.watch(row.id, after=self.timings.first_poll)
                return
            await self.monitor.settle(row, reference_id, execution, polls=0)
