"""Where the API is and how this command talks to it: the configured API or an embedded
sandbox started for the command, the client, and the request rate learned from its 429s."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import SecretStr

from batch import errors
from batch.config import Credentials, Settings
from batch.ledger import Ledger, utc_now
from batch.planning.record import EMBEDDED_SANDBOX, ApiEnvironment
from batch.runs import holders_of

if TYPE_CHECKING:
    from batch.dollr.client import ApiClient

__all__ = [
    "SANDBOX_BANNER", "SANDBOX_CREDENTIALS", "Endpoint", "api_endpoint", "api_environment",
    "open_client", "paced_client",
]

ENV_SANDBOX_BALANCE = "PAYBATCH_SANDBOX_BALANCE"
SANDBOX_BANNER = "SANDBOX — simulated API, no money moves"
SANDBOX_CREDENTIALS = Credentials(
    client_id="sandbox",
    client_secret=SecretStr("sandbox-secret"),  # the embedded sandbox's documented default
    passcode=SecretStr("0000"),
    passcode_phone="231770000000",
)


@dataclass(frozen=True)
class Endpoint:
    """Where the API is, with what credentials, and which environment the ids belong to."""

    base_url: str
    credentials: Credentials
    environment: str
    sandbox: bool
    # Embedded sandbox on a state file: requests sent before this instant went to an earlier
    # sandbox process, now dead, so a status 404 for them is final (see MonitorOptions).
    sandbox_started_at: datetime | None = None


@contextmanager
def api_endpoint(settings: Settings, say: Callable[[str], None]) -> Iterator[Endpoint]:
    """The configured API, or an embedded sandbox started for this run."""
    if settings.base_url:
        from batch.dollr.client import check_base_url

        check_base_url(settings.base_url)  # before its text is used anywhere (the ledger)
        if settings.credentials is None:
            raise errors.ConfigError(
                "a --base-url needs credentials in the environment: DOLLR_CLIENT_ID, "
                "DOLLR_CLIENT_SECRET, DOLLR_PASSCODE and DOLLR_PASSCODE_PHONE or "
                "DOLLR_PASSCODE_USER_ID"
            )
        yield Endpoint(
            settings.base_url.rstrip("/"),
            settings.credentials,
            environment=f"{settings.base_url.rstrip('/')}#{settings.credentials.client_id}",
            sandbox=False,
        )
        return
    from batch.sandbox import StateInUseError, running_sandbox, state_path_for
    from batch.sandbox.config import embedded_config

    # Its switches come from PAYBATCH_SANDBOX_* (issue 13); checked before it starts.
    try:
        config = embedded_config(os.environ, state_path=state_path_for(settings.ledger))
    except ValueError as exc:
        raise errors.ConfigError(f"embedded sandbox: {exc}") from exc
    say(SANDBOX_BANNER)
    # Its state lives next to the ledger, so a killed run's payouts are still known on rerun
    # and the recipients the ledger remembers (per instance) still exist there.
    with ExitStack() as stack:
        try:
            sandbox = stack.enter_context(running_sandbox(config))
            if ENV_SANDBOX_BALANCE in os.environ:
                # A state file keeps its wallet across runs: the variable sets it each time.
                sandbox.set_balances(**{c: str(a) for c, a in config.balances.items()})
        except StateInUseError as exc:
            raise errors.BatchLockedError(
                f"{holders_of(settings.ledger)} (its embedded sandbox, {exc.args[0].split()[0]},"
                " is in use); wait for it to finish"
            ) from exc
        yield Endpoint(
            sandbox.base_url,
            SANDBOX_CREDENTIALS,
            environment=f"sandbox:{sandbox.instance_id()}",
            sandbox=True,
            sandbox_started_at=utc_now(),  # the ledger's clock: attempts are stamped by it
        )


def api_environment(endpoint: Endpoint) -> ApiEnvironment:
    """The API a batch planned now belongs to (issue 11): one name for every embedded
    sandbox, base URL + client id for any other API."""
    if endpoint.sandbox:
        return EMBEDDED_SANDBOX
    client_id = endpoint.credentials.client_id
    return ApiEnvironment(f"{endpoint.base_url}#{client_id}", client_id, sandbox=False)


def open_client(endpoint: Endpoint, settings: Settings) -> ApiClient:
    """The API client for this endpoint."""
    from batch.dollr.client import ApiClient

    return ApiClient(
        endpoint.base_url, endpoint.credentials, rate=settings.rate, max_rate=settings.max_rate,
        connections=settings.run.concurrency,  # the pool caps it (requestor.pool_limits)
    )


@asynccontextmanager
async def paced_client(
    endpoint: Endpoint, settings: Settings, ledger: Ledger
) -> AsyncIterator[ApiClient]:
    """open_client, its adaptive rate starting where the last command against this API left
    it (the ledger remembers it), and remembering it again afterwards."""
    api = open_client(endpoint, settings)
    known = ledger.pace() if api.throttle.adaptive else None
    if known is not None:
        api.throttle.resume(known)
    async with api:
        try:
            yield api
        finally:
            learned = api.throttle.learned
            if api.throttle.adaptive and learned is not None and learned != known:
                ledger.save_pace(learned)
