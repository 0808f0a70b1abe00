"""Runs the sandbox: embedded on a free loopback port in a thread, or in the foreground.

`SandboxHandle` talks to a running sandbox's `/_sandbox/` endpoints over HTTP, so it works
the same for an embedded sandbox and for `paybatch sandbox` in another process.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from batch.sandbox.app import create_app
from batch.sandbox.collection_control import CollectionRecord, InvoiceRecord
from batch.sandbox.config import Faults, SandboxConfig
from batch.sandbox.control import ExecutionRecord
from batch.sandbox.faults import HideDroppedResponses
from batch.sandbox.runtime import Clock, Sleep

BANNER = "SANDBOX — simulated API, no money moves — {url}"
STARTUP_TIMEOUT = 10.0


class SandboxHandle:
    """Inspect and steer a running sandbox."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._http = httpx.Client(base_url=base_url + "/_sandbox", timeout=10.0)

    def close(self) -> None:
        """Release the HTTP connection."""
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()

    def set_faults(self, faults: Faults | None = None, **changes: Any) -> Faults:
        """Change some fault switches (keyword names of `Faults`); returns them all."""
        if faults is not None:
            changes = {**faults.model_dump(), **changes}
        return Faults.model_validate(self._call("POST", "/faults", json=changes))

    def instance_id(self) -> str:
        """The sandbox's instance: the same every time it is started on one state file."""
        return str(self._call("GET", "/health")["instance_id"])

    def faults(self) -> Faults:
        """The switches in force."""
        return Faults.model_validate(self._call("GET", "/faults"))

    def executions(
        self, *, phone: str | None = None, status: str | None = None
    ) -> list[ExecutionRecord]:
        """Every payout execution (optionally one phone's, or one status)."""
        params = {k: v for k, v in {"phone": phone, "status": status}.items() if v}
        return [ExecutionRecord.model_validate(r) for r in self._call(
            "GET", "/executions", params=params)]

    def completed_count(self, phone: str) -> int:
        """How many COMPLETED payouts this phone received."""
        return len(self.executions(phone=phone, status="COMPLETED"))

    def collections(
        self, *, phone: str | None = None, status: str | None = None
    ) -> list[CollectionRecord]:
        """Every collection request (optionally one phone's, or one status)."""
        params = {k: v for k, v in {"phone": phone, "status": status}.items() if v}
        return [CollectionRecord.model_validate(r) for r in self._call(
            "GET", "/collections", params=params)]

    def invoices(self) -> list[InvoiceRecord]:
        """Every invoice with its items and status."""
        return [InvoiceRecord.model_validate(r) for r in self._call("GET", "/invoices")]

    def recipients(self) -> dict[str, dict[str, int]]:
        """Per phone: executions by status."""
        result: dict[str, dict[str, int]] = self._call("GET", "/recipients")
        return result

    def stats(self) -> dict[str, Any]:
        """Requests per endpoint and status, faults injected, executions, balances."""
        result: dict[str, Any] = self._call("GET", "/stats")
        return result

    def balances(self) -> dict[str, str]:
        """Wallet balances as exact decimal strings."""
        result: dict[str, str] = self._call("GET", "/wallet")
        return result

    def set_balances(self, **balances: str) -> dict[str, str]:
        """Set balances, e.g. set_balances(USD="10.00")."""
        result: dict[str, str] = self._call("POST", "/wallet", json=balances)
        return result

    def reset(self) -> None:
        """Forget everything; balances and faults back to the start."""
        self._call("POST", "/reset")


def _uvicorn_config(app: Any, host: str, port: int, log_level: str) -> uvicorn.Config:
    logging.getLogger("uvicorn.error").addFilter(HideDroppedResponses())
    return uvicorn.Config(
        app, host=host, port=port, log_level=log_level, access_log=False, lifespan="off",
        timeout_graceful_shutdown=1,
    )


@contextmanager
def running_sandbox(
    config: SandboxConfig | None = None, *, clock: Clock = time.time,
    sleep: Sleep = asyncio.sleep, host: str = "127.0.0.1",
) -> Iterator[SandboxHandle]:
    """Serve the sandbox on a free loopback port in a background thread while inside."""
    app = create_app(config, clock=clock, sleep=sleep)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Without it Nagle + delayed ACK cost ~40 ms per keep-alive request on loopback.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(_uvicorn_config(app, host, port, "warning"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"sandbox-{port}", daemon=True
    )
    thread.start()
    handle = SandboxHandle(f"http://{host}:{port}")
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.01)  # startup wait at the I/O edge, not logic
        yield handle
    finally:
        handle.close()
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
        app.runtime.close()


def serve(config: SandboxConfig, *, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve in the foreground until interrupted."""
    app = create_app(config)
    try:
        uvicorn.Server(_uvicorn_config(app, host, port, "warning")).run()
    finally:
        app.runtime.close()
