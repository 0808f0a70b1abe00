"""The sandbox's settings: credentials, starting balances, timings and fault switches.

`SandboxConfig` is fixed when the sandbox starts; its `faults` (a `Faults`) can be changed
while it runs, from Python (`SandboxHandle.set_faults`) or over HTTP (`POST /_sandbox/faults`).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

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
    # share of COMPLETED payouts reversed (status FAILED, money back to the wallet) this many
    # seconds after they completed (issue 11: late changes, `reconcile --recheck`)
    reversal_rate: float = Field(default=0.0, ge=0, le=1)
    reversal_after_seconds: float = Field(default=60.0, ge=0)
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
    # Collections (batch.sandbox.payers): a payer answers a request after payer_answer_seconds;
    # one who never answers sees it expire after approval_window_seconds. Rates pick how
    # payers answer (the rest approve); `payers` scripts answers per phone.
    payer_answer_seconds: float = Field(default=2.0, ge=0)
    approval_window_seconds: float = Field(default=10.0, ge=0)
    payer_decline_rate: float = Field(default=0.0, ge=0, le=1)
    payer_timeout_rate: float = Field(default=0.0, ge=0, le=1)
    payer_insufficient_rate: float = Field(default=0.0, ge=0, le=1)
    payers: dict[str, list[Literal["approve", "decline", "timeout", "insufficient"]]] = {}
    # The one currency a payer's mobile-money wallet holds, per phone (otherwise every
    # currency of the country, or LRD for a Liberian test number ending in 95): a request in
    # another currency is refused, and an invoice in another currency is paid with FX.
    payer_currencies: dict[str, str] = {}
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


# `paybatch run`/`plan` start an embedded sandbox; PAYBATCH_SANDBOX_<NAME> sets its switches
# (issue 13), NAME being a `paybatch sandbox` flag (FAILURE_RATE, BALANCE, ...) or a Faults
# field (PAYOUT_FAILURE_RATE, ...). Its credentials stay the documented defaults.
ENV_PREFIX = "PAYBATCH_SANDBOX_"
FLAG_FIELDS: dict[str, str] = {
    "latency_ms": "latency_ms",
    "jitter_ms": "latency_jitter_ms",
    "error_rate": "error_rate",
    "drop_rate": "drop_rate",
    "rate_limit": "rate_limit_rps",
    "retry_after": "retry_after_seconds",
    "pending_seconds": "pending_seconds",
    "processing_seconds": "processing_seconds",
    "failure_rate": "payout_failure_rate",
    "status_delay": "status_visibility_delay_seconds",
    "token_minutes": "token_expires_in_minutes",
    "token_seconds": "token_lifetime_seconds",
    "session_seconds": "session_lifetime_seconds",
}


def embedded_config(environ: dict[str, str] | Any, *, state_path: Path | None) -> SandboxConfig:
    """The embedded sandbox's config from PAYBATCH_SANDBOX_* variables.

    BALANCE is `USD=5000000,LRD=1e9` (commas or spaces); SEED an integer; FAULT_ENDPOINTS a
    comma list of endpoint patterns for latency, 5xx, drops and 429. Raises ValueError naming
    the variable for an unknown name or a bad value.
    """
    from pydantic import ValidationError

    faults: dict[str, Any] = {}
    settings: dict[str, Any] = {"state_path": state_path}
    for key, value in sorted(environ.items()):
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX):].lower()
        if name == "balance":
            settings["balances"] = {
                **DEFAULT_BALANCES, **parse_balances(value.replace(",", " ").split())
            }
        elif name == "seed":
            settings["seed"] = value
        elif name == "fault_endpoints":
            patterns = [p.strip() for p in value.split(",") if p.strip()]
            for kind in ("latency", "error", "drop", "rate_limit"):
                faults[f"{kind}_endpoints"] = patterns
        elif name in FLAG_FIELDS or name in Faults.model_fields:
            faults[FLAG_FIELDS.get(name, name)] = value
        else:
            known = sorted({"balance", "seed", "fault_endpoints", *FLAG_FIELDS})
            raise ValueError(
                f"{key}: no such sandbox switch (known: "
                + ", ".join(ENV_PREFIX + k.upper() for k in known) + ")"
            )
    try:
        return SandboxConfig(**settings, faults=Faults.model_validate(faults))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][-1]) if first["loc"] else "?"
        field = {v: k for k, v in FLAG_FIELDS.items()}.get(field, field)
        raise ValueError(f"{ENV_PREFIX}{field.upper()}: {first['msg']}") from exc
