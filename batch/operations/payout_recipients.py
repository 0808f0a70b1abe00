"""Make sure a recipient exists at the API: party, counterparty, payout account (reused).

The ids are kept in the ledger's recipients table (per API environment), so next month's
payroll makes none of these calls.
"""

from __future__ import annotations

from typing import Any

from batch.ledger import Ledger, RowRecord


async def ensure_recipient(
    ledger: Ledger, api: Any, row: RowRecord, *, relationship_type: str
) -> int:
    """The payout account id for the row's phone, creating what the ledger does not know."""
    assert row.phone is not None and row.name is not None
    known = ledger.recipient(row.phone)
    if known and known.payout_account_id is not None:
        return known.payout_account_id
    method = (known.method if known else None) or row.method
    provider = (known.provider if known else None) or row.provider
    if not method or not provider:
        info = await api.mmo_provider_info(row.phone)
        method, provider = info.payment_method, info.gateway_provider
        ledger.save_routing(
            row.phone,
            carrier=info.carrier,
            country=info.country,
            currencies=info.currencies,
            method=method,
            provider=provider,
        )
    party_id = known.party_id if known else None
    if party_id is None:
        party = await api.create_party(
            fullname=row.name, phone=row.phone, country_code=row.country, email=row.email
        )
        party_id = party.id
        ledger.save_recipient_ids(row.phone, party_id=party_id)
    if known is None or known.counterparty_id is None:
        counterparty = await api.create_counterparty(
            party_id=party_id, relationship_type=relationship_type
        )
        ledger.save_recipient_ids(
            row.phone,
            counterparty_id=counterparty.id,
            relationship_type=relationship_type,
        )
    account = await api.create_payout_account(
        party_id=party_id,
        account_name=f"{row.name} {method}",
        provider=provider,
        method=method,
        country_code=row.country,
        account_number=row.phone,
    )
    ledger.save_recipient_ids(row.phone, payout_account_id=account.id)
    return int(account.id)
