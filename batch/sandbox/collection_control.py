"""Inspection of the collection side under `/_sandbox/`: every debit and every invoice.

"No payer debited twice for one invoice" is judged from the sandbox's own record:
`/_sandbox/collections` (every collection request, with its status: a COMPLETED one is a
debit) and `/_sandbox/invoices` (every invoice with its items, status and who paid it).
"""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter
from pydantic import BaseModel

from batch.sandbox.invoice_state import Collection, Invoice
from batch.sandbox.routes import Rt
from batch.sandbox.state import iso

collection_control = APIRouter(prefix="/_sandbox", include_in_schema=False)


class CollectionRecord(BaseModel):
    """One collection request as the sandbox saw it (amounts exact)."""

    reference_id: str
    invoice_id: int
    invoice_reference: str | None  # the client's own reference on the invoice
    session_id: int
    payment_account_id: int
    phone: str | None
    amount: Decimal
    currency: str
    fee: Decimal
    payer_amount: Decimal  # what the payer is debited, in payer_currency
    payer_currency: str
    payee_amount: Decimal  # what the merchant receives, in currency
    behaviour: str
    status: str
    created_at: str
    gateway_message: str | None


class ItemRecord(BaseModel):
    """One invoice line."""

    id: int
    name: str
    qty: int
    amount: Decimal


class InvoiceRecord(BaseModel):
    """One invoice as the sandbox holds it."""

    id: int
    invoice_number: str
    reference_id: str | None
    counterparty_id: int
    currency: str
    total: Decimal
    status: str
    paid_by: str | None
    items: list[ItemRecord]


def collection_record(x: Collection, invoice: Invoice, now: float) -> CollectionRecord:
    """The inspection view of one collection."""
    done = now >= x.finished_at()
    return CollectionRecord(
        reference_id=x.reference_id, invoice_id=x.invoice_id,
        invoice_reference=invoice.reference_id, session_id=x.session_id,
        payment_account_id=x.payment_account_id, phone=x.phone, amount=x.amount,
        currency=x.currency, fee=x.fee, payer_amount=x.payer_amount,
        payer_currency=x.debit_currency, payee_amount=x.payee_amount, behaviour=x.behaviour,
        status=x.status(now),
        created_at=iso(x.created_at), gateway_message=x.gateway_message if done else None,
    )


@collection_control.get("/collections")
async def collections(
    rt: Rt, phone: str | None = None, status: str | None = None, invoice_id: int | None = None
) -> list[CollectionRecord]:
    """Every collection request, oldest first, optionally filtered (COMPLETED = a debit)."""
    now = rt.now()
    store = rt.store
    store.settle_collections(now)
    records = [collection_record(x, store.invoices[x.invoice_id], now)
               for x in store.collections.values()]
    return [
        r for r in records
        if (phone is None or r.phone == phone) and (status is None or r.status == status)
        and (invoice_id is None or r.invoice_id == invoice_id)
    ]


@collection_control.get("/invoices")
async def invoices(rt: Rt) -> list[InvoiceRecord]:
    """Every invoice with its items, status and the collection that paid it."""
    now = rt.now()
    rt.store.settle_collections(now)
    return [
        InvoiceRecord(
            id=i.id, invoice_number=i.invoice_number, reference_id=i.reference_id,
            counterparty_id=i.counterparty_id, currency=i.currency, total=i.total,
            status=i.status, paid_by=i.paid_by,
            items=[ItemRecord(id=x.id, name=x.name, qty=x.qty, amount=x.amount) for x in i.items],
        )
        for i in rt.store.invoices.values()
    ]
