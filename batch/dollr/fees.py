"""The fee schedule (REFERENCE §3.11): gateway and platform fees, the merchant's fee tier.

Answers are read defensively: REFERENCE documents each fee endpoint as one object, but an
array of them is accepted too (the caller picks the entry in force). `percentage` is a
number on the gateway and a string on the platform fee; both become Decimals.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Generic, TypeVar

from pydantic import BaseModel, RootModel

from batch import errors
from batch.dollr.models import UtcDatetime, _Response
from batch.dollr.requestor import Requestor

T = TypeVar("T", bound=BaseModel)


class GatewayFee(_Response):
    """`FeeWithProviderResponse`: a percentage (1.5 = 1.5 %) and an optional fixed fee."""

    payment_method: str
    operation_type: str
    percentage: Decimal
    id: int | None = None
    provider_id: int | None = None
    fixed_fee: Decimal | None = None
    fixed_fee_currency: str | None = None
    effective_from: UtcDatetime | None = None
    effective_to: UtcDatetime | None = None


class PlatformFee(_Response):
    """`FeeTierRateResponse`: a tier's percentage for an operation (maybe per method)."""

    operation_type: str
    percentage: Decimal
    id: int | None = None
    payment_method: str | None = None
    fee_tier_name: str | None = None
    effective_from: UtcDatetime | None = None
    effective_to: UtcDatetime | None = None


class FeeTier(_Response):
    """A fee tier; its `name` is what `fee_tier_name` expects."""

    name: str
    is_default: bool = False
    id: int | None = None


class MerchantInfo(_Response):
    """`GET /v1/merchants/merchant-info`: who these credentials act for."""

    merchant_id: int
    merchant_type: str


class _OneOrMany(RootModel[list[T] | T], Generic[T]):
    """An answer that is one object or an array of them."""

    def items(self) -> list[T]:
        root = self.root
        return list(root) if isinstance(root, list) else [root]


class Fees(Requestor):
    """`/v1/fees/*` and `/v1/merchants/merchant-info` (read-only, retried freely)."""

    async def gateway_fees(self, payment_method: str, operation_type: str) -> list[GatewayFee]:
        """The gateway fee entries of a payment method and operation type."""
        params = {"payment_method": payment_method, "operation_type": operation_type}
        found = await self._call(
            _OneOrMany[GatewayFee], "GET", "/v1/fees/gateway", safe=True, params=params
        )
        return found.items()

    async def platform_fees(self, operation_type: str, fee_tier_name: str) -> list[PlatformFee]:
        """The platform fee entries of an operation type in a fee tier."""
        params = {"operation_type": operation_type, "fee_tier_name": fee_tier_name}
        found = await self._call(
            _OneOrMany[PlatformFee], "GET", "/v1/fees/platform", safe=True, params=params
        )
        return found.items()

    async def fee_tier_name(self) -> str | None:
        """The merchant's fee tier: its assigned one, else the default tier, else None."""
        try:
            me = await self._call(MerchantInfo, "GET", "/v1/merchants/merchant-info", safe=True)
            params = {"owner_type": me.merchant_type, "owner_id": str(me.merchant_id)}
            tier = await self._call(
                FeeTier, "GET", "/v1/fees/merchant-tier", safe=True, params=params
            )
            return tier.name
        except (errors.NotFoundError, errors.ApiValidationError):
            pass  # not documented in depth (REFERENCE §3.12): the tier list then
        tiers = await self._call(_OneOrMany[FeeTier], "GET", "/v1/fees/tiers", safe=True)
        defaults = [t.name for t in tiers.items() if t.is_default]
        return defaults[0] if defaults else None
