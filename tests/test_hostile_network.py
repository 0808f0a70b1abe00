"""Hostile networks (issue 12): a server that trickles its answer, an API that keeps failing.

The slow server is a real TCP server on loopback answering one byte at a time; the run-level
tests drive the real Runner on a real ledger with an in-process Operation.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fake_dollr import credentials

from batch import errors
from batch.dollr.client import ApiClient
from batch.dollr.models import Execution, PayoutSession
from batch.engine.health import CallHealth, deferral_delay
from batch.engine.runner import Runner
from batch.engine.states import OperationKind, RowState
from batch.ledger import Ledger, NewRow, RowRecord
from batch.options import MonitorOptions, RunOptions

TOKEN = b'{"access_token": "t", "expires_in": 60}'


@asynccontextmanager
async def trickling_server(byte_every: float) -> AsyncIterator[str]:
    """Answers the token call at once; every other answer one byte every `byte_every` s."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length")), 0)
                await reader.readexactly(length)
                if b"/v1/jwt/" in head.split(b"\r\n")[0]:
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(TOKEN), TOKEN))
                    await writer.drain()
                    continue
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                while True:
                    writer.write(b" ")
                    await writer.drain()
                    await asyncio.sleep(byte_every)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"


def test_an_answer_trickling_past_the_deadline_is_a_lost_answer() -> None:
    """One byte every 0.2 s never trips httpx's per-read timeout; the total deadline ends it."""

    async def scenario() -> float:
        async with trickling_server(0.2) as url:
            async with ApiClient(url, credentials(), deadline=1.0, timeout=30.0) as api:
                began = time.monotonic()
                with pytest.raises(errors.NetworkError) as caught:
                    await api.execute_payout(session_id=1, payout_account_id=2, reference_id="r")
                assert isinstance(caught.value, errors.Transient)  # ambiguous: settle by status
                return time.monotonic() - began

    assert asyncio.run(scenario()) < 5.0


class ScriptedPayouts:
    """An in-process Operation: preparation fails per a script, status may never answer."""

    kind = OperationKind.PAYOUT
    operation_type = "PAYOUT"
    monitor_defaults = MonitorOptions(first_poll=0.0, max_poll_interval=0.05)

    def __init__(self, *, prepare_fails: int = 0, status_hangs: bool = False,
                 execute_error: errors.ApiError | None = None) -> None:
        self.prepare_fails = prepare_fails
        self.status_hangs = status_hangs
        self.execute_error = execute_error
        self.prepares = 0
        self.executed: list[str] = []

    async def prepare(self, row: RowRecord) -> int:
        self.prepares += 1
        if self.prepares <= self.prepare_fails:
            raise errors.ServerError("503 from parties", status=503)
        return 7

    async def open_session(self, row: RowRecord, account_id: int) -> PayoutSession:
        return PayoutSession(id=row.id, wallet_id=1, created_at=datetime.now(UTC),
                             expires_at=datetime.now(UTC) + timedelta(minutes=10))

    async def execute(self, row: RowRecord, *, session_id: int, account_id: int,
                      reference_id: str) -> Execution:
        if self.execute_error is not None:
            raise self.execute_error
        self.executed.append(reference_id)
        return Execution(status="PENDING", reference_id=reference_id)

    async def status(self, reference_id: str) -> Execution:
        if self.status_hangs:
            await asyncio.Event().wait()  # a status call that never ends
        return Execution(status="COMPLETED", reference_id=reference_id)

    def stop_reason(self, answer: object) -> str | None:
        return None

    async def after_final(self, row_id: int, reference_id: str, answer: object) -> None:
        return None


def _batch(ledger: Ledger, rows: int) -> int:
    return ledger.create_batch(
        name="b", source_file="b.csv", content_hash="h", payout_set_hash="p",
        rows=[NewRow(sheet_row=i + 2, name=f"N{i}", phone=f"23177010{i:04d}", amount_minor=1000,
                     currency="USD", country="LR", reference_id=str(uuid.uuid4()))
              for i in range(rows)],
    )


async def _no_sleep(_: float) -> None:
    await asyncio.sleep(0)


def test_a_flaky_api_defers_rows_with_backoff_instead_of_stopping_the_run(tmp_path: Path) -> None:
    """Three failures used to stop a run; now the rows come back after a backoff and pay."""
    ledger = Ledger(tmp_path / "l.db")
    batch_id = _batch(ledger, 5)
    api = ScriptedPayouts(prepare_fails=4)
    options = RunOptions(concurrency=1, wait=5.0)
    started = time.monotonic()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("batch.engine.runner.deferral_delay", lambda n: 0.01)
        result = asyncio.run(Runner(ledger, api, batch_id, options, sleep=_no_sleep).run())
    assert result.stopped is None and result.counts == {"COMPLETED": 5}
    assert len(api.executed) == 5 and time.monotonic() - started < 10


def test_most_calls_failing_stops_the_run_and_says_why(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.db")
    batch_id = _batch(ledger, 12)
    api = ScriptedPayouts(prepare_fails=10_000)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("batch.engine.runner.deferral_delay", lambda n: 0.01)
        result = asyncio.run(Runner(ledger, api, batch_id, RunOptions(concurrency=2, wait=1.0),
                                    sleep=_no_sleep).run())
    assert result.stopped is not None and "of the last" in result.stopped
    assert result.counts == {"NEW": 12} and api.executed == []
    assert result.exit_code == 4


def test_wait_ends_the_run_on_time_even_while_a_status_call_hangs(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.db")
    batch_id = _batch(ledger, 1)
    api = ScriptedPayouts(status_hangs=True)
    began = time.monotonic()
    result = asyncio.run(asyncio.wait_for(
        Runner(ledger, api, batch_id, RunOptions(concurrency=1, wait=0.3)).run(), timeout=10))
    assert time.monotonic() - began < 5
    assert result.counts == {RowState.SUBMITTED.value: 1} and result.exit_code == 4


@pytest.mark.parametrize(("error", "code", "names"), [
    (errors.ForbiddenError("Invalid passcode", status=403), 1, "DOLLR_PASSCODE"),
    (errors.AuthError("token rejected twice", status=401), 1, "DOLLR_CLIENT_SECRET"),
])
def test_a_refusal_at_the_gate_stops_at_once_and_leaves_the_row_unsent(
    tmp_path: Path, error: errors.ApiError, code: int, names: str
) -> None:
    ledger = Ledger(tmp_path / "l.db")
    batch_id = _batch(ledger, 3)
    api = ScriptedPayouts(execute_error=error)
    result = asyncio.run(Runner(ledger, api, batch_id, RunOptions(concurrency=1, wait=30.0),
                                sleep=_no_sleep).run())
    assert result.exit_code == code and result.refused and names in result.refused
    # Not in flight: the refused row is back in its session with the same reference_id.
    assert result.counts == {"SESSION_OPEN": 1, "NEW": 2}
    row = next(r for r in ledger.rows(batch_id) if r.state is RowState.SESSION_OPEN)
    assert len(row.attempts) == 1 and row.attempts[0].submitted_at is not None


@pytest.mark.parametrize(("outcomes", "failing"), [
    ([False] * 9, False),  # too few calls for a verdict
    ([False] * 10, True),
    ([True, False] * 10, False),  # half failing: go on
    ([True] * 4 + [False] * 6, True),
    ([False] * 30 + [True] * 40, False),  # the window forgets old failures
])
def test_call_health(outcomes: list[bool], failing: bool) -> None:
    health = CallHealth()
    for ok in outcomes:
        health.record(ok, None if ok else "ServerError")
    assert health.failing() is failing


@pytest.mark.parametrize(("deferrals", "seconds"), [(1, 1.0), (2, 2.0), (3, 4.0), (9, 30.0)])
def test_deferral_backoff(deferrals: int, seconds: float) -> None:
    assert deferral_delay(deferrals) == seconds

