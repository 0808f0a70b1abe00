"""When to retry an API call and how long to wait: pure decisions, plus their tenacity wiring.

Only calls safe to repeat are retried (reads, the token call, creates that move no money);
an execution never is (REFERENCE.md §4.1). One log line per retry, phones masked.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from batch.errors import ApiError, RateLimitedError, Transient

log = logging.getLogger("paybatch")

T = TypeVar("T")

MAX_ATTEMPTS = 5  # first try + 4 retries
BASE_DELAY = 0.5  # seconds before the first retry, doubled each time
MAX_DELAY = 20.0  # cap of the exponential part
MAX_RETRY_AFTER = 60.0  # a server's Retry-After is honoured up to this many seconds

# 8-15 digits standing alone (not inside a UUID or other token): E.164 without "+".
_PHONE = re.compile(r"(?<![\w-])(\d{3})\d{3,10}(\d{2})(?![\w-])")


def is_retryable(exc: BaseException, call_is_safe: bool) -> bool:
    """True when repeating the same request may succeed and cannot pay anyone twice."""
    return call_is_safe and isinstance(exc, Transient)


def backoff(
    attempt: int,
    retry_after: float | None = None,
    *,
    jitter: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number `attempt` (1-based).

    Exponential from BASE_DELAY, capped at MAX_DELAY, scaled by a jitter factor in [0.5, 1]
    so workers spread out; never less than the server's Retry-After (itself capped).
    """
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, not {attempt}")
    delay = min(MAX_DELAY, BASE_DELAY * 2.0 ** (attempt - 1))
    delay *= 0.5 + 0.5 * jitter()
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date (RFC 9110)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP-date is always GMT
        return None
    return max(0.0, (when - now).total_seconds())


def mask_phones(text: str) -> str:
    """Hide the middle digits of anything that looks like a phone number (logs only)."""
    return _PHONE.sub(lambda m: f"{m.group(1)}***{m.group(2)}", text)


def _log_retry(endpoint: str, reference_id: str | None) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        sleep = state.next_action.sleep if state.next_action else 0.0
        reason = type(exc).__name__
        if isinstance(exc, ApiError) and exc.status is not None:
            reason += f" (HTTP {exc.status})"
        ref = f" reference_id={reference_id}" if reference_id else ""
        log.warning(
            mask_phones(
                f"retry attempt={state.attempt_number + 1} endpoint={endpoint}{ref} "
                f"sleep={sleep:.2f}s after {reason}"
            )
        )

    return before_sleep


def _wait(jitter: Callable[[], float]) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
        return backoff(state.attempt_number, retry_after, jitter=jitter)

    return wait


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    safe: bool,
    endpoint: str,
    sleep: Callable[[float], Awaitable[None]],
    reference_id: str | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    jitter: Callable[[], float] = random.random,
) -> T:
    """Await `call()`, repeating it on transient errors if (and only if) it is safe to."""
    if not safe:
        return await call()
    retrying = AsyncRetrying(
        stop=stop_after_attempt(max_attempts),
        retry=retry_if_exception(lambda exc: is_retryable(exc, call_is_safe=True)),
        wait=_wait(jitter),
        sleep=sleep,
        before_sleep=_log_retry(endpoint, reference_id),
        reraise=True,
    )
    return await retrying(call)
