"""The sandbox on a state file: restarted, it carries on where it stopped (ids, payouts, wallet)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from batch import errors
from batch.config import Settings
from batch.pipeline import api_endpoint
from batch.sandbox import (
    Faults,
    ManualClock,
    SandboxConfig,
    StateInUseError,
    running_sandbox,
    state_path_for,
)
from tests._dollr import client, execution_body, make_account, open_session

QUICK = Faults(pending_seconds=1.0, processing_seconds=2.0)


def _config(path: Path, **faults: object) -> SandboxConfig:
    return SandboxConfig(state_path=path, faults=QUICK.model_copy(update=faults))


def test_restart_keeps_ids_payouts_and_wallet(tmp_path: Path) -> None:
    state, clock = tmp_path / "sb.db", ManualClock()
    with running_sandbox(_config(state), clock=clock) as sb, closing(client(sb.base_url)) as api:
        instance = sb.instance_id()
        account = make_account(api)
        session = open_session(api, account)
        body = execution_body(session)
        first = api.post("/v1/executions/payout", json=body).json()
        assert first["status"] == "PENDING"
        balances = sb.balances()
    clock.advance(1.5)
    with running_sandbox(_config(state), clock=clock) as sb, closing(client(sb.base_url)) as api:
        assert sb.instance_id() == instance
        ref = body["reference_id"]
        assert api.get(f"/v1/status/payout/{ref}").json()["status"] == "PROCESSING"
        # Idempotent across the restart: the same execution, nothing debited twice.
        again = api.post("/v1/executions/payout", json=body)
        assert again.status_code == 200 and again.json()["reference_id"] == ref
        assert sb.balances() == balances
        other = api.post("/v1/executions/payout", json=execution_body(session))
        assert other.status_code == 422  # the session stays used
        assert make_account(api, "231770000002") > account  # id counters carry on
        clock.advance(2.0)
        assert [e.status for e in sb.executions()] == ["COMPLETED"]
        assert sb.completed_count("231770000001") == 1


def test_failed_payout_refund_survives_restart(tmp_path: Path) -> None:
    state, clock = tmp_path / "sb.db", ManualClock()
    config = _config(state, payout_failure_rate=1.0)
    with running_sandbox(config, clock=clock) as sb, closing(client(sb.base_url)) as api:
        start = sb.balances()["USD"]
        session = open_session(api, make_account(api))
        api.post("/v1/executions/payout", json=execution_body(session)).raise_for_status()
        assert sb.balances()["USD"] != start  # debited while in flight
    clock.advance(5)
    with running_sandbox(config, clock=clock) as sb:
        assert [e.status for e in sb.executions()] == ["FAILED"]
        assert sb.balances()["USD"] == start  # refunded once, after the restart
    with running_sandbox(config, clock=clock) as sb:
        assert sb.balances()["USD"] == start  # and not again


def test_state_file_is_private_and_held_by_one_process(tmp_path: Path) -> None:
    state = tmp_path / "deep" / "sb.db"
    with running_sandbox(SandboxConfig(state_path=state)):
        assert state.stat().st_mode & 0o777 == 0o600
        with pytest.raises(StateInUseError, match="in use"):
            with running_sandbox(SandboxConfig(state_path=state)):
                pass


def test_reset_forgets_the_file_and_changes_instance(tmp_path: Path) -> None:
    config = SandboxConfig(state_path=tmp_path / "sb.db")
    with running_sandbox(config) as sb, closing(client(sb.base_url)) as api:
        before = sb.instance_id()
        make_account(api)
        sb.reset()
        after = sb.instance_id()
    assert after != before
    with running_sandbox(config) as sb, closing(client(sb.base_url)) as api:
        assert sb.instance_id() == after
        assert api.get("/v1/parties/list").json() == []


def test_in_memory_by_default(tmp_path: Path) -> None:
    with running_sandbox() as one, running_sandbox() as two:
        assert one.instance_id() != two.instance_id()
    assert list(tmp_path.iterdir()) == []


def test_embedded_environment_is_stable_per_ledger(tmp_path: Path) -> None:
    def environment(ledger: Path) -> str:
        with api_endpoint(Settings(ledger=ledger), say=lambda _: None) as endpoint:
            assert endpoint.sandbox and endpoint.sandbox_started_at is not None
            return endpoint.environment

    ledger = tmp_path / "a.db"
    first = environment(ledger)
    assert first.startswith("sandbox:") and environment(ledger) == first
    assert state_path_for(ledger).exists()
    assert environment(tmp_path / "b.db") != first


def test_second_embedded_run_on_one_ledger_is_refused(tmp_path: Path) -> None:
    settings = Settings(ledger=tmp_path / "l.db")
    with api_endpoint(settings, say=lambda _: None):
        with pytest.raises(errors.BatchLockedError, match="in use"):
            with api_endpoint(settings, say=lambda _: None):
                pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_work_is_on_disk_before_the_answer_leaves(tmp_path: Path) -> None:
    """`paybatch sandbox --state`: a dropped execute answer, then SIGKILL; the payout stands."""
    state, port = tmp_path / "sb.db", _free_port()
    command = [sys.executable, "-m", "batch", "sandbox", "--port", str(port), "--state",
               str(state), "--drop-rate", "1", "--fault-endpoints", "executions.payout"]
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(f"{base}/_sandbox/health").raise_for_status()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.05)  # waiting for another process to listen: test I/O edge
        with closing(client(base)) as api:
            body = execution_body(open_session(api, make_account(api)))
            with pytest.raises(httpx.TransportError):
                api.post("/v1/executions/payout", json=body)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    with running_sandbox(SandboxConfig(state_path=state)) as sb:
        assert [e.reference_id for e in sb.executions()] == [body["reference_id"]]
