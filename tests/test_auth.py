"""TokenAuth through the real ApiClient: lazy token, one refresh at a time, expiry, 401s."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from fake_dollr import CLIENT_SECRET, FakeDollr, VirtualClock, credentials, make_client

from batch import errors
from batch.dollr.auth import BearerToken

REF = "0f6d2b4c-1a2b-4c3d-8e9f-001122334455"
TOKEN = "POST /v1/jwt/client/obtain/token"
EXECUTE = "POST /v1/executions/payout"
STATUS = f"GET /v1/status/payout/{REF}"


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_token_is_obtained_lazily_and_shared() -> None:
    fake = FakeDollr()

    async def go() -> None:
        async with make_client(fake) as api:
            assert fake.tokens_issued == 0  # nothing sent before the first call
            for _ in range(3):
                await api.payout_status(REF)

    run(go())
    assert fake.tokens_issued == 1
    tokens = {r.headers["Authorization"] for r in fake.sent(STATUS)}
    assert tokens == {"Bearer tok-1-eyJhbGciOi"}


def test_twenty_concurrent_calls_make_one_token_request() -> None:
    fake = FakeDollr()

    async def go() -> None:
        async with make_client(fake) as api:
            await asyncio.gather(*(api.payout_status(REF) for _ in range(20)))

    run(go())
    assert len(fake.sent(TOKEN)) == 1
    assert len(fake.sent(STATUS)) == 20


@pytest.mark.parametrize(
    ("minutes_later", "refreshed"),
    [(10, False), (54.9, False), (55.1, True), (61, True)],
)
def test_token_refreshed_when_under_five_minutes_left(
    minutes_later: float, refreshed: bool
) -> None:
    fake = FakeDollr(token_lifetime_minutes=60)  # expires_in is in MINUTES
    clock = VirtualClock()

    async def go() -> None:
        async with make_client(fake, clock) as api:
            await api.payout_status(REF)
            clock.advance(minutes_later * 60)
            await api.payout_status(REF)

    run(go())
    assert len(fake.sent(TOKEN)) == (2 if refreshed else 1)


def test_short_lived_token_is_not_refreshed_on_every_request() -> None:
    fake = FakeDollr(token_lifetime_minutes=1)
    clock = VirtualClock()

    async def go() -> None:
        async with make_client(fake, clock) as api:
            for _ in range(10):
                await api.payout_status(REF)
                clock.advance(2)  # 20 s in all, within the 45 s before a 1-minute token's margin
            clock.advance(30)
            await api.payout_status(REF)

    run(go())
    assert len(fake.sent(TOKEN)) == 2


def test_401_refreshes_once_and_resends_the_same_execution() -> None:
    fake = FakeDollr()

    async def go() -> None:
        async with make_client(fake) as api:
            await api.payout_status(REF)
            fake.revoke_tokens()  # the server stopped accepting our token
            execution = await api.execute_payout(
                session_id=4411, payout_account_id=902, reference_id=REF
            )
            assert execution.reference_id == REF
            assert api.request_count == 1 + 1 + 1 + 1 + 1  # token, status, exec, token, exec

    run(go())
    first, second = fake.sent(EXECUTE)
    assert first.content == second.content  # same body, same reference_id
    assert json.loads(second.content)["reference_id"] == REF
    assert first.headers["Authorization"] != second.headers["Authorization"]
    assert len(fake.sent(TOKEN)) == 2


def test_second_401_is_an_auth_error() -> None:
    fake = FakeDollr()
    fake.script(EXECUTE, 401, 401, 401)

    async def go() -> None:
        async with make_client(fake) as api:
            await api.execute_payout(session_id=4411, payout_account_id=902, reference_id=REF)

    with pytest.raises(errors.AuthError) as caught:
        run(go())
    assert not isinstance(caught.value, errors.CredentialsError)
    assert len(fake.sent(EXECUTE)) == 2
    assert len(fake.sent(TOKEN)) == 2


def test_concurrent_401s_share_one_refresh() -> None:
    fake = FakeDollr()

    async def go() -> None:
        async with make_client(fake) as api:
            await api.payout_status(REF)
            fake.revoke_tokens()
            await asyncio.gather(*(api.payout_status(REF) for _ in range(10)))

    run(go())
    assert len(fake.sent(TOKEN)) == 2  # the first, and ONE refresh for all ten 401s


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(401, json={"detail": "Invalid client credentials"}),
        httpx.Response(
            422,
            json={
                "detail": [{"loc": ["body", "client_secret"], "msg": "bad", "input": CLIENT_SECRET}]
            },
        ),
        httpx.Response(403, text=f"forbidden for secret {CLIENT_SECRET}"),
    ],
    ids=["401", "422-echo", "403-echo"],
)
def test_bad_credentials_are_a_clear_config_error(answer: httpx.Response) -> None:
    fake = FakeDollr()
    fake.script(TOKEN, answer)

    async def go() -> None:
        async with make_client(fake) as api:
            await api.payout_status(REF)

    with pytest.raises(errors.CredentialsError) as caught:
        run(go())
    exc = caught.value
    assert isinstance(exc, errors.ConfigError) and isinstance(exc, errors.AuthError)
    assert "DOLLR_CLIENT_ID" in str(exc)
    assert CLIENT_SECRET not in f"{exc} {exc!r} {exc.detail!r} {exc.__cause__!r}"
    assert len(fake.sent(TOKEN)) == 1  # refused credentials are not retried
    assert not fake.sent(STATUS)  # nothing else was sent


def test_wrong_secret_against_the_fake_server() -> None:
    fake = FakeDollr()

    async def go() -> None:
        creds = credentials(client_secret="not-it")
        async with make_client(fake, credentials=creds) as api:
            await api.payout_status(REF)

    with pytest.raises(errors.CredentialsError, match="HTTP 401"):
        run(go())


def test_token_call_survives_a_transient_failure() -> None:
    fake = FakeDollr()
    fake.script(TOKEN, 503, httpx.ConnectError("refused"))

    async def go() -> None:
        async with make_client(fake) as api:
            await api.payout_status(REF)

    run(go())
    assert len(fake.sent(TOKEN)) == 3
    assert len(fake.sent(STATUS)) == 1


def test_token_trouble_before_an_execution_sends_no_execution() -> None:
    fake = FakeDollr()
    fake.script(TOKEN, *[503] * 5)

    async def go() -> None:
        async with make_client(fake) as api:
            await api.execute_payout(session_id=1, payout_account_id=2, reference_id=REF)

    with pytest.raises(errors.TokenUnavailableError) as caught:
        run(go())
    assert isinstance(caught.value.__cause__, errors.ServerError)
    assert not fake.sent(EXECUTE)


def test_an_unreachable_token_endpoint_is_retried_once_not_per_request() -> None:
    # The token call has its own retries; the call that needed the token must not repeat
    # them (5 x 5 attempts turned an unreachable API into minutes of waiting).
    fake = FakeDollr()
    fake.script(TOKEN, *[503] * 10)

    async def go() -> None:
        async with make_client(fake) as api:
            await api.payout_status(REF)

    with pytest.raises(errors.TokenUnavailableError):
        run(go())
    assert len(fake.sent(TOKEN)) == 5


def test_bearer_token_repr_hides_the_token() -> None:
    token = BearerToken("eyJsecret", expires_at=100.0, lifetime=3600.0)
    assert "eyJsecret" not in repr(token) and "eyJsecret" not in str(token)
