"""The fee schedule endpoints of Dollr v1 (REFERENCE §3.11) and the merchant's identity.

They publish the rates `batch.sandbox.fees.quote` charges, so a client applying them gets
the same fees as `predictions/amount-and-fees` and the executions; the fault switch
`fee_schedule_skew_points` makes the published gateway percentages wrong (a disagreement).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from batch.sandbox import fees
from batch.sandbox import schemas as s
from batch.sandbox.routes import Rt, authorized
from batch.sandbox.store import Missing, Rejected

fee_api = APIRouter(prefix="/v1", dependencies=[Depends(authorized)])

_SCHEDULE_SINCE = datetime.fromisoformat(fees.SCHEDULE_EFFECTIVE_FROM)
_METHOD_IDS = {m: i for i, m in enumerate(fees.GATEWAY_RATES, start=1)}
_OPERATION_IDS = {o: i for i, o in enumerate(fees.PLATFORM_RATES, start=1)}
_PROVIDER_IDS = {"MTN_MOMO_LBR": 1, "ORANGE_MONEY_LBR": 2, "PAWAPAY": 3, "STRIPE": 4,
                 "PLATFORM": 5}
_METHOD_PROVIDER = {
    "MTN_MOMO_LBR": "MTN_MOMO_LBR", "ORANGE_MONEY_LBR": "ORANGE_MONEY_LBR",
    "MTN_MOMO_RWA": "PAWAPAY", "AIRTEL_RWA": "PAWAPAY", "ORANGE_MONEY_RWA": "PAWAPAY",
    "CREDIT_CARD": "STRIPE", "WALLET": "PLATFORM",
}


class FeeWithProviderResponse(BaseModel):
    """`GET /v1/fees/gateway`: `percentage` a JSON number, `fixed_fee` an amount or null."""

    id: int
    provider_id: int
    operation_type: str
    payment_method: str
    percentage: s.Number
    fixed_fee: s.Number | None = None
    fixed_fee_currency: str | None = None
    effective_from: datetime | None = None
    effective_to: datetime | None = None
    created_at: datetime
    updated_at: datetime


class FeeTierRateResponse(BaseModel):
    """`GET /v1/fees/platform`: `percentage` a string."""

    id: int
    operation_type: str
    payment_method: str | None
    percentage: s.DecimalText
    fee_tier_name: str
    created_at: datetime
    updated_at: datetime


class FeeTierResponse(BaseModel):
    """A fee tier; its `name` is what `fee_tier_name` expects."""

    id: int
    name: str
    is_default: bool
    created_at: datetime
    updated_at: datetime


class MerchantInfoResponse(BaseModel):
    """`GET /v1/merchants/merchant-info`."""

    merchant_id: int
    merchant_type: str


_TIER = FeeTierResponse(id=1, name=fees.FEE_TIER_NAME, is_default=True,
                        created_at=_SCHEDULE_SINCE, updated_at=_SCHEDULE_SINCE)


@fee_api.get("/fees/gateway", name="fees.gateway")
async def gateway_fee(
    payment_method: s.PaymentMethod, operation_type: s.OperationType, rt: Rt
) -> FeeWithProviderResponse:
    """The gateway fee of a method and operation: a percentage, no fixed fee, open-ended."""
    skew = rt.faults.fee_schedule_skew_points
    return FeeWithProviderResponse(
        id=_METHOD_IDS[payment_method] * 10 + _OPERATION_IDS[operation_type],
        provider_id=_PROVIDER_IDS[_METHOD_PROVIDER[payment_method]],
        operation_type=operation_type, payment_method=payment_method,
        percentage=fees.gateway_percentage(payment_method, skew),
        fixed_fee=None, fixed_fee_currency=None,
        effective_from=_SCHEDULE_SINCE, effective_to=None,
        created_at=_SCHEDULE_SINCE, updated_at=_SCHEDULE_SINCE,
    )


@fee_api.get("/fees/platform", name="fees.platform")
async def platform_fee(operation_type: s.OperationType, fee_tier_name: str) -> FeeTierRateResponse:
    """The platform fee of an operation type in a tier (only `default` exists here)."""
    if fee_tier_name != fees.FEE_TIER_NAME:
        raise Missing(f"Fee tier {fee_tier_name} not found")
    return FeeTierRateResponse(
        id=_OPERATION_IDS[operation_type], operation_type=operation_type, payment_method=None,
        percentage=fees.platform_percentage(operation_type), fee_tier_name=fee_tier_name,
        created_at=_SCHEDULE_SINCE, updated_at=_SCHEDULE_SINCE,
    )


@fee_api.get("/fees/merchant-tier", name="fees.merchant_tier")
async def merchant_tier(owner_type: str, owner_id: int) -> FeeTierResponse:
    """The tier assigned to an owner: the sandbox's one merchant has the default tier."""
    if owner_type != fees.MERCHANT_TYPE or owner_id != fees.MERCHANT_ID:
        raise Rejected(["query", "owner_id"], f"No {owner_type} {owner_id} for this merchant")
    return _TIER


@fee_api.get("/fees/tiers", name="fees.tiers")
async def tiers() -> list[FeeTierResponse]:
    """Every tier (a bare array)."""
    return [_TIER]


@fee_api.get("/merchants/merchant-info", name="merchants.merchant_info")
async def merchant_info() -> MerchantInfoResponse:
    """Who the credentials belong to."""
    return MerchantInfoResponse(merchant_id=fees.MERCHANT_ID, merchant_type=fees.MERCHANT_TYPE)
