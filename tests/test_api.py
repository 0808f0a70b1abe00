"""ApiClient against a scripted fake API: exact requests, parsing, error mapping, no resends."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import httpx
import pytest
from fake_dollr import (
    CLIENT_SECRET,
    PASSCODE,
    PASSCODE_PHONE,
    FakeDollr,
    VirtualClock,
    credentials,
    make_client,
)
from hypothesis import given
from hypothesis import strategies as st

from batch import errors
from batch.dollr.client import ApiClient, check_base_url
from batch.dollr.errors import error_for_response
from batch.dollr.models import DeviceInfo, Execution, FeeQuote, PayoutSessionCreate, dump_json

REF = "3b0f6f1e-9a51-4c3e-8a77-2f1d0c6b9e10"
EXECUTE = "POST /v1/executions/payout"


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def body_of(request: httpx.Request) -> dict:  # type: ignore[type-arg]
    return json.loads(request.content, parse_float=Decimal)


# --- exact requests --------------------------------------------------------------------


def test_every_endpoint_sends_the_documented_request() -> None:
    fake = FakeDollr()

    async def go() -> None:
        async with make_client(fake) as api:
            await api.mmo_provider_info("231770000001")
            await api.amount_and_fees(
                amount=Decimal("25.50"),
                currency="USD",
                target_currency="USD",
                payment_method="MTN_MOMO_LBR",
                provider="PAWAPAY",
            )
            await api.create_party(fullname="Musu Dolo", phone="231770000001", country_code="LR")
            await api.create_counterparty(party_id=314)
            await api.create_payout_account(
                party_id=314,
                account_name="Musu Dolo MTN",
                provider="PAWAPAY",
                method="MTN_MOMO_LBR",
                country_code="LR",
                account_number="231770000001",
            )
            await api.create_payout_session(
                payout_account_id=902, amount=Decimal("25.50"), currency="USD"
            )
            await api.execute_payout(session_id=4411, payout_account_id=902, reference_id=REF)
            await api.payout_status(REF)

    run(go())
    sent = [(r.method, r.url.path, dict(r.url.params)) for r in fake.requests]
    assert sent == [
        ("POST", "/v1/jwt/client/obtain/token", {}),
        (
            "GET",
            "/v1/predictions/mmo-provider-info",
            {"phone": "231770000001", "operation_type": "PAYOUT"},
        ),
        (
            "GET",
            "/v1/predictions/amount-and-fees",
            {
                "base_amount": "25.50",
                "base_currency": "USD",
                "target_currency": "USD",
                "payment_method": "MTN_MOMO_LBR",
                "operation_type": "PAYOUT",
                "provider": "PAWAPAY",
                "fee_bearer": "PAYER",
            },
        ),
        ("POST", "/v1/parties/create", {}),
        ("POST", "/v1/counterparties/create", {}),
        ("POST", "/v1/payment-accounts/create", {"operation_type": "PAYOUT"}),
        ("POST", "/v1/sessions/payout", {}),
        ("POST", "/v1/executions/payout", {}),
        ("GET", f"/v1/status/payout/{REF}", {}),
    ]
    bodies = [json.loads(r.content) if r.content else None for r in fake.requests]
    assert bodies[3] == {"fullname": "Musu Dolo", "phone": "231770000001", "country_code": "LR"}
    assert bodies[4] == {"relationship_type": "BENEFICIARY", "party_id": 314}
    assert bodies[5] == {
        "account_name": "Musu Dolo MTN",
        "provider": "PAWAPAY",
        "method": "MTN_MOMO_LBR",
        "party_id": 314,
        "country_code": "LR",
        "insensitive_account_number": "231770000001",
    }
    # Session: integer account id, amount a JSON NUMBER written digit for digit.
    assert fake.requests[6].content == b'{"payout_account_id":902,"amount":25.50,"currency":"USD"}'
    # Execution: both ids are STRINGS (REFERENCE §1.2), passcode block per §3.7.1.
    execute = bodies[7]
    assert execute["session_id"] == "4411" and execute["payout_account_id"] == "902"
    assert execute["reference_id"] == REF
    assert execute["passcode"]["token"] == {"code": PASSCODE, "phone": PASSCODE_PHONE}
    device = execute["passcode"]["device"]
    assert {k: device[k] for k in ("name", "type", "platform")} == {
        "name": "paybatch",
        "type": "SERVER",
        "platform": "PYTHON",
    }
    assert device["user_agent"].startswith("paybatch/")
    assert device["client_ip"] == "127.0.0.1"
    assert fake.requests[1].headers["User-Agent"].startswith("paybatch/")
    assert "Authorization" not in fake.requests[0].headers  # none on the token call


def test_passcode_with_user_id_and_overridden_device() -> None:
    fake = FakeDollr()
    creds = credentials(passcode_phone=None, passcode_user_id="u-42")
    device = DeviceInfo(name="payroll-box", platform="LINUX", client_ip="198.51.100.7")

    async def go() -> None:
        async with make_client(fake, credentials=creds, device=device) as api:
            await api.execute_payout(session_id=1, payout_account_id=2, reference_id=REF)

    run(go())
    passcode = body_of(fake.sent(EXECUTE)[0])["passcode"]
    assert passcode["token"] == {"code": PASSCODE, "user_id": "u-42"}
    assert passcode["device"]["name"] == "payroll-box"
    assert passcode["device"]["platform"] == "LINUX"
    assert passcode["device"]["type"] == "SERVER"
    assert passcode["device"]["client_ip"] == "198.51.100.7"


def test_passcode_owner_is_required() -> None:
    with pytest.raises(errors.ConfigError, match="DOLLR_PASSCODE_PHONE"):
        make_client(FakeDollr(), credentials=credentials(passcode_phone=None))


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://api.heydollr.app", True),
        ("http://127.0.0.1:8000", True),
        ("http://localhost:8000", True),
        ("http://[::1]:8000", True),
        ("http://api.heydollr.app", False),
        ("http://10.0.0.5:8000", False),
        ("ftp://127.0.0.1", False),
        ("not a url", False),
    ],
)
def test_https_required_except_loopback(url: str, ok: bool) -> None:
    if ok:
        assert check_base_url(url).host
    else:
        with pytest.raises(errors.ConfigError):
            check_base_url(url)
        with pytest.raises(errors.ConfigError):
            ApiClient(url, credentials())


@given(
    st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("0.01"), places=2)
    | st.decimals(allow_nan=False, allow_infinity=False, places=0)
    | st.decimals(allow_nan=False, allow_infinity=False)
)
def test_request_amounts_are_exact_json_numbers(amount: Decimal) -> None:
    raw = dump_json(PayoutSessionCreate(payout_account_id=1, amount=amount, currency="USD"))
    decoded = json.loads(raw, parse_float=Decimal)
    assert not isinstance(decoded["amount"], str)
    assert Decimal(decoded["amount"]) == amount
    assert format(amount, "f").encode() in raw  # written as is, never through a float


def test_float_money_is_refused() -> None:
    from batch.dollr.models import json_text

    with pytest.raises(TypeError):
        json_text({"amount": 25.5})


# --- parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize("amount", ["25.10", '"25.10"', "25"])
def test_execution_amounts_as_numbers_or_strings(amount: str) -> None:
    fake = FakeDollr()
    text = (
        f'{{"reference_id": "{REF}", "status": "COMPLETED", "payer_amount": {amount}, '
        f'"payer_currency": "USD", "payee_amount": {amount}, "payee_currency": "USD", '
        '"operation_type": "PAYOUT", "new_field": {"x": 1}}'
    )
    fake.script(f"GET /v1/status/payout/{REF}", httpx.Response(200, text=text))

    async def go() -> Execution:
        async with make_client(fake) as api:
            return await api.payout_status(REF)

    execution = run(go())
    assert execution.payer_amount == Decimal(amount.strip('"'))
    assert str(execution.payee_amount) == amount.strip('"')  # exact digits, no float noise
    assert execution.is_terminal and execution.is_completed and not execution.is_failed
    assert execution.provider_transaction_id is None


@pytest.mark.parametrize(
    ("status", "terminal", "completed", "failed"),
    [
        ("PENDING", False, False, False),
        ("PROCESSING", False, False, False),
        ("COMPLETED", True, True, False),
        ("FAILED", True, False, True),
        ("ON_HOLD", False, False, False),  # unknown: still in flight (REFERENCE §4.2)
    ],
)
def test_execution_status_properties(
    status: str, terminal: bool, completed: bool, failed: bool
) -> None:
    execution = Execution(
        reference_id=REF,
        status=status,
        payer_amount=Decimal(1),
        payer_currency="USD",
        payee_amount=Decimal(1),
        payee_currency="USD",
        operation_type="PAYOUT",
    )
    assert (execution.is_terminal, execution.is_completed, execution.is_failed) == (
        terminal,
        completed,
        failed,
    )


def test_session_and_fee_quote_parsing() -> None:
    fake = FakeDollr()

    async def go() -> tuple[object, FeeQuote]:
        async with make_client(fake) as api:
            session = await api.create_payout_session(
                payout_account_id=902, amount=Decimal("25.50"), currency="USD"
            )
            quote = await api.amount_and_fees(
                amount=Decimal("200"),
                currency="USD",
                target_currency="USD",
                payment_method="MTN_MOMO_LBR",
                provider="PAWAPAY",
            )
            return session, quote

    session, quote = run(go())
    assert session.expires_at == datetime(2026, 1, 5, 9, 15, tzinfo=UTC)  # type: ignore[attr-defined]
    assert session.amount == Decimal("25.50")  # type: ignore[attr-defined]
    assert quote.platform_fee == Decimal("2.00") and quote.gateway_fee == Decimal("0.10")
    assert quote.total_fee == Decimal("2.10")
    assert quote.fees_by_currency() == {"USD": Decimal("2.10")}


def test_fee_total_keeps_currencies_apart() -> None:
    quote = FeeQuote(
        payer_amount=Decimal("10"),
        payer_currency="USD",
        payee_amount=Decimal("1900"),
        payee_currency="LRD",
        platform_fee=Decimal("0.20"),
        platform_currency="USD",
        fx_fee=Decimal("0.05"),
        gateway_fee=Decimal("15"),
        gateway_currency="LRD",
    )
    assert quote.fees_by_currency() == {"USD": Decimal("0.25"), "LRD": Decimal("15")}
    assert quote.total_fee == Decimal("0.25")


# --- error mapping ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, b'{"detail": "Could not validate credentials"}', errors.AuthError),
        (403, b'{"detail": "Merchant not verified"}', errors.ForbiddenError),
        (404, b'{"detail": "Not found"}', errors.NotFoundError),
        (
            422,
            b'{"detail": [{"loc": ["body", "currency"], "msg": "bad"}]}',
            errors.ApiValidationError,
        ),
        (400, b"oops", errors.ApiValidationError),
        (429, b"", errors.RateLimitedError),
        (500, b"<html>boom</html>", errors.ServerError),
        (502, b"", errors.ServerError),
        (503, b'{"detail": "maintenance"}', errors.ServerError),
    ],
)
def test_status_maps_to_error_class(status: int, body: bytes, expected: type) -> None:
    exc = error_for_response(status, body, httpx.Headers(), endpoint="GET /v1/x")
    assert type(exc) is expected
    assert exc.status == status and exc.endpoint == "GET /v1/x"
    assert str(exc).startswith(f"GET /v1/x: HTTP {status}")


def test_validation_detail_list_kept_and_echoed_input_dropped() -> None:
    body = json.dumps(
        {
            "detail": [
                {
                    "loc": ["body", "passcode", "token"],
                    "msg": "Field required",
                    "type": "missing",
                    "input": {"code": PASSCODE},
                },
                {"loc": ["body", "currency"], "msg": "String too long", "type": "too_long"},
            ]
        }
    ).encode()
    exc = error_for_response(422, body, httpx.Headers(), endpoint=EXECUTE, reference_id=REF)
    assert isinstance(exc, errors.ApiValidationError)
    assert exc.detail == [
        {"loc": ["body", "passcode", "token"], "msg": "Field required", "type": "missing"},
        {"loc": ["body", "currency"], "msg": "String too long", "type": "too_long"},
    ]
    assert "body.passcode.token: Field required; body.currency: String too long" in str(exc)
    assert exc.reference_id == REF
    assert PASSCODE not in str(exc) + repr(exc.detail)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("7", 7.0), ("0.5", 0.5), (None, None), ("soon", None), ("HTTPDATE+30", 30.0)],
)
def test_rate_limited_carries_retry_after(header: str | None, seconds: float | None) -> None:
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    if header == "HTTPDATE+30":
        header = format_datetime(now + timedelta(seconds=30), usegmt=True)
    headers = httpx.Headers({"Retry-After": header} if header else {})
    exc = error_for_response(429, b"", headers, endpoint="GET /v1/x", now=now)
    assert isinstance(exc, errors.RateLimitedError)
    assert exc.retry_after == seconds


# --- retries: safe calls yes, executions never ----------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        503,
        500,
        429,
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ConnectError("refused"),
    ],
    ids=["503", "500", "429", "timeout", "dropped", "refused"],
)
def test_execute_is_never_resent(failure: object) -> None:
    fake = FakeDollr()
    fake.script(EXECUTE, failure)  # type: ignore[arg-type]

    async def go() -> None:
        async with make_client(fake) as api:
            await api.execute_payout(session_id=4411, payout_account_id=902, reference_id=REF)

    with pytest.raises(errors.ApiError) as caught:
        run(go())
    assert isinstance(caught.value, errors.Transient)
    assert caught.value.reference_id == REF
    assert len(fake.sent(EXECUTE)) == 1


def test_execute_answer_that_cannot_be_read_is_ambiguous() -> None:
    fake = FakeDollr()
    fake.script(EXECUTE, httpx.Response(200, text='{"reference_id": "'))

    async def go() -> None:
        async with make_client(fake) as api:
            await api.execute_payout(session_id=4411, payout_account_id=902, reference_id=REF)

    with pytest.raises(errors.ServerError):
        run(go())
    assert len(fake.sent(EXECUTE)) == 1


@pytest.mark.parametrize(
    "failure",
    [503, httpx.ReadTimeout("timed out"), httpx.RemoteProtocolError("dropped")],
    ids=["503", "timeout", "dropped"],
)
def test_safe_calls_are_retried_with_backoff(
    failure: object, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeDollr()
    clock = VirtualClock()
    fake.script("POST /v1/sessions/payout", failure, failure)  # type: ignore[arg-type]

    async def go() -> None:
        async with make_client(fake, clock) as api:
            await api.create_payout_session(
                payout_account_id=902, amount=Decimal("25.50"), currency="USD"
            )

    with caplog.at_level(logging.WARNING, logger="paybatch"):
        run(go())
    assert len(fake.sent("POST /v1/sessions/payout")) == 3
    retry_lines = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(retry_lines) == 2
    assert "endpoint=POST /v1/sessions/payout" in retry_lines[0]
    assert "attempt=2" in retry_lines[0] and "attempt=3" in retry_lines[1]
    assert sum(clock.sleeps) >= 0.25 + 0.5  # two backoffs, jitter factor >= 0.5


def test_safe_call_gives_up_after_bounded_attempts() -> None:
    fake = FakeDollr()
    fake.script(f"GET /v1/status/payout/{REF}", *[502] * 10)

    async def go() -> None:
        async with make_client(fake) as api:
            await api.payout_status(REF)

    with pytest.raises(errors.ServerError):
        run(go())
    assert len(fake.sent(f"GET /v1/status/payout/{REF}")) == 5


@pytest.mark.parametrize("status", [404, 422, 403])
def test_terminal_answers_are_not_retried(status: int) -> None:
    fake = FakeDollr()
    fake.script(f"GET /v1/status/payout/{REF}", status)

    async def go() -> None:
        async with make_client(fake) as api:
            await api.payout_status(REF)

    with pytest.raises(errors.ApiError) as caught:
        run(go())
    assert isinstance(caught.value, errors.Terminal)
    assert len(fake.sent(f"GET /v1/status/payout/{REF}")) == 1
    if status == 404:
        assert isinstance(caught.value, errors.NotFoundError)


def test_429_pauses_every_worker_for_retry_after() -> None:
    fake = FakeDollr()
    clock = VirtualClock()
    route = "GET /v1/predictions/mmo-provider-info"
    fake.script(route, httpx.Response(429, headers={"Retry-After": "3"}))
    started: list[float] = []

    async def go() -> None:
        async with make_client(fake, clock) as api:
            await api.auth.token()

            async def one(i: int) -> None:
                await api.mmo_provider_info(f"23177000000{i}")
                started.append(clock())

            t0 = clock()
            await asyncio.gather(*(one(i) for i in range(5)))
            assert api.throttle.rate_limited == 1
            assert min(started) - t0 >= 3.0  # nobody got through before Retry-After
            assert api.request_count == 1 + 6  # token + 5 calls + 1 retried

    run(go())
    assert len(fake.sent(route)) == 6


# --- unroutable phones ---------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        404,
        422,
        httpx.Response(200, json={"carrier": None, "payment_method": None, "currencies": []}),
        httpx.Response(200, json={"carrier": "?", "gateway_provider": "PAWAPAY"}),
    ],
    ids=["404", "422", "nulls", "no-method"],
)
def test_unroutable_phone(answer: object) -> None:
    fake = FakeDollr()
    route = "GET /v1/predictions/mmo-provider-info"
    fake.script(route, answer)  # type: ignore[arg-type]

    async def go() -> None:
        async with make_client(fake) as api:
            await api.mmo_provider_info("231990000001")

    with pytest.raises(errors.UnroutablePhoneError):
        run(go())
    assert len(fake.sent(route)) == 1


# --- secrets -------------------------------------------------------------------------


def test_secrets_never_reach_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeDollr()
    echo = {"detail": [{"loc": ["body"], "msg": "bad", "input": {"code": PASSCODE}}]}
    fake.script(EXECUTE, httpx.Response(422, json=echo))
    fake.script(f"GET /v1/status/payout/{REF}", 503, httpx.ReadTimeout("t"), 503, 503, 503)
    seen: list[str] = []

    async def go() -> None:
        async with make_client(fake) as api:
            for call in (
                api.execute_payout(session_id=1, payout_account_id=2, reference_id=REF),
                api.payout_status(REF),
                api.mmo_provider_info("231770000001"),
            ):
                try:
                    await call
                except errors.ApiError as exc:
                    seen.append(f"{exc} {exc!r} {exc.detail!r} {exc.__cause__!r}")
            seen.append(repr(api.auth._token))

    with caplog.at_level(logging.DEBUG):
        run(go())
    text = caplog.text + "\n".join(seen)
    assert len(seen) == 3
    for secret in (CLIENT_SECRET, PASSCODE, "tok-1-"):
        assert secret not in text
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name == "paybatch")
    assert "231770000001" not in ours


def test_httpcore_finds_the_async_library_without_searching_sys_path() -> None:
    # httpcore runs `import sniffio` for every lock and event of every request; when it is
    # missing, each of those imports searches sys.path again (a fifth of a run's CPU).
    import importlib.util

    assert importlib.util.find_spec("sniffio") is not None
    from httpcore._synchronization import current_async_library

    async def inside() -> str:
        return current_async_library()

    assert asyncio.run(inside()) == "asyncio"


@pytest.mark.parametrize("base", ["http://127.0.0.1:8999", "https://api.example.com/dollr/"])
def test_request_urls_kept_per_path_are_the_ones_httpx_would_build(base: str) -> None:
    api = ApiClient(base, credentials(), transport=FakeDollr().transport())
    for path in ("/v1/parties/create", "/v1/status/payout/3b0f6f1e-9a51-4c3e-8a77-2f1d0c6b9e10"):
        assert api._absolute(path) == api._http.build_request("GET", path).url
        assert api._absolute(path) == api._absolute(path)
    assert list(api._urls) == ["/v1/parties/create"]  # status URLs are never kept
