"""A scripted, in-memory Dollr API for httpx.MockTransport, plus a virtual clock.

`FakeDollr` answers every endpoint the client uses with realistic bodies, checks bearer
tokens, records every request, and plays scripted answers per route first (a status code,
an httpx.Response, or an exception to raise such as httpx.ReadTimeout).
"""

from __future__ import annotations

import asyncio
import heapq
import json
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from batch.config import Credentials
from batch.dollr.client import ApiClient
from batch.dollr.models import json_text

CLIENT_ID = "cli_test"
CLIENT_SECRET = "s3cret-client-XYZ"
PASSCODE = "pass-8642"
PASSCODE_PHONE = "231770009999"
BASE_URL = "http://127.0.0.1:8999"
STAMP = "2026-01-05T09:00:00Z"

Answer = int | httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def credentials(**overrides: Any) -> Credentials:
    """Test credentials (secrets chosen to be easy to grep for in logs)."""
    values: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "passcode": PASSCODE,
        "passcode_phone": PASSCODE_PHONE,
    }
    values.update(overrides)
    return Credentials(**values)


class VirtualClock:
    """Virtual time for one event loop: sleepers wake in time order, instantly in real time.

    Time jumps to the earliest wake-up only once every other task has had its turn (the
    driver yields `settle` times first), so concurrent sleepers overlap as in real time.
    """

    def __init__(self, start: float = 1000.0, settle: int = 50) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._settle = settle
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0
        self._driver: asyncio.Task[None] | None = None

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._sleepers, (self.now + seconds, self._seq, future))
        if self._driver is None or self._driver.done():
            self._driver = asyncio.get_running_loop().create_task(self._drive())
        await future

    async def _drive(self) -> None:
        while self._sleepers:
            for _ in range(self._settle):
                await asyncio.sleep(0)
            wake, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, wake)
            if not future.done():
                future.set_result(None)


def route_of(request: httpx.Request) -> str:
    """'METHOD /path' of a request (no query)."""
    return f"{request.method} {request.url.path}"


class FakeDollr:
    """The fake API. Use `transport()` for ApiClient, `script()` to queue special answers."""

    def __init__(
        self,
        *,
        token_lifetime_minutes: int = 60,
        latency: float = 0.0,
        clock: VirtualClock | None = None,
    ) -> None:
        self.token_lifetime_minutes = token_lifetime_minutes
        self.latency = latency  # virtual seconds each answer takes (needs `clock`)
        self.clock = clock
        self.requests: list[httpx.Request] = []
        self.scripts: dict[str, list[Answer]] = defaultdict(list)
        self.valid_tokens: set[str] = set()
        self.tokens_issued = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.operators: dict[str, dict[str, Any]] = {}

    # --- test controls ---------------------------------------------------------------

    def script(self, route: str, *answers: Answer) -> None:
        """Queue answers for 'METHOD /path'; each request to it takes the next one."""
        self.scripts[route].extend(answers)

    def revoke_tokens(self) -> None:
        """The server forgets every token (as if they expired server-side)."""
        self.valid_tokens.clear()

    def sent(self, route: str) -> list[httpx.Request]:
        """Recorded requests to a route."""
        return [r for r in self.requests if route_of(r) == route]

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # --- the server ------------------------------------------------------------------

    async def handle(self, request: httpx.Request) -> httpx.Response:
        # A snapshot: a resent request is the same object with new headers.
        self.requests.append(
            httpx.Request(
                request.method, request.url, headers=request.headers.copy(), content=request.content
            )
        )
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            for _ in range(3):  # let concurrent callers interleave, as over a network
                await asyncio.sleep(0)
            if self.latency and self.clock is not None:
                await self.clock.sleep(self.latency)
            return self._answer(request)
        finally:
            self.in_flight -= 1

    def _answer(self, request: httpx.Request) -> httpx.Response:
        route = route_of(request)
        if self.scripts[route]:
            answer = self.scripts[route].pop(0)
            if isinstance(answer, Exception):
                raise answer
            if isinstance(answer, httpx.Response):
                return answer
            if isinstance(answer, int):
                return httpx.Response(answer, json={"detail": f"scripted {answer}"})
            return answer(request)
        if route == "POST /v1/jwt/client/obtain/token":
            return self._token(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.valid_tokens:
            return httpx.Response(401, json={"detail": "Could not validate credentials"})
        return self._default(route, request)

    def _token(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body != {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}:
            return httpx.Response(401, json={"detail": "Invalid client credentials"})
        self.tokens_issued += 1
        token = f"tok-{self.tokens_issued}-eyJhbGciOi"
        self.valid_tokens.add(token)
        return httpx.Response(
            200, json={"access_token": token, "expires_in": self.token_lifetime_minutes}
        )

    def _default(self, route: str, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content, parse_float=Decimal) if request.content else {}
        if route == "GET /v1/predictions/mmo-provider-info":
            phone = request.url.params["phone"]
            info = self.operators.get(phone)
            if info is None:
                method = "MTN_MOMO_LBR" if phone.startswith("23177") else "ORANGE_MONEY_LBR"
                info = {"payment_method": method, "gateway_provider": "PAWAPAY"}
            return _json(
                {
                    "carrier": "MTN",
                    "country": "LR",
                    "currencies": ["USD", "LRD"],
                    "phone": phone,
                    "operation_type": request.url.params["operation_type"],
                    **info,
                }
            )
        if route == "GET /v1/predictions/amount-and-fees":
            amount = Decimal(request.url.params["base_amount"])
            currency = request.url.params["base_currency"]
            fee = (amount / 100).quantize(Decimal("0.01"))
            return _json(
                {
                    "payer_amount": str(amount + fee),
                    "payer_currency": currency,
                    "payee_amount": str(amount),
                    "payee_currency": currency,
                    "platform_fee": str(fee),
                    "platform_currency": currency,
                    "fx_fee": None,
                    "gateway_fee": "0.10",
                    "gateway_currency": currency,
                }
            )
        if route == "POST /v1/parties/create":
            return _json({"id": 314, **body, "created_at": STAMP, "updated_at": STAMP})
        if route == "POST /v1/counterparties/create":
            return _json({"id": 77, **body, "created_at": STAMP, "updated_at": STAMP})
        if route == "POST /v1/payment-accounts/create":
            body.pop("insensitive_account_number", None)
            return _json(
                {"id": 902, **body, "is_active": True, "created_at": STAMP, "updated_at": STAMP}
            )
        if route == "POST /v1/sessions/payout":
            return _json(
                {
                    "id": 4411,
                    "wallet_id": 3,
                    **body,
                    "status": "OPEN",
                    "expires_at": "2026-01-05T09:15:00Z",
                    "created_at": STAMP,
                    "updated_at": STAMP,
                }
            )
        if route == "POST /v1/executions/payout":
            return _json(_execution(body["reference_id"], "PROCESSING"))
        if route.startswith("GET /v1/status/payout/"):
            return _json(_execution(route.rsplit("/", 1)[1], "COMPLETED"))
        return httpx.Response(404, json={"detail": "Not Found"})


def _execution(reference_id: str, status: str) -> dict[str, Any]:
    return {
        "reference_id": reference_id,
        "status": status,
        "payer_amount": Decimal("25.50"),
        "payer_currency": "USD",
        "payee_amount": Decimal("25.50"),
        "payee_currency": "USD",
        "operation_type": "PAYOUT",
        "provider_transaction_id": None,
        "gateway_message": None,
        "wallet_message": None,
        "client_secret": None,
        "requires_action": None,
        "brand_new_field": "ignored",
    }


def _json(payload: dict[str, Any]) -> httpx.Response:
    """A 200 answer whose Decimals are written as JSON numbers (as a real server does)."""
    return httpx.Response(
        200, content=json_text(payload).encode(), headers={"Content-Type": "application/json"}
    )


def make_client(
    fake: FakeDollr,
    clock: VirtualClock | None = None,
    *,
    rate: float = 1000.0,
    **kwargs: Any,
) -> ApiClient:
    """An ApiClient wired to the fake, with virtual time."""
    clock = clock or fake.clock or VirtualClock()
    return ApiClient(
        kwargs.pop("base_url", BASE_URL),
        kwargs.pop("credentials", None) or credentials(),
        transport=fake.transport(),
        rate=rate,
        clock=clock,
        sleep=clock.sleep,
        **kwargs,
    )
