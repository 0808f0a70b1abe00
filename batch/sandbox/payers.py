"""Simulated payers: how a phone answers a collection request (pure, seeded, replayable).

In order of precedence:
1. `Faults.payers`: a script per phone, e.g. {"231770000003": ["decline", "approve"]}: the
   phone's n-th request gets the n-th answer (the last one repeats).
2. Test numbers, like card test numbers: a phone ending in 91 declines, 92 never answers
   (the request expires after the approval window), 93 has insufficient funds, 94 declines
   its first request and approves the next ones.
3. Otherwise drawn per (seed, reference_id) with `payer_decline_rate`,
   `payer_timeout_rate` and `payer_insufficient_rate`; the rest approve.
"""

from __future__ import annotations

import random

from batch.sandbox.config import Faults

APPROVE, DECLINE, TIMEOUT, INSUFFICIENT = "approve", "decline", "timeout", "insufficient"
BEHAVIOURS = (APPROVE, DECLINE, TIMEOUT, INSUFFICIENT)

TEST_NUMBERS: dict[str, list[str]] = {
    "91": [DECLINE],
    "92": [TIMEOUT],
    "93": [INSUFFICIENT],
    "94": [DECLINE, APPROVE],
}

MESSAGES = {
    DECLINE: "The payer declined the payment request",
    TIMEOUT: "The payment request expired: the payer did not answer in time",
    INSUFFICIENT: "The payer's mobile-money balance is insufficient",
}


def behaviour(
    faults: Faults, *, seed: int, phone: str | None, reference_id: str, nth: int
) -> str:
    """How this payer answers their `nth` request (0-based)."""
    script: list[str] | None = list(faults.payers.get(phone or "") or []) or None
    if script is None and phone:
        script = TEST_NUMBERS.get(phone[-2:])
    if script:
        return script[min(nth, len(script) - 1)]
    draw = random.Random(f"{seed}:payer:{reference_id}").random()
    for rate, answer in (
        (faults.payer_decline_rate, DECLINE),
        (faults.payer_timeout_rate, TIMEOUT),
        (faults.payer_insufficient_rate, INSUFFICIENT),
    ):
        if draw < rate:
            return answer
        draw -= rate
    return APPROVE


# A Liberian phone ending in 95 approves, from a wallet holding only Liberian dollars: an
# invoice in USD is paid with FX (REFERENCE §3.5.3: the payer's currency may differ).
FX_TEST_SUFFIX, FX_TEST_CURRENCY = "95", "LRD"


def wallet_currencies(faults: Faults, phone: str, country_currencies: list[str]) -> list[str]:
    """The currencies the payer's wallet can pay in (mmo-provider-info for COLLECTION)."""
    scripted = faults.payer_currencies.get(phone)
    if scripted:
        return [scripted]
    if phone.endswith(FX_TEST_SUFFIX) and FX_TEST_CURRENCY in country_currencies:
        return [FX_TEST_CURRENCY]
    return list(country_currencies)


def answer_seconds(faults: Faults, answer: str) -> float:
    """Seconds from the request to the payer's answer (or to the window's end)."""
    if answer == TIMEOUT:
        return faults.approval_window_seconds
    if answer == INSUFFICIENT:
        return faults.pending_seconds
    return min(faults.payer_answer_seconds, faults.approval_window_seconds)
