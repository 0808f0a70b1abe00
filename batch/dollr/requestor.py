"""The one requestor of the Dollr v1 API: auth, retries, rate ceiling, errors translated once.

The only importer of httpx in the engine path. Safe calls are retried (batch.dollr.retry); an
execution never is, except the single resend after a 401 token refresh (batch.dollr.auth). Every
request passes one shared rate ceiling (batch.dollr.throttle) and is counted. The endpoints
themselves are the services (recipients, predictions, payouts), put together in `client.py`.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
import pydantic

from batch import errors
from batch.config import Credentials
from batch.dollr.auth import TokenAuth
from batch.dollr.errors import error_for_response
from batch.dollr.models import (
    DeviceInfo,
    Passcode,
    PasscodeDevice,
    PasscodeToken,
    Token,
    TokenRequest,
    _Request,
    dump_json,
    parse_json,
)
from batch.dollr.retry import call_with_retries, parse_retry_after
from batch.dollr.throttle import DEFAULT_MAX_RATE, Throttle
from batch.text import redact_userinfo

DEFAULT_DEADLINE = 60.0  # seconds for one whole request/answer exchange once it has left
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
TOKEN_PATH = "/v1/jwt/client/obtain/token"
STATUS_PATH = "/v1/status/payout/"
_UNCACHED_PATHS = (STATUS_PATH, "/v1/status/collection/", "/v1/invoices/")

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
    """Every request waits for the shared throttle, is counted, and reports 429s to it.

    Once it leaves, the whole exchange (connect, headers, body) must end within `deadline`
    seconds: httpx's timeouts are per read, so a server answering a byte every few seconds
    would otherwise hold a row (and the batch's lock) forever. The throttle's wait is not
    counted: a request that never left must not look like a lost answer.
    """

    def __init__(
        self, inner: httpx.AsyncBaseTransport, throttle: Throttle, deadline: float
    ) -> None:
        self._inner = inner
        self._throttle = throttle
        self._deadline = deadline
        self.count = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._throttle.acquire()
        self.count += 1
        try:
            async with asyncio.timeout(self._deadline):
                response = await self._inner.handle_async_request(request)
                await response.aread()  # the body inside the deadline too
        except TimeoutError:
            raise httpx.ReadTimeout(
                f"no complete answer within {self._deadline:g} s", request=request
            ) from None
        if response.status_code == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), datetime.now(UTC))
            self._throttle.pause(retry_after)
        else:
            self._throttle.answered()
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default TLS context (certifi's CAs, or SSL_CERT_FILE / SSL_CERT_DIR), built once
    per process: building one parses the whole CA bundle (~50 ms of CPU), and a context is
    safe to share between clients."""
    return httpx.create_ssl_context()


# httpcore 1.0 scans every pooled connection on each request, and each idle one against all
# the others (quadratic): 32 kept-alive connections cost more CPU than the requests. The
# throttle, not the pool, sets the rate, and 16 connections carry 100 req/s up to 160 ms of
# latency; a higher --concurrency queues its requests here rather than opening more.
MAX_CONNECTIONS = 16


def pool_limits(connections: int) -> httpx.Limits:
    """As many kept-alive connections as may be open (at most MAX_CONNECTIONS): none is closed
    and opened again while the run goes on (httpx keeps 20 of its 100 by default, so at a
    concurrency of 32 every few requests paid a new TCP connect)."""
    n = max(1, min(connections, MAX_CONNECTIONS))
    return httpx.Limits(max_connections=n, max_keepalive_connections=n)


class Requestor:
    """Sends one Dollr request: URL, token, passcode, throttle, retries, errors; `async with`."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        rate: float | None = None,
        max_rate: float = DEFAULT_MAX_RATE,
        timeout: float = 30.0,
        deadline: float = DEFAULT_DEADLINE,
        connections: int = MAX_CONNECTIONS,
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
        self.throttle = Throttle(rate, clock=clock, sleep=sleep, max_rate=max_rate)
        self._transport = _MeteredTransport(
            transport or httpx.AsyncHTTPTransport(
                retries=0, verify=_tls_context(), limits=pool_limits(connections)),
            self.throttle, deadline,
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

    async def __aenter__(self) -> Self:
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
            if not path.startswith(_UNCACHED_PATHS):  # one path per id: not kept
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
