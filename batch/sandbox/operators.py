"""Which mobile-money operator serves a phone number, as the sandbox's MMO prediction says (pure).

The carrier comes from `phonenumbers.carrier` (the same data intake's operator hint uses),
so the sandbox and paybatch's validation agree. Only mobile numbers of LR and RW route.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType, carrier

from batch.markets import COUNTRY_CURRENCIES

GATEWAY_PROVIDER = "PAWAPAY"  # REFERENCE §2.1: every MoMo method goes through PAWAPAY

# (region, carrier name per phonenumbers) -> Dollr payment_method
CARRIER_METHODS: dict[tuple[str, str], str] = {
    ("LR", "Lonestar Cell"): "MTN_MOMO_LBR",  # Lonestar Cell MTN
    ("LR", "Orange"): "ORANGE_MONEY_LBR",
    ("RW", "MTN"): "MTN_MOMO_RWA",
    ("RW", "Airtel"): "AIRTEL_RWA",
}
MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})


@dataclass(frozen=True)
class Operator:
    """The routing answer for one phone."""

    carrier: str
    country: str
    currencies: list[str]
    payment_method: str
    gateway_provider: str


class UnroutablePhoneError(ValueError):
    """The phone is not a mobile number of a supported operator."""


def operator_for(phone: str) -> Operator:
    """Route an E.164 digit string; raises UnroutablePhoneError with a reason."""
    try:
        number = phonenumbers.parse("+" + phone)
    except phonenumbers.NumberParseException as exc:
        raise UnroutablePhoneError(f"not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise UnroutablePhoneError("not a valid phone number")
    region = phonenumbers.region_code_for_number(number)
    if region not in COUNTRY_CURRENCIES:
        raise UnroutablePhoneError(f"country {region} is not a supported market")
    if phonenumbers.number_type(number) not in MOBILE_TYPES:
        raise UnroutablePhoneError("not a mobile number")
    name = carrier.name_for_number(number, "en")
    method = CARRIER_METHODS.get((region, name))
    if method is None:
        raise UnroutablePhoneError(f"no mobile-money operator for carrier {name or 'unknown'}")
    return Operator(
        carrier=name,
        country=region,
        currencies=sorted(COUNTRY_CURRENCIES[region]),
        payment_method=method,
        gateway_provider=GATEWAY_PROVIDER,
    )


def valid_providers(method: str) -> frozenset[str]:
    """Providers accepted with a method on payment-account create (REFERENCE §7.1)."""
    if method == "CREDIT_CARD":
        return frozenset({"STRIPE"})
    if method == "WALLET":
        return frozenset({"PLATFORM"})
    if method in {m for m in CARRIER_METHODS.values()} | {"ORANGE_MONEY_RWA"}:
        return frozenset({GATEWAY_PROVIDER, method})
    return frozenset()
