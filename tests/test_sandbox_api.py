"""Contract tests of the sandbox endpoints: paths, JSON types, status codes, error bodies."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from _dollr import CREDENTIALS, FEE_PARAMS, client, execution_body, make_account, open_session

from batch.sandbox import SandboxHandle


@pytest.fixture
def api(sandbox: SandboxHandle) -> Iterator[httpx.Client]:
    http = client(sandbox.base_url)
    yield http
    http.close()


def _detail_locs(response: httpx.Response) -> list[list[object]]:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and all({"loc", "msg", "type"} <= d.keys() for d in detail)
    return [d["loc"] for d in detail]


# -- token and auth ---------------------------------------------------------------------------


def test_token_gives_a_jwt_and_minutes(sandbox: SandboxHandle) -> None:
    response = httpx.post(f"{sandbox.base_url}/v1/jwt/client/obtain/token", json=CREDENTIALS)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in"}
    assert body["expires_in"] == 60 and body["access_token"].count(".") == 2


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"client_id": "sandbox", "client_secret": "wrong"}, 401),
        ({"client_id": "other", "client_secret": "sandbox-secret"}, 401),
        ({"client_id": "sandbox"}, 422),
    ],
)
def test_token_rejects_bad_credentials(
    sandbox: SandboxHandle, payload: dict[str, str], status: int
) -> None:
    response = httpx.post(f"{sandbox.base_url}/v1/jwt/client/obtain/token", json=payload)
    assert response.status_code == status
    assert "access_token" not in response.text


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "Not authenticated"),
        ({"Authorization": "Basic abc"}, "Not authenticated"),
        ({"Authorization": "Bearer not-a-token"}, "Could not validate credentials"),
    ],
)
def test_401_bodies(sandbox: SandboxHandle, headers: dict[str, str], detail: str) -> None:
    response = httpx.get(f"{sandbox.base_url}/v1/parties/list", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": detail}


# -- parties and counterparties -----------------------------------------------------------------


def test_party_create_list_retrieve(api: httpx.Client) -> None:
    created = api.post(
        "/v1/parties/create",
        json={"fullname": "Musu Dolo", "phone": "231770000001", "country_code": "LR"},
    ).json()
    assert isinstance(created["id"], int)
    assert created["email"] is None and created["country_code"] == "LR"
    assert created["created_at"].endswith("Z")
    api.post("/v1/parties/create", json={"fullname": "Jean Uwase", "phone": "250788000001"})
    listed = api.get("/v1/parties/list", params={"fullname": "musu"}).json()
    assert [p["id"] for p in listed] == [created["id"]]
    assert len(api.get("/v1/parties/list").json()) == 2
    assert api.get(f"/v1/parties/retrieve/{created['id']}").json() == created
    missing = api.get("/v1/parties/retrieve/999999")
    assert missing.status_code == 404 and isinstance(missing.json()["detail"], str)


@pytest.mark.parametrize("phone", ["+231770000001", "0770000001", "2317", "23177000000112345"])
def test_party_phone_must_be_e164_digits(api: httpx.Client, phone: str) -> None:
    response = api.post("/v1/parties/create", json={"fullname": "X", "phone": phone})
    assert _detail_locs(response) == [["body", "phone"]]


def test_counterparty_create_list_retrieve(api: httpx.Client) -> None:
    party = api.post("/v1/parties/create", json={"fullname": "Musu", "phone": "231770000001"})
    party_id = party.json()["id"]
    cp = api.post(
        "/v1/counterparties/create", json={"relationship_type": "BENEFICIARY", "party_id": party_id}
    ).json()
    assert isinstance(cp["id"], int) and cp["party_id"] == party_id
    api.post("/v1/counterparties/create", json={"relationship_type": "SUPPLIER"})
    beneficiaries = api.get(
        "/v1/counterparties/list", params={"relationship_type": "BENEFICIARY"}
    ).json()
    assert [c["id"] for c in beneficiaries] == [cp["id"]]
    assert [c["id"] for c in api.get("/v1/counterparties/list", params={"fullname": "mus"}).json()
            ] == [cp["id"]]
    assert api.get(f"/v1/counterparties/retrieve/{cp['id']}").json()["party"]["id"] == party_id


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"relationship_type": "BESTIE", "party_id": None}, ["body", "relationship_type"]),
        ({"relationship_type": "BENEFICIARY", "party_id": 424242}, ["body", "party_id"]),
    ],
)
def test_counterparty_errors(api: httpx.Client, payload: dict[str, object], loc: list[str]) -> None:
    assert _detail_locs(api.post("/v1/counterparties/create", json=payload)) == [loc]


# -- payment accounts -------------------------------------------------------------------------


def test_payment_account_shape(api: httpx.Client) -> None:
    account_id = make_account(api)
    party_id = api.get("/v1/parties/list").json()[0]["id"]
    body = {"account_name": "A", "provider": "PAWAPAY", "method": "MTN_MOMO_LBR",
            "party_id": party_id, "insensitive_account_number": "231880000001"}
    account = api.post(
        "/v1/payment-accounts/create", params={"operation_type": "PAYOUT"}, json=body
    ).json()
    assert account["id"] != account_id and isinstance(account["id"], int)
    assert account["is_active"] is True and account["country_code"] is None
    assert "insensitive_account_number" not in account and "operation_type" not in account


@pytest.mark.parametrize(
    ("params", "changes", "loc"),
    [
        ({}, {}, ["query", "operation_type"]),
        ({"operation_type": "PAYDAY"}, {}, ["query", "operation_type"]),
        ({"operation_type": "PAYOUT"}, {"provider": "STRIPE"}, ["body", "provider"]),
        ({"operation_type": "PAYOUT"}, {"party_id": 123456}, ["body", "party_id"]),
        ({"operation_type": "PAYOUT"}, {"party_id": "abc"}, ["body", "party_id"]),
    ],
)
def test_payment_account_errors(
    api: httpx.Client, params: dict[str, str], changes: dict[str, object], loc: list[str]
) -> None:
    party = api.post("/v1/parties/create", json={"fullname": "M", "phone": "231770000001"}).json()
    body = {"account_name": "A", "provider": "PAWAPAY", "method": "ORANGE_MONEY_LBR",
            "party_id": party["id"], **changes}
    response = api.post("/v1/payment-accounts/create", params=params, json=body)
    assert loc in _detail_locs(response)


# -- predictions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "carrier", "method", "currencies"),
    [
        ("231770000001", "Orange", "ORANGE_MONEY_LBR", ["LRD", "USD"]),
        ("231880000001", "Lonestar Cell", "MTN_MOMO_LBR", ["LRD", "USD"]),
        ("250788000001", "MTN", "MTN_MOMO_RWA", ["RWF", "USD"]),
        ("250728000001", "Airtel", "AIRTEL_RWA", ["RWF", "USD"]),
    ],
)
def test_mmo_provider_info(
    api: httpx.Client, phone: str, carrier: str, method: str, currencies: list[str]
) -> None:
    info = api.get(
        "/v1/predictions/mmo-provider-info", params={"phone": phone, "operation_type": "PAYOUT"}
    ).json()
    assert info == {
        "carrier": carrier, "country": phone.startswith("231") and "LR" or "RW",
        "currencies": currencies, "phone": phone, "payment_method": method,
        "gateway_provider": "PAWAPAY", "operation_type": "PAYOUT",
    }


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"phone": "231220000000", "operation_type": "PAYOUT"}, ["query", "phone"]),  # landline
        ({"phone": "2348031234567", "operation_type": "PAYOUT"}, ["query", "phone"]),  # Nigeria
        ({"phone": "12", "operation_type": "PAYOUT"}, ["query", "phone"]),
        ({"phone": "231770000001"}, ["query", "operation_type"]),
    ],
)
def test_mmo_provider_info_errors(
    api: httpx.Client, params: dict[str, str], loc: list[str]
) -> None:
    response = api.get("/v1/predictions/mmo-provider-info", params=params)
    assert _detail_locs(response) == [loc]


def test_amount_and_fees_strings_and_schedule(api: httpx.Client) -> None:
    quote = api.get("/v1/predictions/amount-and-fees", params=FEE_PARAMS).json()
    # 1.0% platform + 2.0% Orange LBR gateway, half-up to cents (fees.py docstring)
    assert quote == {
        "payer_amount": "26.27", "payer_currency": "USD", "payee_amount": "25.50",
        "payee_currency": "USD", "platform_fee": "0.26", "platform_currency": "USD",
        "fx_fee": None, "gateway_fee": "0.51", "gateway_currency": "USD",
    }


def test_amount_and_fees_fx(api: httpx.Client) -> None:
    params = {**FEE_PARAMS, "base_amount": "100", "target_currency": "LRD",
              "payment_method": "MTN_MOMO_LBR"}
    quote = api.get("/v1/predictions/amount-and-fees", params=params).json()
    assert quote["payee_amount"] == "19000.00" and quote["fx_fee"] == "1.00"
    assert Decimal(quote["payer_amount"]) == Decimal("100") + Decimal("1.00") + Decimal(
        "1.50") + Decimal("1.00")


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"base_amount": "0"}, ["query", "base_amount"]),
        ({"base_currency": "usd"}, ["query", "base_currency"]),
        ({"target_currency": "NGN"}, ["query", "target_currency"]),
        ({"payment_method": "PAYPAL"}, ["query", "payment_method"]),
        ({"fee_bearer": "NOBODY"}, ["query", "fee_bearer"]),
        ({"provider": None}, ["query", "provider"]),
    ],
)
def test_amount_and_fees_errors(
    api: httpx.Client, changes: dict[str, str | None], loc: list[str]
) -> None:
    params = {k: v for k, v in {**FEE_PARAMS, **changes}.items() if v is not None}
    assert _detail_locs(api.get("/v1/predictions/amount-and-fees", params=params)) == [loc]


# -- sessions -----------------------------------------------------------------------------------


def test_payout_session_shape(api: httpx.Client) -> None:
    account_id = make_account(api)
    session = open_session(api, account_id, 25.5)
    assert set(session) == {"id", "wallet_id", "payout_account_id", "amount", "currency",
                            "status", "expires_at", "created_at", "updated_at"}
    assert isinstance(session["id"], int) and isinstance(session["wallet_id"], int)
    assert session["payout_account_id"] == account_id and session["amount"] == 25.5
    assert session["expires_at"] > session["created_at"]


def test_payout_session_accepts_the_seed_field_names(api: httpx.Client) -> None:
    account_id = make_account(api)
    response = api.post("/v1/sessions/payout", json={
        "wallet_id": 1, "payment_account_id": account_id, "amount": 10, "currency": "USD",
        "expires_at": "2099-01-01T00:00:00Z",
    })
    assert response.status_code == 200 and response.json()["payout_account_id"] == account_id


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"amount": 0}, ["body", "amount"]),
        ({"amount": 1.234}, ["body", "amount"]),
        ({"currency": "US"}, ["body", "currency"]),
        ({"currency": "EUR"}, ["body", "currency"]),
        ({"payout_account_id": 5}, ["body", "payout_account_id"]),
        ({"payout_account_id": None}, ["body", "payout_account_id"]),
    ],
)
def test_payout_session_errors(
    api: httpx.Client, changes: dict[str, object], loc: list[str]
) -> None:
    body = {"payout_account_id": make_account(api), "amount": 10, "currency": "USD", **changes}
    assert loc in _detail_locs(api.post("/v1/sessions/payout", json=body))


def test_payout_session_refuses_a_collection_account(api: httpx.Client) -> None:
    party = api.post("/v1/parties/create", json={"fullname": "M", "phone": "231770000001"}).json()
    account = api.post(
        "/v1/payment-accounts/create", params={"operation_type": "COLLECTION"},
        json={"account_name": "A", "provider": "PAWAPAY", "method": "ORANGE_MONEY_LBR",
              "party_id": party["id"]},
    ).json()
    body = {"payout_account_id": account["id"], "amount": 10, "currency": "USD"}
    assert _detail_locs(api.post("/v1/sessions/payout", json=body)) == [
        ["body", "payout_account_id"]]


# -- executions and status ----------------------------------------------------------------------


def test_execute_and_status_share_the_execution_response(api: httpx.Client) -> None:
    session = open_session(api, make_account(api), 25.5)
    body = execution_body(session)
    executed = api.post("/v1/executions/payout", json=body).json()
    assert executed["reference_id"] == body["reference_id"]
    assert executed["status"] == "PENDING" and executed["operation_type"] == "PAYOUT"
    assert executed["payee_amount"] == 25.5 and executed["payer_amount"] == 26.27
    status = api.get(f"/v1/status/payout/{body['reference_id']}").json()
    assert set(status) == set(executed)
    assert status["reference_id"] == body["reference_id"]


def test_status_of_unknown_reference_is_404(api: httpx.Client) -> None:
    response = api.get(f"/v1/status/payout/{uuid.uuid4()}")
    assert response.status_code == 404
    assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"session_id": "INT"}, ["body", "session_id"]),  # an integer where a string is due
        ({"payout_account_id": "INT"}, ["body", "payout_account_id"]),
        ({"reference_id": "not-a-uuid"}, ["body", "reference_id"]),
        ({"reference_id": "c9bf9e57-1685-1c4b-8f1e-92b5cd2e29b6"}, ["body", "reference_id"]),  # v1
        ({"passcode": None}, ["body", "passcode"]),
        ({"session_id": "999999"}, ["body", "session_id"]),
        ({"payout_account_id": "1"}, ["body", "payout_account_id"]),
    ],
)
def test_execute_validation_errors(
    api: httpx.Client, change: dict[str, object], loc: list[str]
) -> None:
    session = open_session(api, make_account(api))
    body = execution_body(session)
    for key, value in change.items():
        if value == "INT":
            body[key] = int(body[key])
        elif value is None:
            del body[key]
        else:
            body[key] = value
    assert loc in _detail_locs(api.post("/v1/executions/payout", json=body))


@pytest.mark.parametrize("missing", ["name", "type", "platform", "user_agent", "client_ip"])
def test_execute_requires_every_device_field(api: httpx.Client, missing: str) -> None:
    body = execution_body(open_session(api, make_account(api)))
    body["passcode"] = {**body["passcode"], "device": {
        k: v for k, v in body["passcode"]["device"].items() if k != missing}}
    assert _detail_locs(api.post("/v1/executions/payout", json=body)) == [
        ["body", "passcode", "device", missing]]


@pytest.mark.parametrize(
    ("token", "status"),
    [
        ({"code": "9999", "phone": "231770000000"}, 403),
        ({"code": "0000", "phone": "231770000999"}, 403),
        ({"code": "0000", "user_id": "someone"}, 403),
        ({"code": "0000"}, 422),
    ],
)
def test_execute_checks_the_passcode(
    api: httpx.Client, sandbox: SandboxHandle, token: dict[str, str], status: int
) -> None:
    body = execution_body(open_session(api, make_account(api)))
    body["passcode"] = {**body["passcode"], "token": token}
    response = api.post("/v1/executions/payout", json=body)
    assert response.status_code == status
    assert sandbox.executions() == []
