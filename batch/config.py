"""One validated, frozen Settings object built from flags and the environment, passed down."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr

DEFAULT_LEDGER = Path("paybatch.db")  # the default before issue 11 (no longer used)
LIVE_LEDGER_NAME = "ledger.db"  # in the user's data directory: real payments
SANDBOX_LEDGER_NAME = "sandbox.db"  # beside it: embedded-sandbox demos, never mixed with live
DEFAULT_CONCURRENCY = 8
DEFAULT_RATE = 20.0  # requests per second, client-side ceiling

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
    """Everything a command needs to know, decided once in cli.py."""

    model_config = ConfigDict(frozen=True)

    ledger: Path = DEFAULT_LEDGER
    base_url: str | None = None  # None: start the embedded sandbox
    credentials: Credentials | None = None
    default_country: str | None = None
    default_currency: str | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    rate: float = DEFAULT_RATE
    max_amount: Decimal | None = None
    allow_duplicates: bool = False
    skip_invalid: bool = False
    sheet: str | None = None
    json_output: bool = False
    quiet: bool = False


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
