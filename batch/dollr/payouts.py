"""Payouts (REFERENCE §3.6.1, §3.7.1, §3.8): session, execute, status by reference_id."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote

from batch import errors
from batch.dollr.models import Execution, PayoutExecute, PayoutSession, PayoutSessionCreate
from batch.dollr.requestor import STATUS_PATH, Requestor


class Payouts(Requestor):
    """`/v1/sessions/payout`, `/v1/executions/payout`, `/v1/status/payout/{reference_id}`."""

    async def create_payout_session(
        self, *, payout_account_id: int, amount: Decimal, currency: str
    ) -> PayoutSession:
        """Open a payout session; it moves no money and expires at `expires_at`."""
        body = PayoutSessionCreate(
            payout_account_id=payout_account_id, amount=amount, currency=currency
        )
        return await self._call(PayoutSession, "POST", "/v1/sessions/payout", safe=True, body=body)

    async def execute_payout(
        self, *, session_id: int, payout_account_id: int, reference_id: str
    ) -> Execution:
        """Move the money. Never retried: 5xx, 429 and lost answers surface as Transient errors."""
        await self.auth.token()  # token trouble surfaces here, before the payout leaves
        body = PayoutExecute(
            session_id=str(session_id),
            payout_account_id=str(payout_account_id),
            reference_id=reference_id,
            passcode=await self._passcode(),
        )
        path = "/v1/executions/payout"
        return await self._call(
            Execution, "POST", path, safe=False, body=body, reference_id=reference_id
        )

    async def payout_status(self, reference_id: str) -> Execution:
        """Where a payout stands; NotFoundError when the API has no such reference_id.

        Not-found is undefined on status (REFERENCE §7.9): a 422 or other 4xx for our own
        UUID means the same as a 404. The monitor trusts either only after its grace window.
        """
        path = f"{STATUS_PATH}{quote(reference_id, safe='')}"
        try:
            return await self._call(Execution, "GET", path, safe=True, reference_id=reference_id)
        except errors.ApiValidationError as exc:
            raise errors.NotFoundError(
                str(exc),
                status=exc.status,
                endpoint=exc.endpoint,
                detail=exc.detail,
                request_id=exc.request_id,
                reference_id=reference_id,
            ) from exc
