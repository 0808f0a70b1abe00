"""Pure retry decisions, table-tested, and their tenacity wiring."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from batch import errors
from batch.dollr.retry import (
    MAX_DELAY,
    MAX_RETRY_AFTER,
    backoff,
    call_with_retries,
    is_retryable,
    mask_phones,
    parse_retry_after,
)

NOW = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("exc", "safe", "expected"),
    [
        (errors.ServerError("x", status=503), True, True),
        (errors.NetworkError("x"), True, True),
        (errors.RateLimitedError("x", retry_after=2), True, True),
        (errors.ServerError("x", status=503), False, False),
        (errors.NetworkError("x"), False, False),
        (errors.RateLimitedError("x"), False, False),
        (errors.AuthError("x"), True, False),
        (errors.ForbiddenError("x"), True, False),
        (errors.NotFoundError("x"), True, False),
        (errors.ApiValidationError("x"), True, False),
        (errors.CredentialsError("x"), True, False),
        (ValueError("bug"), True, False),
    ],
)
def test_is_retryable(exc: BaseException, safe: bool, expected: bool) -> None:
    assert is_retryable(exc, call_is_safe=safe) is expected


@pytest.mark.parametrize(
    ("attempt", "retry_after", "jitter", "expected"),
    [
        (1, None, 1.0, 0.5),
        (2, None, 1.0, 1.0),
        (3, None, 1.0, 2.0),
        (4, None, 0.0, 2.0),  # jitter factor 0.5 of 4.0
        (3, None, 0.5, 1.5),  # factor 0.75 of 2.0
        (10, None, 1.0, MAX_DELAY),  # capped
        (30, None, 0.0, MAX_DELAY / 2),
        (1, 7.0, 1.0, 7.0),  # Retry-After wins when longer
        (5, 1.0, 1.0, 8.0),  # ... and the backoff when longer
        (1, 3600.0, 0.0, MAX_RETRY_AFTER),  # Retry-After honoured up to a ceiling
        (1, 0.0, 1.0, 0.5),
    ],
)
def test_backoff(attempt: int, retry_after: float | None, jitter: float, expected: float) -> None:
    assert backoff(attempt, retry_after, jitter=lambda: jitter) == pytest.approx(expected)


def test_backoff_rejects_attempt_zero() -> None:
    with pytest.raises(ValueError):
        backoff(0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        ("Mon, 05 Jan 2026 09:00:30 GMT", 30.0),
        ("Mon, 05 Jan 2026 08:59:00 GMT", 0.0),  # in the past: go now
        ("tomorrow", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("phone=231770000001", "phone=231***01"),
        ("to +250788000001 now", "to +250***01 now"),
        (
            "ref 3b0f6f1e-9a51-4c3e-8a77-123456789012 ok",
            "ref 3b0f6f1e-9a51-4c3e-8a77-123456789012 ok",
        ),
        ("sleep=0.50s attempt=2", "sleep=0.50s attempt=2"),
    ],
)
def test_mask_phones(text: str, expected: str) -> None:
    assert mask_phones(text) == expected


class Flaky:
    """Fails with the given errors, then returns 'ok'."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def test_wiring_retries_safe_calls_and_logs_one_line_each(
    caplog: pytest.LogCaptureFixture,
) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    call = Flaky(
        errors.ServerError("boom", status=502), errors.RateLimitedError("slow", retry_after=4)
    )
    with caplog.at_level(logging.WARNING, logger="paybatch"):
        result = asyncio.run(
            call_with_retries(
                call,
                safe=True,
                endpoint="GET /v1/status/payout/r1",
                reference_id="r1",
                sleep=sleep,
                jitter=lambda: 1.0,
            )
        )
    assert result == "ok" and call.calls == 3
    assert slept == [0.5, 4.0]
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "retry attempt=2 endpoint=GET /v1/status/payout/r1 reference_id=r1 sleep=0.50s "
        "after ServerError (HTTP 502)",
        "retry attempt=3 endpoint=GET /v1/status/payout/r1 reference_id=r1 sleep=4.00s "
        "after RateLimitedError",
    ]


def test_wiring_never_repeats_an_unsafe_call() -> None:
    async def sleep(seconds: float) -> None:
        raise AssertionError("must not sleep")

    call = Flaky(errors.NetworkError("lost"))
    with pytest.raises(errors.NetworkError):
        asyncio.run(call_with_retries(call, safe=False, endpoint="POST /x", sleep=sleep))
    assert call.calls == 1


def test_wiring_stops_after_max_attempts() -> None:
    async def sleep(seconds: float) -> None:
        pass

    call = Flaky(*[errors.NetworkError("lost") for _ in range(10)])
    with pytest.raises(errors.NetworkError):
        asyncio.run(
            call_with_retries(call, safe=True, endpoint="GET /x", sleep=sleep, max_attempts=3)
        )
    assert call.calls == 3
