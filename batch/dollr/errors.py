"""One function that turns an API error answer (status + body) into a batch.errors class.

`detail` may be FastAPI's list (422) or a string (401, 403, 404); anything the server echoed
back as `input` is dropped, since it can hold the passcode or the client secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from batch import errors
from batch.dollr.models import parse_json
from batch.dollr.retry import parse_retry_after

_ECHO_KEYS = frozenset({"input", "ctx", "url"})  # parts of a 422 item that may quote our body
MAX_DETAIL_CHARS = 300


def scrub_detail(detail: Any) -> Any:
    """The `detail` value with every echoed `input`/`ctx` removed, at any depth."""
    if isinstance(detail, list):
        return [scrub_detail(item) for item in detail]
    if isinstance(detail, dict):
        return {k: scrub_detail(v) for k, v in detail.items() if k not in _ECHO_KEYS}
    return detail


def summarize_detail(detail: Any) -> str:
    """A short human line for a `detail` value: 'body.currency: field required; ...'."""
    if isinstance(detail, str):
        text = detail
    elif isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(part) for part in item.get("loc", []))
                msg = str(item.get("msg", ""))
                parts.append(f"{loc}: {msg}" if loc else msg)
            else:
                parts.append(str(item))
        text = "; ".join(parts)
    elif detail is None:
        return ""
    else:
        text = str(detail)
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 1] + "…"


def _detail_of(content: bytes) -> Any:
    try:
        body = parse_json(content)
    except ValueError:
        return None
    if isinstance(body, dict):
        return scrub_detail(body.get("detail", body.get("message")))
    return None


def error_for_response(
    status: int,
    content: bytes,
    headers: Mapping[str, str],
    *,
    endpoint: str,
    reference_id: str | None = None,
    now: datetime | None = None,
) -> errors.ApiError:
    """The ApiError subclass for a non-2xx answer (REFERENCE.md §1.7)."""
    detail = _detail_of(content)
    summary = summarize_detail(detail)
    message = f"{endpoint}: HTTP {status}" + (f": {summary}" if summary else "")
    common: dict[str, Any] = {
        "status": status,
        "endpoint": endpoint,
        "detail": detail,
        "request_id": headers.get("x-request-id"),
        "reference_id": reference_id,
    }
    if status == 401:
        return errors.AuthError(message, **common)
    if status == 403:
        return errors.ForbiddenError(message, **common)
    if status == 404:
        return errors.NotFoundError(message, **common)
    if status == 429:
        retry_after = parse_retry_after(headers.get("retry-after"), now or datetime.now(UTC))
        return errors.RateLimitedError(message, retry_after=retry_after, **common)
    if status >= 500 or status == 408:
        return errors.ServerError(message, **common)
    # 422 and any other 4xx: the API rejected the request as such; repeating cannot help.
    return errors.ApiValidationError(message, **common)
