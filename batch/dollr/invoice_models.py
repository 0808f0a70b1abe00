"""Models of the Dollr collection calls (REFERENCE §3.6.2, §3.7.2, §3.8.2, §3.10)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator

from batch.dollr.models import (
    ASSUMED_SESSION_LIFETIME,
    StatusText,
    UtcDatetime,
    _Request,
    _Response,
)


class Invoice(_Response):
    """InvoiceResponse: IDLE -> ACTIVE -> PROCESSING -> PAID, or CANCELED."""

    id: int
    status: StatusText
    invoice_number: str | None = None
    counterparty_id: int | None = None
    currency: str | None = None
    total_amount: Decimal | None = None
    reference_id: str | None = None
    paid_at: UtcDatetime | None = None


class InvoiceItem(_Response):
    """InvoiceItemResponse."""

    id: int
    name: str | None = None
    qty: int | None = None
    amount: Decimal | None = None
    currency: str | None = None


class InvoiceDetail(Invoice):
    """InvoiceDetailResponse: the invoice with its items (retrieve)."""

    items: Annotated[list[InvoiceItem], BeforeValidator(lambda v: [] if v is None else v)] = []


class CheckoutSession(_Response):
    """CheckoutSessionResponse; execute before `expires_at`."""

    id: int
    source_id: int | None = None
    status: str | None = None
    expires_at: UtcDatetime | None = None
    created_at: UtcDatetime | None = None

    @property
    def wallet_id(self) -> int | None:
        """A checkout session names no merchant wallet."""
        return None

    def expires_by_our_clock(self, received_at: datetime) -> datetime:
        """Expiry in our clock's terms (the server's lifetime counted from our receipt)."""
        if self.expires_at is None:
            return received_at + ASSUMED_SESSION_LIFETIME
        if self.created_at is not None and self.expires_at > self.created_at:
            return received_at + (self.expires_at - self.created_at)
        if self.expires_at > received_at:
            return self.expires_at
        return received_at + ASSUMED_SESSION_LIFETIME


class SourceStatus(_Response):
    """PaymentSourceStatusResponse (GET /v1/status/source)."""

    source_id: int | None = None
    status: StatusText
    source_number: str | None = None
    currency: str | None = None
    total_amount: Decimal | None = None
    paid_at: UtcDatetime | None = None


class ReceiptItem(_Response):
    """One item on a receipt."""

    id: int | None = None
    name: str | None = None
    qty: int | None = None
    amount: Decimal | None = None
    currency: str | None = None


class Receipt(_Response):
    """InvoiceReceiptResponse: what the books need, everything optional but the invoice id."""

    invoice_id: int
    invoice_number: str | None = None
    status: str | None = None
    total_amount: Decimal | None = None
    currency: str | None = None
    reference_id: str | None = None
    paid_at: UtcDatetime | None = None
    payer_amount: Decimal | None = None
    payer_currency: str | None = None
    payee_amount: Decimal | None = None
    payee_currency: str | None = None
    platform_fee: Decimal | None = None
    platform_currency: str | None = None
    gateway_fee: Decimal | None = None
    gateway_currency: str | None = None
    fx_fee: Decimal | None = None
    fx_rate: str | None = None
    fx_currency_from: str | None = None
    fx_currency_to: str | None = None
    payment_provider: str | None = None
    payment_method: str | None = None
    provider_transaction_id: str | None = None
    items: Annotated[list[ReceiptItem], BeforeValidator(lambda v: [] if v is None else v)] = []


class InvoiceCreate(_Request):
    """POST /v1/invoices/create."""

    counterparty_id: int
    currency: str
    note: str
    fee_bearer: str
    as_payment_link: bool
    reference_id: str | None = None
    due_date: str | None = None  # RFC 3339 text


class InvoiceItemCreate(_Request):
    """POST /v1/invoices/{invoice_id}/items/add."""

    name: str
    currency: str
    qty: int
    amount: Decimal


class CheckoutSessionCreate(_Request):
    """POST /v1/sessions/checkout."""

    source_id: int
    source_type: str


class CollectionExecute(_Request):
    """POST /v1/executions/collection: ids as STRINGS (REFERENCE §1.2)."""

    session_id: str
    payment_account_id: str
    currency: str
    reference_id: str
