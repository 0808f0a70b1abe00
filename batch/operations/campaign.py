"""A collection campaign over days: re-request what is due, settle, finish receipts, cancel.

Pure decisions (`request_standing`, `campaign_exit_code`) apart from the API and ledger work
(`start_due_requests`, `finish_receipts`, `cancel_invoices`). A payer who declined or let a
request expire is asked again on the same invoice, with a fresh checkout session and a new
reference_id linked to the last, only once that attempt is confirmed FAILED, the invoice is
not PROCESSING or PAID, `re_request_after` has passed, and requests remain.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from batch import errors
from batch.engine.outcome import EXIT_FAILED_ROWS, EXIT_IN_FLIGHT, EXIT_OK
from batch.engine.states import IN_FLIGHT, AttemptOutcome, RowState
from batch.ledger import Ledger, RowRecord
from batch.ledger.collections import InvoiceRecord
from batch.operations.collection import CollectionApi, fetch_receipt
from batch.options import CampaignPolicy

log = logging.getLogger("paybatch.collect")


class Standing(StrEnum):
    """Where one invoice stands in the campaign."""

    PAID = "PAID"
    CANCELLED = "CANCELLED"
    OPEN = "OPEN"  # not requested yet, or a request in flight
    DUE = "DUE"  # declined or expired; may be requested again now
    LATER = "LATER"  # declined or expired; may be requested again later
    EXHAUSTED = "EXHAUSTED"  # every request used up
    FAILED = "FAILED"  # failed for another reason than the payer's answer (see the row)


def requests_made(row: RowRecord) -> int:
    """Requests the payer received: attempts the API answered COMPLETED or FAILED."""
    return sum(1 for a in row.attempts
               if a.outcome in (AttemptOutcome.FAILED, AttemptOutcome.COMPLETED))


def request_standing(
    row: RowRecord, invoice: InvoiceRecord | None, policy: CampaignPolicy, now: datetime
) -> tuple[Standing, datetime | None]:
    """The invoice's standing, and when it is due again (DUE/LATER)."""
    if row.state is RowState.COMPLETED:
        return Standing.PAID, None
    if invoice is not None and invoice.cancelled_at is not None:
        return Standing.CANCELLED, None
    if row.state is not RowState.FAILED:
        return Standing.OPEN, None
    last = row.current_attempt
    if last is None or last.outcome is not AttemptOutcome.FAILED:
        return Standing.FAILED, None  # never reached the payer (e.g. a refused invoice)
    if requests_made(row) >= policy.max_requests:
        return Standing.EXHAUSTED, None
    due = (last.settled_at or last.created_at) + policy.re_request_after
    return (Standing.DUE if now >= due else Standing.LATER), due


def campaign_exit_code(standings: Sequence[Standing]) -> int:
    """0 everything paid (or cancelled), 4 requests pending or due later, 3 used up/failed."""
    if any(s in (Standing.OPEN, Standing.DUE, Standing.LATER) for s in standings):
        return EXIT_IN_FLIGHT
    if all(s in (Standing.PAID, Standing.CANCELLED) for s in standings):
        return EXIT_OK
    return EXIT_FAILED_ROWS


@dataclass(frozen=True)
class CampaignCounts:
    """How many invoices stand where (for output and --json)."""

    standings: dict[str, int]
    next_due: datetime | None
    exit_code: int
    # (sheet row, payer, standing, last outcome) of every invoice not paid, in sheet order
    unpaid: tuple[tuple[int, str, str, str | None], ...] = ()


def campaign_counts(
    ledger: Ledger, batch_id: int, policy: CampaignPolicy, now: datetime
) -> CampaignCounts:
    """Every invoice's standing, counted."""
    invoices = ledger.invoices_of_batch(batch_id)
    standings: list[Standing] = []
    dues: list[datetime] = []
    unpaid: list[tuple[int, str, str, str | None]] = []
    for row in ledger.each_row_with_attempts(batch_id):
        if row.state is RowState.SKIPPED:
            continue
        standing, due = request_standing(row, invoices.get(row.id), policy, now)
        standings.append(standing)
        if standing is not Standing.PAID:
            unpaid.append((row.sheet_row, row.name or "", standing.value, row.failure_reason))
        if standing is Standing.LATER and due is not None:
            dues.append(due)
    counts: dict[str, int] = {}
    for s in standings:
        counts[s.value] = counts.get(s.value, 0) + 1
    return CampaignCounts(counts, min(dues) if dues else None, campaign_exit_code(standings),
                          tuple(sorted(unpaid)))


async def start_due_requests(
    ledger: Ledger, api: CollectionApi, batch_id: int, policy: CampaignPolicy, now: datetime,
    *, mint: Callable[[], str] = lambda: str(uuid.uuid4()), say: Callable[[str], None],
) -> int:
    """A new attempt (same invoice, new reference_id) for each row due again; how many."""
    invoices = ledger.invoices_of_batch(batch_id)
    started = 0
    busy: set[str] = set()  # payers with a request in flight or started now: one at a time
    rows = list(ledger.each_row_with_attempts(batch_id))
    for row in rows:
        if row.state in IN_FLIGHT or row.state is RowState.NEW:
            busy.add(row.phone or "")
    for row in rows:
        invoice = invoices.get(row.id)
        standing, _ = request_standing(row, invoice, policy, now)
        if standing is not Standing.DUE or invoice is None or invoice.invoice_id is None:
            continue
        if row.phone in busy or ledger.payer_busy(row.phone or "", row.id):
            continue
        try:
            source = await api.source_status(invoice.invoice_id)
        except errors.ApiError as exc:
            say(f"row {row.sheet_row}: invoice status unknown ({exc}); re-request left for later")
            continue
        ledger.set_source_status(row.id, source.status, source.paid_at)
        if source.status != "ACTIVE":
            # PROCESSING: someone is paying it now; PAID: paid outside this batch's requests;
            # CANCELED: cancelled elsewhere. None of them is asked again.
            say(f"row {row.sheet_row}: invoice is {source.status}; not requested again")
            if source.status == "CANCELED":
                ledger.mark_cancelled(row.id, "invoice found CANCELED at the API")
            continue
        number = requests_made(row) + 1
        ledger.start_new_attempt(
            row.id, mint(), reason=f"request {number} of {policy.max_requests} "
            f"after {row.failure_reason or 'FAILED'}",
        )
        busy.add(row.phone or "")
        started += 1
    return started


async def finish_receipts(ledger: Ledger, api: CollectionApi, batch_id: int) -> int:
    """Fetch the receipts a run could not (COMPLETED rows without one); how many fetched."""
    invoices = ledger.invoices_of_batch(batch_id)
    fetched = 0
    for row in ledger.each_row(batch_id):
        invoice = invoices.get(row.id)
        if row.state is RowState.COMPLETED and invoice is not None and invoice.receipt is None:
            try:
                fetched += await fetch_receipt(ledger, api, row.id)
            except errors.ApiError as exc:
                log.warning("row %s: receipt still not fetched (%s)", row.id, exc)
    return fetched


@dataclass(frozen=True)
class CancelResult:
    """What `paybatch cancel` did per row."""

    cancelled: list[int]
    refused: list[str]


async def cancel_invoices(
    ledger: Ledger, api: CollectionApi, batch_id: int, sheet_rows: set[int] | None,
    reason: str,
) -> CancelResult:
    """Cancel the unpaid invoices of a batch (or of some sheet rows); never one in flight."""
    invoices = ledger.invoices_of_batch(batch_id)
    cancelled: list[int] = []
    refused: list[str] = []
    for row in ledger.each_row(batch_id):
        if sheet_rows is not None and row.sheet_row not in sheet_rows:
            continue
        invoice = invoices.get(row.id)
        if invoice is None or invoice.cancelled_at is not None or row.state in (
            RowState.COMPLETED, RowState.SKIPPED
        ):
            continue
        if row.state in IN_FLIGHT:
            refused.append(f"row {row.sheet_row}: a request is in flight; run collect first")
            continue
        if invoice.invoice_id is not None:
            try:
                await api.cancel_invoice(invoice.invoice_id)
            except errors.ApiValidationError:
                source = await api.source_status(invoice.invoice_id)
                ledger.set_source_status(row.id, source.status, source.paid_at)
                if source.status != "CANCELED":
                    refused.append(f"row {row.sheet_row}: invoice is {source.status}")
                    continue
        if row.state in (RowState.NEW, RowState.RECIPIENT_READY, RowState.SESSION_OPEN):
            ledger.mark_failed(row.id, row.current_reference_id, reason=f"cancelled: {reason}")
        ledger.mark_cancelled(row.id, reason)
        cancelled.append(row.sheet_row)
    return CancelResult(cancelled, refused)
