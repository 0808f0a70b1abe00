"""Recipients (REFERENCE §3.3-§3.4): parties, counterparties, payment accounts."""

from __future__ import annotations

from batch.dollr.models import (
    Counterparty,
    CounterpartyCreate,
    Party,
    PartyCreate,
    PaymentAccount,
    PaymentAccountCreate,
)
from batch.dollr.requestor import Requestor


class Recipients(Requestor):
    """`/v1/parties`, `/v1/counterparties`, `/v1/payment-accounts`."""

    async def create_party(
        self, *, fullname: str, phone: str, country_code: str | None, email: str | None = None
    ) -> Party:
        """Create a party (contact) for a recipient."""
        body = PartyCreate(fullname=fullname, phone=phone, email=email, country_code=country_code)
        return await self._call(Party, "POST", "/v1/parties/create", safe=True, body=body)

    async def create_counterparty(
        self, *, party_id: int, relationship_type: str = "BENEFICIARY"
    ) -> Counterparty:
        """Link a party to the merchant (REFERENCE §3.3)."""
        body = CounterpartyCreate(relationship_type=relationship_type, party_id=party_id)
        path = "/v1/counterparties/create"
        return await self._call(Counterparty, "POST", path, safe=True, body=body)

    async def create_payout_account(
        self,
        *,
        party_id: int,
        account_name: str,
        provider: str,
        method: str,
        country_code: str | None,
        account_number: str,
    ) -> PaymentAccount:
        """Register the recipient's mobile-money wallet for payouts (REFERENCE §3.4)."""
        body = PaymentAccountCreate(
            account_name=account_name,
            provider=provider,
            method=method,
            party_id=party_id,
            country_code=country_code,
            insensitive_account_number=account_number,
        )
        path = "/v1/payment-accounts/create"
        params = {"operation_type": "PAYOUT"}
        return await self._call(PaymentAccount, "POST", path, safe=True, params=params, body=body)
