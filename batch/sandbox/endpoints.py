"""Names of the sandbox's Dollr endpoints, as used in stats and in fault selectors."""

from __future__ import annotations

from fnmatch import fnmatch

# Endpoint names used in stats and fault selectors (route name -> path).
ENDPOINTS: dict[str, str] = {
    "token": "/v1/jwt/client/obtain/token",
    "parties.create": "/v1/parties/create",
    "parties.list": "/v1/parties/list",
    "parties.retrieve": "/v1/parties/retrieve/{id}",
    "counterparties.create": "/v1/counterparties/create",
    "counterparties.list": "/v1/counterparties/list",
    "counterparties.retrieve": "/v1/counterparties/retrieve/{id}",
    "payment_accounts.create": "/v1/payment-accounts/create",
    "predictions.mmo_provider_info": "/v1/predictions/mmo-provider-info",
    "predictions.amount_and_fees": "/v1/predictions/amount-and-fees",
    "fees.gateway": "/v1/fees/gateway",
    "fees.platform": "/v1/fees/platform",
    "fees.merchant_tier": "/v1/fees/merchant-tier",
    "fees.tiers": "/v1/fees/tiers",
    "merchants.merchant_info": "/v1/merchants/merchant-info",
    "sessions.payout": "/v1/sessions/payout",
    "executions.payout": "/v1/executions/payout",
    "status.payout": "/v1/status/payout/{reference_id}",
    # The collection side (batch.sandbox.collection_routes).
    "invoices.create": "/v1/invoices/create",
    "invoices.items_add": "/v1/invoices/{invoice_id}/items/add",
    "invoices.publish": "/v1/invoices/publish/{id}",
    "invoices.retrieve": "/v1/invoices/retrieve/{id}",
    "invoices.list": "/v1/invoices/list",
    "invoices.cancel": "/v1/invoices/cancel/{id}",
    "invoices.receipt": "/v1/invoices/receipt/{id}",
    "sessions.checkout": "/v1/sessions/checkout",
    "executions.collection": "/v1/executions/collection",
    "status.collection": "/v1/status/collection/{reference_id}",
    "status.source": "/v1/status/source",
}


def selected(endpoint: str, patterns: list[str] | tuple[str, ...]) -> bool:
    """Whether a fault's endpoint selector (names or fnmatch patterns) covers this endpoint."""
    return any(fnmatch(endpoint, pattern) for pattern in patterns)


def unknown_patterns(patterns: list[str]) -> list[str]:
    """The patterns that select no endpoint at all (typos)."""
    return [p for p in patterns if not any(fnmatch(name, p) for name in ENDPOINTS)]
