"""The collection operation: request each row's invoice from its payer's mobile money.

Per row (one invoice): payer (party, CUSTOMER counterparty and COLLECTION payment account,
reused across batches through the ledger's recipients table) -> the invoice, created, filled
and published exactly once (`batch.operations.invoices`) -> checkout session just in time ->
execute with the row's reference_id, in the payer's currency (the collection prediction's;
FX applies when it is not the invoice's) -> status by reference_id; on COMPLETED the invoice is
confirmed PAID (`status/source`) and its receipt stored (REFERENCE §5.2, flow 1 of the guide).

Never more than one request per payer in flight: a row whose payer has another request
pending is left for a later run (`errors.NotNowError`), nothing sent.
"""

from __future__ import annotations

import logging
from typing import Protocol

from batch import errors
from batch.dollr.invoice_models import CheckoutSession, Receipt, SourceStatus
from batch.dollr.models import Counterparty, Execution, Party, PaymentAccount, ProviderInfo
from batch.engine.operation import Answer
from batch.engine.states import COLLECTION, PAYOUT, TERMINAL, OperationKind
from batch.ledger import Ledger, RowRecord
from batch.operations.invoices import InvoiceApi, InvoicePreparer
from batch.options import MonitorOptions

log = logging.getLogger("paybatch.collect")

CUSTOMER = "CUSTOMER"
# A payer answers a prompt on their phone: slower than a payout, so polls start later.
COLLECTION_TIMINGS = MonitorOptions(first_poll=5.0, max_poll_interval=30.0)


class CollectionApi(InvoiceApi, Protocol):
    """The Dollr calls a collection makes (`batch.dollr.client.ApiClient` fits)."""

    async def mmo_provider_info(
        self, phone: str, operation_type: str = PAYOUT
    ) -> ProviderInfo: ...
    async def create_party(
        self, *, fullname: str, phone: str, country_code: str | None, email: str | None = None
    ) -> Party: ...
    async def create_counterparty(
        self, *, party_id: int, relationship_type: str = CUSTOMER
    ) -> Counterparty: ...
    async def create_collection_account(
        self, *, party_id: int, account_name: str, provider: str, method: str,
        country_code: str | None, account_number: str,
    ) -> PaymentAccount: ...
    async def create_checkout_session(self, invoice_id: int) -> CheckoutSession: ...
    async def execute_collection(
        self, *, session_id: int, payment_account_id: int, currency: str, reference_id: str
    ) -> Execution: ...
    async def collection_status(self, reference_id: str) -> Execution: ...
    async def source_status(self, invoice_id: int) -> SourceStatus: ...
    async def invoice_receipt(self, invoice_id: int) -> Receipt: ...


class CollectionOperation:
    """Collections as the engine drives them (`batch.engine.operation.Operation`)."""

    kind = OperationKind.COLLECTION
    operation_type = COLLECTION
    monitor_defaults = COLLECTION_TIMINGS

    def __init__(self, ledger: Ledger, api: CollectionApi) -> None:
        self.ledger = ledger
        self.api = api
        self.invoices = InvoicePreparer(ledger, api)
        self._claims: dict[str, int] = {}  # payer phone -> the row asking them now

    async def prepare(self, row: RowRecord) -> int:
        """The payer's COLLECTION account id, with the row's invoice published."""
        assert row.phone is not None
        self._claim(row)
        account_id, counterparty_id = await self._payer(row)
        await self.invoices.ensure(row, counterparty_id)
        return account_id

    def _claim(self, row: RowRecord) -> None:
        """One request per payer at a time: this row's turn, or NotNowError."""
        assert row.phone is not None
        holder = self._claims.get(row.phone)
        if holder is not None and holder != row.id:
            other = self.ledger.row(holder)
            if other is not None and other.state not in TERMINAL:
                raise errors.NotNowError(f"payer {row.phone} has another request pending")
        if self.ledger.payer_busy(row.phone, row.id):
            raise errors.NotNowError(f"payer {row.phone} has another request pending")
        self._claims[row.phone] = row.id

    async def _payer(self, row: RowRecord) -> tuple[int, int]:
        """(payment account id, counterparty id) of the row's payer, created if unknown."""
        ledger, api = self.ledger, self.api
        assert row.phone is not None and row.name is not None
        known = ledger.recipient(row.phone, COLLECTION)
        if known and known.account_id is not None and known.counterparty_id is not None:
            return known.account_id, known.counterparty_id
        method = (known.method if known else None) or row.method
        provider = (known.provider if known else None) or row.provider
        if not method or not provider:
            info = await api.mmo_provider_info(row.phone, COLLECTION)
            method, provider = info.payment_method, info.gateway_provider
            ledger.save_routing(
                row.phone, carrier=info.carrier, country=info.country,
                currencies=info.currencies, method=method, provider=provider,
                operation_type=COLLECTION,
            )
        party_id = known.party_id if known else None
        if party_id is None:
            payout_side = ledger.recipient(row.phone, PAYOUT)  # one person, one party
            party_id = payout_side.party_id if payout_side else None
        if party_id is None:
            party = await api.create_party(
                fullname=row.name, phone=row.phone, country_code=row.country, email=row.email
            )
            party_id = party.id
        ledger.save_recipient_ids(row.phone, party_id=party_id, operation_type=COLLECTION)
        counterparty_id = known.counterparty_id if known else None
        if counterparty_id is None:
            counterparty = await api.create_counterparty(
                party_id=party_id, relationship_type=CUSTOMER
            )
            counterparty_id = counterparty.id
            ledger.save_recipient_ids(
                row.phone, counterparty_id=counterparty_id, relationship_type=CUSTOMER,
                operation_type=COLLECTION,
            )
        account_id = known.account_id if known else None
        if account_id is None:
            account = await api.create_collection_account(
                party_id=party_id, account_name=f"{row.name} {method}", provider=provider,
                method=method, country_code=row.country, account_number=row.phone,
            )
            account_id = account.id
            ledger.save_recipient_ids(row.phone, account_id=account_id,
                                      operation_type=COLLECTION)
        return account_id, counterparty_id

    async def open_session(self, row: RowRecord, account_id: int) -> CheckoutSession:
        # prepare() ran just before (the runner prepares before every session): the
        # invoice is published and recorded.
        record = self.ledger.invoice_record(row.id)
        assert record is not None and record.invoice_id is not None, "invoice not published"
        return await self.api.create_checkout_session(record.invoice_id)

    async def execute(
        self, row: RowRecord, *, session_id: int, account_id: int, reference_id: str
    ) -> Execution:
        return await self.api.execute_collection(
            session_id=session_id, payment_account_id=account_id,
            currency=self.payer_currency(row), reference_id=reference_id,
        )

    def payer_currency(self, row: RowRecord) -> str:
        """The currency the payer pays in (REFERENCE §3.7.2: the payer's, not necessarily
        the invoice's), as the collection prediction said; the invoice's if never predicted."""
        assert row.currency is not None
        record = self.ledger.invoice_record(row.id)
        return (record.payer_currency if record and record.payer_currency else row.currency)

    async def status(self, reference_id: str) -> Execution:
        return await self.api.collection_status(reference_id)

    def stop_reason(self, answer: Answer) -> str | None:
        return None  # one payer declining or short of funds says nothing about the others

    async def after_final(self, row_id: int, reference_id: str, answer: Answer) -> None:
        """On COMPLETED: confirm the invoice PAID and keep its receipt (a failure here is
        left for the next run's `finish_receipts`; it never moves money)."""
        if not answer.is_completed:
            return
        try:
            await fetch_receipt(self.ledger, self.api, row_id)
        except errors.ApiError as exc:
            log.warning("row %s: receipt not fetched yet (%s); the next run asks again",
                        row_id, exc)


async def fetch_receipt(ledger: Ledger, api: CollectionApi, row_id: int) -> bool:
    """Confirm the row's invoice PAID and store its receipt; False if it is not PAID yet.

    The receipt (REFERENCE §3.10.4) is the confirmation: it is given only for a PAID
    invoice and carries its status; `status/source` is asked when it is refused."""
    record = ledger.invoice_record(row_id)
    if record is None or record.invoice_id is None:
        return False
    try:
        # The receipt exists only once the invoice is PAID, and says so: one call, not two.
        receipt = await api.invoice_receipt(record.invoice_id)
    except errors.ApiValidationError:
        receipt = None
    if receipt is None or receipt.status != "PAID":
        source = await api.source_status(record.invoice_id)
        ledger.set_source_status(row_id, source.status, source.paid_at)
        if source.status != "PAID" or receipt is None:
            return False
    ledger.set_source_status(row_id, "PAID", receipt.paid_at)
    ledger.save_receipt(row_id, receipt.model_dump(mode="json"))
    return True

