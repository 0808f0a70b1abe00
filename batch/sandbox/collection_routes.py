"""The collection-flow endpoints of Dollr v1 (REFERENCE §3.6.2, §3.7.2, §3.8, §3.10).

Invoices (create, items, publish, retrieve, list, cancel, receipt), checkout sessions,
collection executions and their status, and the status of an invoice as a payment source.
Served from the same Store as the payout routes (its CollectionStore part).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends

from batch.sandbox import fees, quirks
from batch.sandbox import invoice_schemas as c
from batch.sandbox import schemas as s
from batch.sandbox.invoice_state import PAID, CheckoutSession, Collection, Invoice, InvoiceItem
from batch.sandbox.problems import Missing, Rejected
from batch.sandbox.routes import Rt, _check_reference_id, authorized
from batch.sandbox.runtime import Runtime

collections_api = APIRouter(prefix="/v1", dependencies=[Depends(authorized)])
OWNER_ID, OWNER_TYPE = 1, "ORGANIZATION"


def _dt(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


def _at(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _invoice(i: Invoice) -> c.InvoiceResponse:
    return c.InvoiceResponse(
        id=i.id, invoice_number=i.invoice_number, counterparty_id=i.counterparty_id,
        currency=i.currency, total_amount=i.total, status=i.status, note=i.note,
        fee_bearer=i.fee_bearer, due_date=_dt(i.due_date), as_payment_link=i.as_payment_link,
        owner_id=OWNER_ID, owner_type=OWNER_TYPE, created_at=_at(i.created_at),
        updated_at=_at(i.updated_at or i.created_at), reference_id=i.reference_id,
        paid_at=_dt(i.paid_at),
    )


def _item(x: InvoiceItem) -> c.InvoiceItemResponse:
    return c.InvoiceItemResponse(
        id=x.id, name=x.name, currency=x.currency, qty=x.qty, amount=x.amount,
        created_at=_at(x.created_at), updated_at=_at(x.created_at),
    )


def _checkout(x: CheckoutSession, now: float) -> c.CheckoutSessionResponse:
    return c.CheckoutSessionResponse(
        id=x.id, source_id=x.source_id, source_type=x.source_type, status=x.status(now),
        expires_at=_at(x.expires_at), created_at=_at(x.created_at), updated_at=_at(x.created_at),
    )


def collection_response(x: Collection, now: float) -> s.ExecutionResponse:
    """The ExecutionResponse of a collection at `now`."""
    done = now >= x.finished_at()
    return s.ExecutionResponse(
        reference_id=x.reference_id, status=x.status(now), payer_amount=x.payer_amount,
        payer_currency=x.debit_currency, payee_amount=x.payee_amount, payee_currency=x.currency,
        operation_type="COLLECTION",
        provider_transaction_id=x.provider_transaction_id if done else None,
        gateway_message=x.gateway_message if done else None, wallet_message=None,
    )


@collections_api.post("/invoices/create", name="invoices.create")
async def create_invoice(body: c.InvoiceCreate, rt: Rt) -> c.InvoiceResponse:
    """A new IDLE invoice (total 0 until items are added)."""
    invoice = rt.store.create_invoice(
        counterparty_id=body.counterparty_id, currency=body.currency, note=body.note,
        fee_bearer=body.fee_bearer, as_payment_link=body.as_payment_link,
        reference_id=body.reference_id,
        due_date=body.due_date.timestamp() if body.due_date else None, now=rt.now(),
    )
    return _invoice(invoice)


@collections_api.post("/invoices/{invoice_id}/items/add", name="invoices.items_add")
async def add_item(invoice_id: str, body: c.InvoiceItemCreate, rt: Rt) -> c.InvoiceItemResponse:
    """Add one line item to an IDLE invoice."""
    item = rt.store.add_item(
        invoice_id, name=body.name, currency=body.currency, qty=body.qty, amount=body.amount,
        now=rt.now(),
    )
    return _item(item)


@collections_api.put("/invoices/publish/{id}", name="invoices.publish")
async def publish(id: str, rt: Rt) -> c.InvoiceResponse:  # noqa: A002 - the documented name
    """IDLE -> ACTIVE; 422 for an invoice that is not IDLE or has no items."""
    return _invoice(rt.store.publish(id, rt.now()))


@collections_api.get("/invoices/retrieve/{id}", name="invoices.retrieve")
async def retrieve(id: str, rt: Rt) -> c.InvoiceDetailResponse:  # noqa: A002
    """The invoice with its items and counterparty."""
    invoice = rt.store.invoice(id, rt.now())
    counterparty = rt.store.counterparties.get(invoice.counterparty_id)
    return c.InvoiceDetailResponse(
        **_invoice(invoice).model_dump(), items=[_item(x) for x in invoice.items],
        counterparty=None if counterparty is None else s.CounterpartyResponse(
            id=counterparty.id, relationship_type=counterparty.relationship_type,
            party_id=counterparty.party_id, created_at=_at(counterparty.created_at),
            updated_at=_at(counterparty.created_at),
        ),
    )


@collections_api.get("/invoices/list", name="invoices.list")
async def list_invoices(
    rt: Rt, currency: str | None = None, status: str | None = None
) -> list[c.InvoiceResponse]:
    """Invoices, filtered by currency and status (a bare array)."""
    now = rt.now()
    found = [rt.store.invoice(i, now) for i in list(rt.store.invoices)]
    return [
        _invoice(i) for i in found
        if (currency is None or i.currency == currency) and (status is None or i.status == status)
    ]


@collections_api.delete("/invoices/cancel/{id}", name="invoices.cancel")
async def cancel(id: str, rt: Rt) -> c.InvoiceResponse:  # noqa: A002
    """IDLE or ACTIVE -> CANCELED; 422 while PROCESSING, once PAID, or canceled already."""
    return _invoice(rt.store.cancel_invoice(id, rt.now()))


@collections_api.get("/invoices/receipt/{id}", name="invoices.receipt")
async def receipt(id: str, rt: Rt) -> c.ReceiptResponse:  # noqa: A002
    """The receipt of a PAID invoice; 422 before."""
    now = rt.now()
    invoice = rt.store.invoice(id, now)
    if invoice.status != PAID or invoice.paid_by is None:
        raise Rejected(["path", "id"], f"Invoice is {invoice.status}: no receipt before PAID")
    return _receipt(rt, invoice, rt.store.collections[invoice.paid_by])


def _receipt(rt: Runtime, invoice: Invoice, x: Collection) -> c.ReceiptResponse:
    store = rt.store
    account = store.accounts[x.payment_account_id]
    counterparty = store.counterparties[invoice.counterparty_id]
    party = store.parties.get(counterparty.party_id) if counterparty.party_id else None
    quote = fees.quote(
        base_amount=x.amount, base_currency=x.currency, target_currency=x.debit_currency,
        payment_method=account.method, operation_type="COLLECTION", fee_bearer=x.fee_bearer,
    )
    rate = x.fx_rate
    return c.ReceiptResponse(
        invoice_id=invoice.id, invoice_number=invoice.invoice_number, currency=invoice.currency,
        total_amount=invoice.total, status=invoice.status, note=invoice.note,
        due_date=_dt(invoice.due_date), as_payment_link=invoice.as_payment_link,
        fee_bearer=invoice.fee_bearer, owner_id=OWNER_ID, owner_type=OWNER_TYPE,
        created_at=_at(invoice.created_at), counterparty_id=counterparty.id,
        relationship_type=counterparty.relationship_type,
        counterparty_name=party.fullname if party else "",
        counterparty_phone=party.phone if party else "",
        counterparty_email=party.email if party else None,
        reference_id=x.reference_id, paid_at=_dt(invoice.paid_at),
        payer_amount=x.payer_amount, payer_currency=x.debit_currency,
        payee_amount=x.payee_amount, payee_currency=x.currency, platform_fee=quote.platform_fee,
        platform_currency=quote.platform_currency, gateway_fee=quote.gateway_fee or Decimal(0),
        gateway_currency=quote.gateway_currency or x.currency, fx_fee=quote.fx_fee,
        # fx_rate: payer-currency units per invoice-currency unit (a string, REFERENCE §3.10.4)
        fx_rate=None if rate is None else str(rate.normalize()),
        fx_currency_from=x.currency if rate is not None else None,
        fx_currency_to=x.debit_currency if rate is not None else None,
        payment_provider=account.provider, payment_method=account.method,
        account_name=account.account_name, gateway_confirmed_at=_dt(invoice.paid_at),
        provider_transaction_id=x.provider_transaction_id,
        items=[c.ReceiptItem(id=i.id, name=i.name, qty=i.qty, amount=i.amount,
                             currency=i.currency) for i in invoice.items],
    )


@collections_api.post(
    "/sessions/checkout", name="sessions.checkout", response_model=c.CheckoutSessionResponse
)
async def create_checkout(body: c.CheckoutSessionCreate, rt: Rt) -> Any:
    """A checkout session for an ACTIVE invoice (IDLE or CANCELED: 422)."""
    now = rt.now()
    session = rt.store.create_checkout(
        source_id=body.source_id, source_type=body.source_type, now=now
    )
    return quirks.answer(_checkout(session, now), rt.faults, session=True)


@collections_api.post(
    "/executions/collection", name="executions.collection", response_model=s.ExecutionResponse
)
async def execute_collection(body: c.CollectionExecutionCreate, rt: Rt) -> Any:
    """Ask the payer to approve the invoice's amount, idempotently per reference_id."""
    _check_reference_id(body.reference_id)
    now = rt.now()
    collection = rt.store.execute_collection(
        session_ref=body.session_id, account_ref=body.payment_account_id,
        currency=body.currency, reference_id=body.reference_id, now=now,
    )
    return quirks.answer(collection_response(collection, now), rt.faults)


@collections_api.get(
    "/status/collection/{reference_id}", name="status.collection",
    response_model=s.ExecutionResponse,
)
async def collection_status(reference_id: str, rt: Rt) -> Any:
    """Where a collection stands; 404 (or 422, a quirk) when unknown or not yet visible."""
    now = rt.now()
    try:
        collection = rt.store.collection_status(reference_id, now)
    except Missing as exc:
        if rt.faults.status_unknown_code == 422:
            raise Rejected(["path", "reference_id"], "Transaction not found") from exc
        raise
    return quirks.answer(collection_response(collection, now), rt.faults)


@collections_api.get("/status/source", name="status.source")
async def source_status(
    source_type: c.SourceType, source_id: int, rt: Rt
) -> c.SourceStatusResponse:
    """The lifecycle status of an invoice (IDLE/ACTIVE/PROCESSING/PAID/CANCELED)."""
    if source_type != "INVOICE":
        raise Rejected(["query", "source_type"], f"{source_type} sources are not simulated")
    invoice = rt.store.invoice(source_id, rt.now())
    return c.SourceStatusResponse(
        source_id=invoice.id, source_type="INVOICE", source_number=invoice.invoice_number,
        status=invoice.status, currency=invoice.currency, total_amount=invoice.total,
        paid_at=_dt(invoice.paid_at),
    )
