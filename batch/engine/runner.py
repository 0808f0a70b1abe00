"""The async runner: settle rows left in flight, then pay new rows with bounded concurrency.

Per row: recipient (reused when known) -> session just in time -> SUBMITTING committed
(group commit) -> execute once -> the monitor settles whatever is not terminal.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from batch import errors
from batch.engine.adoption import is_duplicate_reference
from batch.engine.monitor import REJECTED, THROTTLED, Monitor, MonitorOptions, StatusApi
from batch.engine.states import IN_FLIGHT, TERMINAL, Action, RowState, may_retry, next_action
from batch.ledger import Ledger, RowRecord
from batch.ledger.group_commit import SubmitGate
from batch.operations.payout_recipients import ensure_recipient

if TYPE_CHECKING:
    from batch.dollr.models import (
        Counterparty,
        Execution,
        Party,
        PaymentAccount,
        PayoutSession,
        ProviderInfo,
    )
    from batch.progress import Progress

DEFAULT_WAIT = 300.0
MAX_STEPS = 8  # recipient, session (renewed a few times), submit
MAX_DEFERRALS = 3  # pre-send calls still failing after the client's retries: then stop
PROGRESS_EVERY = timedelta(seconds=0.5)  # how often the progress display reads the counts
PROGRESS_COST_SHARE = 100  # ...but no more than 1% of the time (the count is ~20 ms at 100k rows)
_PAYABLE = (RowState.NEW, RowState.RECIPIENT_READY, RowState.SESSION_OPEN)  # not sent yet


class PayoutApi(StatusApi, Protocol):
    """The ApiClient calls the runner makes (api_contract.md)."""

    async def mmo_provider_info(
        self, phone: str, operation_type: str = "PAYOUT"
    ) -> ProviderInfo: ...
    async def create_party(
        self, *, fullname: str, phone: str, country_code: str | None, email: str | None = None
    ) -> Party: ...
    async def create_counterparty(
        self, *, party_id: int, relationship_type: str = "BENEFICIARY"
    ) -> Counterparty: ...
    async def create_payout_account(
        self,
        *,
        party_id: int,
        account_name: str,
        provider: str,
        method: str,
        country_code: str | None,
        account_number: str,
    ) -> PaymentAccount: ...
    async def create_payout_session(
        self, *, payout_account_id: int, amount: Decimal, currency: str
    ) -> PayoutSession: ...
    async def execute_payout(
        self, *, session_id: int, payout_account_id: int, reference_id: str
    ) -> Execution: ...


@dataclass(frozen=True)
class RunOptions:
    """How a run behaves (built from the CLI's flags)."""

    concurrency: int = 8
    wait: float = DEFAULT_WAIT  # seconds to keep polling once nothing new can start
    retry_failed: bool = False
    reconcile_only: bool = False  # settle rows in flight; start nothing new
    commit_window: float = 0.1  # seconds: state changes other than SUBMITTING commit together
    relationship_type: str = "BENEFICIARY"
    monitor: MonitorOptions = field(default_factory=MonitorOptions)


@dataclass(frozen=True)
class RunResult:
    """Where a batch stands after a run."""

    batch_id: int
    counts: dict[str, int]
    stopped: str | None  # why new payouts were stopped, if they were
    requests: int | None = None

    @property
    def in_flight(self) -> int:
        """Rows sent but not settled."""
        return sum(n for s, n in self.counts.items() if RowState(s) in IN_FLIGHT)

    @property
    def failed(self) -> int:
        return self.counts.get(RowState.FAILED.value, 0)

    @property
    def pending(self) -> int:
        """Rows not sent yet."""
        return sum(
            n
            for s, n in self.counts.items()
            if RowState(s) not in TERMINAL and RowState(s) not in IN_FLIGHT
        )

    @property
    def exit_code(self) -> int:
        """DESIGN.md: 0 all completed, 3 some FAILED, 4 in flight or not yet sent."""
        if self.in_flight:
            return 4
        if self.failed:
            return 3
        if self.pending:
            return 4
        return 0


class Runner:
    """Runs one batch: resume in flight first, then new rows, then poll until settled or --wait."""

    def __init__(
        self,
        ledger: Ledger,
        api: PayoutApi,
        batch_id: int,
        options: RunOptions,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        mint: Callable[[], str] = lambda: str(uuid.uuid4()),
        say: Callable[[str], None] = lambda _: None,
        progress: Progress | None = None,
    ) -> None:
        self.ledger = ledger
        self.progress = progress
        self.submitted = 0  # execute requests sent by this run
        self._progress_at: datetime | None = None
        self.api = api
        self.batch_id = batch_id
        self.options = options
        self.sleep = sleep
        self.mint = mint
        self.say = say
        self.stopped: str | None = None
        self.work: deque[int] = deque()
        self._queued: set[int] = set()  # rows queued or being worked on
        self.deferrals = 0
        self.gate = SubmitGate(ledger, run_session=str(uuid.uuid4()), batch_id=batch_id)
        self._recipient_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.monitor = Monitor(
            ledger,
            api,
            options.monitor,
            mint=mint,
            on_new_attempt=self._requeue,
            on_stop=self.stop,
            resend=self._resend,
        )

    # -- control -----------------------------------------------------------------------------

    def stop(self, reason: str) -> None:
        """Start no new payouts; rows already sent are still settled."""
        if self.stopped is None:
            self.stopped = reason
            self.say(f"stopping new payouts: {reason}")

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
            from batch.progress import Phase

            counts = self.ledger.counts(self.batch_id)
            total = sum(counts.values()) - counts.get(RowState.SKIPPED.value, 0)
            self.progress.start(Phase.RUN, total, counts)
        # Rows are read a page at a time: 100k RowRecords with attempts would cost ~250 MB.
        for row in self.ledger.each_row(self.batch_id):
            if row.state is RowState.SUBMITTING:
                # A previous run died between commit and answer: the request may have left.
                assert row.current_reference_id is not None
                self.ledger.mark_unknown(
                    row.id, row.current_reference_id, reason="run interrupted before the answer"
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
            self.progress.sync(counts, submitted=self.submitted)
        return RunResult(self.batch_id, counts, self.stopped)

    def _show_progress(self) -> None:
        """Refresh the progress display from the ledger's counts (one GROUP BY, rate-limited)."""
        if self.progress is None:
            return
        now = self.ledger.clock()
        if self._progress_at is None or now >= self._progress_at:
            began = time.perf_counter()  # measuring the query's cost, not timing the logic
            self.progress.sync(self.ledger.counts(self.batch_id), submitted=self.submitted)
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
        deadline = None
        try:
            while True:
                while (
                    self.work and self.stopped is None and len(workers) < self.options.concurrency
                ):
                    workers.add(asyncio.create_task(self._pay(self.work.popleft())))
                free = self.options.concurrency - len(polls)
                for watch in self.monitor.take_due(limit=max(0, free)):
                    polls.add(asyncio.create_task(self.monitor.poll(watch)))
                now = self.ledger.clock()
                idle = not workers and (not self.work or self.stopped is not None)
                if idle and deadline is None:
                    deadline = now + timedelta(seconds=self.options.wait)
                if idle and not polls and (not self.monitor.watches or now >= (deadline or now)):
                    return
                timeout: float | None = None
                next_due = self.monitor.next_due()
                if next_due is not None:
                    timeout = max(0.0, (next_due - now).total_seconds())
                if idle and deadline is not None:
                    left = max(0.0, (deadline - now).total_seconds())
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
        margin = timedelta(seconds=self.options.monitor.session_margin)
        # Read once: each step below returns the row as its transition left it (the ledger
        # checks the state each transition starts from, so a stale copy cannot slip through).
        row = self.ledger.row(row_id)
        assert row is not None
        try:
            for _ in range(MAX_STEPS):
                if self.stopped is not None:
                    return
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
                    margin = timedelta(0)
                elif action is Action.OPEN_SESSION:
                    row = await self._open_session(row)
                    # Just opened: submit now, however short the session's life (no margin).
                    margin = timedelta(0)
                elif action is Action.SUBMIT:
                    await self._submit(row)
                    return
                else:
                    return
            self.say(f"row {row_id}: its session keeps expiring before submit; left for later")
        except (errors.ForbiddenError, errors.AuthError) as exc:
            self.stop(f"{type(exc).__name__}: {exc}")
        except errors.ApiError as exc:
            if isinstance(exc, errors.Transient):
                # Still failing after the client's retries: leave the row for the next run.
                self.deferrals += 1
                self.say(f"row {row_id}: deferred ({type(exc).__name__}: {exc})")
                if self.deferrals >= MAX_DEFERRALS:
                    self.stop(f"the API keeps failing ({type(exc).__name__}: {exc})")
                return
            row = self.ledger.row(row_id)
            assert row is not None
            if row.state in (RowState.NEW, RowState.RECIPIENT_READY, RowState.SESSION_OPEN):
                self.ledger.mark_failed(
                    row.id,
                    row.current_reference_id,
                    reason=f"{type(exc).__name__}: {exc}",
                )

    async def _recipient_account(self, row: RowRecord) -> int:
        """The recipient's payout account id (one setup per phone at a time)."""
        assert row.phone is not None
        async with self._recipient_locks[row.phone]:
            return await ensure_recipient(
                self.ledger, self.api, row, relationship_type=self.options.relationship_type
            )

    async def _open_session(
        self, row: RowRecord, *, account: int | None = None, recipient_ready: bool = False
    ) -> RowRecord:
        """Open a payout session; `recipient_ready`: mark RECIPIENT_READY in the same commit.

        Returns the row as SESSION_OPEN with its attempt's new session.
        """
        assert row.amount is not None and row.currency is not None
        assert row.current_reference_id is not None
        if account is None:
            account = await self._recipient_account(row)
        session = await self.api.create_payout_session(
            payout_account_id=account, amount=row.amount, currency=row.currency
        )
        expires_at = session.expires_by_our_clock(self.ledger.clock())  # clocks differ
        self.ledger.mark_session_open(
            row.id,
            row.current_reference_id,
            session_id=session.id,
            wallet_id=session.wallet_id,
            expires_at=expires_at,
            payout_account_id=account,
            recipient_ready=recipient_ready,
            seen=row,
        )
        return row.moved(
            RowState.SESSION_OPEN,
            session_id=session.id,
            wallet_id=session.wallet_id,
            session_expires_at=expires_at,
            payout_account_id=account,
        )

    async def _submit(self, row: RowRecord) -> None:
        attempt = row.current_attempt
        reference_id = row.current_reference_id
        assert attempt is not None and reference_id is not None
        assert attempt.session_id is not None and attempt.payout_account_id is not None
        await self.gate.commit(row.id, reference_id)  # durable before the request leaves
        await self._send(
            row.moved(RowState.SUBMITTING),
            attempt.session_id,
            attempt.payout_account_id,
            reference_id,
        )

    def _adopt_existing(
        self, row: RowRecord, reference_id: str, exc: errors.ApiValidationError
    ) -> None:
        """Execute said "duplicate reference_id": adopt that execution, settle it by status
        (issue 11). It keeps its reference_id while merely not found (SUBMITTED)."""
        self.ledger.mark_adopting(row.id, reference_id, reason=f"{REJECTED} (422): {exc}")
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
        assert attempt.session_id is not None and attempt.payout_account_id is not None
        self.ledger.mark_resending(
            row.id, reference_id, resends=attempt.resends + 1, run_session=self.gate.run_session
        )
        self.say(f"row {row.id}: status says not found; re-sending reference_id {reference_id}")
        await self._send(
            row.moved(RowState.SUBMITTING, resends=attempt.resends + 1),
            attempt.session_id,
            attempt.payout_account_id,
            reference_id,
            resend=True,
        )
        return True

    async def _send(
        self,
        row: RowRecord,
        session_id: int,
        payout_account_id: int,
        reference_id: str,
        *,
        resend: bool = False,
    ) -> None:
        """The execute request of a row already SUBMITTING, and what its answer decides."""
        assert row.state is RowState.SUBMITTING
        self.submitted += 1
        try:
            execution = await self.api.execute_payout(
                session_id=session_id,
                payout_account_id=payout_account_id,
                reference_id=reference_id,
            )
        except errors.ApiValidationError as exc:
            if is_duplicate_reference(exc):  # issue 11: the API holds this id; follow it
                self._adopt_existing(row, reference_id, exc)
                return
            # Rejected, probably nothing moved; confirm by status before any new attempt.
            self.ledger.mark_unknown(row.id, reference_id, reason=f"{REJECTED} (422): {exc}")
            self.monitor.watch(row.id, after=self.options.monitor.first_poll)
        except errors.RateLimitedError as exc:
            # Probably not processed (REFERENCE §4.2): status is asked once Retry-After has
            # passed (the throttle holds every request until then), and if not found the
            # same reference_id is sent again at once.
            self.ledger.mark_unknown(row.id, reference_id, reason=f"{THROTTLED} (429): {exc}")
            self.monitor.watch(row.id)
        except errors.ApiError as exc:
            self.ledger.mark_unknown(
                row.id, reference_id, reason=f"ambiguous: {type(exc).__name__}: {exc}"
            )
            self.monitor.watch(row.id, after=self.options.monitor.first_poll)
            if isinstance(exc, errors.ForbiddenError | errors.AuthError):
                self.stop(f"{type(exc).__name__}: {exc}")
        else:
            if resend and execution.is_failed:
                # The first send may have landed unseen, and an API may answer a repeat with
                # "session already executed": only status, by reference_id, may say FAILED.
                self.ledger.mark_unknown(
                    row.id, reference_id,
                    reason=f"resend answered FAILED ({execution.gateway_message or ''}); "
                    "confirming by status",
                )
                self.monitor.watch(row.id, after=self.options.monitor.first_poll)
                return
            self.monitor.apply(row, reference_id, execution, polls=0)
