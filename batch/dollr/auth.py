"""Bearer-token auth as an httpx.Auth: one shared token, refreshed before expiry and on a 401.

The token is fetched lazily through an injected coroutine, renewed once fewer than 5 minutes
remain (REFERENCE.md §3.1: `expires_in` is in MINUTES, expiry taken from our own clock at
receipt), one refresh at a time however many requests wait; a 401 refreshes once and the
same request is resent once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from dataclasses import dataclass

import httpx

from batch.dollr.models import Token

REFRESH_MARGIN = 300.0  # seconds: refresh when fewer remain (REFERENCE §3.1)
DEFAULT_LIFETIME = 3600.0  # seconds, when `expires_in` is missing (the documented example)
MIN_LIFETIME = 60.0  # a zero, negative or tiny `expires_in` must not mean a refresh per request


@dataclass(frozen=True, eq=False)
class BearerToken:
    """A token and the clock time it expires at; its repr never shows the token."""

    value: str
    expires_at: float
    lifetime: float

    def __repr__(self) -> str:
        return f"BearerToken(expires_at={self.expires_at:.0f})"

    def fresh(self, now: float) -> bool:
        """Still comfortably valid: more than the refresh margin left.

        The margin is 5 minutes, or a quarter of the lifetime for tokens shorter than 20
        minutes, so a short-lived token is not refreshed on every single request.
        """
        margin = min(REFRESH_MARGIN, self.lifetime / 4)
        return self.expires_at - now > margin


def token_lifetime(expires_in: float | None) -> float:
    """Seconds a token is taken to live: `expires_in` minutes, floored at MIN_LIFETIME.

    Should the server really kill it sooner, the 401 path refreshes once and resends.
    """
    if expires_in is None:
        return DEFAULT_LIFETIME
    return max(MIN_LIFETIME, expires_in * 60.0)


class TokenAuth(httpx.Auth):
    """Adds `Authorization: Bearer ...`; refreshes the shared token before expiry and on 401."""

    def __init__(
        self,
        obtain: Callable[[], Awaitable[Token]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._obtain = obtain
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: BearerToken | None = None
        self.refreshes = 0  # token calls that succeeded

    async def token(self) -> BearerToken:
        """A fresh token, fetched only if the shared one is missing or about to expire."""
        token = self._token
        if token is not None and token.fresh(self._clock()):
            return token
        async with self._lock:
            token = self._token
            if token is not None and token.fresh(self._clock()):
                return token  # another request refreshed it while we waited
            return await self._refresh()

    async def _refresh_after_401(self, rejected: BearerToken) -> BearerToken:
        async with self._lock:
            if self._token is not None and self._token is not rejected:
                return self._token  # already replaced since the rejected request left
            return await self._refresh()

    async def _refresh(self) -> BearerToken:
        # Called with the lock held. Expiry is computed from OUR clock at receipt.
        self._token = None
        answer = await self._obtain()
        lifetime = token_lifetime(answer.expires_in)
        self._token = BearerToken(answer.access_token, self._clock() + lifetime, lifetime)
        self.refreshes += 1
        return self._token

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.token()
        request.headers["Authorization"] = f"Bearer {token.value}"
        response = yield request
        if response.status_code != 401:
            return
        # One refresh and one resend of the very same request (same body, same reference_id).
        token = await self._refresh_after_401(token)
        request.headers["Authorization"] = f"Bearer {token.value}"
        yield request

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("TokenAuth works with httpx.AsyncClient only")
