"""The markets paybatch pays into: countries, currencies, minor units (REFERENCE.md §1.4, §2.1)."""

from __future__ import annotations

from decimal import Decimal

# ISO 4217 minor units: USD and LRD have cents, RWF has none (REFERENCE.md §1.5).
CURRENCY_DECIMALS: dict[str, int] = {"USD": 2, "LRD": 2, "RWF": 0}

# Which currencies may be paid into each supported country (issue 2: LRD only in LR,
# RWF only in RW, USD in both).
COUNTRY_CURRENCIES: dict[str, frozenset[str]] = {
    "LR": frozenset({"USD", "LRD"}),
    "RW": frozenset({"RWF", "USD"}),
}

SUPPORTED_COUNTRIES: frozenset[str] = frozenset(COUNTRY_CURRENCIES)
SUPPORTED_CURRENCIES: frozenset[str] = frozenset(CURRENCY_DECIMALS)


def minor_units(currency: str) -> int:
    """Number of decimals the currency allows."""
    return CURRENCY_DECIMALS[currency]


def to_minor(amount: Decimal, currency: str) -> int:
    """Exact integer minor units of an amount; raises ValueError if it has too many decimals."""
    scaled = amount.scaleb(minor_units(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} has more than {minor_units(currency)} decimals for {currency}")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    """The exact Decimal of an amount in minor units, with the currency's decimals."""
    places = minor_units(currency)
    return Decimal(minor).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def exact(amount: Decimal, currency: str | None) -> Decimal:
    """The amount with at least its currency's decimals (adds zeros, never rounds).

    The one rule for machine output (CSV, JSON, the ledger's figures): `1132.7` USD is
    `1132.70`, `1250` RWF stays `1250`; an amount with more decimals than its currency keeps
    them (it is shown as it is, never rounded away).
    """
    places = CURRENCY_DECIMALS.get(currency or "")
    exponent = amount.as_tuple().exponent
    if places is None or not isinstance(exponent, int) or exponent <= -places:
        return amount
    return amount.quantize(Decimal(1).scaleb(-places))


def display_amount(amount: Decimal, currency: str | None) -> str:
    """The one rule for people (terminal, plain text, prompts): `exact` with thousands
    separators, e.g. `324,352.14` USD, `1,250,000` RWF. Never goes through float."""
    return f"{exact(amount, currency):,}"
