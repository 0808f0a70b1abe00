"""A collection batch's report parts, from the ledger alone: a line per invoice, a summary per
currency (requested, collected, fees, outstanding, collection rate) and an ageing of the
unpaid invoices (days since their first request)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from batch.engine.states import RowState
from batch.ledger import BatchRecord, Ledger, RowRecord
from batch.ledger.collections import InvoiceRecord, ItemRecord
from batch.markets import from_minor
from batch.operations.campaign import campaign_counts
from batch.operations.collect_plan import policy_of
from batch.report.columns import AGEING_COLUMNS, COLLECTION_SUMMARY_COLUMNS, Column, Value
from batch.report.lines import exact, payout_line

Line = dict[str, Value]
AGES = ((1, "0-1"), (7, "2-7"), (30, "8-30"), (None, "over 30"))


@dataclass(frozen=True)
class ExtraTable:
    """A titled table beside the per-row one (a sheet, a CSV file, a JSON list)."""

    title: str
    columns: tuple[Column, ...]
    lines: list[Line]


def _dec(value: Any, currency: str) -> Decimal | None:
    return None if value is None else exact(Decimal(str(value)), currency)


def _items_text(items: list[ItemRecord], currency: str) -> str:
    return "; ".join(f"{i.qty} x {i.name} @ {from_minor(i.unit_minor, currency)}" for i in items)


def first_request(row: RowRecord) -> datetime | None:
    """When the payer was first asked (the first attempt that left)."""
    sent = [a.submitted_at for a in row.attempts if a.submitted_at is not None]
    return min(sent) if sent else None


def collection_line(
    row: RowRecord, invoice: InvoiceRecord | None, items: list[ItemRecord], now: datetime
) -> Line:
    """One invoice's line: the payout line's facts plus invoice, requests and receipt."""
    base = payout_line(row)
    receipt = (invoice.receipt if invoice else None) or {}
    sent = [a for a in row.attempts if a.submitted_at is not None]
    history = "; ".join(
        f"{n}: {a.outcome or a.api_status or 'in flight'}"
        + (f" ({a.gateway_message})" if a.gateway_message else "")
        for n, a in enumerate(sent, start=1)
    )
    first = first_request(row)
    currency = row.currency or "USD"
    unpaid = row.state is not RowState.COMPLETED and not (invoice and invoice.cancelled_at)
    line: Line = {
        **{k: base[k] for k in ("row", "name", "phone", "amount", "currency", "state",
                                "failure_reason", "provider_transaction_id", "payer_amount",
                                "payer_currency", "payee_amount", "payee_currency",
                                "predicted_fee", "fee_currency", "reference_ids", "note")},
        "invoice_number": invoice.invoice_number if invoice else None,
        "invoice_key": invoice.invoice_key if invoice else None,
        "items": _items_text(items, currency),
        "due_date": invoice.due_date if invoice else None,
        "invoice_status": invoice.source_status if invoice else None,
        "requests": len(sent),
        "request_history": history or None,
        "days_unpaid": (now - first).days if unpaid and first else None,
        "paid_at": invoice.paid_at if invoice else None,
        "platform_fee": _dec(receipt.get("platform_fee"), currency),
        "gateway_fee": _dec(receipt.get("gateway_fee"), currency),
        "fx_fee": _dec(receipt.get("fx_fee"), currency),
        "fx_rate": receipt.get("fx_rate"),
        "payment_method": receipt.get("payment_method") or row.method,
        "cancelled_at": invoice.cancelled_at if invoice else None,
        "cancel_reason": invoice.cancel_reason if invoice else None,
    }
    for key in ("payer_amount", "payee_amount"):
        value = line[key]
        if isinstance(value, Decimal):
            line[key] = exact(value, currency)
    if receipt.get("provider_transaction_id"):
        line["provider_transaction_id"] = receipt["provider_transaction_id"]
    return line


def _age(days: int | None) -> str:
    if days is None:
        return "not requested yet"
    for limit, label in AGES:
        if limit is None or days <= limit:
            return label
    return AGES[-1][1]


def collection_tables(rows: list[Line]) -> tuple[ExtraTable, ExtraTable]:
    """The summary per currency and the ageing of unpaid invoices, from the invoice lines."""
    summary: dict[str, dict[str, Any]] = {}
    ageing: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"invoices": 0, "outstanding": Decimal(0)})
    for line in rows:
        currency = str(line["currency"])
        amount = line["amount"] if isinstance(line["amount"], Decimal) else Decimal(0)
        s = summary.setdefault(currency, {
            "currency": currency, "invoices": 0, "requested": Decimal(0),
            "collected": Decimal(0), "fees": Decimal(0), "received": Decimal(0),
            "cancelled": Decimal(0)})
        s["invoices"] += 1
        s["requested"] += amount
        if line["state"] == RowState.COMPLETED.value:
            s["collected"] += amount
            fees = [line[k] for k in ("platform_fee", "gateway_fee", "fx_fee")]
            s["fees"] += sum((f for f in fees if isinstance(f, Decimal)), Decimal(0))
            received = line["payee_amount"]
            s["received"] += received if isinstance(received, Decimal) else amount
        elif line["cancelled_at"] is not None:
            s["cancelled"] += amount
        else:
            days = line["days_unpaid"]
            bucket = ageing[(currency, _age(days if isinstance(days, int) else None))]
            bucket["invoices"] += 1
            bucket["outstanding"] += amount
    summary_lines: list[Line] = []
    for s in sorted(summary.values(), key=lambda x: x["currency"]):
        s["outstanding"] = s["requested"] - s["collected"] - s["cancelled"]
        for key in ("requested", "collected", "fees", "received", "cancelled", "outstanding"):
            s[key] = exact(s[key], s["currency"])
        live = s["requested"] - s["cancelled"]
        s["collection_rate"] = f"{(s['collected'] / live * 100):.1f}%" if live else "-"
        summary_lines.append(s)
    ageing_lines: list[Line] = [
        {"currency": c, "age": a, "invoices": v["invoices"],
         "outstanding": exact(v["outstanding"], c)} for (c, a), v in sorted(ageing.items())]
    return (ExtraTable("Collection", COLLECTION_SUMMARY_COLUMNS, summary_lines),
            ExtraTable("Ageing", AGEING_COLUMNS, ageing_lines))


def collection_parts(
    ledger: Ledger, batch: BatchRecord, now: datetime
) -> tuple[Callable[[RowRecord], Line], tuple[ExtraTable, ...], int]:
    """The line maker, the extra tables and the campaign's exit code of a collection batch
    (0 all paid, 4 requests pending or due later, 3 requests used up)."""
    batch_id = batch.id
    invoices = ledger.invoices_of_batch(batch_id)
    items = ledger.items_of_batch(batch_id)

    def line(row: RowRecord) -> Line:
        return collection_line(row, invoices.get(row.id), items.get(row.id, []), now)

    lines = [line(r) for r in ledger.each_row_with_attempts(batch_id)
             if r.state is not RowState.SKIPPED]
    code = campaign_counts(ledger, batch_id, policy_of(batch), now).exit_code
    return line, collection_tables(lines), code
