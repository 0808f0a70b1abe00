"""Raw-ASGI middleware in front of the Dollr routes: counts requests and injects the faults.

Per request, in order: latency (+ jitter), 429 with Retry-After over the rate limit, a
random 5xx BEFORE the work, and a response DROPPED AFTER the work (headers sent, then the
connection closed: the client sees a transport error, never a status). `/_sandbox/`
inspection routes are never faulted nor counted. Every response, faulted or not, leaves only
after the state it reflects is flushed to the journal (a killed client loses nothing).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from batch.sandbox.endpoints import ENDPOINTS, selected
from batch.sandbox.runtime import Runtime

SERVER_ERRORS = ((500, "Internal Server Error"), (502, "Bad Gateway"), (503, "Service Unavailable"))


class DroppedResponseError(Exception):
    """Raised on purpose so uvicorn closes the connection mid-response."""


class HideDroppedResponses(logging.Filter):
    """Keep uvicorn's 'Exception in ASGI application' log quiet for deliberate drops."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedResponseError))


class FaultInjector:
    """Wraps the FastAPI app; `runtime` holds the switches and the counters."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self._paths = [(compile_path(path)[0], name) for name, path in ENDPOINTS.items()]

    def endpoint_of(self, scope: Scope) -> str | None:
        """The endpoint name of a request, or None if it is not a Dollr API route."""
        for regex, name in self._paths:
            if regex.match(scope["path"]):
                return name
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        journal = self.runtime.store.journal
        respond = send

        async def durable_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                journal.flush()  # written BEFORE the answer: what was done stays done
            await respond(message)

        await self._serve(scope, receive, durable_send)
        journal.flush()  # an app error or a drop may end without a response start

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.endpoint_of(scope) if scope["type"] == "http" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        rt, faults = self.runtime, self.runtime.faults
        if selected(endpoint, faults.latency_endpoints):
            delay_ms = faults.latency_ms + rt.rng.uniform(0, faults.latency_jitter_ms)
            if delay_ms > 0:
                rt.injected["latency"] += 1
                await rt.sleep(delay_ms / 1000)
        rt.arrived(rt.now())  # after the latency: when the server would count it
        if selected(endpoint, faults.rate_limit_endpoints) and rt.over_rate_limit(rt.now()):
            rt.injected["rate_limited"] += 1
            headers = {"retry-after": str(faults.retry_after_seconds)}
            await self._answer(send, endpoint, 429, "Too Many Requests", headers)
            return
        if selected(endpoint, faults.error_endpoints) and rt.rng.random() < faults.error_rate:
            rt.injected["server_error"] += 1
            status, text = rt.rng.choice(SERVER_ERRORS)
            await self._answer(send, endpoint, status, text)
            return
        drop = selected(endpoint, faults.drop_endpoints) and rt.rng.random() < faults.drop_rate
        if drop:
            await self._run_then_drop(scope, receive, send, endpoint)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                rt.count(endpoint, str(message["status"]))
            await send(message)

        await self.app(scope, receive, counting_send)

    async def _run_then_drop(self, scope: Scope, receive: Receive, send: Send, name: str) -> None:
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)  # the work is done here, in full
        self.runtime.injected["dropped"] += 1
        self.runtime.count(name, "dropped")
        start = next(m for m in held if m["type"] == "http.response.start")
        await send(start)  # its Content-Length promises a body that never comes
        raise DroppedResponseError(f"sandbox dropped the response of {name}")

    async def _answer(
        self, send: Send, endpoint: str, status: int, detail: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.runtime.count(endpoint, str(status))
        body = json.dumps({"detail": detail}).encode()
        raw: list[tuple[bytes, bytes]] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
        start: dict[str, Any] = {"type": "http.response.start", "status": status, "headers": raw}
        await send(start)
        await send({"type": "http.response.body", "body": body})
