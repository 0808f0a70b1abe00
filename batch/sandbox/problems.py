"""The error answers the sandbox gives (routes turn them into Dollr-shaped bodies)."""

from __future__ import annotations

from typing import Any


class SandboxError(Exception):
    """An error answer the API gives."""

    status = 400

    def __init__(self, detail: Any) -> None:
        super().__init__(str(detail))
        self.detail = detail


class Rejected(SandboxError):
    """422 with a FastAPI-shaped detail list."""

    status = 422

    def __init__(self, loc: list[str | int], msg: str, kind: str = "value_error") -> None:
        super().__init__([{"loc": loc, "msg": msg, "type": kind}])


class Missing(SandboxError):
    """404: unknown id."""

    status = 404


class Denied(SandboxError):
    """403: not allowed (passcode)."""

    status = 403


class Unauthorized(SandboxError):
    """401: bad credentials or token."""

    status = 401
