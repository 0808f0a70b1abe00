"""Sandbox behaviour over time: idempotency, expiry, the payout timeline and the wallet."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from _dollr import FEE_PARAMS, client, execution_body, make_account, open_session

from batch.sandbox import ManualClock, SandboxHandle

Clocked = tuple[SandboxHandle, ManualClock]


@pytest.fixture
def api(clocked_sandbox: Clocked) -> Iterator[httpx.Client]:
    http = client(clocked_sandbox[0].base_url)
    yield http
    http.close()


def _execute(api: httpx.Client, body: dict[str, object]) -> httpx.Response:
    return api.post("/v1/executions/payout", json=body)


def test_same_reference_same_session_is_the_same_execution(
    api: httpx.Client, clocked_sandbox: Clocked
) -> None:
    sandbox, clock = clocked_sandbox
    body = execution_body(open_session(api, make_account(api), 25.5))
    first = _execute(api, body).json()
    clock.advance(0.6)  # past PENDING (0.5 s by default)
    again = _execute(api, body)
    assert again.status_code == 200
    assert first["status"] == "PENDING" and again.json()["status"] == "PROCESSING"
    assert {k: v for k, v in again.json().items() if k != "status"} == {
        k: v for k, v in first.items() if k != "status"}
    assert len(sandbox.executions()) == 1
    assert Decimal(sandbox.balances()["USD"]) == Decimal("1000000.00") - Decimal("26.27")


def test_same_reference_with_another_session_is_a_duplicate(api: httpx.Client) -> None:
    account_id = make_account(api)
    body = execution_body(open_session(api, account_id))
    assert _execute(api, body).status_code == 200
    other = execution_body(open_session(api, account_id), reference_id=body["reference_id"])
    response = _execute(api, other)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "reference_id"]
    assert "uplicate" in response.json()["detail"][0]["msg"]


def test_same_reference_with_another_account_is_a_duplicate(api: httpx.Client) -> None:
    body = execution_body(open_session(api, make_account(api)))
    assert _execute(api, body).status_code == 200
    response = _execute(api, {**body, "payout_account_id": "12345"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "reference_id"]


def test_a_used_session_cannot_be_executed_again(api: httpx.Client) -> None:
    session = open_session(api, make_account(api))
    assert _execute(api, execution_body(session)).status_code == 200
    response = _execute(api, execution_body(session))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "session_id"]
    assert "already" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize(("lifetime", "wait", "ok"), [(900, 899, True), (900, 900, False),
                                                     (5, 4.9, True), (5, 5, False)])
def test_sessions_expire(
    api: httpx.Client, clocked_sandbox: Clocked, lifetime: float, wait: float, ok: bool
) -> None:
    sandbox, clock = clocked_sandbox
    sandbox.set_faults(session_lifetime_seconds=lifetime)
    session = open_session(api, make_account(api))
    clock.advance(wait)
    response = _execute(api, execution_body(session))
    assert (response.status_code == 200) is ok
    if not ok:
        assert response.json()["detail"][0]["msg"] == "Session has expired"
        assert sandbox.executions() == []


def test_tokens_expire_after_the_announced_minutes(
    api: httpx.Client, clocked_sandbox: Clocked
) -> None:
    clock = clocked_sandbox[1]
    clock.advance(3599)
    assert api.get("/v1/parties/list").status_code == 200
    clock.advance(1)
    response = api.get("/v1/parties/list")
    assert response.status_code == 401
    assert response.json() == {"detail": "Could not validate credentials"}


def test_token_lifetime_switch_kills_tokens_sooner_than_announced(
    clocked_sandbox: Clocked,
) -> None:
    sandbox, clock = clocked_sandbox
    sandbox.set_faults(token_lifetime_seconds=5, token_expires_in_minutes=60)
    http = client(sandbox.base_url, authorized=False)
    issued = http.post("/v1/jwt/client/obtain/token", json={
        "client_id": "sandbox", "client_secret": "sandbox-secret"}).json()
    assert issued["expires_in"] == 60
    headers = {"Authorization": f"Bearer {issued['access_token']}"}
    assert http.get("/v1/parties/list", headers=headers).status_code == 200
    clock.advance(5)
    assert http.get("/v1/parties/list", headers=headers).status_code == 401
    http.close()


def test_payout_timeline(api: httpx.Client, clocked_sandbox: Clocked) -> None:
    sandbox, clock = clocked_sandbox
    sandbox.set_faults(pending_seconds=2, processing_seconds=30)
    body = execution_body(open_session(api, make_account(api)))
    seen = [_execute(api, body).json()]
    for step in (1.9, 0.1, 29.9, 0.1, 100):
        clock.advance(step)
        seen.append(api.get(f"/v1/status/payout/{body['reference_id']}").json())
    assert [s["status"] for s in seen] == [
        "PENDING", "PENDING", "PROCESSING", "PROCESSING", "COMPLETED", "COMPLETED"]
    assert [s["provider_transaction_id"] is not None for s in seen] == [False] * 4 + [True] * 2
    assert sandbox.completed_count("231770000001") == 1


def test_failure_rate_fails_payouts_and_returns_the_money(
    api: httpx.Client, clocked_sandbox: Clocked
) -> None:
    sandbox, clock = clocked_sandbox
    sandbox.set_faults(payout_failure_rate=1.0)
    body = execution_body(open_session(api, make_account(api), 100))
    assert _execute(api, body).json()["status"] == "PENDING"
    assert Decimal(sandbox.balances()["USD"]) < Decimal("1000000")  # held while in flight
    clock.advance(10)
    status = api.get(f"/v1/status/payout/{body['reference_id']}").json()
    assert status["status"] == "FAILED" and status["gateway_message"]
    assert status["provider_transaction_id"] is None
    assert Decimal(sandbox.balances()["USD"]) == Decimal("1000000.00")
    assert sandbox.stats()["faults"]["payout_failure"] == 1
    assert sandbox.recipients() == {"231770000001": {"FAILED": 1}}


def test_failure_outcomes_replay_with_the_seed(api: httpx.Client, clocked_sandbox: Clocked) -> None:
    sandbox, clock = clocked_sandbox
    refs = [str(uuid.UUID(int=n, version=4)) for n in range(1, 41)]

    def outcomes() -> list[str]:
        sandbox.set_faults(payout_failure_rate=0.5, pending_seconds=0, processing_seconds=0)
        http = client(sandbox.base_url)
        account_id = make_account(http)
        for ref in refs:
            _execute(http, execution_body(open_session(http, account_id, 1), reference_id=ref))
        http.close()
        clock.advance(1)
        return [e.status for e in sandbox.executions()]

    first = outcomes()
    sandbox.reset()
    assert outcomes() == first
    assert 5 < first.count("FAILED") < 35  # both outcomes really occur


def test_wallet_exhaustion_fails_the_payout_with_a_wallet_message(
    api: httpx.Client, clocked_sandbox: Clocked
) -> None:
    sandbox = clocked_sandbox[0]
    sandbox.set_balances(USD="30.00")
    account_id = make_account(api)
    ok = _execute(api, execution_body(open_session(api, account_id, 25.5))).json()
    short = _execute(api, execution_body(open_session(api, account_id, 25.5))).json()
    assert ok["status"] == "PENDING" and ok["wallet_message"] is None
    assert short["status"] == "FAILED" and "nsufficient" in short["wallet_message"]
    assert sandbox.balances()["USD"] == "3.73"  # 30.00 - (25.50 + 0.26 + 0.51)
    assert sandbox.stats()["faults"]["insufficient_funds"] == 1


@pytest.mark.parametrize(
    ("amount", "currency", "phone"),
    [("25.50", "USD", "231770000001"), ("5000", "LRD", "231880000001"),
     ("150000", "RWF", "250788000001")],
)
def test_fees_are_debited_exactly_as_predicted(
    api: httpx.Client, clocked_sandbox: Clocked, amount: str, currency: str, phone: str
) -> None:
    sandbox, clock = clocked_sandbox
    info = api.get("/v1/predictions/mmo-provider-info",
                   params={"phone": phone, "operation_type": "PAYOUT"}).json()
    quote = api.get("/v1/predictions/amount-and-fees", params={
        **FEE_PARAMS, "base_amount": amount, "base_currency": currency,
        "target_currency": currency, "payment_method": info["payment_method"]}).json()
    before = Decimal(sandbox.balances()[currency])
    session = open_session(api, make_account(api, phone), float(amount), currency)
    executed = _execute(api, execution_body(session)).json()
    clock.advance(10)
    assert Decimal(sandbox.balances()[currency]) == before - Decimal(quote["payer_amount"])
    assert Decimal(str(executed["payer_amount"])) == Decimal(quote["payer_amount"])
    record = sandbox.executions()[0]
    assert record.fee == Decimal(quote["platform_fee"]) + Decimal(quote["gateway_fee"])


def test_status_visibility_delay(api: httpx.Client, clocked_sandbox: Clocked) -> None:
    sandbox, clock = clocked_sandbox
    sandbox.set_faults(status_visibility_delay_seconds=5)
    body = execution_body(open_session(api, make_account(api)))
    assert _execute(api, body).status_code == 200
    path = f"/v1/status/payout/{body['reference_id']}"
    assert api.get(path).status_code == 404
    clock.advance(4.9)
    assert api.get(path).status_code == 404
    clock.advance(0.1)
    assert api.get(path).status_code == 200


def test_inspection_tells_who_was_paid_how_many_times(
    api: httpx.Client, clocked_sandbox: Clocked
) -> None:
    sandbox, clock = clocked_sandbox
    twice, once = make_account(api, "231770000001"), make_account(api, "250788000001", "Jean")
    for account_id, currency in ((twice, "USD"), (twice, "USD"), (once, "RWF")):
        _execute(api, execution_body(open_session(api, account_id, 100, currency)))
    clock.advance(60)
    assert sandbox.completed_count("231770000001") == 2
    assert sandbox.completed_count("250788000001") == 1
    assert sandbox.completed_count("231880000001") == 0
    records = sandbox.executions(phone="250788000001")
    assert [(r.amount, r.currency, r.status) for r in records] == [
        (Decimal("100"), "RWF", "COMPLETED")]
    assert sandbox.recipients() == {"231770000001": {"COMPLETED": 2},
                                    "250788000001": {"COMPLETED": 1}}
    stats = sandbox.stats()
    assert stats["requests"]["executions.payout"] == {"200": 3}
    assert stats["executions"] == {"COMPLETED": 3}


def test_reset_forgets_everything(api: httpx.Client, clocked_sandbox: Clocked) -> None:
    sandbox = clocked_sandbox[0]
    _execute(api, execution_body(open_session(api, make_account(api))))
    sandbox.set_faults(error_rate=0.5)
    sandbox.reset()
    assert sandbox.executions() == [] and sandbox.faults().error_rate == 0
    assert sandbox.stats()["requests"] == {}
    assert sandbox.balances()["USD"] == "1000000.00"
    assert api.get("/v1/parties/list").status_code == 401  # tokens are forgotten too
