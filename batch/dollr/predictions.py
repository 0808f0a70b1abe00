"""Predictions (REFERENCE §3.5): a phone's operator, and the fee and FX quote of an amount."""

from __future__ import annotations

from decimal import Decimal

from batch import errors
from batch.dollr.models import FeeQuote, ProviderInfo, decimal_to_json
from batch.dollr.requestor import Requestor


class Predictions(Requestor):
    """`/v1/predictions/*`."""

    async def mmo_provider_info(self, phone: str, operation_type: str = "PAYOUT") -> ProviderInfo:
        """The operator of a phone; UnroutablePhoneError when the API cannot route it."""
        path = "/v1/predictions/mmo-provider-info"
        params = {"phone": phone, "operation_type": operation_type}
        try:
            raw = await self._call(_RawProviderInfo, "GET", path, safe=True, params=params)
        except (errors.NotFoundError, errors.ApiValidationError) as exc:
            raise errors.UnroutablePhoneError(
                f"no mobile-money operator found for this number (HTTP {exc.status})",
                status=exc.status,
                endpoint=exc.endpoint,
                detail=exc.detail,
                request_id=exc.request_id,
            ) from exc
        if not raw.payment_method or not raw.gateway_provider:
            raise errors.UnroutablePhoneError(
                "the API gave no payment method or provider for this number",
                status=200,
                endpoint=f"GET {path}",
            )
        return ProviderInfo.model_validate(raw.model_dump())

    async def amount_and_fees(
        self,
        *,
        amount: Decimal,
        currency: str,
        target_currency: str,
        payment_method: str,
        provider: str,
        operation_type: str = "PAYOUT",
        fee_bearer: str = "PAYER",
    ) -> FeeQuote:
        """A fee and FX quote for paying `amount` (REFERENCE §3.5.2)."""
        params = {
            "base_amount": decimal_to_json(amount),
            "base_currency": currency,
            "target_currency": target_currency,
            "payment_method": payment_method,
            "operation_type": operation_type,
            "provider": provider,
            "fee_bearer": fee_bearer,
        }
        path = "/v1/predictions/amount-and-fees"
        return await self._call(FeeQuote, "GET", path, safe=True, params=params)



class _RawProviderInfo(ProviderInfo):
    """ProviderInfo as it may arrive: routing fields possibly missing (REFERENCE §3.5.1)."""

    payment_method: str | None = None  # type: ignore[assignment]
    gateway_provider: str | None = None  # type: ignore[assignment]
