"""The runner and the monitor on an in-process fake API with a virtual clock: no sleeping.

Most tests drive the engine through `FakeApi`, a small `Operation` (batch/engine/operation.py)
that keeps its own record of executions by reference_id, as the real API does: an execute
with a reference_id it holds is answered with that execution, never paid again. "Paid once"
is judged from that record. The 429 test uses the real client (Retry-After, throttle) against
tests/fake_dollr.py over httpx.MockTransport. Every ledger is a real SQLite file in tmp_path.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from batch import errors
from batch.dollr.models import Execution
from batch.engine.operation import Answer
from batch.engine.outcome import RunResult
from batch.engine.runner import Runner
from batch.engine.states import (
    PAYOUT,
    AttemptOutcome,
    ExecuteOutcome,
    OperationKind,
    RowState,
)
from batch.ledger import Ledger, NewRow, RowRecord
from batch.operations.payout import PayoutOperation
from batch.options import MonitorOptions, RunOptions
from tests.fake_dollr import FakeDollr, VirtualClock, make_client

EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # the ledger's time at the virtual clock's start
CLOCK_START = 1000.0


# -- the fake API ------------------------------------------------------------------------------


@dataclass
class Call:
    """One call the engine made, and the virtual second it was made at."""

    name: str  # prepare | open_session | execute | status
    row_id: int | None
    reference_id: str | None
    session_id: int | None
    at: float


@dataclass
class Paid:
    """An execution the fake API holds (its money moved, unless it ends FAILED)."""

    reference_id: str
    row_id: int
    session_id: int
    at: float
    final: str  # COMPLETED | FAILED | PROCESSING (never finishes)
    visible_at: float  # status answers 404 before this (REFERENCE §4.3)


@dataclass
class FakeSession:
    id: int
    wallet_id: int | None
    life: float

    def expires_by_our_clock(self, received_at: datetime) -> datetime:
        return received_at + timedelta(seconds=self.life)


LOST = "lost"  # execute: the work is done, the answer never arrives
UNSENT = "unsent"  # execute: the request never arrives (a connection error all the same)
HELD_BUT_REJECTED = "held"  # execute: the work is done, yet the answer is a 422


@dataclass
class FakeApi:
    """An `Operation` over an in-memory API; scripts say how a row's next call goes."""

    clock: VirtualClock
    session_life: float = 900.0
    visibility_delay: float = 0.0
    kind: OperationKind = OperationKind.PAYOUT
    operation_type: str = PAYOUT
    monitor_defaults: MonitorOptions = field(default_factory=MonitorOptions)
    calls: list[Call] = field(default_factory=list)
    executions: dict[str, Paid] = field(default_factory=dict)
    sessions: dict[int, float] = field(default_factory=dict)  # id -> expiry (virtual s)
    rows_of: dict[str, int] = field(default_factory=dict)  # reference_id -> row, once sent
    # row id -> what its next calls do: LOST, UNSENT, or an exception to raise (no work)
    execute_script: defaultdict[int, list[str | Exception]] = field(
        default_factory=lambda: defaultdict(list)
    )
    session_script: defaultdict[int, list[Exception]] = field(
        default_factory=lambda: defaultdict(list)
    )
    finals: defaultdict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    latency: float = 0.0  # virtual seconds each call takes
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(5001))

    async def _answer_time(self) -> None:
        await (self.clock.sleep(self.latency) if self.latency else asyncio.sleep(0))

    def _log(self, name: str, row_id: int | None, ref: str | None, session: int | None) -> None:
        self.calls.append(Call(name, row_id, ref, session, self.clock.now))

    def of(self, name: str, *, row_id: int | None = None, ref: str | None = None) -> list[Call]:
        return [
            c for c in self.calls
            if c.name == name and row_id in (None, c.row_id) and ref in (None, c.reference_id)
        ]

    def land(self, row_id: int, ref: str, session_id: int, final: str = "COMPLETED") -> None:
        """An execution that reached the API earlier (before this run)."""
        self.executions[ref] = Paid(ref, row_id, session_id, self.clock.now, final, 0.0)
        self.rows_of[ref] = row_id

    def paid(self, row_id: int) -> list[Paid]:
        """This row's executions that moved money (COMPLETED)."""
        return [p for p in self.executions.values() if p.row_id == row_id
                and p.final == "COMPLETED"]

    # -- Operation ---------------------------------------------------------------------------

    async def prepare(self, row: RowRecord) -> int:
        self._log("prepare", row.id, None, None)
        await self._answer_time()
        return 900 + row.id

    async def open_session(self, row: RowRecord, account_id: int) -> FakeSession:
        self._log("open_session", row.id, row.current_reference_id, None)
        await self._answer_time()
        if self.session_script[row.id]:
            raise self.session_script[row.id].pop(0)
        session = FakeSession(next(self._ids), 1, self.session_life)
        self.sessions[session.id] = self.clock.now + self.session_life
        return session

    async def execute(
        self, row: RowRecord, *, session_id: int, account_id: int, reference_id: str
    ) -> Answer:
        self._log("execute", row.id, reference_id, session_id)
        self.rows_of[reference_id] = row.id
        await self._answer_time()
        script = self.execute_script[row.id]
        step = script.pop(0) if script else None
        if isinstance(step, Exception):
            raise step
        if step == UNSENT:
            raise errors.NetworkError("POST /v1/executions/payout: no answer (ConnectError)")
        held = self.executions.get(reference_id)
        if held is None:  # one execution per reference_id: only a new one moves money
            if self.clock.now >= self.sessions.get(session_id, 0.0):
                raise errors.ApiValidationError(f"session {session_id} expired or unknown")
            final = self.finals[row.id].pop(0) if self.finals[row.id] else "COMPLETED"
            held = Paid(reference_id, row.id, session_id, self.clock.now, final,
                        self.clock.now + self.visibility_delay)
            self.executions[reference_id] = held
        if step == LOST:
            raise errors.NetworkError("POST /v1/executions/payout: no answer (ReadTimeout)")
        if step == HELD_BUT_REJECTED:
            raise errors.ApiValidationError("session already executed")
        return answer("PROCESSING" if held.final != "FAILED" else "FAILED")

    async def status(self, reference_id: str) -> Answer:
        held = self.executions.get(reference_id)
        self._log("status", self.rows_of.get(reference_id), reference_id, None)
        await self._answer_time()
        if held is None or self.clock.now < held.visible_at:
            raise errors.NotFoundError(f"no payout with reference_id {reference_id}")
        return answer(held.final)

    def stop_reason(self, answer: Answer) -> str | None:
        return f"wallet: {answer.wallet_message}" if answer.wallet_message else None

    async def after_final(self, row_id: int, reference_id: str, answer: Answer) -> None:
        return None


def answer(status: str) -> Execution:
    return Execution.model_construct(
        status=status, reference_id=None, payer_amount=Decimal("10.60"), payer_currency="USD",
        payee_amount=Decimal("10.50"), payee_currency="USD",
        provider_transaction_id="tx-1" if status == "COMPLETED" else None,
        gateway_message="operator refused" if status == "FAILED" else None,
        wallet_message=None,
    )


# -- helpers -----------------------------------------------------------------------------------




def plan(ledger: Ledger, n: int) -> list[RowRecord]:
    batch_id = ledger.create_batch(
        name="b", source_file="b.csv", content_hash="h", payout_set_hash="p",
        rows=[
            NewRow(sheet_row=2 + i, name=f"P{i}", phone=f"2317701{i:05d}", amount_minor=1050,
                   currency="USD", country="LR", reference_id=str(uuid.uuid4()),
                   method="MTN_MOMO_LBR", provider="PAWAPAY")
            for i in range(n)
        ],
    )
    return ledger.rows(batch_id)


def run(
    ledger: Ledger, api: FakeApi | PayoutOperation, batch_id: int, clock: VirtualClock,
    **options: object,
) -> RunResult:
    monitor = options.pop("monitor", MonitorOptions())
    runner = Runner(
        ledger, api, batch_id, RunOptions(monitor=monitor, **options),  # type: ignore[arg-type]
        sleep=clock.sleep, monotonic=clock,
    )
    return asyncio.run(runner.run())


def row_of(ledger: Ledger, row_id: int) -> RowRecord:
    row = ledger.row(row_id)
    assert row is not None
    return row


def open_session(ledger: Ledger, api: FakeApi, row: RowRecord, life: float) -> int:
    """Leave a row SESSION_OPEN as a previous run would, with a session the API knows."""
    session_id = next(api._ids)
    api.sessions[session_id] = api.clock.now + life
    ledger.mark_session_open(
        row.id, row.current_reference_id or "", session_id=session_id, wallet_id=1,
        expires_at=ledger.clock() + timedelta(seconds=life), account_id=900 + row.id,
        recipient_ready=True,
    )
    return session_id


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=CLOCK_START)


@pytest.fixture
def ledger(tmp_path: Path, clock: VirtualClock) -> Iterator[Ledger]:
    """A real ledger file whose clock is the virtual one."""
    with Ledger(
        tmp_path / "l.db", clock=lambda: EPOCH + timedelta(seconds=clock.now - CLOCK_START)
    ) as ledger:
        yield ledger


# -- the tests ---------------------------------------------------------------------------------


def test_rows_left_in_flight_are_settled_before_any_new_row_starts(
    ledger: Ledger, clock: VirtualClock
) -> None:
    api = FakeApi(clock)
    submitting, unknown, submitted, *new = plan(ledger, 5)
    for row in (submitting, unknown, submitted):  # a previous run sent these, then died
        ref = row.current_reference_id or ""
        api.land(row.id, ref, open_session(ledger, api, row, 900))
        ledger.mark_submitting([(row.id, ref)])
    ledger.mark_unknown(unknown.id, unknown.current_reference_id or "",
                        outcome=ExecuteOutcome.AMBIGUOUS, reason="ambiguous: lost")
    ledger.mark_submitted(submitted.id, submitted.current_reference_id or "", answer("PENDING"))

    result = run(ledger, api, submitting.batch_id, clock, concurrency=8)

    in_flight = {submitting.id, unknown.id, submitted.id}
    first_new = min(i for i, c in enumerate(api.calls) if c.row_id in {r.id for r in new})
    resumed = [i for i, c in enumerate(api.calls) if c.name == "status" and c.row_id in in_flight]
    assert len(resumed) == 3 and max(resumed) < first_new, api.calls
    assert result.counts == {"COMPLETED": 5}
    for row_id in in_flight:  # settled by status, never sent again
        assert api.of("execute", row_id=row_id) == []
        assert len(row_of(ledger, row_id).attempts) == 1
    attempt = row_of(ledger, submitting.id).current_attempt
    assert attempt is not None and attempt.execute_outcome is ExecuteOutcome.AMBIGUOUS
    assert all(len(api.paid(r.id)) == 1 for r in (submitting, unknown, submitted, *new))


def test_routine_polls_give_way_to_rows_still_to_send(ledger: Ledger, clock: VirtualClock) -> None:
    """The API's rate is shared: polls of accepted rows wait while rows are on their way to
    execute, so they fill the end of the run instead of leaving it idle (issue 15)."""
    api = FakeApi(clock, latency=0.25)
    rows = plan(ledger, 12)  # 12 rows x 3 calls / 2 workers: 4.5 s of sending

    result = run(ledger, api, rows[0].batch_id, clock, concurrency=2,
                 monitor=MonitorOptions(first_poll=0.5))

    assert result.counts == {"COMPLETED": 12}
    assert min(c.at for c in api.of("status")) >= max(c.at for c in api.of("execute"))
    assert all(len(api.paid(r.id)) == 1 for r in rows)


def test_a_routine_poll_gives_way_for_a_bounded_time(ledger: Ledger, clock: VirtualClock) -> None:
    """Sending for longer than POLL_GIVE_WAY: each row is still polled at most that late."""
    from batch.engine.runner import POLL_GIVE_WAY

    api = FakeApi(clock, latency=0.1)
    rows = plan(ledger, 120)  # 120 rows x 3 calls, one at a time: 36 s of sending

    result = run(ledger, api, rows[0].batch_id, clock, concurrency=1,
                 monitor=MonitorOptions(first_poll=0.5))

    assert result.counts == {"COMPLETED": 120}
    last_execute = max(c.at for c in api.of("execute"))
    assert min(c.at for c in api.of("status")) < last_execute  # not all held to the end
    for row in rows:
        executed = api.of("execute", row_id=row.id)[0].at
        polled = api.of("status", row_id=row.id)[0].at
        assert polled - executed <= 0.1 + 0.5 + POLL_GIVE_WAY + 0.5  # answer, due, lag, a turn


def test_a_row_in_doubt_is_polled_without_giving_way(ledger: Ledger, clock: VirtualClock) -> None:
    """An execute whose answer was lost (UNKNOWN) has resend deadlines: its poll never waits
    for the rows still to send."""
    api = FakeApi(clock, latency=0.25)
    lost, *rest = plan(ledger, 12)
    api.execute_script[lost.id] = [LOST]

    result = run(ledger, api, lost.batch_id, clock, concurrency=2,
                 monitor=MonitorOptions(first_poll=0.5))

    assert result.counts == {"COMPLETED": 12}
    assert api.of("status", row_id=lost.id)[0].at < max(c.at for c in api.of("execute"))
    assert len(api.paid(lost.id)) == 1


@pytest.mark.parametrize("final", ["COMPLETED", "FAILED"])
def test_an_ambiguous_execute_goes_unknown_and_is_settled_by_status(
    ledger: Ledger, clock: VirtualClock, final: str
) -> None:
    api = FakeApi(clock)
    (row,) = plan(ledger, 1)
    api.execute_script[row.id] = [LOST]
    api.finals[row.id] = [final]

    result = run(ledger, api, row.batch_id, clock)

    ref = row.current_reference_id
    (execute,) = api.of("execute")
    statuses = api.of("status")
    assert execute.reference_id == ref and statuses
    assert all(s.reference_id == ref for s in statuses)
    assert statuses[0].at >= execute.at + MonitorOptions().first_poll
    assert result.counts == {final: 1}
    settled = row_of(ledger, row.id)
    assert len(settled.attempts) == 1 and settled.current_attempt is not None
    assert settled.current_attempt.execute_outcome is ExecuteOutcome.AMBIGUOUS
    assert (settled.current_attempt.execute_error or "").startswith("ambiguous")
    moves = [e.to_state for e in ledger.events(row.batch_id, row_id=row.id)]
    assert moves[-3:] == ["SUBMITTING", "UNKNOWN", final]
    assert len(api.executions) == 1


def test_not_found_is_trusted_only_after_the_grace_then_the_same_id_again(
    ledger: Ledger, clock: VirtualClock
) -> None:
    api = FakeApi(clock, session_life=60.0)
    (row,) = plan(ledger, 1)
    first_ref = row.current_reference_id
    api.execute_script[row.id] = [UNSENT]  # never reached the API: status says 404
    options = MonitorOptions(max_resends=0)  # no resend: the grace alone decides
    grace = options.not_found_grace

    # A run that ends before the grace: every 404 leaves the row UNKNOWN, one attempt.
    early = run(ledger, api, row.batch_id, clock, wait=200.0, monitor=options)
    (sent,) = api.of("execute")
    trusted_from = sent.at + api.session_life + grace  # the session's expiry, then the grace
    assert early.counts == {"UNKNOWN": 1}
    assert len(api.of("status", ref=first_ref)) >= 3
    assert all(c.at < trusted_from for c in api.calls)
    assert len(row_of(ledger, row.id).attempts) == 1

    # The next run goes on polling; the first 404 after the grace sends the SAME reference_id
    # again on a fresh session (issue 11: a send that landed would answer "duplicate"); a new
    # reference_id only ever follows a confirmed FAILED.
    late = run(ledger, api, row.batch_id, clock, wait=600.0, monitor=options)
    assert late.counts == {"COMPLETED": 1}
    settled = row_of(ledger, row.id)
    (only,) = settled.attempts
    assert only.reference_id == first_ref and only.outcome is AttemptOutcome.COMPLETED
    assert only.fresh_sends == 1
    not_found = [c for c in api.of("status", ref=first_ref) if c.at >= trusted_from]
    first_send, again = api.of("execute", ref=first_ref)
    assert not_found and again.at >= trusted_from and again.session_id != first_send.session_id
    restarted = [c for c in api.calls[api.calls.index(sent) + 1:] if c.name == "open_session"]
    assert restarted and all(c.at >= trusted_from for c in restarted)
    assert len(api.paid(row.id)) == 1


def test_a_fresh_send_our_crash_interrupted_does_not_use_up_the_limit(
    ledger: Ledger, clock: VirtualClock
) -> None:
    """A run died in the row's last allowed fresh send (SUBMITTING, the request never left):
    the kill says nothing about the API, so the row is sent again once "not found" is
    trusted, with the same reference_id, instead of staying UNKNOWN for a person."""
    from batch.engine.adoption import MAX_FRESH_SENDS

    api = FakeApi(clock, session_life=60.0)
    (row,) = plan(ledger, 1)
    ref = row.current_reference_id or ""
    open_session(ledger, api, row, 60.0)
    ledger.mark_submitting([(row.id, ref)])
    ledger.mark_unknown(row.id, ref, outcome=ExecuteOutcome.AMBIGUOUS, reason="lost")
    ledger.mark_fresh_resend(row.id, ref, fresh_sends=MAX_FRESH_SENDS)  # the last one...
    open_session(ledger, api, row_of(ledger, row.id), 60.0)
    ledger.mark_submitting([(row.id, ref)])  # ...and the process was killed right here
    options = MonitorOptions(max_resends=0)

    result = run(ledger, api, row.batch_id, clock, wait=600.0, monitor=options)

    assert result.counts == {"COMPLETED": 1}
    (only,) = row_of(ledger, row.id).attempts
    assert only.reference_id == ref and only.fresh_sends == MAX_FRESH_SENDS
    assert [c.reference_id for c in api.of("execute")] == [ref]
    assert len(api.paid(row.id)) == 1


@pytest.mark.parametrize("landed", [True, False], ids=["first-send-landed", "never-arrived"])
def test_a_resend_after_not_found_uses_the_same_reference_id(
    ledger: Ledger, clock: VirtualClock, landed: bool
) -> None:
    # A landed execution stays invisible to status for a minute (REFERENCE §4.3).
    api = FakeApi(clock, visibility_delay=60.0 if landed else 0.0)
    (row,) = plan(ledger, 1)
    ref = row.current_reference_id
    api.execute_script[row.id] = [LOST if landed else UNSENT]

    result = run(ledger, api, row.batch_id, clock)

    first, resend = api.of("execute")
    assert first.reference_id == resend.reference_id == ref
    assert first.session_id == resend.session_id
    assert resend.at >= first.at + MonitorOptions().resend_grace
    assert api.of("status", ref=ref)[0].at < resend.at  # status said not found first
    assert result.counts == {"COMPLETED": 1}
    settled = row_of(ledger, row.id)
    assert len(settled.attempts) == 1 and settled.attempts[0].resends == 1
    assert list(api.executions) == [ref] and len(api.paid(row.id)) == 1


def test_a_new_attempt_only_after_the_earlier_one_is_confirmed_failed(
    ledger: Ledger, clock: VirtualClock
) -> None:
    api = FakeApi(clock)
    refused, stuck = plan(ledger, 2)
    api.execute_script[refused.id] = [LOST]
    api.finals[refused.id] = ["FAILED", "COMPLETED"]
    api.finals[stuck.id] = ["PROCESSING"]  # never finishes

    first = run(ledger, api, refused.batch_id, clock, wait=3600.0)
    # FAILED by status: no new attempt without --retry-failed; PROCESSING for an hour: none.
    assert first.counts == {"FAILED": 1, "SUBMITTED": 1}
    assert len(row_of(ledger, refused.id).attempts) == 1
    assert len(row_of(ledger, stuck.id).attempts) == 1

    second = run(ledger, api, refused.batch_id, clock, wait=3600.0, retry_failed=True)
    assert second.counts == {"COMPLETED": 1, "SUBMITTED": 1}
    old, new = row_of(ledger, refused.id).attempts
    assert old.outcome is AttemptOutcome.FAILED and new.outcome is AttemptOutcome.COMPLETED
    assert new.previous_reference_id == old.reference_id != new.reference_id
    confirmed = max(i for i, c in enumerate(api.calls)
                    if c.name == "status" and c.reference_id == old.reference_id)
    started = min(i for i, c in enumerate(api.calls)
                  if c.row_id == refused.id and c.reference_id == new.reference_id)
    assert confirmed < started
    assert len(row_of(ledger, stuck.id).attempts) == 1  # in flight: never a second id
    assert api.of("execute", row_id=stuck.id)[0].reference_id == stuck.current_reference_id
    assert len(api.of("execute", row_id=stuck.id)) == 1
    assert len(api.paid(refused.id)) == 1


def test_an_expired_session_is_renewed_before_submit(ledger: Ledger, clock: VirtualClock) -> None:
    api = FakeApi(clock)
    expired, closing, fresh = plan(ledger, 3)
    old = {
        expired.id: open_session(ledger, api, expired, 60.0),
        closing.id: open_session(ledger, api, closing, 123.0),  # 3 s left: under the margin
        fresh.id: open_session(ledger, api, fresh, 900.0),
    }
    clock.advance(120.0)  # the run that opened them died; this one starts two minutes later

    result = run(ledger, api, expired.batch_id, clock)

    assert result.counts == {"COMPLETED": 3}
    for row in (expired, closing):
        (renewed,) = api.of("open_session", row_id=row.id)
        (sent,) = api.of("execute", row_id=row.id)
        assert api.calls.index(renewed) < api.calls.index(sent)
        assert sent.session_id != old[row.id]
        attempt = row_of(ledger, row.id).current_attempt
        assert attempt is not None and attempt.session_id == sent.session_id
    assert api.of("open_session", row_id=fresh.id) == []
    assert api.of("execute", row_id=fresh.id)[0].session_id == old[fresh.id]
    assert all(len(api.paid(r.id)) == 1 for r in (expired, closing, fresh))


@pytest.mark.parametrize("where", ["open_session", "execute"])
@pytest.mark.parametrize(
    "error", [errors.ForbiddenError("403 forbidden"), errors.AuthError("401 not authorized")],
    ids=["forbidden", "auth"],
)
def test_a_forbidden_or_auth_error_stops_new_rows_and_sent_rows_are_still_settled(
    ledger: Ledger, clock: VirtualClock, where: str, error: errors.ApiError
) -> None:
    api = FakeApi(clock)
    sent, refused, *rest = plan(ledger, 6)
    if where == "execute":
        api.execute_script[refused.id] = [error]
    else:
        api.session_script[refused.id] = [error]

    result = run(ledger, api, sent.batch_id, clock, concurrency=1)

    assert result.stopped is not None and type(error).__name__ in result.stopped
    assert all(c.row_id in (sent.id, refused.id) for c in api.calls)  # nothing new started
    assert {row_of(ledger, r.id).state for r in rest} == {RowState.NEW}
    stop_at = (api.of(where, row_id=refused.id))[0].at
    (settling,) = api.of("status", row_id=sent.id)
    assert settling.at > stop_at and row_of(ledger, sent.id).state is RowState.COMPLETED
    after = row_of(ledger, refused.id)
    if where == "execute":
        # Refused at the gate (REFERENCE §4.2), nothing processed: back in its session with
        # the same reference_id (a later send of it cannot pay twice), not in flight.
        assert after.state is RowState.SESSION_OPEN
        assert len(api.of("execute", row_id=refused.id)) == 1
        assert after.current_reference_id == refused.current_reference_id
        assert len(after.attempts) == 1 and after.current_attempt is not None
        assert after.current_attempt.execute_outcome is None
    else:  # nothing sent: left for the next run, not FAILED
        assert after.state is RowState.NEW and api.of("execute", row_id=refused.id) == []
    assert result.exit_code == 4
    assert len(api.paid(sent.id)) == 1 and sum(len(api.paid(r.id)) for r in rest) == 0


# -- 429 through the real client -------------------------------------------------------------


class RecordingDollr(FakeDollr):
    """FakeDollr holding one execution per reference_id, with the virtual time of each request."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(clock=clock)
        self.executions: dict[str, float] = {}  # reference_id -> when it was executed
        self.log: list[tuple[str, float, str | None]] = []  # route, time, reference_id

    def _answer(self, request: httpx.Request) -> httpx.Response:
        route = f"{request.method} {request.url.path}"
        ref = None
        if route == "POST /v1/executions/payout":
            ref = json.loads(request.content)["reference_id"]
        elif route.startswith("GET /v1/status/payout/"):
            ref = route.rsplit("/", 1)[1]
        assert self.clock is not None
        self.log.append((route, self.clock.now, ref))
        response = super()._answer(request)
        if route == "POST /v1/executions/payout" and response.status_code == 200:
            self.executions.setdefault(ref or "", self.clock.now)
        if route.startswith("GET /v1/status/payout/") and ref not in self.executions:
            return httpx.Response(404, json={"detail": "Not Found"})
        return response

    def at(self, prefix: str) -> list[tuple[float, str | None]]:
        return [(t, ref) for route, t, ref in self.log if route.startswith(prefix)]


def test_a_throttled_execute_is_resent_with_its_id_after_retry_after_and_paid_once(
    ledger: Ledger, clock: VirtualClock
) -> None:
    fake = RecordingDollr(clock)
    fake.script("POST /v1/executions/payout", httpx.Response(
        429, headers={"Retry-After": "30"}, json={"detail": "Too many requests"}))
    (row,) = plan(ledger, 1)
    ref = row.current_reference_id

    async def main() -> RunResult:
        async with make_client(fake, clock) as client:
            runner = Runner(ledger, PayoutOperation(ledger, client), row.batch_id,
                            RunOptions(), sleep=clock.sleep)
            return await runner.run()

    result = asyncio.run(main())

    (throttled_at, first_ref), (resent_at, second_ref) = fake.at("POST /v1/executions")
    assert first_ref == second_ref == ref
    assert resent_at >= throttled_at + 30  # Retry-After honoured
    statuses = fake.at("GET /v1/status/payout/")
    assert statuses[0][0] >= throttled_at + 30 and statuses[0][0] <= resent_at
    assert list(fake.executions) == [ref]  # paid once
    assert result.counts == {"COMPLETED": 1}
    settled = row_of(ledger, row.id)
    assert len(settled.attempts) == 1 and settled.attempts[0].resends == 1
    assert settled.attempts[0].execute_outcome is ExecuteOutcome.THROTTLED


def test_a_rejected_execute_that_status_finds_is_adopted_and_recorded(
    ledger: Ledger, clock: VirtualClock
) -> None:
    """A 422 whose send landed after all (issue 11): status shows the execution; the row
    follows it, recorded as adopted, with no second reference_id and one payment."""
    api = FakeApi(clock)
    (row,) = plan(ledger, 1)
    api.execute_script[row.id] = [HELD_BUT_REJECTED]
    result = run(ledger, api, row.batch_id, clock, wait=120.0,
                 monitor=MonitorOptions(first_poll=1.0, max_poll_interval=5.0))
    assert result.counts == {"COMPLETED": 1}
    (attempt,) = row_of(ledger, row.id).attempts
    assert attempt.reference_id == row.current_reference_id
    assert attempt.adopted and attempt.execute_outcome is ExecuteOutcome.REJECTED
    assert len(api.of("execute")) == 1 and len(api.paid(row.id)) == 1
    events = [e.detail or "" for e in ledger.events(row.batch_id)]
    assert any(d.startswith("adopted:") for d in events)
