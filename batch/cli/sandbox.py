"""`paybatch sandbox`: the embedded Dollr-compatible API in the foreground."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


def _balances(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> Any:
    from batch.sandbox.config import parse_balances

    try:
        return parse_balances(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8765, show_default=True, type=int, help="Port to listen on.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed (replay).")
@click.option("--state", "state_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Keep the sandbox's records in this SQLite file across "
              "restarts (default: in memory).")
@click.option("--client-id", default="sandbox", show_default=True)
@click.option("--client-secret", default="sandbox-secret", show_default=True)
@click.option("--passcode", default="0000", show_default=True)
@click.option("--passcode-phone", default="231770000000", show_default=True)
@click.option("--passcode-user-id", default=None)
@click.option("--balance", "balances", multiple=True, callback=_balances, metavar="CUR=AMOUNT",
              help="Starting wallet balance, repeatable (default: generous in every currency).")
@click.option("--latency-ms", type=float, help="Added latency per request.")
@click.option("--jitter-ms", "latency_jitter_ms", type=float, help="Random extra latency.")
@click.option("--error-rate", type=float, help="Share of requests answered 5xx before the work.")
@click.option("--drop-rate", type=float, help="Share of responses dropped after the work.")
@click.option("--rate-limit", "rate_limit_rps", type=float, help="Requests/s before 429.")
@click.option("--retry-after", "retry_after_seconds", type=int, help="Retry-After on 429 (s).")
@click.option("--pending-seconds", type=float, help="How long a payout stays PENDING.")
@click.option("--processing-seconds", type=float, help="How long a payout stays PROCESSING.")
@click.option("--failure-rate", "payout_failure_rate", type=float,
              help="Share of payouts that end FAILED.")
@click.option("--reversal-rate", "reversal_rate", type=float,
              help="Share of COMPLETED payouts reversed later (then status FAILED).")
@click.option("--reversal-after", "reversal_after_seconds", type=float,
              help="Seconds after completion a reversed payout is taken back.")
@click.option("--status-delay", "status_visibility_delay_seconds", type=float,
              help="Seconds a new reference_id answers 404 on status.")
@click.option("--token-minutes", "token_expires_in_minutes", type=int,
              help="Token lifetime announced (minutes).")
@click.option("--token-seconds", "token_lifetime_seconds", type=float,
              help="Real token lifetime (s), to force 401s.")
@click.option("--session-seconds", "session_lifetime_seconds", type=float,
              help="Payout session lifetime (s).")
@click.option("--payer-seconds", "payer_answer_seconds", type=float,
              help="Collections: seconds before a payer answers a request.")
@click.option("--approval-window", "approval_window_seconds", type=float,
              help="Collections: seconds before an unanswered request expires.")
@click.option("--decline-rate", "payer_decline_rate", type=float,
              help="Collections: share of payers who decline.")
@click.option("--timeout-rate", "payer_timeout_rate", type=float,
              help="Collections: share of payers who never answer.")
@click.option("--insufficient-rate", "payer_insufficient_rate", type=float,
              help="Collections: share of payers short of funds.")
@click.option("--fee-schedule-skew", "fee_schedule_skew_points", type=str,
              help="Percentage points added to the published gateway fees (/v1/fees/gateway), "
              "so the schedule disagrees with what is charged.")
@click.option("--fault-endpoints", "fault_endpoints", multiple=True, metavar="PATTERN",
              help="Limit latency/5xx/drops/429 to these endpoints (e.g. 'executions.*').")
def sandbox(**options: Any) -> None:
    """Run the embedded Dollr-compatible sandbox API in the foreground (no money moves).

    \b
    Example:
      paybatch sandbox --port 8765 --drop-rate 0.1 --fault-endpoints 'executions.*'
    """
    from pydantic import ValidationError

    from batch.sandbox import BANNER, Faults, SandboxConfig, StateInUseError, serve

    host, port, endpoints = options.pop("host"), options.pop("port"), options.pop("fault_endpoints")
    settings = {k: options.pop(k) for k in (
        "seed", "client_id", "client_secret", "passcode", "passcode_phone", "passcode_user_id",
        "state_path")}
    balances = options.pop("balances")
    faults = {k: v for k, v in options.items() if v is not None}
    if endpoints:
        for kind in ("latency", "error", "drop", "rate_limit"):
            faults[f"{kind}_endpoints"] = list(endpoints)
    if balances:
        settings["balances"] = balances
    try:
        config = SandboxConfig(**settings, faults=Faults.model_validate(faults))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise click.UsageError(f"{where}: {first['msg']}") from exc
    click.echo(BANNER.format(url=f"http://{host}:{port}"))
    try:
        serve(config, host=host, port=port)
    except StateInUseError as exc:
        raise click.ClickException(str(exc)) from exc
