"""Fees from the published fee schedule (REFERENCE §3.11), and the check against predictions.

Pure: which schedule entries are in force, what they charge on an amount, which amounts to
sample, whether a sample agrees. REFERENCE does not say how the API rounds nor whether
`percentage` 1.5 means 1.5 % (our reading) or 150 %: the sample check against
`predictions/amount-and-fees` is what makes the schedule trusted, never the reading alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from batch.dollr.fees import GatewayFee, PlatformFee
from batch.dollr.models import FeeQuote
from batch.markets import CURRENCY_DECIMALS

HUNDRED = Decimal(100)


class FeeSource(StrEnum):
    """Where a row's predicted fee came from (the ledger's rows.fee_source)."""

    SCHEDULE = "schedule"  # computed from /v1/fees/*, checked on a sample of amounts
    PREDICTION = "prediction"  # one predictions/amount-and-fees call per amount


@dataclass(frozen=True)
class Rates:
    """The gateway and platform entries in force for one payment method and operation."""

    gateway: GatewayFee
    platform: PlatformFee

    def valid_at(self, at: datetime) -> bool:
        """Both entries are in force at `at`."""
        return _in_force(self.gateway, at) and _in_force(self.platform, at)


def _in_force(entry: GatewayFee | PlatformFee, at: datetime) -> bool:
    starts, ends = entry.effective_from, entry.effective_to
    return (starts is None or starts <= at) and (ends is None or at < ends)


def pick_rates(
    gateway: Sequence[GatewayFee],
    platform: Sequence[PlatformFee],
    *,
    payment_method: str,
    at: datetime,
) -> Rates | str:
    """The entries in force at `at` (a method's own platform rate before a general one), or
    why there is no single one."""
    gateways = [g for g in gateway if g.payment_method == payment_method and _in_force(g, at)]
    platforms = [p for p in platform if _in_force(p, at)]
    own = [p for p in platforms if p.payment_method == payment_method]
    platforms = own or [p for p in platforms if p.payment_method is None]
    if len(gateways) != 1:
        return f"{len(gateways)} gateway fee entries in force for {payment_method}"
    if len(platforms) != 1:
        return f"{len(platforms)} platform fee entries in force for {payment_method}"
    return Rates(gateways[0], platforms[0])


def minor_units(amount: Decimal, currency: str) -> Decimal:
    """Rounded half-up to the currency's minor units."""
    places = CURRENCY_DECIMALS.get(currency, 2)
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def schedule_quote(amount: Decimal, currency: str, rates: Rates) -> FeeQuote | str:
    """The quote the schedule gives for paying `amount` (payer bears the fees, no FX), or why
    it gives none. Each fee is rounded to the currency's minor units on its own."""
    g = rates.gateway
    fixed = g.fixed_fee or Decimal(0)
    if fixed and g.fixed_fee_currency not in (None, currency):
        return f"the fixed gateway fee is in {g.fixed_fee_currency}, the row in {currency}"
    platform = minor_units(amount * rates.platform.percentage / HUNDRED, currency)
    gateway = minor_units(amount * g.percentage / HUNDRED, currency) + minor_units(fixed, currency)
    return FeeQuote(
        payer_amount=minor_units(amount, currency) + platform + gateway,
        payer_currency=currency,
        payee_amount=minor_units(amount, currency),
        payee_currency=currency,
        platform_fee=platform,
        platform_currency=currency,
        fx_fee=None,
        gateway_fee=gateway,
        gateway_currency=currency,
    )


def sample_amounts(amounts: Sequence[Decimal]) -> list[Decimal]:
    """The smallest, median and largest of some amounts (fewer when they coincide)."""
    ordered = sorted(set(amounts))
    if not ordered:
        return []
    picks = (ordered[0], ordered[(len(ordered) - 1) // 2], ordered[-1])
    return list(dict.fromkeys(picks))


def disagreement(amount: Decimal, ours: FeeQuote, theirs: FeeQuote) -> str | None:
    """How the schedule's quote differs from the API's to the minor unit, or None."""
    currency = ours.platform_currency
    if theirs.platform_currency != currency or theirs.payer_currency != ours.payer_currency:
        return (
            f"at {amount} {currency} the API charges fees in {theirs.platform_currency}, "
            f"the schedule in {currency}"
        )
    mine, api = (minor_units(q.total_fee, currency) for q in (ours, theirs))
    debit, api_debit = (minor_units(q.payer_amount, currency) for q in (ours, theirs))
    if mine != api or debit != api_debit:
        return f"at {amount} {currency} the schedule gives a fee of {mine}, the API {api}"
    return None
