"""The payout operation: pay each row into its recipient's mobile-money account.

Per row: recipient (party, counterparty and payout account, reused across batches through
the ledger's recipients table) -> payout session -> execute with the row's reference_id ->
status by reference_id (REFERENCE §3.3-§3.7, flow 2 of the integration guide).
"""

from __future__ import annotations

from batch.dollr.client import ApiClient
from batch.dollr.models import (
    Execution,
    PayoutSession,
)
from batch.engine.operation import Answer
from batch.engine.states import PAYOUT, OperationKind
from batch.ledger import Ledger, RowRecord
from batch.options import MonitorOptions

BENEFICIARY = "BENEFICIARY"


class PayoutOperation:
    """Payouts as the engine drives them (`batch.engine.operation.Operation`)."""

    kind = OperationKind.PAYOUT
    operation_type = PAYOUT
    monitor_defaults = MonitorOptions()

    def __init__(
        self, ledger: Ledger, api: ApiClient, *, relationship_type: str = BENEFICIARY
    ) -> None:
        self.ledger = ledger
        self.api = api
        self.relationship_type = relationship_type

    async def prepare(self, row: RowRecord) -> int:
        """The payout account id for the row's phone, creating what the ledger does not know."""
        ledger, api = self.ledger, self.api
        assert row.phone is not None and row.name is not None
        known = ledger.recipient(row.phone, PAYOUT)
        if known and known.account_id is not None:
            return known.account_id
        method = (known.method if known else None) or row.method
        provider = (known.provider if known else None) or row.provider
        if not method or not provider:
            info = await api.mmo_provider_info(row.phone, PAYOUT)
            method, provider = info.payment_method, info.gateway_provider
            ledger.save_routing(
                row.phone,
                carrier=info.carrier,
                country=info.country,
                currencies=info.currencies,
                method=method,
                provider=provider,
                operation_type=PAYOUT,
            )
        party_id = known.party_id if known else None
        if party_id is None:
            party = await api.create_party(
                fullname=row.name, phone=row.phone, country_code=row.country, email=row.email
            )
            party_id = party.id
            ledger.save_recipient_ids(row.phone, party_id=party_id, operation_type=PAYOUT)
        if known is None or known.counterparty_id is None:
            counterparty = await api.create_counterparty(
                party_id=party_id, relationship_type=self.relationship_type
            )
            ledger.save_recipient_ids(
                row.phone,
                counterparty_id=counterparty.id,
                relationship_type=self.relationship_type,
                operation_type=PAYOUT,
            )
        account = await api.create_payout_account(
            party_id=party_id,
            account_name=f"{row.name} {method}",
            provider=provider,
            method=method,
            country_code=row.country,
            account_number=row.phone,
        )
        ledger.save_recipient_ids(row.phone, account_id=account.id, operation_type=PAYOUT)
        return int(account.id)

    async def open_session(self, row: RowRecord, account_id: int) -> PayoutSession:
        assert row.amount is not None and row.currency is not None
        return await self.api.create_payout_session(
            payout_account_id=account_id, amount=row.amount, currency=row.currency
        )

    async def execute(
        self, row: RowRecord, *, session_id: int, account_id: int, reference_id: str
    ) -> Execution:
        return await self.api.execute_payout(
            session_id=session_id, payout_account_id=account_id, reference_id=reference_id
        )

    async def status(self, reference_id: str) -> Execution:
        return await self.api.payout_status(reference_id)

    def stop_reason(self, answer: Answer) -> str | None:
        # The wallet is short: the rest would fail too (REFERENCE §4.5).
        return f"wallet: {answer.wallet_message}" if answer.wallet_message else None

    async def after_final(self, row_id: int, reference_id: str, answer: Answer) -> None:
        return None  # a payout's final status carries everything the report needs
