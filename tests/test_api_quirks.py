"""The client against answers another Dollr implementation may give where REFERENCE.md is vague.

Each test scripts one [UNKNOWN]/[INFERRED] choice into the fake API (httpx.MockTransport) and
checks paybatch still reads it, or maps it to the error the engine can act on.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fake_dollr import FakeDollr, VirtualClock, make_client

from batch import errors
from batch.dollr.models import Execution, PayoutSession

REF = "3b0f6f1e-9a51-4c3e-8a77-2f1d0c6b9e10"
STATUS = f"GET /v1/status/payout/{REF}"
SESSION = "POST /v1/sessions/payout"
TOKEN = "POST /v1/jwt/client/obtain/token"


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def status_answer(answer: Any) -> Execution:
    fake = FakeDollr()
    fake.script(STATUS, answer)

    async def go() -> Execution:
        async with make_client(fake) as api:
            return await api.payout_status(REF)

    result: Execution = run(go())
    return result


# --- ExecutionResponse shapes ----------------------------------------------------------


def test_minimal_execution_with_optional_fields_left_out() -> None:
    # Only the status: every other field may be missing without the answer being unreadable.
    execution = status_answer(httpx.Response(200, json={"status": "PROCESSING"}))
    assert execution.status == "PROCESSING" and not execution.is_terminal
    assert execution.payer_amount is None and execution.provider_transaction_id is None


@pytest.mark.parametrize(
    ("status", "terminal", "completed"),
    [("completed", True, True), (" Completed ", True, True), ("failed", True, False),
     ("IN_PROGRESS", False, False), ("SUCCESSFUL", False, False), ("", False, False)],
)
def test_status_spelling(status: str, terminal: bool, completed: bool) -> None:
    execution = status_answer(httpx.Response(200, json={"reference_id": REF, "status": status}))
    assert (execution.is_terminal, execution.is_completed) == (terminal, completed)
    known = {"PENDING", "PROCESSING", "COMPLETED", "FAILED"}
    assert execution.is_known_status is (status.strip().upper() in known)


def test_amounts_as_strings_ints_and_ids_as_numeric_strings() -> None:
    body = {
        "reference_id": REF, "status": "COMPLETED", "payer_amount": "26", "payer_currency": "USD",
        "payee_amount": 25, "payee_currency": "USD", "operation_type": "PAYOUT",
        "provider_transaction_id": 123456, "extra": [1, 2],
    }
    execution = status_answer(httpx.Response(200, json=body))
    assert execution.payer_amount == Decimal(26) and execution.payee_amount == Decimal(25)
    assert execution.provider_transaction_id == "123456"


# --- sessions ----------------------------------------------------------------------------


def session_answer(body: dict[str, Any]) -> PayoutSession:
    fake = FakeDollr()
    fake.script(SESSION, httpx.Response(200, json=body))

    async def go() -> PayoutSession:
        async with make_client(fake) as api:
            return await api.create_payout_session(
                payout_account_id=902, amount=Decimal("25.50"), currency="USD"
            )

    result: PayoutSession = run(go())
    return result


@pytest.mark.parametrize(
    "stamp",
    ["2026-01-05T09:15:00Z", "2026-01-05T09:15:00+00:00", "2026-01-05T09:15:00.123456Z",
     "2026-01-05T09:15:00", "2026-01-05T10:15:00+01:00"],
)
def test_session_timestamps_in_any_iso_form_are_aware_utc(stamp: str) -> None:
    session = session_answer({"id": "4411", "wallet_id": "3", "expires_at": stamp})
    assert session.id == 4411 and session.wallet_id == 3
    assert session.expires_at is not None
    assert session.expires_at.replace(microsecond=0) == datetime(2026, 1, 5, 9, 15, tzinfo=UTC)


def test_session_without_status_wallet_or_timestamps_is_still_usable() -> None:
    session = session_answer({"id": 4411, "amount": "25.50"})
    received = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert session.wallet_id is None and session.status is None
    # No expiry given: assume the documented example's lifetime from our own receipt.
    assert session.expires_by_our_clock(received) > received


def test_session_expiry_is_taken_on_our_clock_when_the_server_clock_is_off() -> None:
    # Server clock 10 minutes behind ours, sessions live 30 s: by our clock the session has
    # "expired" before we even got it. Its lifetime, counted from our receipt, is what holds.
    received = datetime(2026, 1, 5, 9, 10, tzinfo=UTC)
    session = session_answer(
        {"id": 1, "wallet_id": 3, "created_at": "2026-01-05T09:00:00Z",
         "expires_at": "2026-01-05T09:00:30Z"}
    )
    assert session.expires_by_our_clock(received) == received + timedelta(seconds=30)
    # Server clock ahead of ours: never later than receipt + lifetime either.
    ahead = datetime(2026, 1, 5, 8, 50, tzinfo=UTC)
    assert session.expires_by_our_clock(ahead) == ahead + timedelta(seconds=30)


def test_session_expiry_without_created_at_already_past_gets_an_assumed_lifetime() -> None:
    received = datetime(2026, 1, 5, 9, 10, tzinfo=UTC)
    session = session_answer({"id": 1, "wallet_id": 3, "expires_at": "2026-01-05T09:00:30Z"})
    assert session.expires_by_our_clock(received) > received
    future = session_answer({"id": 1, "wallet_id": 3, "expires_at": "2026-01-05T09:20:00Z"})
    assert future.expires_by_our_clock(received) == datetime(2026, 1, 5, 9, 20, tzinfo=UTC)


# --- recipients and routing ----------------------------------------------------------------


def test_recipient_answers_with_only_an_id() -> None:
    fake = FakeDollr()
    fake.script("POST /v1/parties/create", httpx.Response(200, json={"id": "314"}))
    fake.script("POST /v1/counterparties/create", httpx.Response(200, json={"id": 77}))
    fake.script("POST /v1/payment-accounts/create", httpx.Response(200, json={"id": "902"}))

    async def go() -> tuple[int, int, int]:
        async with make_client(fake) as api:
            party = await api.create_party(fullname="A", phone="231770000001", country_code="LR")
            counterparty = await api.create_counterparty(party_id=party.id)
            account = await api.create_payout_account(
                party_id=party.id, account_name="A", provider="PAWAPAY", method="MTN_MOMO_LBR",
                country_code="LR", account_number="231770000001",
            )
            return party.id, counterparty.id, account.id

    assert run(go()) == (314, 77, 902)


def test_provider_info_with_null_currencies_still_routes() -> None:
    fake = FakeDollr()
    body = {"payment_method": "MTN_MOMO_LBR", "gateway_provider": "PAWAPAY", "currencies": None,
            "carrier": None, "country": None}
    fake.script("GET /v1/predictions/mmo-provider-info", httpx.Response(200, json=body))

    async def go() -> Any:
        async with make_client(fake) as api:
            return await api.mmo_provider_info("231770000001")

    info = run(go())
    assert (info.payment_method, info.gateway_provider, info.currencies) == (
        "MTN_MOMO_LBR", "PAWAPAY", [])


# --- tokens --------------------------------------------------------------------------------


@pytest.mark.parametrize("expires_in", [0, -5, None, "60", 0.5])
def test_odd_token_lifetimes_neither_loop_nor_break(expires_in: Any) -> None:
    fake = FakeDollr()
    body: dict[str, Any] = {"access_token": "tok-odd"}
    if expires_in is not None:
        body["expires_in"] = expires_in
    fake.script(TOKEN, httpx.Response(200, json=body))
    fake.valid_tokens.add("tok-odd")
    clock = VirtualClock()

    async def go() -> None:
        async with make_client(fake, clock) as api:
            for _ in range(10):
                await api.payout_status(REF)
                clock.advance(1)

    run(go())
    assert len(fake.sent(TOKEN)) == 1  # one token for ten calls over ten seconds


# --- status not found ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(404, json={"detail": "Not Found"}),
        httpx.Response(404, json={"message": "transaction not found", "code": 40401}),
        httpx.Response(404, text="<html>not found</html>"),
        httpx.Response(422, json={"detail": [{"loc": ["path", "reference_id"],
                                              "msg": "Transaction not found", "type": "value"}]}),
        httpx.Response(422, json={"detail": "Execution does not exist"}),
        httpx.Response(400, json={"detail": "unknown reference"}),
    ],
    ids=["404", "404-other-body", "404-html", "422-list", "422-string", "400"],
)
def test_status_of_an_unknown_reference_is_not_found_whatever_the_code(answer: Any) -> None:
    with pytest.raises(errors.NotFoundError) as caught:
        status_answer(answer)
    assert caught.value.reference_id == REF


# --- 429 and 5xx ---------------------------------------------------------------------------


def _http_date(seconds_from_now: float) -> str:
    from email.utils import format_datetime

    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds_from_now), usegmt=True)


@pytest.mark.parametrize(
    ("retry_after", "least", "most"),
    [(None, 0.2, 5.0), ("2", 2.0, 5.0), ("86400", 10.0, 61.0), ("http-date-5", 3.0, 8.0),
     ("http-date-1e6", 10.0, 61.0), ("soon", 0.2, 5.0)],
)
def test_429_waits_are_honoured_but_capped(
    retry_after: str | None, least: float, most: float
) -> None:
    fake = FakeDollr()
    clock = VirtualClock()
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = (
            _http_date(float(retry_after.removeprefix("http-date-")))
            if retry_after.startswith("http-date-") else retry_after
        )
    fake.script(STATUS, httpx.Response(429, headers=headers, text=""))

    async def go() -> float:
        async with make_client(fake, clock) as api:
            await api.auth.token()
            t0 = clock()
            await api.payout_status(REF)
            await api.payout_status(REF)  # the shared pause is over too
            return clock() - t0

    waited = run(go())
    assert least <= waited <= most
    assert len(fake.sent(STATUS)) == 3


@pytest.mark.parametrize(
    "answer",
    [httpx.Response(502, text="<html><body>Bad Gateway</body></html>"),
     httpx.Response(503, content=b""), httpx.Response(500, json={"error": "boom"})],
    ids=["html", "empty", "other-json"],
)
def test_server_errors_with_any_body_are_retried_reads(answer: httpx.Response) -> None:
    execution = status_answer(answer)  # scripted once; the retry gets the real answer
    assert execution.is_completed


def test_forbidden_and_unauthorized_bodies_of_either_shape() -> None:
    fake = FakeDollr()
    fake.script(STATUS, httpx.Response(403, json={"detail": "Merchant is not verified"}))
    fake.script(STATUS, httpx.Response(401, json={"detail": "Not authenticated"}),
                httpx.Response(401, text="Unauthorized"))

    async def go(expected: type[Exception]) -> None:
        async with make_client(fake) as api:
            with pytest.raises(expected):
                await api.payout_status(REF)

    run(go(errors.ForbiddenError))
    run(go(errors.AuthError))


def test_execute_resent_after_401_and_answered_duplicate_is_rejected_once_not_resent() -> None:
    # A server that calls the resent execution a duplicate (REFERENCE §8.3): the client
    # surfaces a 422 (the runner then settles it by status, never by another POST).
    fake = FakeDollr()
    execute = "POST /v1/executions/payout"
    duplicate = {"detail": [{"loc": ["body", "reference_id"], "msg": "duplicate reference_id",
                             "type": "value_error"}]}
    fake.script(execute, httpx.Response(401, json={"detail": "Could not validate credentials"}),
                httpx.Response(422, json=duplicate))

    async def go() -> None:
        async with make_client(fake) as api:
            with pytest.raises(errors.ApiValidationError) as caught:
                await api.execute_payout(session_id=4411, payout_account_id=902, reference_id=REF)
            assert "duplicate" in str(caught.value)

    run(go())
    sent = fake.sent(execute)
    assert len(sent) == 2 and sent[0].content == sent[1].content  # same body, same reference_id
    assert len(fake.sent(TOKEN)) == 2  # one refresh
