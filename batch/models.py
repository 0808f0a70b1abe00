"""Pydantic models shared by the pipeline's stages: a validated payout row and a row problem."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict


class RowProblem(BaseModel):
    """One problem with one cell (or the whole row), as the user sees it in the sheet."""

    model_config = ConfigDict(frozen=True)

    row: int  # the row number Excel shows (1-based, header rows counted)
    column: str  # canonical column name ("phone", "amount", ...) or "row"
    value: str  # the raw cell text
    message: str


class PayoutRow(BaseModel):
    """A row that passed validation: normalised and exact, ready to plan."""

    model_config = ConfigDict(frozen=True)

    row: int  # sheet row number as Excel shows it
    name: str
    phone: str  # E.164 digits without "+"
    amount: Decimal  # exact, positive, within the currency's minor units
    currency: str  # USD | LRD | RWF
    country: str  # LR | RW
    external_id: str | None = None
    email: str | None = None
    note: str | None = None
    method: str | None = None  # payment method asked for in the sheet, if any
    provider: str | None = None
    operator_hint: str | None = None  # carrier name per the phonenumbers library; the API decides
