"""The sandbox's collection records: invoices, checkout sessions, collections (pure timeline).

A collection asks a payer to approve a debit on their phone. Its status is a function of
time and of how the simulated payer behaves (`batch.sandbox.payers`): PENDING briefly, then
PROCESSING until the payer answers (or the approval window ends), then COMPLETED or FAILED.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from batch.sandbox.fees import convert, fx_rate
from batch.sandbox.state import COMPLETED, FAILED, PENDING, PROCESSING

IDLE, ACTIVE, PAID, CANCELED = "IDLE", "ACTIVE", "PAID", "CANCELED"
SOURCE_PROCESSING = PROCESSING


@dataclass
class InvoiceItem:
    """One line of an invoice: qty x unit amount."""

    id: int
    name: str
    currency: str
    qty: int
    amount: Decimal  # unit price
    created_at: float


@dataclass
class Invoice:
    """An invoice: IDLE (editable) -> ACTIVE (published) -> PROCESSING -> PAID; CANCELED."""

    id: int
    invoice_number: str
    counterparty_id: int
    currency: str
    note: str
    fee_bearer: str
    as_payment_link: bool
    reference_id: str | None
    due_date: float | None
    created_at: float
    items: list[InvoiceItem] = field(default_factory=list)
    status: str = IDLE
    paying: str | None = None  # reference_id of the collection in flight (PROCESSING)
    paid_by: str | None = None  # reference_id of the collection that paid it
    paid_at: float | None = None
    canceled_at: float | None = None
    updated_at: float = 0.0

    @property
    def total(self) -> Decimal:
        """Sum of qty x amount over the items."""
        return sum((i.amount * i.qty for i in self.items), Decimal(0))


@dataclass
class CheckoutSession:
    """Intent to pay one invoice, valid until expires_at, usable once."""

    id: int
    source_id: int
    source_type: str
    created_at: float
    expires_at: float
    used_by: str | None = None

    def status(self, now: float) -> str:
        """OPEN, USED or EXPIRED (undocumented values, as for payout sessions)."""
        if self.used_by is not None:
            return "USED"
        return "EXPIRED" if now >= self.expires_at else "OPEN"


@dataclass
class Collection:
    """One collection execution: a debit request on a payer's phone for one invoice."""

    reference_id: str
    session_id: int
    invoice_id: int
    payment_account_id: int
    phone: str | None
    amount: Decimal  # the invoice total, invoice currency
    currency: str
    fee: Decimal
    fee_bearer: str
    behaviour: str  # approve | decline | timeout | insufficient
    created_at: float
    pending_seconds: float
    answer_seconds: float  # from created_at: when the payer answers (or the window ends)
    outcome: str  # COMPLETED or FAILED
    gateway_message: str | None = None
    provider_transaction_id: str | None = None
    settled: bool = False  # terminal effects (invoice PAID or back to ACTIVE) applied
    payer_currency: str = ""  # the currency the payer's wallet pays in ("": the invoice's)

    @property
    def charged(self) -> Decimal:
        """What the payer pays, in the invoice currency: fees on top when they bear them."""
        return self.amount + self.fee if self.fee_bearer == "PAYER" else self.amount

    @property
    def debit_currency(self) -> str:
        """The currency the payer is debited in."""
        return self.payer_currency or self.currency

    @property
    def fx_rate(self) -> Decimal | None:
        """Payer-currency units per invoice-currency unit; None without FX."""
        if self.debit_currency == self.currency:
            return None
        return fx_rate(self.currency, self.debit_currency)

    @property
    def payer_amount(self) -> Decimal:
        """What the payer is debited, in their own currency (converted at the fixed rate)."""
        return convert(self.charged, self.currency, self.debit_currency)

    @property
    def payee_amount(self) -> Decimal:
        """What reaches the merchant's wallet."""
        return self.amount if self.fee_bearer == "PAYER" else self.amount - self.fee

    def finished_at(self) -> float:
        """When the collection reaches its terminal status."""
        return self.created_at + max(self.pending_seconds, self.answer_seconds)

    def status(self, now: float) -> str:
        """PENDING -> PROCESSING (waiting for the payer) -> COMPLETED | FAILED."""
        elapsed = now - self.created_at
        if now >= self.finished_at():
            return self.outcome
        return PENDING if elapsed < self.pending_seconds else PROCESSING


__all__ = [
    "ACTIVE", "CANCELED", "COMPLETED", "FAILED", "IDLE", "PAID", "CheckoutSession", "Collection",
    "Invoice", "InvoiceItem",
]
