"""The sandbox's settings: credentials, starting balances, timings and fault switches.

`SandboxConfig` is fixed when the sandbox starts; its `faults` (a `Faults`) can be changed
while it runs, from Python (`SandboxHandle.set_faults`) or over HTTP (`POST /_sandbox/faults`).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from batch.sandbox.endpoints import unknown_patterns

DEFAULT_CLIENT_ID = "sandbox"
DEFAULT_CLIENT_SECRET = "sandbox-secret"
DEFAULT_PASSCODE = "0000"
DEFAULT_PASSCODE_PHONE = "231770000000"
DEFAULT_WALLET_ID = 1
DEFAULT_BALANCES: dict[str, Decimal] = {
    "USD": Decimal("1000000.00"),
    "LRD": Decimal("200000000.00"),
    "RWF": Decimal("1000000000"),
}

ALL_ENDPOINTS: tuple[str, ...] = ("*",)


def parse_balances(pairs: list[str] | tuple[str, ...]) -> dict[str, Decimal]:
    """`["USD=500", "LRD=1e6"]` -> exact balances; ValueError names the bad pair."""
    balances: dict[str, Decimal] = {}
    for pair in pairs:
        currency, sep, amount = pair.partition("=")
        try:
            value = Decimal(amount)
        except ArithmeticError:
            value = Decimal("NaN")
        if not sep or len(currency) != 3 or not value.is_finite() or value < 0:
            raise ValueError(f"balance {pair!r} is not CURRENCY=AMOUNT, e.g. USD=5000")
        balances[currency.upper()] = value
    return balances


class Faults(BaseModel):
    """Switches that make the sandbox slow, flaky or strict; every one is off by default.

    Endpoint selectors are lists of endpoint names or fnmatch patterns, e.g.
    `["executions.*"]`; the names are those in `batch.sandbox.routes.ENDPOINTS`.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # latency added before every selected request: latency_ms + uniform(0, jitter_ms)
    latency_ms: float = Field(default=0.0, ge=0)
    latency_jitter_ms: float = Field(default=0.0, ge=0)
    latency_endpoints: list[str] = list(ALL_ENDPOINTS)
    # random 5xx answered BEFORE the request reaches the API (nothing happens)
    error_rate: float = Field(default=0.0, ge=0, le=1)
    error_endpoints: list[str] = list(ALL_ENDPOINTS)
    # the API does the work, then the connection is closed with no answer
    drop_rate: float = Field(default=0.0, ge=0, le=1)
    drop_endpoints: list[str] = list(ALL_ENDPOINTS)
    # requests per second over the selected endpoints; beyond it 429 with Retry-After
    rate_limit_rps: float | None = Field(default=None, gt=0)
    rate_limit_endpoints: list[str] = list(ALL_ENDPOINTS)
    retry_after_seconds: int = Field(default=1, ge=0)
    # payout timeline: PENDING for pending_seconds, PROCESSING for processing_seconds
    pending_seconds: float = Field(default=0.5, ge=0)
    processing_seconds: float = Field(default=1.0, ge=0)
    # share of payouts the "operator" rejects at the end of PROCESSING (money returned)
    payout_failure_rate: float = Field(default=0.0, ge=0, le=1)
    # a just-executed reference_id answers 404 on status for this long (REFERENCE §4.3)
    status_visibility_delay_seconds: float = Field(default=0.0, ge=0)
    # token: `expires_in` is announced in minutes; token_lifetime_seconds, when set,
    # makes tokens really die sooner than announced (to exercise the 401 path)
    token_expires_in_minutes: int = Field(default=60, ge=0)
    token_lifetime_seconds: float | None = Field(default=None, ge=0)
    session_lifetime_seconds: float = Field(default=900.0, ge=0)
    # Quirks: answers another reading of REFERENCE.md may give ([UNKNOWN]/[INFERRED] parts);
    # applied by batch.sandbox.quirks. Status of an unknown reference_id: 404 or 422.
    status_unknown_code: Literal[404, 422] = 404
    status_names: dict[str, str] = {}  # execution statuses renamed, e.g. {"COMPLETED": "done"}
    amounts_as_strings: bool = False  # execution/session amounts as JSON strings
    ids_as_strings: bool = False  # ids as numeric strings ("4411")
    sparse_answers: bool = False  # null fields left out; session without status/wallet_id
    clock_skew_seconds: float = 0.0  # timestamps in answers shifted (server clock off)
    # An execute repeating a reference_id that exists is answered FAILED ("session already
    # executed") instead of with its execution — though that execution may be COMPLETED.
    repeat_send_failed: bool = False
    # The published fee schedule (`/v1/fees/gateway`) disagrees with what predictions and
    # executions charge: its gateway percentages are this many percentage points higher.
    fee_schedule_skew_points: Decimal = Field(default=Decimal(0))

    @field_validator(
        "latency_endpoints", "error_endpoints", "drop_endpoints", "rate_limit_endpoints"
    )
    @classmethod
    def _known_endpoints(cls, patterns: list[str]) -> list[str]:
        if unknown := unknown_patterns(patterns):
            raise ValueError(f"no endpoint is named like {', '.join(unknown)}")
        return patterns


class SandboxConfig(BaseModel):
    """Everything the sandbox is started with."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: SecretStr = SecretStr(DEFAULT_CLIENT_SECRET)
    passcode: SecretStr = SecretStr(DEFAULT_PASSCODE)
    passcode_phone: str | None = DEFAULT_PASSCODE_PHONE
    passcode_user_id: str | None = None
    wallet_id: int = DEFAULT_WALLET_ID
    balances: dict[str, Decimal] = Field(default_factory=lambda: dict(DEFAULT_BALANCES))
    faults: Faults = Field(default_factory=lambda: Faults())
    # None: in memory, gone with the process. A path: every record is kept there (SQLite)
    # before each answer, and a sandbox started on it again carries on where it stopped.
    state_path: Path | None = None
