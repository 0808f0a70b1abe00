"""The Dollr v1 API client: one async method per endpoint, every failure as a batch.errors class.

The only importer of httpx in the engine path. Safe calls are retried (batch.dollr.retry); an
execution never is, except the single resend after a 401 token refresh (batch.dollr.auth). Every
request passes one shared rate ceiling (batch.dollr.throttle) and is counted.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import pydantic

from batch import errors
from batch.config import Credentials
from batch.dollr.auth import TokenAuth
from batch.dollr.errors import error_for_response
from batch.dollr.models import (
    Counterparty,
    CounterpartyCreate,
    DeviceInfo,
    Execution,
    FeeQuote,
    Party,
    PartyCreate,
    Passcode,
    PasscodeDevice,
    PasscodeToken,
    PaymentAccount,
    PaymentAccountCreate,
    PayoutExecute,
    PayoutSession,
    PayoutSessionCreate,
    ProviderInfo,
    Token,
    TokenRequest,
    _Request,
    decimal_to_json,
    dump_json,
    parse_json,
)
from batch.dollr.retry import call_with_retries, parse_retry_after
from batch.dollr.throttle import Throttle
from batch.text import redact_userinfo

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
TOKEN_PATH = "/v1/jwt/client/obtain/token"
STATUS_PATH = "/v1/status/payout/"

M = TypeVar("M", bound=pydantic.BaseModel)


def _package_version() -> str:
    try:
        return version("paybatch")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0"


def check_base_url(base_url: str) -> httpx.URL:
    """The parsed base URL; https is required except on loopback, and a user name or password
    in it is refused (ConfigError otherwise; the message never repeats them, issue 12)."""
    shown = redact_userinfo(base_url)
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError):
        raise errors.ConfigError(f"base URL {shown!r} is not a valid URL") from None
    if url.userinfo or "@" in url.netloc.decode("ascii", "replace"):
        raise errors.ConfigError(
            f"base URL {shown!r} holds a user name or password; remove it (credentials come "
            "only from DOLLR_CLIENT_ID, DOLLR_CLIENT_SECRET and DOLLR_PASSCODE)"
        )
    if not url.host:
        raise errors.ConfigError(f"base URL {shown!r} has no host")
    if url.scheme == "https" or (url.scheme == "http" and url.host in LOOPBACK_HOSTS):
        return url
    raise errors.ConfigError(
        f"base URL {shown!r} must use https (plain http only for 127.0.0.1, ::1, localhost)"
    )


@contextmanager
def translate_transport_errors(endpoint: str, reference_id: str | None = None) -> Iterator[None]:
    """httpx's transport failures (timeout, reset, refused) become NetworkError."""
    try:
        yield
    except httpx.RequestError as exc:
        raise errors.NetworkError(
            f"{endpoint}: no answer ({type(exc).__name__})",
            endpoint=endpoint,
            reference_id=reference_id,
        ) from exc


def _egress_ip(host: str, port: int) -> str:
    """Best-effort local address used to reach `host` (a UDP connect sends no packet)."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect(address)
            return str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1"


class _MeteredTransport(httpx.AsyncBaseTransport):
    """Every request waits for the shared throttle, is counted, and reports 429s to it."""

    def __init__(self, inner: httpx.AsyncBaseTransport, throttle: Throttle) -> None:
        self._inner = inner
        self._throttle = throttle
        self.count = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._throttle.acquire()
        self.count += 1
        response = await self._inner.handle_async_request(request)
        if response.status_code == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), datetime.now(UTC))
            self._throttle.pause(retry_after)
        else:
            self._throttle.answered()
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class ApiClient:
    """Async client of the Dollr v1 endpoints paybatch uses; use as `async with`."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        rate: float = 20.0,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        device: DeviceInfo | None = None,
    ) -> None:
        self._url = check_base_url(base_url)
        if not (credentials.passcode_phone or credentials.passcode_user_id):
            raise errors.ConfigError(
                "the passcode needs DOLLR_PASSCODE_PHONE or DOLLR_PASSCODE_USER_ID"
            )
        self._credentials = credentials
        self._sleep = sleep
        self._device = device or DeviceInfo()
        self._resolved_device: PasscodeDevice | None = None
        self.user_agent = f"paybatch/{_package_version()}"
        self.throttle = Throttle(rate, clock=clock, sleep=sleep)
        self._transport = _MeteredTransport(
            transport or httpx.AsyncHTTPTransport(retries=0), self.throttle
        )
        self.auth = TokenAuth(self._obtain_token, clock=clock)
        self._urls: dict[str, httpx.URL] = {}
        self._http = httpx.AsyncClient(
            base_url=self._url,
            transport=self._transport,
            timeout=timeout,
            auth=self.auth,
            headers={"User-Agent": self.user_agent, "Accept": "application/json"},
        )

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far, token calls and resends included."""
        return self._transport.count

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close connections."""
        await self._http.aclose()

    # --- plumbing --------------------------------------------------------------------

    def _absolute(self, path: str) -> httpx.URL:
        """The request URL under the base URL, parsed once per fixed path.

        httpx parses a relative path and the joined URL again for every request (a sixth of
        the client's CPU per request); status paths differ per reference_id and are not kept.
        """
        url = self._urls.get(path)
        if url is None:
            base = self._http.base_url  # httpx's own join: base path + path without its "/"
            url = base.copy_with(raw_path=base.raw_path + path.lstrip("/").encode("ascii"))
            if not path.startswith(STATUS_PATH):
                self._urls[path] = url
        return url

    async def _send_once(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        params: dict[str, str] | None,
        body: _Request | None,
        reference_id: str | None,
        authenticated: bool,
    ) -> Any:
        request = self._http.build_request(
            method,
            self._absolute(path),
            params=params,
            content=dump_json(body) if body is not None else None,
            headers={"Content-Type": "application/json"} if body is not None else None,
        )
        with translate_transport_errors(endpoint, reference_id):
            if authenticated:
                response = await self._http.send(request)
            else:
                response = await self._http.send(request, auth=None)
        if not response.is_success:
            raise error_for_response(
                response.status_code,
                response.content,
                response.headers,
                endpoint=endpoint,
                reference_id=reference_id,
            )
        try:
            return parse_json(response.content)
        except ValueError as exc:
            raise errors.ServerError(
                f"{endpoint}: the answer (HTTP {response.status_code}) is not JSON",
                status=response.status_code,
                endpoint=endpoint,
                reference_id=reference_id,
            ) from exc

    async def _call(
        self,
        model: type[M],
        method: str,
        path: str,
        *,
        safe: bool,
        params: dict[str, str] | None = None,
        body: _Request | None = None,
        reference_id: str | None = None,
        authenticated: bool = True,
    ) -> M:
        endpoint = f"{method} {path}"

        async def attempt() -> M:
            data = await self._send_once(
                method,
                path,
                endpoint=endpoint,
                params=params,
                body=body,
                reference_id=reference_id,
                authenticated=authenticated,
            )
            return _validate(model, data, endpoint, reference_id)

        return await call_with_retries(
            attempt, safe=safe, endpoint=endpoint, reference_id=reference_id, sleep=self._sleep
        )

    async def _obtain_token(self) -> Token:
        body = TokenRequest(
            client_id=self._credentials.client_id,
            client_secret=self._credentials.client_secret.get_secret_value(),
        )
        try:
            return await self._call(
                Token, "POST", TOKEN_PATH, safe=True, body=body, authenticated=False
            )
        except errors.ApiError as exc:
            if not isinstance(exc, errors.Terminal):
                # Retried already; the request that needed the token must not retry it again
                # (nested retries turned an unreachable API into minutes of waiting).
                raise errors.TokenUnavailableError(
                    f"could not obtain an access token: {exc}",
                    status=exc.status,
                    endpoint=exc.endpoint,
                    request_id=exc.request_id,
                ) from exc
            # Never echo the body: a validation answer may quote the secret back.
            raise errors.CredentialsError(
                f"the API refused the client credentials (HTTP {exc.status}): "
                "check DOLLR_CLIENT_ID and DOLLR_CLIENT_SECRET",
                status=exc.status,
                endpoint=exc.endpoint,
                request_id=exc.request_id,
            ) from None

    async def _passcode(self) -> Passcode:
        if self._resolved_device is None:
            client_ip = self._device.client_ip
            if client_ip is None:
                host = self._url.host
                client_ip = (
                    "127.0.0.1"
                    if host in LOOPBACK_HOSTS
                    else await asyncio.to_thread(_egress_ip, host, self._url.port or 443)
                )
            self._resolved_device = PasscodeDevice(
                name=self._device.name,
                type=self._device.type,
                platform=self._device.platform,
                user_agent=self._device.user_agent or self.user_agent,
                client_ip=client_ip,
            )
        creds = self._credentials
        token = PasscodeToken(
            code=creds.passcode.get_secret_value(),
            phone=creds.passcode_phone,
            user_id=None if creds.passcode_phone else creds.passcode_user_id,
        )
        return Passcode(token=token, device=self._resolved_device)

    # --- endpoints -------------------------------------------------------------------

    async def mmo_provider_info(self, phone: str, operation_type: str = "PAYOUT") -> ProviderInfo:
        """The operator of a phone; UnroutablePhoneError when the API cannot route it."""
        path = "/v1/predictions/mmo-provider-info"
        params = {"phone": phone, "operation_type": operation_type}
        try:
            raw = await self._call(_RawProviderInfo, "GET", path, safe=True, params=params)
        except (errors.NotFoundError, errors.ApiValidationError) as exc:
            raise errors.UnroutablePhoneError(
                f"no mobile-money operator found for this number (HTTP {exc.status})",
                status=exc.status,
                endpoint=exc.endpoint,
                detail=exc.detail,
                request_id=exc.request_id,
            ) from exc
        if not raw.payment_method or not raw.gateway_provider:
            raise errors.UnroutablePhoneError(
                "the API gave no payment method or provider for this number",
                status=200,
                endpoint=f"GET {path}",
            )
        return ProviderInfo.model_validate(raw.model_dump())

    async def amount_and_fees(
        self,
        *,
        amount: Decimal,
        currency: str,
        target_currency: str,
        payment_method: str,
        provider: str,
        operation_type: str = "PAYOUT",
        fee_bearer: str = "PAYER",
    ) -> FeeQuote:
        """A fee and FX quote for paying `amount` (REFERENCE §3.5.2)."""
        params = {
            "base_amount": decimal_to_json(amount),
            "base_currency": currency,
            "target_currency": target_currency,
            "payment_method": payment_method,
            "operation_type": operation_type,
            "provider": provider,
            "fee_bearer": fee_bearer,
        }
        path = "/v1/predictions/amount-and-fees"
        return await self._call(FeeQuote, "GET", path, safe=True, params=params)

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


class _RawProviderInfo(ProviderInfo):
    """ProviderInfo as it may arrive: routing fields possibly missing (REFERENCE §3.5.1)."""

    payment_method: str | None = None  # type: ignore[assignment]
    gateway_provider: str | None = None  # type: ignore[assignment]


def _validate(model: type[M], data: Any, endpoint: str, reference_id: str | None) -> M:
    """The answer as `model`; a shape we cannot read is a ServerError (outcome unknown)."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        fields = ", ".join(
            ".".join(str(part) for part in err["loc"]) or "body"
            for err in exc.errors(include_input=False)
        )
        raise errors.ServerError(
            f"{endpoint}: unexpected answer (fields: {fields})",
            status=200,
            endpoint=endpoint,
            reference_id=reference_id,
        ) from None
