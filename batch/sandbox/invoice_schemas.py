"""Request and response bodies of the sandbox's collection endpoints (REFERENCE §3.6.2-§3.10)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from batch.sandbox.schemas import (
    CounterpartyResponse,
    CurrencyCode,
    FeeBearer,
    Number,
    PartyResponse,
)


class InvoiceCreate(BaseModel):
    """POST /v1/invoices/create."""

    counterparty_id: int
    currency: CurrencyCode
    note: str
    fee_bearer: FeeBearer
    as_payment_link: bool
    reference_id: str | None = None
    due_date: datetime | None = None


class InvoiceResponse(BaseModel):
    """InvoiceResponse."""

    id: int
    invoice_number: str
    counterparty_id: int
    currency: str
    total_amount: Number
    status: str
    note: str
    fee_bearer: str
    due_date: datetime | None
    as_payment_link: bool
    owner_id: int
    owner_type: str
    created_at: datetime
    updated_at: datetime
    reference_id: str | None
    paid_at: datetime | None


class InvoiceItemCreate(BaseModel):
    """POST /v1/invoices/{invoice_id}/items/add."""

    name: str
    currency: CurrencyCode
    qty: int = Field(ge=1)
    amount: Decimal = Field(ge=Decimal("0.01"))


class InvoiceItemResponse(BaseModel):
    """InvoiceItemResponse."""

    id: int
    name: str
    currency: str
    qty: int
    amount: Number
    created_at: datetime
    updated_at: datetime


class InvoiceDetailResponse(InvoiceResponse):
    """InvoiceDetailResponse: the invoice with its items and counterparty (retrieve)."""

    items: list[InvoiceItemResponse]
    counterparty: CounterpartyResponse | None
    party: PartyResponse | None = None


class CheckoutSessionCreate(BaseModel):
    """POST /v1/sessions/checkout."""

    source_id: int
    source_type: Annotated[str, Field(min_length=1)]


class CheckoutSessionResponse(BaseModel):
    """CheckoutSessionResponse."""

    id: int
    source_id: int
    source_type: str
    status: str
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
    payment_account_id: int | None = None


class CollectionExecutionCreate(BaseModel):
    """POST /v1/executions/collection: ids are STRINGS (REFERENCE §1.2)."""

    session_id: str
    payment_account_id: str
    currency: CurrencyCode
    reference_id: str


class SourceStatusResponse(BaseModel):
    """PaymentSourceStatusResponse (GET /v1/status/source)."""

    source_id: int
    source_type: str
    source_number: str
    status: str
    currency: str
    total_amount: Number
    paid_at: datetime | None


class ReceiptItem(BaseModel):
    """One item on a receipt."""

    id: int
    name: str
    qty: int
    amount: Number
    currency: str


class ReceiptResponse(BaseModel):
    """InvoiceReceiptResponse: the invoice, its counterparty, the payment, its items."""

    invoice_id: int
    invoice_number: str
    currency: str
    total_amount: Number
    status: str
    note: str
    due_date: datetime | None
    as_payment_link: bool
    fee_bearer: str
    owner_id: int
    owner_type: str
    created_at: datetime
    counterparty_id: int
    relationship_type: str
    counterparty_name: str
    counterparty_phone: str
    counterparty_email: str | None
    reference_id: str | None
    paid_at: datetime | None
    payer_amount: Number
    payer_currency: str
    payee_amount: Number
    payee_currency: str
    platform_fee: Number
    platform_currency: str
    gateway_fee: Number
    gateway_currency: str
    fx_fee: Number | None
    fx_rate: str | None  # a STRING (REFERENCE §3.10.4)
    fx_currency_from: str | None
    fx_currency_to: str | None
    payment_provider: str
    payment_method: str
    account_name: str
    gateway_confirmed_at: datetime | None
    provider_transaction_id: str | None
    items: list[ReceiptItem]


SourceType = Literal["INVOICE", "ORDER", "SUBSCRIPTION"]
