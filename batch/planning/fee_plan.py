"""Fee quotes for a planning run: from the fee schedule where a sample agrees, else per amount.

Rows are grouped by (currency, payment method, provider). A group with more distinct amounts
than a check costs asks the schedule once per method (cached with its effective dates), then
`predictions/amount-and-fees` for its smallest, median and largest amount: if every sampled
quote agrees with the schedule to the minor unit, the schedule prices the whole group;
otherwise (or when the schedule is missing, ambiguous or out of force) each amount is asked
for, as before, and a note says why. Payout rows are never cross-currency here (the quote's
target is the row's own currency), so no FX fee has to be predicted from the schedule.
One `FeePlanner` serves all chunks of a planning run: a group that disagreed once stays on
per-amount predictions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from batch import errors
from batch.dollr.fees import PlatformFee
from batch.dollr.models import FeeQuote, ProviderInfo
from batch.models import PayoutRow
from batch.planning.schedule import (
    Rates,
    disagreement,
    pick_rates,
    sample_amounts,
    schedule_quote,
)

FeeKey = tuple[Decimal, str, str, str]  # amount, currency, payment method, provider
Group = tuple[str, str, str]  # currency, payment method, provider
Gather = Callable[..., Awaitable[dict[Any, Any]]]
OPERATION = "PAYOUT"
# A group with at most this many uncached amounts is asked per amount: checking the
# schedule (tier, gateway, platform and three samples) would cost as much.
SCHEDULE_MIN_AMOUNTS = 6


def _group(key: FeeKey) -> Group:
    return key[1], key[2], key[3]


def _label(group: Group) -> str:
    currency, method, _provider = group
    return f"{method} {currency}"


class FeePlanner:
    """Decides, per group, whether the schedule or per-amount predictions price its rows."""

    def __init__(
        self,
        api: Any,
        *,
        now: Callable[[], datetime] | None = None,
        expect: Callable[[int], None] | None = None,
    ) -> None:
        self.api = api
        self.expect = expect or (lambda n: None)  # announces fee look-ups (progress)
        self.now = now or (lambda: datetime.now(UTC))
        self._tier: str | None = None
        self._tier_asked = False
        self._platform: list[PlatformFee] | None = None  # the tier's entries, all methods
        self._rates: dict[str, Rates | str] = {}  # per payment method: rates or why none
        self._fallback: dict[Group, str] = {}  # groups priced per amount, and why
        self._checked: dict[Group, set[Decimal]] = {}  # amounts whose sample agreed
        self.notes: dict[str, str] = {}  # per group label: what was decided and why

    # --- the schedule, cached with its effective dates ----------------------------------

    async def _rates_for(self, method: str) -> Rates | str:
        at = self.now()
        known = self._rates.get(method)
        if isinstance(known, Rates) and known.valid_at(at):
            return known
        if known is not None and not isinstance(known, Rates):
            return known
        # New entries (or none yet): amounts checked against the old ones prove nothing.
        self._checked = {g: a for g, a in self._checked.items() if g[1] != method}
        if not hasattr(self.api, "gateway_fees"):
            return "this API client has no fee schedule"
        try:
            if not self._tier_asked:
                self._tier_asked = True
                self._tier = await self.api.fee_tier_name()
            if self._tier is None:
                found: Rates | str = "the merchant has no fee tier"
            else:
                gateway = await self.api.gateway_fees(method, OPERATION)
                if self._platform is None or isinstance(known, Rates):  # new, or expired
                    self._platform = await self.api.platform_fees(OPERATION, self._tier)
                found = pick_rates(gateway, self._platform, payment_method=method, at=at)
        except errors.AuthError:
            raise
        except errors.ApiError as exc:
            found = f"the fee schedule is not available ({exc})"
        self._rates[method] = found
        return found

    async def _check(
        self,
        group: Group,
        amounts: list[Decimal],
        gather: Gather,
        concurrency: int,
        keep: Callable[[FeeKey, FeeQuote], None],
    ) -> str | None:
        """Sample this group's amounts against the API; None when the schedule agrees.

        The sampled quotes are kept as per-amount predictions (`keep`): a group that
        disagrees does not ask for them twice."""
        currency, method, provider = group
        rates = await self._rates_for(method)
        if isinstance(rates, str):
            return rates
        checked = self._checked.setdefault(group, set())
        sample = [a for a in sample_amounts(amounts) if a not in checked]

        async def predicted(amount: Decimal) -> FeeQuote:
            quote: FeeQuote = await self.api.amount_and_fees(
                amount=amount, currency=currency, target_currency=currency,
                payment_method=method, provider=provider,
            )
            return quote

        self.expect(len(sample))
        answers = await gather(sample, predicted, concurrency)
        for amount in sample:
            if isinstance(answers[amount], FeeQuote):
                keep((amount, currency, method, provider), answers[amount])
        for amount in sample:
            theirs = answers[amount]
            if isinstance(theirs, errors.ApiError):
                return f"the sample at {amount} {currency} was not quoted ({theirs})"
            ours = schedule_quote(amount, currency, rates)
            if isinstance(ours, str):
                return ours
            if differs := disagreement(amount, ours, theirs):
                return differs
            checked.add(amount)
        return None

    # --- quotes for one chunk -----------------------------------------------------------

    async def quotes(
        self,
        needed: Mapping[FeeKey, tuple[PayoutRow, ProviderInfo]],
        cached: Callable[[FeeKey], FeeQuote | None],
        gather: Gather,
        concurrency: int,
        keep: Callable[[FeeKey, FeeQuote], None],
    ) -> tuple[dict[FeeKey, FeeQuote], list[FeeKey]]:
        """Schedule quotes for the keys of agreeing groups; the keys still to ask per amount
        (sampled amounts of a disagreeing group are in the cache by then, not in this list)."""
        groups: dict[Group, list[FeeKey]] = {}
        for key in needed:
            if cached(key) is None:
                groups.setdefault(_group(key), []).append(key)
        priced: dict[FeeKey, FeeQuote] = {}
        per_amount: list[FeeKey] = []
        for group, keys in groups.items():
            decided = group in self._fallback or group in self._checked
            if not decided and len(keys) <= SCHEDULE_MIN_AMOUNTS:
                per_amount += keys  # too few amounts for a check to pay off
                self.notes.setdefault(_label(group), (
                    f"per-amount predictions: {len(keys)} distinct amount(s), fewer calls "
                    "than checking the fee schedule"
                ))
                continue
            why = self._fallback.get(group)
            if why is None:
                why = await self._check(group, [k[0] for k in keys], gather, concurrency, keep)
            if why is not None:
                self._fallback[group] = why
                self.notes[_label(group)] = f"per-amount predictions: {why}"
                per_amount += [k for k in keys if cached(k) is None]
                continue
            rates = self._rates[group[1]]
            assert isinstance(rates, Rates)
            for key in keys:
                quote = schedule_quote(key[0], key[1], rates)
                if isinstance(quote, str):
                    per_amount.append(key)
                else:
                    priced[key] = quote
            self.notes[_label(group)] = (
                f"fee schedule (a sample of {len(self._checked[group])} amounts agreed "
                "with predictions to the minor unit)"
            )
        return priced, per_amount
