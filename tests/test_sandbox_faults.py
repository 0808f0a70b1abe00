"""Each fault switch of the sandbox, switched on and observed from a plain httpx client."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from _dollr import client, execution_body, make_account, open_session

from batch.sandbox import ManualClock, SandboxConfig, SandboxHandle, running_sandbox
from batch.sandbox.endpoints import selected

Clocked = tuple[SandboxHandle, ManualClock]


@pytest.fixture
def api(sandbox: SandboxHandle) -> Iterator[httpx.Client]:
    http = client(sandbox.base_url)
    yield http
    http.close()


def test_server_errors_come_before_the_work(api: httpx.Client, sandbox: SandboxHandle) -> None:
    session = open_session(api, make_account(api))
    body = execution_body(session)
    sandbox.set_faults(error_rate=1.0, error_endpoints=["executions.payout"])
    response = api.post("/v1/executions/payout", json=body)
    assert response.status_code in {500, 502, 503}
    assert isinstance(response.json()["detail"], str)
    assert sandbox.executions() == []  # nothing happened
    assert api.get("/v1/parties/list").status_code == 200  # other endpoints untouched
    sandbox.set_faults(error_rate=0.0)
    assert api.post("/v1/executions/payout", json=body).status_code == 200  # session unused
    stats = sandbox.stats()
    assert stats["faults"]["server_error"] == 1
    assert sum(n for code, n in stats["requests"]["executions.payout"].items()
               if code.startswith("5")) == 1


def test_dropped_responses_happen_after_the_work(
    api: httpx.Client, sandbox: SandboxHandle
) -> None:
    body = execution_body(open_session(api, make_account(api)))
    sandbox.set_faults(drop_rate=1.0, drop_endpoints=["executions.*"])
    with pytest.raises(httpx.TransportError):
        api.post("/v1/executions/payout", json=body)
    # the payout exists although its answer was lost; status (not dropped) tells
    assert [e.reference_id for e in sandbox.executions()] == [body["reference_id"]]
    assert api.get(f"/v1/status/payout/{body['reference_id']}").status_code == 200
    stats = sandbox.stats()
    assert stats["faults"]["dropped"] == 1
    assert stats["requests"]["executions.payout"] == {"dropped": 1}


def test_drop_rate_is_a_share(api: httpx.Client, sandbox: SandboxHandle) -> None:
    sandbox.set_faults(drop_rate=0.3, drop_endpoints=["parties.list"])
    dropped = 0
    for _ in range(60):
        try:
            api.get("/v1/parties/list")
        except httpx.TransportError:
            dropped += 1
    assert 5 <= dropped <= 35
    assert sandbox.stats()["faults"]["dropped"] == dropped


def test_rate_limit_answers_429_with_retry_after(clocked_sandbox: Clocked) -> None:
    sandbox, clock = clocked_sandbox
    http = client(sandbox.base_url)
    sandbox.set_faults(rate_limit_rps=3, retry_after_seconds=2)
    codes = [http.get("/v1/parties/list").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    limited = http.get("/v1/parties/list")
    assert limited.headers["retry-after"] == "2" and limited.json() == {
        "detail": "Too Many Requests"}
    clock.advance(1.0)
    assert http.get("/v1/parties/list").status_code == 200
    stats = sandbox.stats()
    assert stats["faults"]["rate_limited"] == 3
    # Arrivals per tenth of a second (for benchmarks): every request, the last a second later.
    timeline = stats["timeline"]
    assert list(timeline) == [str(int(clock.now * 10) - 10), str(int(clock.now * 10))]
    assert timeline[str(int(clock.now * 10))] == 1
    assert sum(timeline.values()) == stats["requests_total"]
    http.close()


def test_rate_limit_can_cover_some_endpoints_only(clocked_sandbox: Clocked) -> None:
    sandbox, _ = clocked_sandbox
    http = client(sandbox.base_url)
    sandbox.set_faults(rate_limit_rps=1, rate_limit_endpoints=["status.*"])
    assert [http.get("/v1/parties/list").status_code for _ in range(3)] == [200] * 3
    assert [http.get("/v1/status/payout/x").status_code for _ in range(2)] == [404, 429]
    http.close()


def test_latency_is_added(api: httpx.Client, sandbox: SandboxHandle) -> None:
    sandbox.set_faults(latency_ms=150, latency_endpoints=["parties.list"])
    started = time.perf_counter()
    api.get("/v1/parties/list")
    assert time.perf_counter() - started >= 0.15
    assert sandbox.stats()["faults"]["latency"] == 1


def test_latency_jitter_stays_in_its_range() -> None:
    asked: list[float] = []

    async def record(seconds: float) -> None:  # injected: no real waiting
        asked.append(seconds)

    with running_sandbox(SandboxConfig(seed=3), sleep=record) as sandbox:
        sandbox.set_faults(latency_ms=100, latency_jitter_ms=50)
        http = client(sandbox.base_url)  # the token request is delayed too
        for _ in range(20):
            http.get("/v1/parties/list")
        http.close()
    assert len(asked) == 21
    assert all(0.1 <= s <= 0.15 for s in asked) and len(set(asked)) > 10


def test_faults_are_switched_over_http_from_anywhere(sandbox: SandboxHandle) -> None:
    url = f"{sandbox.base_url}/_sandbox/faults"
    changed = httpx.post(url, json={"error_rate": 1, "error_endpoints": ["token"]})
    assert changed.status_code == 200 and changed.json()["error_rate"] == 1
    assert httpx.get(url).json()["error_endpoints"] == ["token"]
    token = httpx.post(f"{sandbox.base_url}/v1/jwt/client/obtain/token",
                       json={"client_id": "sandbox", "client_secret": "sandbox-secret"})
    assert token.status_code >= 500


@pytest.mark.parametrize("change", [{"error_rate": 2}, {"no_such_switch": 1}, {"latency_ms": -1},
                                    {"drop_endpoints": ["execution.payout"]}])
def test_bad_fault_changes_are_refused_whole(
    sandbox: SandboxHandle, change: dict[str, object]
) -> None:
    response = httpx.post(f"{sandbox.base_url}/_sandbox/faults", json={"drop_rate": 0.5, **change})
    assert response.status_code == 422
    assert sandbox.faults().drop_rate == 0


@pytest.mark.parametrize(
    ("endpoint", "patterns", "hit"),
    [("executions.payout", ["*"], True), ("executions.payout", ["executions.*"], True),
     ("status.payout", ["executions.*"], False), ("token", ["token", "status.*"], True),
     ("token", [], False)],
)
def test_endpoint_selectors(endpoint: str, patterns: list[str], hit: bool) -> None:
    assert selected(endpoint, patterns) is hit
