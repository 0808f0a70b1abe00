"""The sandbox's collection side over plain HTTP: invoices, checkout, collections, payers.

Time moves only by `clock.advance` (clocked_sandbox), so payer answers and expiries are exact.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests._dollr import client


def _payer(api: httpx.Client, phone: str, name: str = "Joseph Kollie") -> tuple[int, int]:
    """(counterparty id, COLLECTION account id) for a payer."""
    info = api.get("/v1/predictions/mmo-provider-info",
                   params={"phone": phone, "operation_type": "COLLECTION"}).json()
    party = api.post("/v1/parties/create",
                     json={"fullname": name, "phone": phone, "country_code": "LR"}).json()
    cp = api.post("/v1/counterparties/create",
                  json={"relationship_type": "CUSTOMER", "party_id": party["id"]}).json()
    account = api.post(
        "/v1/payment-accounts/create", params={"operation_type": "COLLECTION"},
        json={"account_name": name, "provider": info["gateway_provider"],
              "method": info["payment_method"], "party_id": party["id"],
              "country_code": "LR", "insensitive_account_number": phone},
    ).json()
    return cp["id"], account["id"]


def _invoice(api: httpx.Client, counterparty: int, items: list[tuple[str, int, float]]) -> int:
    inv = api.post("/v1/invoices/create", json={
        "counterparty_id": counterparty, "currency": "USD", "note": "Term 2 fees",
        "fee_bearer": "PAYER", "as_payment_link": False, "reference_id": "ours-1",
    }).json()
    assert inv["status"] == "IDLE" and inv["total_amount"] == 0
    for name, qty, amount in items:
        r = api.post(f"/v1/invoices/{inv['id']}/items/add",
                     json={"name": name, "currency": "USD", "qty": qty, "amount": amount})
        r.raise_for_status()
    return int(inv["id"])


def _ask(api: httpx.Client, invoice: int, account: int, ref: str | None = None) -> Any:
    session = api.post("/v1/sessions/checkout",
                       json={"source_id": invoice, "source_type": "INVOICE"}).json()
    return api.post("/v1/executions/collection", json={
        "session_id": str(session["id"]), "payment_account_id": str(account),
        "currency": "USD", "reference_id": ref or str(uuid.uuid4()),
    })


def test_an_approving_payer_pays_the_published_invoice_once(
    clocked_sandbox: Any, request: Any
) -> None:
    sandbox, clock = clocked_sandbox
    sandbox.set_faults(pending_seconds=1, payer_answer_seconds=30)
    api = client(sandbox.base_url)
    request.addfinalizer(api.close)
    cp, account = _payer(api, "231770000102")
    invoice = _invoice(api, cp, [("Tuition", 1, 120.0), ("Books", 6, 1.5)])
    # Not published: no checkout session (REFERENCE §3.6.2).
    early = api.post("/v1/sessions/checkout", json={"source_id": invoice, "source_type": "INVOICE"})
    assert early.status_code == 422
    published = api.put(f"/v1/invoices/publish/{invoice}").json()
    assert published["status"] == "ACTIVE" and published["total_amount"] == 129.0
    assert api.post(f"/v1/invoices/{invoice}/items/add", json={
        "name": "late", "currency": "USD", "qty": 1, "amount": 1}).status_code == 422
    ref = str(uuid.uuid4())
    first = _ask(api, invoice, account, ref)
    assert first.json()["status"] == "PENDING" and first.json()["operation_type"] == "COLLECTION"
    # While the payer decides: PROCESSING, and nobody else may pay or cancel the invoice.
    clock.advance(2)
    assert api.get(f"/v1/status/collection/{ref}").json()["status"] == "PROCESSING"
    source = api.get("/v1/status/source", params={"source_type": "INVOICE", "source_id": invoice})
    assert source.json()["status"] == "PROCESSING"
    assert api.delete(f"/v1/invoices/cancel/{invoice}").status_code == 422
    assert api.post("/v1/sessions/checkout",
                    json={"source_id": invoice, "source_type": "INVOICE"}).status_code == 422
    assert api.get(f"/v1/invoices/receipt/{invoice}").status_code == 422
    clock.advance(30)
    done = api.get(f"/v1/status/collection/{ref}").json()
    assert done["status"] == "COMPLETED" and done["provider_transaction_id"]
    # Fees on top for the payer: 129 + 1.5% platform + 2% Orange gateway.
    assert done["payer_amount"] == 133.52 and done["payee_amount"] == 129.0
    receipt = api.get(f"/v1/invoices/receipt/{invoice}").json()
    assert receipt["status"] == "PAID" and receipt["reference_id"] == ref
    assert isinstance(receipt["fx_rate"], str | None)
    assert [i["name"] for i in receipt["items"]] == ["Tuition", "Books"]
    debits = sandbox.collections(status="COMPLETED")
    assert [(d.invoice_id, d.phone) for d in debits] == [(invoice, "231770000102")]


def test_the_same_reference_id_is_one_request_and_a_new_one_is_refused_while_processing(
    clocked_sandbox: Any, request: Any,
) -> None:
    sandbox, clock = clocked_sandbox
    sandbox.set_faults(payer_answer_seconds=30)
    api = client(sandbox.base_url)
    request.addfinalizer(api.close)
    cp, account = _payer(api, "231770000103")
    invoice = _invoice(api, cp, [("Dues", 1, 10.0)])
    api.put(f"/v1/invoices/publish/{invoice}").raise_for_status()
    ref = str(uuid.uuid4())
    session = api.post("/v1/sessions/checkout",
                       json={"source_id": invoice, "source_type": "INVOICE"}).json()
    body = {"session_id": str(session["id"]), "payment_account_id": str(account),
            "currency": "USD", "reference_id": ref}
    assert api.post("/v1/executions/collection", json=body).status_code == 200
    again = api.post("/v1/executions/collection", json=body)
    assert again.status_code == 200 and again.json()["reference_id"] == ref
    assert len(sandbox.collections()) == 1
    # Another request on the invoice while PROCESSING: its session cannot even be opened.
    assert api.post("/v1/sessions/checkout",
                    json={"source_id": invoice, "source_type": "INVOICE"}).status_code == 422
    clock.advance(31)
    # PAID: no more requests.
    assert api.post("/v1/sessions/checkout",
                    json={"source_id": invoice, "source_type": "INVOICE"}).status_code == 422
    assert len(sandbox.collections(status="COMPLETED")) == 1


@pytest.mark.parametrize(
    ("phone", "status", "message"),
    [
        ("231770000191", "FAILED", "declined"),
        ("231770000192", "FAILED", "expired"),
        ("231770000193", "FAILED", "insufficient"),
        ("231770000101", "COMPLETED", None),
    ],
)
def test_test_numbers_decline_expire_or_lack_funds(
    clocked_sandbox: Any, request: Any, phone: str, status: str, message: str | None
) -> None:
    sandbox, clock = clocked_sandbox
    sandbox.set_faults(payer_answer_seconds=5, approval_window_seconds=60)
    api = client(sandbox.base_url)
    request.addfinalizer(api.close)
    cp, account = _payer(api, phone)
    invoice = _invoice(api, cp, [("Loan", 1, 25.0)])
    api.put(f"/v1/invoices/publish/{invoice}").raise_for_status()
    ref = _ask(api, invoice, account).json()["reference_id"]
    clock.advance(10)
    answer = api.get(f"/v1/status/collection/{ref}").json()
    if phone.endswith("92"):  # never answers: still PROCESSING until the window ends
        assert answer["status"] == "PROCESSING"
        clock.advance(60)
        answer = api.get(f"/v1/status/collection/{ref}").json()
    assert answer["status"] == status
    if message:
        assert message in answer["gateway_message"]
        # A failed request leaves the invoice ACTIVE: it may be requested again.
        src = api.get("/v1/status/source",
                      params={"source_type": "INVOICE", "source_id": invoice}).json()
        assert src["status"] == "ACTIVE"


def test_a_scripted_payer_declines_then_approves_and_cancel_rules(
    clocked_sandbox: Any, request: Any
) -> None:
    sandbox, clock = clocked_sandbox
    sandbox.set_faults(payer_answer_seconds=1, payers={"231770000150": ["decline", "approve"]})
    api = client(sandbox.base_url)
    request.addfinalizer(api.close)
    cp, account = _payer(api, "231770000150")
    invoice = _invoice(api, cp, [("Dues", 1, 10.0)])
    api.put(f"/v1/invoices/publish/{invoice}").raise_for_status()
    first = _ask(api, invoice, account).json()["reference_id"]
    clock.advance(2)
    assert api.get(f"/v1/status/collection/{first}").json()["status"] == "FAILED"
    second = _ask(api, invoice, account).json()["reference_id"]
    clock.advance(2)
    assert api.get(f"/v1/status/collection/{second}").json()["status"] == "COMPLETED"
    assert api.delete(f"/v1/invoices/cancel/{invoice}").status_code == 422  # PAID
    other = _invoice(api, cp, [("Dues", 1, 10.0)])
    assert api.delete(f"/v1/invoices/cancel/{other}").json()["status"] == "CANCELED"
    listed = api.get("/v1/invoices/list", params={"status": "CANCELED"}).json()
    assert [i["id"] for i in listed] == [other]
    records = {i.id: i for i in sandbox.invoices()}
    assert records[invoice].paid_by == second and records[other].status == "CANCELED"


def test_paybatch_sandbox_takes_payer_flags() -> None:
    from click.testing import CliRunner

    from batch.cli import main

    result = CliRunner().invoke(main, ["sandbox", "--decline-rate", "2"])
    assert result.exit_code == 2
    assert "payer_decline_rate: Input should be less than or equal to 1" in result.output
    assert "--approval-window" in CliRunner().invoke(main, ["sandbox", "--help"]).output
