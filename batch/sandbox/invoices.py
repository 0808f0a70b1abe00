"""The sandbox's collection side: invoices, checkout sessions, collections (a Store mixin).

Faithful to REFERENCE §3.6.2, §3.7.2, §3.8, §3.10: an invoice is IDLE (items may be added),
published to ACTIVE, PROCESSING while a collection is in flight, PAID when one completes
(back to ACTIVE when it fails), CANCELED from IDLE or ACTIVE only. A checkout session needs
an ACTIVE invoice; a collection needs an open session, a COLLECTION payment account and an
invoice nobody is paying. The reference_id is idempotent as for payouts.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from batch.sandbox import fees, operators, payers
from batch.sandbox.config import Faults, SandboxConfig
from batch.sandbox.invoice_state import (
    ACTIVE,
    CANCELED,
    IDLE,
    PAID,
    CheckoutSession,
    Collection,
    Invoice,
    InvoiceItem,
)
from batch.sandbox.problems import Missing, Rejected
from batch.sandbox.state import COMPLETED, FAILED, PROCESSING, Counterparty, PaymentAccount

# Distinct id ranges per kind (as for the payout side) make id mix-ups fail loudly.
_FIRST_IDS = {"invoice": 1000, "item": 5000, "checkout": 7700}


class CollectionStore:
    """Collections on top of the Store's parties, counterparties, accounts and wallet."""

    # Provided by Store.
    config: SandboxConfig
    faults: Faults
    balances: dict[str, Decimal]
    counterparties: dict[int, Counterparty]
    accounts: dict[int, PaymentAccount]
    _next: dict[str, int]

    def _changed(self, kind: str, key: object, record: object) -> None:
        raise NotImplementedError

    def _start_collections(self) -> None:
        self.invoices: dict[int, Invoice] = {}
        self.checkouts: dict[int, CheckoutSession] = {}
        self.collections: dict[str, Collection] = {}
        self._next.update(_FIRST_IDS)

    def _restore_collections(self, records: dict[str, list[Any]]) -> None:
        self.invoices = {i.id: i for i in sorted(records.get("invoice", []), key=lambda r: r.id)}
        self.checkouts = {
            c.id: c for c in sorted(records.get("checkout", []), key=lambda r: r.id)}
        found = sorted(records.get("collection", []), key=lambda c: c.created_at)
        self.collections = {c.reference_id: c for c in found}

    def _next_id(self, kind: str) -> int:
        self._next[kind] = self._next.get(kind, _FIRST_IDS[kind]) + 1
        return self._next[kind]

    # -- invoices (REFERENCE §3.10) ----------------------------------------------------------

    def create_invoice(
        self, *, counterparty_id: int, currency: str, note: str, fee_bearer: str,
        as_payment_link: bool, reference_id: str | None, due_date: float | None, now: float,
    ) -> Invoice:
        """A new IDLE invoice with no items."""
        if counterparty_id not in self.counterparties:
            raise Rejected(["body", "counterparty_id"], f"Counterparty {counterparty_id} not found")
        if currency not in fees.USD_RATES:
            raise Rejected(["body", "currency"], f"Currency {currency} is not supported")
        number = self._next_id("invoice")
        year = datetime.fromtimestamp(now, UTC).year
        invoice = Invoice(
            id=number, invoice_number=f"INV-{year}-{number:05d}", counterparty_id=counterparty_id,
            currency=currency, note=note, fee_bearer=fee_bearer, as_payment_link=as_payment_link,
            reference_id=reference_id, due_date=due_date, created_at=now, updated_at=now,
        )
        self.invoices[invoice.id] = invoice
        self._changed("invoice", invoice.id, invoice)
        return invoice

    def invoice(self, ref: str | int, now: float) -> Invoice:
        """The invoice (its collection in flight brought up to date), or 404."""
        invoice = self.invoices.get(int(ref)) if str(ref).isdigit() else None
        if invoice is None:
            raise Missing("Invoice not found")
        if invoice.paying is not None:
            self.refresh_collection(self.collections[invoice.paying], now)
        return invoice

    def add_item(
        self, invoice_ref: str, *, name: str, currency: str, qty: int, amount: Decimal, now: float
    ) -> InvoiceItem:
        """Add a line to an IDLE invoice."""
        invoice = self.invoice(invoice_ref, now)
        if invoice.status != IDLE:
            raise Rejected(["path", "invoice_id"], f"Invoice is {invoice.status}, not IDLE")
        if currency != invoice.currency:
            raise Rejected(["body", "currency"], "Item currency differs from the invoice's")
        if fees.quantize(amount, currency) != amount:
            raise Rejected(["body", "amount"], f"Too many decimal places for {currency}")
        item = InvoiceItem(self._next_id("item"), name, currency, qty, amount, now)
        invoice.items.append(item)
        invoice.updated_at = now
        self._changed("invoice", invoice.id, invoice)
        return item

    def publish(self, ref: str, now: float) -> Invoice:
        """IDLE with items -> ACTIVE."""
        invoice = self.invoice(ref, now)
        if invoice.status != IDLE:
            raise Rejected(["path", "id"], f"Invoice is {invoice.status}, not IDLE")
        if not invoice.items:
            raise Rejected(["path", "id"], "Invoice has no items")
        invoice.status, invoice.updated_at = ACTIVE, now
        self._changed("invoice", invoice.id, invoice)
        return invoice

    def cancel_invoice(self, ref: str, now: float) -> Invoice:
        """IDLE or ACTIVE -> CANCELED; never while PROCESSING (REFERENCE §3.10)."""
        invoice = self.invoice(ref, now)
        if invoice.status not in (IDLE, ACTIVE):
            raise Rejected(["path", "id"], f"Invoice is {invoice.status}; it cannot be canceled")
        invoice.status, invoice.canceled_at, invoice.updated_at = CANCELED, now, now
        self._changed("invoice", invoice.id, invoice)
        return invoice

    # -- checkout sessions and collections (REFERENCE §3.6.2, §3.7.2) ------------------------

    def create_checkout(self, *, source_id: int, source_type: str, now: float) -> CheckoutSession:
        """A session for an ACTIVE invoice."""
        if source_type != "INVOICE":
            raise Rejected(["body", "source_type"], "Only INVOICE sources are simulated")
        invoice = self.invoices.get(source_id)
        if invoice is None:
            raise Rejected(["body", "source_id"], f"Invoice {source_id} not found")
        self.invoice(source_id, now)
        if invoice.status != ACTIVE:
            raise Rejected(["body", "source_id"], f"Invoice is {invoice.status}, not ACTIVE")
        session = CheckoutSession(
            self._next_id("checkout"), source_id, source_type, now,
            now + self.faults.session_lifetime_seconds,
        )
        self.checkouts[session.id] = session
        self._changed("checkout", session.id, session)
        return session

    def execute_collection(
        self, *, session_ref: str, account_ref: str, currency: str, reference_id: str, now: float
    ) -> Collection:
        """Ask the payer to approve; the same reference_id with the same body is idempotent."""
        session = self.checkouts.get(int(session_ref)) if session_ref.isdigit() else None
        if session is None:
            raise Rejected(["body", "session_id"], f"Session {session_ref} not found")
        existing = self.collections.get(reference_id)
        if existing is not None:
            same_account = str(existing.payment_account_id) == account_ref
            if existing.session_id == session.id and same_account:
                return self.refresh_collection(existing, now)
            raise Rejected(["body", "reference_id"], "Duplicate reference_id", "duplicate")
        account = self.accounts.get(int(account_ref)) if account_ref.isdigit() else None
        if account is None or account.operation_type != "COLLECTION":
            raise Rejected(["body", "payment_account_id"], "Not a COLLECTION payment account")
        if session.used_by is not None:
            raise Rejected(["body", "session_id"], "Session has already been executed")
        if now >= session.expires_at:
            raise Rejected(["body", "session_id"], "Session has expired")
        invoice = self.invoice(session.source_id, now)
        if invoice.status != ACTIVE:
            raise Rejected(["body", "session_id"], f"Invoice is {invoice.status}, not ACTIVE")
        wallet = self._wallet_currencies(account)
        if currency not in wallet:
            raise Rejected(["body", "currency"],
                           f"Payer currency {currency} is not supported: the payer's wallet "
                           f"pays in {', '.join(wallet)}")
        collection = self._new_collection(session, invoice, account, reference_id, now,
                                          payer_currency=currency)
        session.used_by = reference_id
        invoice.status, invoice.paying, invoice.updated_at = PROCESSING, reference_id, now
        self.collections[reference_id] = collection
        self._changed("checkout", session.id, session)
        self._changed("invoice", invoice.id, invoice)
        self._changed("collection", reference_id, collection)
        return self.refresh_collection(collection, now)

    def _wallet_currencies(self, account: PaymentAccount) -> list[str]:
        """The currencies the account's mobile-money wallet pays in."""
        phone = account.account_number or ""
        try:
            country = operators.operator_for(phone).currencies
        except operators.UnroutablePhoneError:
            country = sorted(fees.USD_RATES)
        return payers.wallet_currencies(self.faults, phone, country)

    def _new_collection(
        self, session: CheckoutSession, invoice: Invoice, account: PaymentAccount,
        reference_id: str, now: float, *, payer_currency: str,
    ) -> Collection:
        phone = account.account_number
        nth = sum(1 for c in self.collections.values() if c.phone == phone)
        answer = payers.behaviour(
            self.faults, seed=self.config.seed, phone=phone, reference_id=reference_id, nth=nth
        )
        quote = fees.quote(
            base_amount=invoice.total, base_currency=invoice.currency,
            target_currency=payer_currency, payment_method=account.method,
            operation_type="COLLECTION", fee_bearer=invoice.fee_bearer,
        )
        ok = answer == payers.APPROVE
        return Collection(
            reference_id=reference_id, session_id=session.id, invoice_id=invoice.id,
            payment_account_id=account.id, phone=phone, amount=invoice.total,
            currency=invoice.currency, fee=quote.total_fee, fee_bearer=invoice.fee_bearer,
            behaviour=answer, created_at=now, pending_seconds=self.faults.pending_seconds,
            answer_seconds=payers.answer_seconds(self.faults, answer),
            outcome=COMPLETED if ok else FAILED,
            gateway_message=None if ok else payers.MESSAGES[answer],
            provider_transaction_id=(
                f"SBXC-{uuid.UUID(reference_id).hex[:12].upper()}" if ok else None),
            payer_currency=payer_currency,
        )

    def refresh_collection(self, collection: Collection, now: float) -> Collection:
        """Apply a finished collection's effects: invoice PAID (wallet credited) or ACTIVE."""
        if collection.settled or now < collection.finished_at():
            return collection
        collection.settled = True
        invoice = self.invoices[collection.invoice_id]
        if invoice.paying == collection.reference_id:
            invoice.paying = None
            at = collection.finished_at()
            if collection.outcome == COMPLETED:
                invoice.status, invoice.paid_by, invoice.paid_at = PAID, collection.reference_id, at
                credit = collection.payee_amount
                self.balances[collection.currency] = (
                    self.balances.get(collection.currency, Decimal(0)) + credit)
            else:
                invoice.status = ACTIVE
            invoice.updated_at = at
            self._changed("invoice", invoice.id, invoice)
        self._changed("collection", collection.reference_id, collection)
        return collection

    def collection_status(self, reference_id: str, now: float) -> Collection:
        """The collection, or 404 while unknown or not yet visible."""
        collection = self.collections.get(reference_id)
        delay = self.faults.status_visibility_delay_seconds
        if collection is None or now < collection.created_at + delay:
            raise Missing("Transaction not found")
        return self.refresh_collection(collection, now)

    def settle_collections(self, now: float) -> None:
        """Bring every collection in flight up to date (before inspection)."""
        for collection in self.collections.values():
            if not collection.settled:
                self.refresh_collection(collection, now)

    def draw(self, reference_id: str) -> float:
        """A replayable number per reference_id (tests)."""
        return random.Random(f"{self.config.seed}:{reference_id}").random()

