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
