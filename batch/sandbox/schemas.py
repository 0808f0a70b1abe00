"""Request and response bodies of the sandbox's Dollr endpoints, with REFERENCE.md's JSON types.

Amounts are Decimal inside; responses write them as JSON numbers or strings exactly where
REFERENCE.md says so (§1.5). Ids are integers except where §1.2 says string.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, Field, PlainSerializer

# Decimal written as a JSON number (float of a quantised amount prints its exact digits).
Number = Annotated[Decimal, PlainSerializer(float, return_type=float)]
# Decimal written as a JSON string (prediction responses).
DecimalText = Annotated[Decimal, PlainSerializer(str, return_type=str)]

OperationType = Literal["COLLECTION", "PAYOUT", "TRANSFER", "REFUND"]
PaymentMethod = Literal[
    "MTN_MOMO_LBR", "ORANGE_MONEY_LBR", "AIRTEL_RWA", "MTN_MOMO_RWA", "ORANGE_MONEY_RWA",
    "CREDIT_CARD", "WALLET",
]
Provider = Literal["MTN_MOMO_LBR", "ORANGE_MONEY_LBR", "PAWAPAY", "STRIPE", "PLATFORM"]
FeeBearer = Literal["PAYER", "PAYEE"]
RelationshipType = Literal[
    "CUSTOMER", "SUPPLIER", "EMPLOYEE", "BENEFICIARY", "FRIEND", "FAMILY", "DONOR", "DONEE",
    "CONTACT", "SERVICE_PROVIDER", "PARTNER", "SELF",
]
CurrencyCode = Annotated[str, Field(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$")]
Phone = Annotated[str, Field(min_length=8, max_length=15, pattern=r"^[1-9]\d{7,14}$")]


class TokenRequest(BaseModel):
    """POST /v1/jwt/client/obtain/token."""

    client_id: str
    client_secret: str


class TokenResponse(BaseModel):
    """`expires_in` is in minutes (REFERENCE §3.1)."""

    access_token: str
    expires_in: int


class PartyCreate(BaseModel):
    """POST /v1/parties/create."""

    fullname: str
    phone: Phone
    email: str | None = None
    country_code: str | None = None


class PartyResponse(BaseModel):
    """PartyResponse."""

    id: int
    fullname: str
    phone: str | None
    email: str | None
    country_code: str | None
    created_at: datetime
    updated_at: datetime


class CounterpartyCreate(BaseModel):
    """POST /v1/counterparties/create."""

    relationship_type: RelationshipType
    party_id: int | None = None


class CounterpartyResponse(BaseModel):
    """Counterparty."""

    id: int
    relationship_type: str
    party_id: int | None
    created_at: datetime
    updated_at: datetime


class CounterpartyWithPartyResponse(CounterpartyResponse):
    """Counterparty with its party embedded (retrieve)."""

    party: PartyResponse | None


class PaymentAccountCreate(BaseModel):
    """POST /v1/payment-accounts/create?operation_type=..."""

    account_name: str
    provider: str
    method: str
    party_id: int
    country_code: str | None = None
    insensitive_account_number: str | None = None


class PaymentAccountResponse(BaseModel):
    """PaymentAccountResponse (no account number, no operation_type echoed)."""

    id: int
    account_name: str
    provider: str
    method: str
    party_id: int
    is_active: bool
    country_code: str | None
    created_at: datetime
    updated_at: datetime


class ProviderInfoResponse(BaseModel):
    """PredictPhonePaymentInfoResponse."""

    carrier: str
    country: str
    currencies: list[str]
    phone: str
    payment_method: str
    gateway_provider: str
    operation_type: str


class FeePredictionResponse(BaseModel):
    """AmountAndFeePredictionResponse: every amount a string."""

    payer_amount: DecimalText
    payer_currency: str
    payee_amount: DecimalText
    payee_currency: str
    platform_fee: DecimalText
    platform_currency: str
    fx_fee: DecimalText | None
    gateway_fee: DecimalText | None
    gateway_currency: str | None


class PayoutSessionCreate(BaseModel):
    """POST /v1/sessions/payout; the seed's older names are accepted too (REFERENCE §6)."""

    payout_account_id: int = Field(
        validation_alias=AliasChoices("payout_account_id", "payment_account_id")
    )
    amount: Decimal = Field(ge=Decimal("0.01"))
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    wallet_id: int | None = None  # old field: ignored, Dollr picks the wallet
    expires_at: datetime | None = None  # old field: may only shorten the session


class PayoutSessionResponse(BaseModel):
    """PayoutSessionResponse."""

    id: int
    wallet_id: int
    payout_account_id: int
    amount: Number
    currency: str
    status: str
    expires_at: datetime
    created_at: datetime
    updated_at: datetime


class PasscodeToken(BaseModel):
    """The merchant passcode and whose it is."""

    code: str
    phone: str | None = None
    user_id: str | None = None


class PasscodeDevice(BaseModel):
    """Device metadata, all required (REFERENCE §3.7.1)."""

    name: str
    type: str
    platform: str
    user_agent: str
    client_ip: str


class Passcode(BaseModel):
    """The `passcode` object of a payout execution."""

    token: PasscodeToken
    device: PasscodeDevice


class PayoutExecutionCreate(BaseModel):
    """POST /v1/executions/payout: ids are STRINGS here (REFERENCE §1.2)."""

    session_id: str
    payout_account_id: str
    reference_id: str
    passcode: Passcode


class ExecutionResponse(BaseModel):
    """ExecutionResponse (REFERENCE §3.7.3)."""

    reference_id: str
    status: str
    payer_amount: Number
    payer_currency: str
    payee_amount: Number
    payee_currency: str
    operation_type: str
    provider_transaction_id: str | None
    gateway_message: str | None
    wallet_message: str | None
    client_secret: str | None = None
    requires_action: bool | None = None
