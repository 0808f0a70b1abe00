"""The columns of the reconciliation report's Payouts and Attempts tables, in order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

Kind = Literal["text", "int", "money", "time"]
Value = str | int | Decimal | datetime | None


@dataclass(frozen=True)
class Column:
    """One report column: its key in a line, its header, how to format it."""

    key: str
    header: str
    kind: Kind = "text"
    currency_key: str | None = None  # money: the column that holds this amount's currency
    width: int = 14


def _money(key: str, header: str, currency_key: str) -> Column:
    return Column(key, header, "money", currency_key, 13)


# What the API says was debited and delivered, in both the Payouts and the Attempts sheets.
_PAYER_AND_PAYEE: tuple[Column, ...] = (
    _money("payer_amount", "Payer amount", "payer_currency"),
    Column("payer_currency", "Payer currency", width=9),
    _money("payee_amount", "Payee amount", "payee_currency"),
    Column("payee_currency", "Payee currency", width=9),
)

# What the API and the client said about an attempt, in both sheets too.
_MESSAGES: tuple[Column, ...] = (
    Column("gateway_message", "Gateway message", width=30),
    Column("wallet_message", "Wallet message", width=30),
    Column("execute_error", "Execute error", width=30),
)

PAYOUT_COLUMNS: tuple[Column, ...] = (
    Column("row", "Row", "int", width=6),
    Column("name", "Name", width=24),
    Column("phone", "Phone", width=15),
    Column("external_id", "External ID"),
    _money("amount", "Amount", "currency"),
    Column("currency", "Currency", width=9),
    Column("country", "Country", width=8),
    Column("operator", "Operator"),
    Column("state", "State", width=11),
    Column("failure_reason", "Failure reason", width=40),
    Column("attempts", "Attempts", "int", width=9),
    Column("reference_ids", "Reference IDs tried", width=38),
    Column("provider_transaction_id", "Provider transaction ID", width=24),
    Column("api_status", "API status", width=11),
    *_PAYER_AND_PAYEE,
    _money("predicted_fee", "Predicted fee", "fee_currency"),
    _money("actual_fee", "Actual fee", "fee_currency"),
    _money("fee_difference", "Fee difference", "fee_currency"),
    Column("fee_currency", "Fee currency", width=9),
    Column("fee_source", "Fee source", width=11),  # schedule | prediction (issue 15)
    *_MESSAGES,
    Column("submitted_at", "Submitted (UTC)", "time", width=20),
    Column("settled_at", "Settled (UTC)", "time", width=20),
    Column("updated_at", "Updated (UTC)", "time", width=20),
    Column("method", "Method", width=16),
    Column("provider", "Provider", width=16),
    Column("email", "Email", width=24),
    Column("note", "Note", width=24),
    Column("problems", "Problems (skipped rows)", width=40),
)

ATTEMPT_COLUMNS: tuple[Column, ...] = (
    Column("row", "Row", "int", width=6),
    Column("name", "Name", width=24),
    Column("attempt_no", "Attempt", "int", width=8),
    Column("reference_id", "Reference ID", width=38),
    Column("previous_reference_id", "Previous reference ID", width=38),
    Column("outcome", "Outcome", width=11),
    Column("api_status", "API status", width=11),
    Column("provider_transaction_id", "Provider transaction ID", width=24),
    *_PAYER_AND_PAYEE,
    _money("fee", "Fee", "payer_currency"),
    Column("session_id", "Session", "int", width=9),
    Column("account_id", "Payout account", "int", width=9),
    *_MESSAGES,
    Column("resends", "Resends (same ID)", "int", width=9),
    Column("created_at", "Created (UTC)", "time", width=20),
    Column("submitted_at", "Submitted (UTC)", "time", width=20),
    Column("settled_at", "Settled (UTC)", "time", width=20),
)


# -- collections (issue 14): one line per invoice, then a summary per currency and an ageing ---

COLLECTION_COLUMNS: tuple[Column, ...] = (
    Column("row", "Row", "int", width=6),
    Column("invoice_number", "Invoice", width=16),
    Column("invoice_key", "Invoice key", width=12),
    Column("name", "Payer", width=24),
    Column("phone", "Phone", width=15),
    Column("items", "Items", width=40),
    _money("amount", "Amount", "currency"),
    Column("currency", "Currency", width=9),
    Column("due_date", "Due date", width=11),
    Column("state", "State", width=11),
    Column("invoice_status", "Invoice status", width=11),
    Column("failure_reason", "Last outcome", width=40),
    Column("requests", "Requests", "int", width=9),
    Column("request_history", "Requests and outcomes", width=50),
    Column("days_unpaid", "Days since first request", "int", width=9),
    Column("paid_at", "Paid (UTC)", "time", width=20),
    _money("payer_amount", "Payer paid", "payer_currency"),
    Column("payer_currency", "Payer currency", width=9),
    _money("payee_amount", "Received", "payee_currency"),
    Column("payee_currency", "Received currency", width=9),
    _money("platform_fee", "Platform fee", "currency"),
    _money("gateway_fee", "Gateway fee", "currency"),
    _money("fx_fee", "FX fee", "currency"),
    Column("fx_rate", "FX rate", width=9),
    Column("provider_transaction_id", "Provider transaction ID", width=24),
    Column("payment_method", "Method", width=16),
    _money("predicted_fee", "Predicted fee", "fee_currency"),
    Column("fee_currency", "Fee currency", width=9),
    Column("cancelled_at", "Cancelled (UTC)", "time", width=20),
    Column("cancel_reason", "Cancel reason", width=24),
    Column("reference_ids", "Reference IDs tried", width=38),
    Column("note", "Note", width=24),
)

COLLECTION_SUMMARY_COLUMNS: tuple[Column, ...] = (
    Column("currency", "Currency", width=9),
    Column("invoices", "Invoices", "int", width=9),
    _money("requested", "Requested", "currency"),
    _money("collected", "Collected", "currency"),
    _money("fees", "Fees", "currency"),
    _money("received", "Received", "currency"),
    _money("cancelled", "Cancelled", "currency"),
    _money("outstanding", "Outstanding", "currency"),
    Column("collection_rate", "Collection rate", width=11),
)

AGEING_COLUMNS: tuple[Column, ...] = (
    Column("currency", "Currency", width=9),
    Column("age", "Days since first request", width=16),
    Column("invoices", "Unpaid invoices", "int", width=9),
    _money("outstanding", "Outstanding", "currency"),
)


def row_columns(kind: str) -> tuple[Column, ...]:
    """The per-row table's columns for a batch of this kind (payout or collection)."""
    return COLLECTION_COLUMNS if kind == "collection" else PAYOUT_COLUMNS


def rows_title(kind: str) -> str:
    """The per-row table's title for a batch of this kind."""
    return "Invoices" if kind == "collection" else "Payouts"
