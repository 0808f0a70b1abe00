"""The payout-flow endpoints of Dollr v1 (REFERENCE.md §3), served from the sandbox's Store.

Collection endpoints (invoices, checkout session, collection execution/status, receipt)
belong in a sibling router module using the same `runtime` dependency and Store.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import HTTPBearer

from batch.sandbox import fees, operators, payers, quirks
from batch.sandbox import schemas as s
from batch.sandbox.endpoints import ENDPOINTS
from batch.sandbox.runtime import Runtime
from batch.sandbox.state import Counterparty, Execution, Party, PaymentAccount, PayoutSession
from batch.sandbox.store import CREDENTIALS_REJECTED, Denied, Missing, Rejected, Unauthorized

_bearer = HTTPBearer(auto_error=False)  # declared for the OpenAPI page; checked below


async def runtime(request: Request) -> Runtime:
    """The sandbox behind this app."""
    rt: Runtime = request.app.state.runtime
    return rt


Rt = Annotated[Runtime, Depends(runtime)]


async def authorized(request: Request, rt: Rt, _: object = Depends(_bearer)) -> None:
    """401 unless a live bearer token issued by this sandbox is sent (REFERENCE §1.7)."""
    scheme, _sep, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Not authenticated")
    rt.store.check_token(token.strip(), rt.now())


router = APIRouter(prefix="/v1")
api = APIRouter(prefix="/v1", dependencies=[Depends(authorized)])


def _dt(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _party(p: Party) -> s.PartyResponse:
    created = _dt(p.created_at)
    return s.PartyResponse(
        id=p.id, fullname=p.fullname, phone=p.phone, email=p.email,
        country_code=p.country_code, created_at=created, updated_at=created,
    )


def _counterparty(c: Counterparty) -> s.CounterpartyResponse:
    created = _dt(c.created_at)
    return s.CounterpartyResponse(
        id=c.id, relationship_type=c.relationship_type, party_id=c.party_id,
        created_at=created, updated_at=created,
    )


def _session(x: PayoutSession, now: float) -> s.PayoutSessionResponse:
    created = _dt(x.created_at)
    return s.PayoutSessionResponse(
        id=x.id, wallet_id=x.wallet_id, payout_account_id=x.payout_account_id, amount=x.amount,
        currency=x.currency, status=x.status(now), expires_at=_dt(x.expires_at),
        created_at=created, updated_at=created,
    )


def execution_response(e: Execution, now: float) -> s.ExecutionResponse:
    """The ExecutionResponse of an execution at `now`."""
    return s.ExecutionResponse(
        reference_id=e.reference_id, status=e.status(now), payer_amount=e.debit,
        payer_currency=e.currency, payee_amount=e.amount, payee_currency=e.currency,
        operation_type="PAYOUT",
        provider_transaction_id=e.provider_transaction_id if e.settled else None,
        gateway_message=e.gateway_message if e.settled else None,
        wallet_message=e.wallet_message,
    )


@router.post("/jwt/client/obtain/token", name="token")
async def obtain_token(body: s.TokenRequest, rt: Rt) -> s.TokenResponse:
    """Exchange client credentials for a bearer token."""
    token, minutes = rt.store.issue_token(body.client_id, body.client_secret, rt.now())
    return s.TokenResponse(access_token=token, expires_in=minutes)


@api.post("/parties/create", name="parties.create")
async def create_party(body: s.PartyCreate, rt: Rt) -> s.PartyResponse:
    """Create a party."""
    return _party(rt.store.create_party(**body.model_dump(), now=rt.now()))


@api.get("/parties/list", name="parties.list")
async def list_parties(rt: Rt, fullname: str | None = None) -> list[s.PartyResponse]:
    """Parties, filtered by a case-insensitive part of the name (a bare array, REFERENCE §3.2)."""
    needle = (fullname or "").lower()
    return [_party(p) for p in rt.store.parties.values() if needle in p.fullname.lower()]


@api.get("/parties/retrieve/{id}", name="parties.retrieve")
async def retrieve_party(id: int, rt: Rt) -> s.PartyResponse:  # noqa: A002 - the documented name
    """One party."""
    return _party(rt.store.get_party(id))


@api.post("/counterparties/create", name="counterparties.create")
async def create_counterparty(body: s.CounterpartyCreate, rt: Rt) -> s.CounterpartyResponse:
    """Link a party to the merchant."""
    return _counterparty(rt.store.create_counterparty(**body.model_dump(), now=rt.now()))


@api.get("/counterparties/list", name="counterparties.list")
async def list_counterparties(
    rt: Rt, fullname: str | None = None, relationship_type: s.RelationshipType | None = None
) -> list[s.CounterpartyResponse]:
    """Counterparties, filtered by the linked party's name and by relationship."""
    store, needle = rt.store, (fullname or "").lower()
    found = []
    for c in store.counterparties.values():
        party = store.parties.get(c.party_id) if c.party_id is not None else None
        if needle and (party is None or needle not in party.fullname.lower()):
            continue
        if relationship_type and c.relationship_type != relationship_type:
            continue
        found.append(_counterparty(c))
    return found


@api.get("/counterparties/retrieve/{id}", name="counterparties.retrieve")
async def retrieve_counterparty(id: int, rt: Rt) -> s.CounterpartyWithPartyResponse:  # noqa: A002
    """One counterparty with its party embedded."""
    c = rt.store.get_counterparty(id)
    party = rt.store.parties.get(c.party_id) if c.party_id is not None else None
    return s.CounterpartyWithPartyResponse(
        **_counterparty(c).model_dump(), party=_party(party) if party else None
    )


@api.post("/payment-accounts/create", name="payment_accounts.create")
async def create_payment_account(
    body: s.PaymentAccountCreate, operation_type: s.OperationType, rt: Rt
) -> s.PaymentAccountResponse:
    """Register a wallet for a party; method and provider must go together."""
    if body.provider not in operators.valid_providers(body.method):
        raise Rejected(["body", "provider"], f"Invalid combination of provider "
                       f"{body.provider} and method {body.method}")
    a = rt.store.create_account(PaymentAccount(
        id=0, account_name=body.account_name, provider=body.provider, method=body.method,
        party_id=body.party_id, country_code=body.country_code,
        account_number=body.insensitive_account_number, operation_type=operation_type,
        created_at=rt.now(),
    ))
    created = _dt(a.created_at)
    return s.PaymentAccountResponse(
        id=a.id, account_name=a.account_name, provider=a.provider, method=a.method,
        party_id=a.party_id, is_active=a.is_active, country_code=a.country_code,
        created_at=created, updated_at=created,
    )


@api.get("/predictions/mmo-provider-info", name="predictions.mmo_provider_info")
async def mmo_provider_info(
    phone: str, operation_type: s.OperationType, rt: Rt
) -> s.ProviderInfoResponse:
    """The operator, method and provider for a phone (LR and RW mobile numbers); for a
    COLLECTION, the currencies are those the payer's wallet can pay in."""
    try:
        op = operators.operator_for(phone)
    except operators.UnroutablePhoneError as exc:
        raise Rejected(["query", "phone"], f"Cannot route {phone}: {exc}") from exc
    currencies = op.currencies
    if operation_type == "COLLECTION":
        currencies = payers.wallet_currencies(rt.faults, phone, op.currencies)
    return s.ProviderInfoResponse(
        carrier=op.carrier, country=op.country, currencies=currencies, phone=phone,
        payment_method=op.payment_method, gateway_provider=op.gateway_provider,
        operation_type=operation_type,
    )


@api.get("/predictions/amount-and-fees", name="predictions.amount_and_fees")
async def amount_and_fees(
    base_amount: Annotated[Decimal, Query(gt=0)],
    base_currency: Annotated[str, Query(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$")],
    target_currency: Annotated[str, Query(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$")],
    payment_method: s.PaymentMethod,
    operation_type: s.OperationType,
    provider: s.Provider,
    fee_bearer: s.FeeBearer,
    owner_type: str | None = None,
    owner_id: int | None = None,
) -> s.FeePredictionResponse:
    """The fee schedule of `batch.sandbox.fees` applied to one amount."""
    for name, code in (("base_currency", base_currency), ("target_currency", target_currency)):
        if code not in fees.USD_RATES:
            raise Rejected(["query", name], f"Currency {code} is not supported")
    q = fees.quote(
        base_amount=base_amount, base_currency=base_currency, target_currency=target_currency,
        payment_method=payment_method, operation_type=operation_type, fee_bearer=fee_bearer,
    )
    return s.FeePredictionResponse(**q.model_dump())


@api.post("/sessions/payout", name="sessions.payout", response_model=s.PayoutSessionResponse)
async def create_payout_session(body: s.PayoutSessionCreate, rt: Rt) -> Any:
    """Open a payout session (the seed's payment_account_id/wallet_id/expires_at accepted)."""
    now = rt.now()
    session = rt.store.create_payout_session(
        account_id=body.payout_account_id, amount=body.amount, currency=body.currency,
        loc_account="payout_account_id",
        expires_at=body.expires_at.timestamp() if body.expires_at else None, now=now,
    )
    return quirks.answer(_session(session, now), rt.faults, session=True)


@api.post("/executions/payout", name="executions.payout", response_model=s.ExecutionResponse)
async def execute_payout(body: s.PayoutExecutionCreate, rt: Rt) -> Any:
    """Execute a payout session, idempotently per reference_id."""
    _check_reference_id(body.reference_id)
    _check_passcode(body.passcode.token, rt)
    now = rt.now()
    execution = rt.store.execute_payout(
        session_ref=body.session_id, account_ref=body.payout_account_id,
        reference_id=body.reference_id, now=now,
    )
    return quirks.answer(execution_response(execution, now), rt.faults)


@api.get("/status/payout/{reference_id}", name="status.payout", response_model=s.ExecutionResponse)
async def payout_status(reference_id: str, rt: Rt) -> Any:
    """Where a payout stands; 404 (or 422, a quirk) when unknown or not yet visible."""
    now = rt.now()
    try:
        execution = rt.store.payout_status(reference_id, now)
    except Missing as exc:
        if rt.faults.status_unknown_code == 422:
            raise Rejected(["path", "reference_id"], "Transaction not found") from exc
        raise
    return quirks.answer(execution_response(execution, now), rt.faults)


def _check_reference_id(reference_id: str) -> None:
    try:
        parsed = uuid.UUID(reference_id)
    except ValueError:
        parsed = None
    if parsed is None or parsed.version != 4 or str(parsed) != reference_id.lower():
        raise Rejected(["body", "reference_id"], "reference_id must be a UUID v4", "uuid_parsing")


def _check_passcode(token: s.PasscodeToken, rt: Runtime) -> None:
    if token.phone is None and token.user_id is None:
        raise Rejected(["body", "passcode", "token"], "phone or user_id is required", "missing")
    cfg = rt.store.config
    if token.code != cfg.passcode.get_secret_value():
        raise Denied("Invalid passcode")
    owner_ok = (token.phone is not None and token.phone == cfg.passcode_phone) or (
        token.user_id is not None and token.user_id == cfg.passcode_user_id
    )
    if not owner_ok:
        raise Denied("Passcode does not belong to this phone or user")


__all__ = ["ENDPOINTS", "CREDENTIALS_REJECTED", "api", "router", "execution_response", "runtime"]
