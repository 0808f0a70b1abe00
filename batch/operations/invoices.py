"""Prepare a row's invoice exactly once: create, add each item, publish — journaled.

None of these calls carries an idempotency key, so each returned id is committed
(`Ledger.record_step`) before the next call. A later run that finds the preparation
unfinished never repeats a step blindly: it reads the invoice back (`retrieve`) and carries
on from what the API holds, or cancels the invoice and starts a replacement when what it
holds is not what was meant (an unexpected item, a wrong total). No money moves before the
invoice is published with exactly its items.

Journal steps, per generation g (a replacement is the next generation):
  inv{g}.requested = our own invoice reference (sent as the invoice's reference_id)
  inv{g}           = the invoice id the API returned
  inv{g}.item{n}   = the id of item n (1-based, the ledger's order)
  inv{g}.published = ACTIVE

An invoice found recorded but not published when a run (or a retry after a lost answer)
starts is read back with `retrieve` before anything else is sent to it: one GET on a resume,
none on the way through.
  inv{g}.cancelled = why it was cancelled and replaced
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from batch import errors
from batch.dollr.invoice_models import Invoice, InvoiceDetail, InvoiceItem
from batch.ledger import Ledger, RowRecord
from batch.ledger.collections import ItemRecord
from batch.markets import from_minor

log = logging.getLogger("paybatch.collect")

MAX_GENERATIONS = 3  # replacements before the row is given up (something is badly wrong)
AMBIGUOUS_TRIES = 4  # lost answers and 5xx on invoice steps read back in one go


class InvoiceApi(Protocol):
    """The invoice calls a collection makes (`ApiClient` fits)."""

    async def create_invoice(
        self, *, counterparty_id: int, currency: str, note: str, fee_bearer: str,
        reference_id: str | None, due_date: datetime | None = None,
    ) -> Invoice: ...
    async def add_invoice_item(
        self, invoice_id: int, *, name: str, currency: str, qty: int, amount: Decimal
    ) -> InvoiceItem: ...
    async def publish_invoice(self, invoice_id: int) -> Invoice: ...
    async def retrieve_invoice(self, invoice_id: int) -> InvoiceDetail: ...
    async def list_invoices(
        self, *, currency: str | None = None, status: str | None = None
    ) -> list[Invoice]: ...
    async def cancel_invoice(self, invoice_id: int) -> Invoice: ...


class InvoiceProblem(errors.ApiError, errors.Terminal):
    """The invoice could not be prepared as meant even after replacing it: the row FAILS
    before anything is requested (the engine treats a Terminal error before the send so)."""


def _line(name: str, qty: int, unit: Decimal) -> tuple[str, int, Decimal]:
    return (name, qty, unit.normalize())


def matches_prefix(
    actual: list[tuple[str, int, Decimal]], expected: list[tuple[str, int, Decimal]]
) -> bool:
    """Whether the invoice holds exactly the first len(actual) expected items, in order."""
    return len(actual) <= len(expected) and actual == expected[: len(actual)]


class InvoicePreparer:
    """Journaled invoice preparation for collection rows."""

    def __init__(self, ledger: Ledger, api: InvoiceApi) -> None:
        self.ledger = ledger
        self.api = api

    async def ensure(self, row: RowRecord, counterparty_id: int) -> int:
        """The id of the row's published invoice, preparing (or finishing) it if need be.

        A step whose answer is lost or a server error (the client never retries these
        calls) is read back and carried on from at once, a few times, before giving up.
        """
        for tries_left in range(AMBIGUOUS_TRIES - 1, -1, -1):
            try:
                return await self._ensure(row, counterparty_id)
            except errors.ApiError as exc:
                if not isinstance(exc, errors.Transient) or not tries_left:
                    raise
                log.info("row %s: invoice step %s; reading back", row.id, exc)
        raise AssertionError("unreachable")

    async def _ensure(self, row: RowRecord, counterparty_id: int) -> int:
        assert row.current_reference_id is not None and row.currency is not None
        record = self.ledger.invoice_record(row.id)
        assert record is not None, f"row {row.id} has no collection invoice record"
        steps = self.ledger.row_steps(row.id)
        gen = max((int(k[3:].split(".")[0]) for k in steps if k.endswith(".requested")),
                  default=0)
        if gen and f"inv{gen}.published" in steps:
            invoice_id = int(steps[f"inv{gen}"])
            if record.invoice_id != invoice_id:  # the journal is the truth; the record follows
                self.ledger.set_invoice(row.id, invoice_id=invoice_id, invoice_number=None,
                                        status=None)
            return invoice_id
        items = self.ledger.invoice_items(row.id)
        expected = [_line(i.name, i.qty, from_minor(i.unit_minor, row.currency)) for i in items]
        total = sum((q * u for _, q, u in expected), Decimal(0))
        while True:
            fresh = False  # True: our reference was journaled just now, so no create left
            if gen == 0 or f"inv{gen}.cancelled" in steps:
                fresh = True
                gen += 1
                if gen > MAX_GENERATIONS:
                    raise InvoiceProblem(f"{MAX_GENERATIONS} invoices were spoiled; see events")
                ours = f"paybatch:{row.current_reference_id}:{gen}"
                self._record(row, f"inv{gen}.requested", ours)
                steps = self.ledger.row_steps(row.id)
            invoice_id, created_now = await self._created(
                row, gen, steps, counterparty_id, record.fee_bearer, record.due_date,
                fresh=fresh,
            )
            steps = self.ledger.row_steps(row.id)
            if not created_now:
                # Prepared (in part) by an earlier try or run: an item or the publish may
                # have landed unseen. What the invoice holds is read back first.
                spoiled = await self._reconcile(row, gen, invoice_id, expected, steps)
                steps = self.ledger.row_steps(row.id)
                if spoiled:
                    await self._replace(row, gen, invoice_id, spoiled)
                    steps = self.ledger.row_steps(row.id)
                    continue
                if f"inv{gen}.published" in steps:
                    return invoice_id
            await self._add_items(row, gen, invoice_id, items, steps)
            published = await self.api.publish_invoice(invoice_id)
            if published.total_amount is not None and published.total_amount != total:
                why = f"published with total {published.total_amount}, not {total}"
                await self._replace(row, gen, invoice_id, why)
                steps = self.ledger.row_steps(row.id)
                continue
            self._published(row, gen, invoice_id, published.invoice_number)
            return invoice_id

    def _record(self, row: RowRecord, step: str, value: str) -> None:
        assert row.current_reference_id is not None
        self.ledger.record_step(row.id, row.current_reference_id, step, value)

    def _published(self, row: RowRecord, gen: int, invoice_id: int, number: str | None) -> None:
        self._record(row, f"inv{gen}.published", "ACTIVE")
        self.ledger.set_invoice(row.id, invoice_id=invoice_id, invoice_number=number,
                                status="ACTIVE")

    async def _created(
        self, row: RowRecord, gen: int, steps: dict[str, str], counterparty_id: int,
        fee_bearer: str, due_date: str | None, *, fresh: bool,
    ) -> tuple[int, bool]:
        """The generation's invoice id: journaled, adopted (a lost answer), or created now;
        and whether it was created just now (nothing on it to doubt)."""
        if f"inv{gen}" in steps:
            return int(steps[f"inv{gen}"]), False
        assert row.currency is not None
        ours = steps[f"inv{gen}.requested"]
        if not fresh:
            # A create whose answer was lost may have landed: find it by our own reference.
            for invoice in await self.api.list_invoices(currency=row.currency, status="IDLE"):
                if invoice.reference_id == ours:
                    self._record(row, f"inv{gen}", str(invoice.id))
                    return invoice.id, False
        due = (datetime.fromisoformat(due_date).replace(tzinfo=UTC) if due_date else None)
        invoice = await self.api.create_invoice(
            counterparty_id=counterparty_id, currency=row.currency,
            note=row.note or "Payment request", fee_bearer=fee_bearer, reference_id=ours,
            due_date=due,
        )
        self._record(row, f"inv{gen}", str(invoice.id))
        return invoice.id, True

    async def _reconcile(
        self, row: RowRecord, gen: int, invoice_id: int,
        expected: list[tuple[str, int, Decimal]], steps: dict[str, str],
    ) -> str | None:
        """Read the invoice back and journal what it holds; why it is spoiled, or None."""
        detail = await self.api.retrieve_invoice(invoice_id)
        actual = [_line(i.name or "", i.qty or 0, i.amount or Decimal(0)) for i in detail.items]
        if detail.status == "CANCELED":
            return "found CANCELED"
        if not matches_prefix(actual, expected):
            return f"holds items {actual}, expected {expected}"
        for n, item in enumerate(detail.items, start=1):
            if f"inv{gen}.item{n}" not in steps:
                self._record(row, f"inv{gen}.item{n}", str(item.id))
        if detail.status != "IDLE":
            if len(actual) != len(expected):
                return f"published with {len(actual)} of {len(expected)} items"
            self._published(row, gen, invoice_id, detail.invoice_number)
        return None

    async def _add_items(
        self, row: RowRecord, gen: int, invoice_id: int, items: list[ItemRecord],
        steps: dict[str, str],
    ) -> None:
        assert row.currency is not None
        for n, item in enumerate(items, start=1):
            if f"inv{gen}.item{n}" in steps:
                continue
            added = await self.api.add_invoice_item(
                invoice_id, name=item.name, currency=row.currency, qty=item.qty,
                amount=from_minor(item.unit_minor, row.currency),
            )
            self._record(row, f"inv{gen}.item{n}", str(added.id))

    async def _replace(self, row: RowRecord, gen: int, invoice_id: int, why: str) -> None:
        """Cancel a spoiled invoice (IDLE or ACTIVE: no money has moved on it) and journal it."""
        log.warning("row %s: invoice %s %s; cancelling it and preparing another",
                    row.id, invoice_id, why)
        detail = await self.api.retrieve_invoice(invoice_id)
        if detail.status not in ("CANCELED",):
            if detail.status not in ("IDLE", "ACTIVE"):
                raise InvoiceProblem(f"invoice {invoice_id} is {detail.status}: {why}")
            await self.api.cancel_invoice(invoice_id)
        self._record(row, f"inv{gen}.cancelled", why[:500])
