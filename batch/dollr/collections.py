"""Collections via invoices (REFERENCE §3.4, §3.6.2, §3.7.2, §3.8, §3.10).

Invoice creation and item additions carry no idempotency key: they are never retried here
(`safe=False`); the caller journals each returned id and checks (`retrieve_invoice`) before
repeating anything. Reads, the checkout session (moves no money) and the payer's account
are retried like the payout side's; the collection execute never is.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from batch import errors
from batch.dollr.invoice_models import (
    CheckoutSession,
    CheckoutSessionCreate,
    CollectionExecute,
    Invoice,
    InvoiceCreate,
    InvoiceDetail,
    InvoiceItem,
    InvoiceItemCreate,
    Receipt,
    SourceStatus,
)
from batch.dollr.models import Execution, PaymentAccount, PaymentAccountCreate
from batch.dollr.requestor import Requestor

COLLECTION_STATUS_PATH = "/v1/status/collection/"


class Collections(Requestor):
    """`/v1/invoices/*`, `/v1/sessions/checkout`, `/v1/executions/collection`, status."""

    async def create_collection_account(
        self,
        *,
        party_id: int,
        account_name: str,
        provider: str,
        method: str,
        country_code: str | None,
        account_number: str,
    ) -> PaymentAccount:
        """Register the payer's mobile-money wallet for collections (REFERENCE §3.4)."""
        body = PaymentAccountCreate(
            account_name=account_name, provider=provider, method=method, party_id=party_id,
            country_code=country_code, insensitive_account_number=account_number,
        )
        params = {"operation_type": "COLLECTION"}
        path = "/v1/payment-accounts/create"
        return await self._call(PaymentAccount, "POST", path, safe=True, params=params, body=body)

    async def create_invoice(
        self,
        *,
        counterparty_id: int,
        currency: str,
        note: str,
        fee_bearer: str,
        reference_id: str | None,
        due_date: datetime | None = None,
    ) -> Invoice:
        """A new IDLE invoice. Not retried: a lost answer may have created it."""
        body = InvoiceCreate(
            counterparty_id=counterparty_id, currency=currency, note=note, fee_bearer=fee_bearer,
            as_payment_link=False, reference_id=reference_id,
            due_date=due_date.isoformat().replace("+00:00", "Z") if due_date else None,
        )
        return await self._call(Invoice, "POST", "/v1/invoices/create", safe=False, body=body)

    async def add_invoice_item(
        self, invoice_id: int, *, name: str, currency: str, qty: int, amount: Decimal
    ) -> InvoiceItem:
        """Add one line to an IDLE invoice. Not retried: a lost answer may have added it."""
        body = InvoiceItemCreate(name=name, currency=currency, qty=qty, amount=amount)
        path = f"/v1/invoices/{invoice_id}/items/add"
        return await self._call(InvoiceItem, "POST", path, safe=False, body=body)

    async def publish_invoice(self, invoice_id: int) -> Invoice:
        """IDLE -> ACTIVE. Not retried (a repeat is refused): check with retrieve instead."""
        path = f"/v1/invoices/publish/{invoice_id}"
        return await self._call(Invoice, "PUT", path, safe=False)

    async def retrieve_invoice(self, invoice_id: int) -> InvoiceDetail:
        """The invoice with its items."""
        path = f"/v1/invoices/retrieve/{invoice_id}"
        return await self._call(InvoiceDetail, "GET", path, safe=True)

    async def list_invoices(
        self, *, currency: str | None = None, status: str | None = None
    ) -> list[Invoice]:
        """Invoices (a bare array, or an object with an `items`-like list)."""
        params = {k: v for k, v in (("currency", currency), ("status", status)) if v}
        data = await self._call(_Listing, "GET", "/v1/invoices/list", safe=True, params=params)
        return data.invoices

    async def cancel_invoice(self, invoice_id: int) -> Invoice:
        """IDLE or ACTIVE -> CANCELED (refused while PROCESSING)."""
        path = f"/v1/invoices/cancel/{invoice_id}"
        return await self._call(Invoice, "DELETE", path, safe=False)

    async def invoice_receipt(self, invoice_id: int) -> Receipt:
        """The receipt of a PAID invoice."""
        path = f"/v1/invoices/receipt/{invoice_id}"
        return await self._call(Receipt, "GET", path, safe=True)

    async def source_status(self, invoice_id: int) -> SourceStatus:
        """The invoice's lifecycle status (REFERENCE §3.8.2)."""
        params = {"source_type": "INVOICE", "source_id": str(invoice_id)}
        return await self._call(SourceStatus, "GET", "/v1/status/source", safe=True, params=params)

    async def create_checkout_session(self, invoice_id: int) -> CheckoutSession:
        """A checkout session for an ACTIVE invoice; moves no money."""
        body = CheckoutSessionCreate(source_id=invoice_id, source_type="INVOICE")
        path = "/v1/sessions/checkout"
        return await self._call(CheckoutSession, "POST", path, safe=True, body=body)

    async def execute_collection(
        self, *, session_id: int, payment_account_id: int, currency: str, reference_id: str
    ) -> Execution:
        """Ask the payer to pay. Never retried: 5xx, 429 and lost answers surface as Transient."""
        await self.auth.token()
        body = CollectionExecute(
            session_id=str(session_id), payment_account_id=str(payment_account_id),
            currency=currency, reference_id=reference_id,
        )
        path = "/v1/executions/collection"
        return await self._call(
            Execution, "POST", path, safe=False, body=body, reference_id=reference_id
        )

    async def collection_status(self, reference_id: str) -> Execution:
        """Where a collection stands; NotFoundError when the API has no such reference_id."""
        path = f"{COLLECTION_STATUS_PATH}{quote(reference_id, safe='')}"
        try:
            return await self._call(Execution, "GET", path, safe=True, reference_id=reference_id)
        except errors.ApiValidationError as exc:
            raise errors.NotFoundError(
                str(exc), status=exc.status, endpoint=exc.endpoint, detail=exc.detail,
                request_id=exc.request_id, reference_id=reference_id,
            ) from exc


class _Listing(Invoice):
    """A list answer: a bare array or an object holding one."""

    id: int = 0
    status: str = ""
    invoices: list[Invoice] = []

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> _Listing:
        if isinstance(obj, dict):
            found = next((v for v in obj.values() if isinstance(v, list)), [])
        else:
            found = obj if isinstance(obj, list) else []
        return cls(invoices=[Invoice.model_validate(x) for x in found])
