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
