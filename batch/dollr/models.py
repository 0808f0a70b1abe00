"""Pydantic models of the Dollr v1 requests and responses paybatch uses (REFERENCE.md §3).

Amounts are exact Decimals both ways: responses are parsed with `parse_json` (floats become
Decimals; string amounts are accepted too) and requests are written by `dump_json`, which
writes each Decimal as a JSON number digit for digit.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED"})
KNOWN_STATUSES = frozenset({"PENDING", "PROCESSING", *TERMINAL_STATUSES})
# A session answer without a usable expiry: assume the documented example's 15 minutes
# (REFERENCE §3.6.1); a longer guess only delays trusting a not-found (§4.3).
ASSUMED_SESSION_LIFETIME = timedelta(minutes=15)


def _as_utc(value: datetime) -> datetime:
    """Timestamps are aware UTC; a naive one from the server is taken as UTC (REFERENCE §1.6)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
# Execution statuses are plain strings in the schema: compare them trimmed and upper-cased.
StatusText = Annotated[
    str, BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v)
]


class _Response(BaseModel):
    """Base of response models: frozen, and unknown fields from the server are ignored.

    Only what paybatch acts on is required; a number where a string is expected is taken.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", coerce_numbers_to_str=True)


class _Request(BaseModel):
    """Base of request bodies: strict about what we send."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --- responses -------------------------------------------------------------------------


class ProviderInfo(_Response):
    """`GET /v1/predictions/mmo-provider-info`: the operator of a phone (REFERENCE §3.5.1)."""

    payment_method: str  # goes into payment-account `method`
    gateway_provider: str  # goes into payment-account `provider`
    carrier: str | None = None
    country: str | None = None
    currencies: Annotated[list[str], BeforeValidator(lambda v: [] if v is None else v)] = []
    phone: str | None = None
    operation_type: str | None = None


class FeeQuote(_Response):
    """`GET /v1/predictions/amount-and-fees`: a fee and FX quote; amounts arrive as strings."""

    payer_amount: Decimal
    payer_currency: str
    payee_amount: Decimal
    payee_currency: str
    platform_fee: Decimal
    platform_currency: str
    fx_fee: Decimal | None = None
    gateway_fee: Decimal | None = None
    gateway_currency: str | None = None

    def fees_by_currency(self) -> dict[str, Decimal]:
        """Every fee summed per currency (the FX fee has no currency: taken as the platform's)."""
        totals: dict[str, Decimal] = {self.platform_currency: self.platform_fee}
        if self.fx_fee is not None:
            totals[self.platform_currency] += self.fx_fee
        if self.gateway_fee is not None:
            currency = self.gateway_currency or self.platform_currency
            totals[currency] = totals.get(currency, Decimal(0)) + self.gateway_fee
        return totals

    @property
    def total_fee(self) -> Decimal:
        """Platform + gateway + FX fees in the platform currency (see `fees_by_currency`)."""
        return self.fees_by_currency()[self.platform_currency]


class Party(_Response):
    """`POST /v1/parties/create` response (REFERENCE §3.2)."""

    id: int
    fullname: str | None = None
    phone: str | None = None
    email: str | None = None
    country_code: str | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class Counterparty(_Response):
    """`POST /v1/counterparties/create` response (REFERENCE §3.3)."""

    id: int
    relationship_type: str | None = None
    party_id: int | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class PaymentAccount(_Response):
    """`POST /v1/payment-accounts/create` response (REFERENCE §3.4)."""

    id: int
    account_name: str | None = None
    provider: str | None = None
    method: str | None = None
    party_id: int | None = None
    is_active: bool | None = None
    country_code: str | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class PayoutSession(_Response):
    """`POST /v1/sessions/payout` response; execute before `expires_at` (REFERENCE §3.6.1)."""

    id: int
    wallet_id: int | None = None
    payout_account_id: int | None = None
    amount: Decimal | None = None
    currency: str | None = None
    status: str | None = None
    expires_at: UtcDatetime | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None

    def expires_by_our_clock(self, received_at: datetime) -> datetime:
        """When the session expires in OUR clock's terms, given when we received it.

        The server's clock may be off from ours (REFERENCE §8.1): its lifetime
        (expires_at - created_at) counted from our receipt is what holds. Without created_at,
        an expiry already past by our clock is taken as skew, not as a dead session.
        """
        if self.expires_at is None:
            return received_at + ASSUMED_SESSION_LIFETIME
        if self.created_at is not None and self.expires_at > self.created_at:
            return received_at + (self.expires_at - self.created_at)
        if self.expires_at > received_at:
            return self.expires_at
        return received_at + ASSUMED_SESSION_LIFETIME


class Execution(_Response):
    """`ExecutionResponse` of an execute or status call (REFERENCE §3.7.3)."""

    status: StatusText  # PENDING | PROCESSING | COMPLETED | FAILED | else: still in flight
    reference_id: str | None = None
    payer_amount: Decimal | None = None
    payer_currency: str | None = None
    payee_amount: Decimal | None = None
    payee_currency: str | None = None
    operation_type: str | None = None
    provider_transaction_id: str | None = None
    gateway_message: str | None = None
    wallet_message: str | None = None

    @property
    def is_terminal(self) -> bool:
        """COMPLETED or FAILED; an unknown status is treated as in flight (REFERENCE §4.2)."""
        return self.status in TERMINAL_STATUSES

    @property
    def is_completed(self) -> bool:
        """The money reached the recipient."""
        return self.status == "COMPLETED"

    @property
    def is_failed(self) -> bool:
        """Definitively failed; a new attempt needs a new session and reference_id."""
        return self.status == "FAILED"

    @property
    def is_known_status(self) -> bool:
        """One of the four documented statuses (anything else deserves a log line)."""
        return self.status in KNOWN_STATUSES


class Token(_Response):
    """`POST /v1/jwt/client/obtain/token` response; `expires_in` is in MINUTES (§3.1)."""

    access_token: str
    expires_in: float | None = None  # None: not sent (batch.dollr.auth assumes a lifetime)


# --- requests --------------------------------------------------------------------------


class DeviceInfo(_Request):
    """The `passcode.device` block of a payout execution (REFERENCE §3.7.1); all overridable."""

    name: str = "paybatch"
    type: str = "SERVER"
    platform: str = "PYTHON"
    user_agent: str | None = None  # None: "paybatch/<version>"
    client_ip: str | None = None  # None: best-effort local egress IP


class PasscodeToken(_Request):
    """The `passcode.token` block: the merchant passcode and the phone or user id it belongs to."""

    code: str
    phone: str | None = None
    user_id: str | None = None


class PasscodeDevice(_Request):
    """A fully resolved `passcode.device` block."""

    name: str
    type: str
    platform: str
    user_agent: str
    client_ip: str


class Passcode(_Request):
    """The `passcode` object of `POST /v1/executions/payout`."""

    token: PasscodeToken
    device: PasscodeDevice


class TokenRequest(_Request):
    """Body of `POST /v1/jwt/client/obtain/token`."""

    client_id: str
    client_secret: str


class PartyCreate(_Request):
    """Body of `POST /v1/parties/create`."""

    fullname: str
    phone: str
    email: str | None = None
    country_code: str | None = None


class CounterpartyCreate(_Request):
    """Body of `POST /v1/counterparties/create`."""

    relationship_type: str
    party_id: int


class PaymentAccountCreate(_Request):
    """Body of `POST /v1/payment-accounts/create?operation_type=PAYOUT`."""

    account_name: str
    provider: str
    method: str
    party_id: int
    country_code: str | None = None
    insensitive_account_number: str | None = None


class PayoutSessionCreate(_Request):
    """Body of `POST /v1/sessions/payout`: the account id is an INTEGER here (§1.2)."""

    payout_account_id: int
    amount: Decimal
    currency: str


class PayoutExecute(_Request):
    """Body of `POST /v1/executions/payout`: both ids are STRINGS here (§1.2)."""

    session_id: str
    payout_account_id: str
    reference_id: str
    passcode: Passcode


# --- JSON ------------------------------------------------------------------------------


def parse_json(text: str | bytes) -> Any:
    """Decode a response body with every JSON float as an exact Decimal."""
    return json.loads(text, parse_float=Decimal)


def decimal_to_json(value: Decimal) -> str:
    """A finite Decimal as a plain JSON number, digit for digit (no float in between)."""
    if not value.is_finite():
        raise ValueError(f"cannot send non-finite amount {value}")
    return format(value, "f")


def json_text(value: Any) -> str:
    """JSON text of plain data whose Decimals become exact JSON numbers (floats refused)."""
    if isinstance(value, Decimal):
        return decimal_to_json(value)
    if isinstance(value, dict):
        items = (f"{json.dumps(str(key))}:{json_text(item)}" for key, item in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(json_text(item) for item in value) + "]"
    if isinstance(value, float):
        raise TypeError("money must be Decimal, never float")
    return json.dumps(value)


def dump_json(body: _Request) -> bytes:
    """A request model as JSON bytes; None fields are left out, Decimals written exactly."""
    return json_text(body.model_dump(mode="python", exclude_none=True)).encode()
