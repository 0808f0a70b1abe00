"""Plain-httpx helpers for the sandbox tests: the payout steps of REFERENCE §5.1, nothing hidden."""

from __future__ import annotations

import ssl
import uuid
from typing import Any

import httpx

CREDENTIALS = {"client_id": "sandbox", "client_secret": "sandbox-secret"}
PASSCODE = {
    "token": {"code": "0000", "phone": "231770000000"},
    "device": {
        "name": "paybatch-tests", "type": "SERVER", "platform": "PYTHON",
        "user_agent": "paybatch-tests/1", "client_ip": "127.0.0.1",
    },
}


FEE_PARAMS = {
    "base_amount": "25.50", "base_currency": "USD", "target_currency": "USD",
    "payment_method": "ORANGE_MONEY_LBR", "operation_type": "PAYOUT", "provider": "PAWAPAY",
    "fee_bearer": "PAYER",
}

# One TLS context for every client: building one per client costs ~40 ms (plain http anyway).
_TLS = ssl.create_default_context()


def token(http: httpx.Client) -> str:
    """A fresh bearer token."""
    response = http.post("/v1/jwt/client/obtain/token", json=CREDENTIALS)
    response.raise_for_status()
    return str(response.json()["access_token"])


def client(base_url: str, *, authorized: bool = True) -> httpx.Client:
    """An httpx client for the sandbox, by default with a valid bearer token."""
    http = httpx.Client(base_url=base_url, timeout=10, verify=_TLS)
    if authorized:
        http.headers["Authorization"] = f"Bearer {token(http)}"
    return http


def make_account(api: httpx.Client, phone: str = "231770000001", name: str = "Musu Dolo") -> int:
    """Party, counterparty and PAYOUT payment account for a phone; returns the account id."""
    info = api.get(
        "/v1/predictions/mmo-provider-info", params={"phone": phone, "operation_type": "PAYOUT"}
    ).json()
    party = api.post(
        "/v1/parties/create", json={"fullname": name, "phone": phone, "country_code": "LR"}
    ).json()
    api.post(
        "/v1/counterparties/create",
        json={"relationship_type": "BENEFICIARY", "party_id": party["id"]},
    ).raise_for_status()
    account = api.post(
        "/v1/payment-accounts/create",
        params={"operation_type": "PAYOUT"},
        json={
            "account_name": f"{name} {info['carrier']}", "provider": info["gateway_provider"],
            "method": info["payment_method"], "party_id": party["id"],
            "country_code": info["country"], "insensitive_account_number": phone,
        },
    )
    account.raise_for_status()
    return int(account.json()["id"])


def open_session(
    api: httpx.Client, account_id: int, amount: float = 25.5, currency: str = "USD"
) -> dict[str, Any]:
    """A payout session (the account id is an integer here)."""
    response = api.post(
        "/v1/sessions/payout",
        json={"payout_account_id": account_id, "amount": amount, "currency": currency},
    )
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def execution_body(session: dict[str, Any], reference_id: str | None = None) -> dict[str, Any]:
    """The execute body: ids as STRINGS (REFERENCE §1.2)."""
    return {
        "session_id": str(session["id"]),
        "payout_account_id": str(session["payout_account_id"]),
        "reference_id": reference_id or str(uuid.uuid4()),
        "passcode": PASSCODE,
    }
