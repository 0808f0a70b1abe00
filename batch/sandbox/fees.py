"""The sandbox's deterministic fee schedule and fixed FX rates (pure; amounts are Decimal).

Fees are charged in the payer's (base) currency, each rounded half-up to that currency's
minor units:

    platform fee = PLATFORM_RATES[operation_type] x base_amount
                   PAYOUT 1.0% · COLLECTION 1.5% · TRANSFER 0.5% · REFUND 0%
    gateway fee  = GATEWAY_RATES[payment_method] x base_amount
                   MTN_MOMO_LBR 1.5% · ORANGE_MONEY_LBR 2.0% · MTN_MOMO_RWA 1.0%
                   AIRTEL_RWA 1.2% · ORANGE_MONEY_RWA 1.2% · CREDIT_CARD 2.9% · WALLET 0%
    fx fee       = 1.0% x base_amount when base and target currencies differ, else null

FX (fixed sandbox rates): 1 USD = 190 LRD = 1400 RWF; LRD<->RWF goes through USD.
fee_bearer PAYER: payer pays base_amount + fees, payee gets base_amount converted.
fee_bearer PAYEE: payer pays base_amount, payee gets (base_amount - fees) converted.
A COLLECTION is quoted the other way round (REFERENCE §3.5.3: target_currency is the payer's):
the base is the invoice (what the merchant asks, fees in its currency) and the payer pays in
the target currency, converted; the payee gets the base currency.
A payout execution debits the wallet with the PAYER quote for the session's amount and
currency (target = same currency), so the debit equals the predicted `payer_amount`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel

from batch.markets import CURRENCY_DECIMALS

PLATFORM_RATES: dict[str, Decimal] = {
    "PAYOUT": Decimal("0.010"),
    "COLLECTION": Decimal("0.015"),
    "TRANSFER": Decimal("0.005"),
    "REFUND": Decimal("0"),
}
GATEWAY_RATES: dict[str, Decimal] = {
    "MTN_MOMO_LBR": Decimal("0.015"),
    "ORANGE_MONEY_LBR": Decimal("0.020"),
    "MTN_MOMO_RWA": Decimal("0.010"),
    "AIRTEL_RWA": Decimal("0.012"),
    "ORANGE_MONEY_RWA": Decimal("0.012"),
    "CREDIT_CARD": Decimal("0.029"),
    "WALLET": Decimal("0"),
}
FX_FEE_RATE = Decimal("0.010")
# Units of each currency per 1 USD.
USD_RATES: dict[str, Decimal] = {"USD": Decimal("1"), "LRD": Decimal("190"), "RWF": Decimal("1400")}


class FeeQuote(BaseModel):
    """A fee and FX quote, exact."""

    payer_amount: Decimal
    payer_currency: str
    payee_amount: Decimal
    payee_currency: str
    platform_fee: Decimal
    platform_currency: str
    fx_fee: Decimal | None
    gateway_fee: Decimal | None
    gateway_currency: str | None

    @property
    def total_fee(self) -> Decimal:
        """All fees, in the payer's currency."""
        return self.platform_fee + (self.gateway_fee or 0) + (self.fx_fee or 0)


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round half-up to the currency's minor units."""
    places = CURRENCY_DECIMALS.get(currency, 2)
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def convert(amount: Decimal, source: str, target: str) -> Decimal:
    """Convert at the fixed sandbox rates, rounded to the target's minor units."""
    return quantize(amount / USD_RATES[source] * USD_RATES[target], target)


def fx_rate(source: str, target: str) -> Decimal:
    """Units of `target` per unit of `source` at the fixed sandbox rates (exact)."""
    return USD_RATES[target] / USD_RATES[source]


def quote(
    *,
    base_amount: Decimal,
    base_currency: str,
    target_currency: str,
    payment_method: str,
    operation_type: str,
    fee_bearer: str,
) -> FeeQuote:
    """The quote for one amount; currencies must be in USD_RATES (ValueError otherwise)."""
    for currency in (base_currency, target_currency):
        if currency not in USD_RATES:
            raise ValueError(f"unsupported currency {currency}")
    base = quantize(base_amount, base_currency)
    platform = quantize(base * PLATFORM_RATES[operation_type], base_currency)
    gateway = quantize(base * GATEWAY_RATES.get(payment_method, Decimal(0)), base_currency)
    fx = quantize(base * FX_FEE_RATE, base_currency) if base_currency != target_currency else None
    fees = platform + gateway + (fx or 0)
    if fee_bearer == "PAYEE":
        payer, payee_base = base, base - fees
    else:
        payer, payee_base = base + fees, base
    if operation_type == "COLLECTION":
        return FeeQuote(
            payer_amount=convert(payer, base_currency, target_currency),
            payer_currency=target_currency, payee_amount=payee_base, payee_currency=base_currency,
            platform_fee=platform, platform_currency=base_currency, fx_fee=fx,
            gateway_fee=gateway, gateway_currency=base_currency,
        )
    return FeeQuote(
        payer_amount=payer,
        payer_currency=base_currency,
        payee_amount=convert(payee_base, base_currency, target_currency),
        payee_currency=target_currency,
        platform_fee=platform,
        platform_currency=base_currency,
        fx_fee=fx,
        gateway_fee=gateway,
        gateway_currency=base_currency,
    )


# --- the published schedule (`/v1/fees/*`, REFERENCE §3.11) ---------------------------------
# The same rates as `quote` charges, as percentages: a client that applies them (each fee
# rounded half-up to the currency's minor units) gets `quote`'s fees to the minor unit.

FEE_TIER_NAME = "default"
MERCHANT_ID = 1
MERCHANT_TYPE = "ORGANIZATION"
SCHEDULE_EFFECTIVE_FROM = "2025-01-01T00:00:00Z"


def gateway_percentage(payment_method: str, skew_points: Decimal = Decimal(0)) -> Decimal:
    """The published gateway percentage of a method (1.5 means 1.5 %), skewed when asked."""
    return GATEWAY_RATES.get(payment_method, Decimal(0)) * 100 + skew_points


def platform_percentage(operation_type: str) -> Decimal:
    """The published platform percentage of an operation type for the default tier."""
    return PLATFORM_RATES[operation_type] * 100
