"""End to end: a plain httpx script following REFERENCE §5.1; `paybatch sandbox` as a process."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from decimal import Decimal

import httpx
from click.testing import CliRunner

from batch.cli import main
from batch.sandbox import ManualClock, SandboxHandle

PAYROLL = [  # (name, phone, country, amount, currency)
    ("Musu Dolo", "231770000001", "LR", Decimal("25.50"), "USD"),
    ("Kollie Flomo", "231880000002", "LR", Decimal("4750.00"), "LRD"),
    ("Jean Uwase", "250788000003", "RW", Decimal("15000"), "RWF"),
]


def test_reference_payout_steps_end_to_end(clocked_sandbox: tuple[SandboxHandle, ManualClock]):
    """Written from REFERENCE §5.1 only: token, route, party, counterparty, account, quote,
    session, execute, poll."""
    sandbox, clock = clocked_sandbox
    http = httpx.Client(base_url=sandbox.base_url, timeout=10)
    token = http.post("/v1/jwt/client/obtain/token",
                      json={"client_id": "sandbox", "client_secret": "sandbox-secret"}).json()
    http.headers["Authorization"] = f"Bearer {token['access_token']}"
    passcode = {"token": {"phone": "231770000000", "code": "0000"},
                "device": {"name": "payout-batch-worker", "type": "SERVER", "platform": "NODE",
                           "user_agent": "acme-payouts/1.0", "client_ip": "198.51.100.7"}}
    references = {}
    for name, phone, country, amount, currency in PAYROLL:
        route = http.get("/v1/predictions/mmo-provider-info",
                         params={"phone": phone, "operation_type": "PAYOUT"}).json()
        assert currency in route["currencies"]
        party = http.post("/v1/parties/create", json={
            "fullname": name, "phone": phone, "country_code": country}).json()
        http.post("/v1/counterparties/create", json={
            "relationship_type": "BENEFICIARY", "party_id": party["id"]}).raise_for_status()
        account = http.post("/v1/payment-accounts/create", params={"operation_type": "PAYOUT"},
                            json={"account_name": name, "provider": route["gateway_provider"],
                                  "method": route["payment_method"], "party_id": party["id"],
                                  "country_code": country,
                                  "insensitive_account_number": phone}).json()
        quote = http.get("/v1/predictions/amount-and-fees", params={
            "base_amount": str(amount), "base_currency": currency, "target_currency": currency,
            "payment_method": route["payment_method"], "operation_type": "PAYOUT",
            "provider": route["gateway_provider"], "fee_bearer": "PAYER"}).json()
        session = http.post("/v1/sessions/payout", json={
            "payout_account_id": account["id"], "amount": float(amount),
            "currency": currency}).json()
        ref = str(uuid.uuid4())
        executed = http.post("/v1/executions/payout", json={
            "session_id": str(session["id"]), "payout_account_id": str(account["id"]),
            "reference_id": ref, "passcode": passcode})
        assert executed.status_code == 200, executed.text
        assert Decimal(str(executed.json()["payer_amount"])) == Decimal(quote["payer_amount"])
        references[phone] = ref
    for _ in range(10):  # poll until terminal; time moves by the manual clock
        clock.advance(0.5)
        statuses = {p: http.get(f"/v1/status/payout/{r}").json()["status"]
                    for p, r in references.items()}
        if set(statuses.values()) <= {"COMPLETED", "FAILED"}:
            break
    assert statuses == {phone: "COMPLETED" for phone in references}
    assert sandbox.recipients() == {phone: {"COMPLETED": 1} for phone in references}
    http.close()


def test_seed_style_session_and_execution(sandbox: SandboxHandle) -> None:
    """The seed's older session fields still open a session that executes."""
    http = httpx.Client(base_url=sandbox.base_url, timeout=10)
    token = http.post("/v1/jwt/client/obtain/token",
                      json={"client_id": "sandbox", "client_secret": "sandbox-secret"}).json()
    http.headers["Authorization"] = f"Bearer {token['access_token']}"
    party = http.post("/v1/parties/create", json={"fullname": "A", "phone": "231770000001"})
    account = http.post("/v1/payment-accounts/create", params={"operation_type": "PAYOUT"},
                        json={"account_name": "A", "provider": "ORANGE_MONEY_LBR",
                              "method": "ORANGE_MONEY_LBR", "party_id": party.json()["id"]})
    session = http.post("/v1/sessions/payout", json={
        "wallet_id": 1, "payment_account_id": account.json()["id"], "amount": 5,
        "currency": "USD", "expires_at": "2099-01-01T00:00:00Z"}).json()
    executed = http.post("/v1/executions/payout", json={
        "session_id": str(session["id"]), "payout_account_id": str(account.json()["id"]),
        "reference_id": str(uuid.uuid4()),
        "passcode": {"token": {"code": "0000", "phone": "231770000000"},
                     "device": {"name": "n", "type": "SERVER", "platform": "PYTHON",
                                "user_agent": "u", "client_ip": "127.0.0.1"}}})
    assert executed.status_code == 200 and executed.json()["status"] == "PENDING"
    http.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_paybatch_sandbox_runs_in_the_foreground_and_obeys_flags() -> None:
    port = _free_port()
    with subprocess.Popen(
        [sys.executable, "-m", "batch", "sandbox", "--port", str(port), "--client-secret", "s3",
         "--balance", "USD=12.50", "--drop-rate", "1", "--fault-endpoints", "status.*",
         "--fee-schedule-skew", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:
        try:
            _drive_foreground_sandbox(proc, port)
        finally:
            proc.terminate()
            _, errors = proc.communicate(timeout=10)
    assert "Traceback" not in errors  # deliberate drops are not logged as crashes


def _drive_foreground_sandbox(proc: subprocess.Popen[str], port: int) -> None:
    assert proc.stdout is not None
    banner = proc.stdout.readline().strip()
    assert banner == f"SANDBOX — simulated API, no money moves — http://127.0.0.1:{port}"
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:  # wait for the port to accept connections
        try:
            httpx.get(f"{base}/_sandbox/health")
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline, "sandbox did not come up"
            time.sleep(0.05)
    handle = SandboxHandle(base)
    assert handle.balances()["USD"] == "12.50"
    assert handle.faults().drop_endpoints == ["status.*"]
    assert handle.faults().fee_schedule_skew_points == Decimal("0.5")
    bad = httpx.post(f"{base}/v1/jwt/client/obtain/token",
                     json={"client_id": "sandbox", "client_secret": "sandbox-secret"})
    assert bad.status_code == 401
    good = httpx.post(f"{base}/v1/jwt/client/obtain/token",
                      json={"client_id": "sandbox", "client_secret": "s3"}).json()
    headers = {"Authorization": f"Bearer {good['access_token']}"}
    try:
        httpx.get(f"{base}/v1/status/payout/{uuid.uuid4()}", headers=headers)
        raise AssertionError("the status answer should have been dropped")
    except httpx.TransportError:
        pass
    handle.set_faults(drop_rate=0)  # flipped from another process
    gone = httpx.get(f"{base}/v1/status/payout/{uuid.uuid4()}", headers=headers)
    assert gone.status_code == 404
    handle.close()


def test_paybatch_sandbox_rejects_bad_flags_in_one_line() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["sandbox", "--error-rate", "2"])
    assert result.exit_code == 2
    assert "error_rate: Input should be less than or equal to 1" in result.output
    result = runner.invoke(main, ["sandbox", "--balance", "dollars"])
    assert result.exit_code == 2 and "CURRENCY=AMOUNT" in result.output
    assert "Example:" in runner.invoke(main, ["sandbox", "--help"]).output
