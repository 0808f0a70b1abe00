"""The sandbox's in-memory records and the payout timeline (pure: status is a function of time).

Times are float seconds since the epoch from the sandbox's injected clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

PENDING, PROCESSING, COMPLETED, FAILED = "PENDING", "PROCESSING", "COMPLETED", "FAILED"


def iso(timestamp: float) -> str:
    """RFC 3339 UTC text of a clock reading, e.g. 2026-01-05T09:00:00.250000Z."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Party:
    """A contact record."""

    id: int
    fullname: str
    phone: str
    email: str | None
    country_code: str | None
    created_at: float


@dataclass
class Counterparty:
    """A party linked to the merchant."""

    id: int
    relationship_type: str
    party_id: int | None
    created_at: float


@dataclass
class PaymentAccount:
    """A recipient's (or payer's) wallet."""

    id: int
    account_name: str
    provider: str
    method: str
    party_id: int
    country_code: str | None
    account_number: str | None
    operation_type: str
    created_at: float
    is_active: bool = True


@dataclass
class PayoutSession:
    """Intent to pay one amount into one account, valid until expires_at, usable once."""

    id: int
    wallet_id: int
    payout_account_id: int
    amount: Decimal
    currency: str
    created_at: float
    expires_at: float
    used_by: str | None = None  # reference_id of the execution that used it

    def status(self, now: float) -> str:
        """OPEN, USED or EXPIRED (session status values are undocumented; REFERENCE §8.1)."""
        if self.used_by is not None:
            return "USED"
        return "EXPIRED" if now >= self.expires_at else "OPEN"


@dataclass
class Execution:
    """One payout execution and how it will unfold."""

    reference_id: str
    session_id: int
    payout_account_id: int
    phone: str | None
    amount: Decimal
    currency: str
    fee: Decimal
    created_at: float
    pending_seconds: float
    processing_seconds: float
    outcome: str  # COMPLETED or FAILED, decided at execution
    immediate: bool = False  # FAILED at once (wallet), never PENDING
    wallet_message: str | None = None
    gateway_message: str | None = None
    provider_transaction_id: str | None = None
    settled: bool = False  # terminal effects (refund of a failed payout) applied
    # Issue 11: when the operator took this COMPLETED payout back (paid -> FAILED later, as
    # some providers report); None: not reversed.
    reversed_at: float | None = None

    @property
    def debit(self) -> Decimal:
        """What the wallet is charged: amount plus fee."""
        return self.amount + self.fee

    def status(self, now: float) -> str:
        """Where the payout stands at `now`: PENDING -> PROCESSING -> COMPLETED | FAILED."""
        if self.immediate:
            return self.outcome
        elapsed = now - self.created_at
        if elapsed < self.pending_seconds:
            return PENDING
        if elapsed < self.pending_seconds + self.processing_seconds:
            return PROCESSING
        if self.is_reversed(now):
            return FAILED
        return self.outcome

    def is_reversed(self, now: float) -> bool:
        """A completed payout the operator has taken back by `now`."""
        return self.reversed_at is not None and now >= self.reversed_at

    def finished_at(self) -> float:
        """When the payout reaches its terminal status."""
        if self.immediate:
            return self.created_at
        return self.created_at + self.pending_seconds + self.processing_seconds
