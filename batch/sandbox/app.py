"""Builds the sandbox ASGI app: Dollr routes + `/_sandbox/` control, behind the fault injector."""

from __future__ import annotations

import asyncio
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from batch.sandbox.collection_control import collection_control
from batch.sandbox.collection_routes import collections_api
from batch.sandbox.config import SandboxConfig
from batch.sandbox.control import control
from batch.sandbox.faults import FaultInjector
from batch.sandbox.fee_routes import fee_api
from batch.sandbox.routes import api, router
from batch.sandbox.runtime import Clock, Runtime, Sleep
from batch.sandbox.store import SandboxError


async def _sandbox_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SandboxError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=headers)


def create_app(
    config: SandboxConfig | None = None, *, clock: Clock = time.time,
    sleep: Sleep = asyncio.sleep,
) -> FaultInjector:
    """The sandbox as an ASGI app; `app.runtime` is its state."""
    runtime = Runtime(config or SandboxConfig(), clock=clock, sleep=sleep)
    app = FastAPI(
        title="Dollr sandbox (paybatch)",
        description="Simulated Dollr v1 API: no money moves.",
        version="1",
    )
    app.state.runtime = runtime
    app.add_exception_handler(SandboxError, _sandbox_error)
    app.include_router(router)
    app.include_router(api)
    app.include_router(collections_api)
    app.include_router(fee_api)
    app.include_router(control)
    app.include_router(collection_control)
    return FaultInjector(app, runtime)
