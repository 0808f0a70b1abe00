"""One validated, frozen Settings object built from flags and the environment, passed down."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from batch.options import (
    CollectPlanOptions,
    PlanOptions,
    RunOptions,
    ValidationOptions,
)

DEFAULT_LEDGER = Path("paybatch.db")  # the default before issue 11 (no longer used)
LIVE_LEDGER_NAME = "ledger.db"  # in the user's data directory: real payments
SANDBOX_LEDGER_NAME = "sandbox.db"  # beside it: embedded-sandbox demos, never mixed with live
DEFAULT_MAX_RATE = 200.0  # requests per second the adaptive ceiling never passes

# Environment variable names (DESIGN.md "Command-line contract").
ENV_LEDGER = "PAYBATCH_LEDGER"
ENV_DATA_HOME = "XDG_DATA_HOME"
ENV_BASE_URL = "DOLLR_BASE_URL"
ENV_CLIENT_ID = "DOLLR_CLIENT_ID"
ENV_CLIENT_SECRET = "DOLLR_CLIENT_SECRET"
ENV_PASSCODE = "DOLLR_PASSCODE"
ENV_PASSCODE_PHONE = "DOLLR_PASSCODE_PHONE"
ENV_PASSCODE_USER_ID = "DOLLR_PASSCODE_USER_ID"


class Credentials(BaseModel):
    """API credentials; secrets never show in a repr."""

    model_config = ConfigDict(frozen=True)

    client_id: str
    client_secret: SecretStr
    passcode: SecretStr
    passcode_phone: str | None = None
    passcode_user_id: str | None = None


class Settings(BaseModel):
    """Everything a command was asked, decided once in the CLI and passed down.

    Each stage reads its own part: intake `validation`, planning `plan` (payouts) or
    `collect` (collections), the engine `run` and its `run.monitor` timings; the API client
    `base_url`, `credentials` and the rates; the output `json_output` and `quiet`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ledger: Path = DEFAULT_LEDGER
    base_url: str | None = None  # None: start the embedded sandbox
    credentials: Credentials | None = None
    # Requests per second, client-side: a fixed ceiling, or None to find the API's limit
    # (adaptive, never above max_rate).
    rate: float | None = Field(default=None, gt=0)
    max_rate: float = Field(default=DEFAULT_MAX_RATE, gt=0)
    json_output: bool = False
    quiet: bool = False
    validation: ValidationOptions = Field(default_factory=ValidationOptions)
    plan: PlanOptions | None = None  # None: the target must be a batch (reconcile)
    collect: CollectPlanOptions | None = None  # `collect` only
    run: RunOptions = Field(default_factory=RunOptions)


def data_dir(environ: Mapping[str, str]) -> Path:
    """paybatch's folder in the user's data directory (XDG: $XDG_DATA_HOME or
    ~/.local/share), so every folder a sheet sits in shares one ledger (issue 11)."""
    base = environ.get(ENV_DATA_HOME) or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "share"
    return root / "paybatch"


def default_ledger(environ: Mapping[str, str], *, base_url: str | None) -> Path:
    """The ledger used without --ledger / PAYBATCH_LEDGER: one per user, and a separate one
    for the embedded sandbox (no base URL), so a demo never mixes with real payroll."""
    name = LIVE_LEDGER_NAME if base_url else SANDBOX_LEDGER_NAME
    return data_dir(environ) / name


def credentials_from_env(environ: Mapping[str, str]) -> Credentials | None:
    """API credentials from the environment (the only place they may come from), if complete."""
    client_id = environ.get(ENV_CLIENT_ID)
    secret = environ.get(ENV_CLIENT_SECRET)
    passcode = environ.get(ENV_PASSCODE)
    if not (client_id and secret and passcode):
        return None
    return Credentials(
        client_id=client_id,
        client_secret=SecretStr(secret),
        passcode=SecretStr(passcode),
        passcode_phone=environ.get(ENV_PASSCODE_PHONE) or None,
        passcode_user_id=environ.get(ENV_PASSCODE_USER_ID) or None,
    )


def user_at_host() -> str:
    """Who runs this, and where: `user@host` (reports and the event log say it; issue 13)."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"
