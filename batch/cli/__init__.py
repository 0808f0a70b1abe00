"""The paybatch command line: options -> Settings -> one library call -> output and exit code."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console

from batch import errors
from batch.intake.load import load_sheet
from batch.markets import SUPPORTED_COUNTRIES, SUPPORTED_CURRENCIES
from batch.cli.validation import render_validation
from batch.intake.validate import ValidationOptions, validate_sheet

# Exit codes for cron (DESIGN.md): one table, used by every command.
EXIT_OK = 0  # every row completed (or: the sheet is valid)
EXIT_INPUT = 1  # bad input or configuration, nothing sent
EXIT_USAGE = 2  # usage error (click's own)
EXIT_FAILED_ROWS = 3  # finished, some rows FAILED
EXIT_IN_FLIGHT = 4  # rows still in flight or unknown, run again later
EXIT_ABORTED = 5  # confirmation declined or a guard tripped


def exit_code_for(exc: errors.BatchError) -> int:
    """The exit code of an error that ended a command."""
    if isinstance(exc, errors.AbortedError):
        return EXIT_ABORTED
    if isinstance(exc, errors.InputError):
        # Checked before ApiError: refused credentials (CredentialsError) are bad configuration.
        return EXIT_INPUT
    if isinstance(exc, errors.ApiError):
        # An API error that stops a command before or between payouts; rows already sent
        # stay in flight in the ledger and the next run settles them.
        return EXIT_IN_FLIGHT
    return EXIT_INPUT


def fail(exc: errors.BatchError, *, json_output: bool = False) -> NoReturn:
    """Print one clear line to stderr and exit with the error's code.

    With --json, stdout also gets the error as JSON: a cron job parsing it sees why it ended.
    """
    click.echo(f"paybatch: error: {exc}", err=True)
    if json_output:
        click.echo(json.dumps(
            {"error": str(exc), "error_type": type(exc).__name__, "exit_code": exit_code_for(exc)}
        ))
    log = logging.getLogger("paybatch")
    if log.hasHandlers():  # a --log-file; else logging's last resort would repeat it on stderr
        log.error("error (exit %d): %s", exit_code_for(exc), exc)
    sys.exit(exit_code_for(exc))


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn BatchErrors raised by a command into one stderr line and an exit code."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except errors.BatchError as exc:
            fail(exc, json_output=bool(kwargs.get("json_output")))

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="paybatch")
def main() -> None:
    """Pay a payroll sheet through Dollr mobile money, exactly once, and reconcile it.

    \b
    Example:
      paybatch validate samples/payroll_liberia.csv
      paybatch run samples/payroll_liberia.csv --yes
    """


def _balances(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> Any:
    from batch.sandbox.config import parse_balances

    try:
        return parse_balances(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@main.command()
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
@click.option("--status-delay", "status_visibility_delay_seconds", type=float,
              help="Seconds a new reference_id answers 404 on status.")
@click.option("--token-minutes", "token_expires_in_minutes", type=int,
              help="Token lifetime announced (minutes).")
@click.option("--token-seconds", "token_lifetime_seconds", type=float,
              help="Real token lifetime (s), to force 401s.")
@click.option("--session-seconds", "session_lifetime_seconds", type=float,
              help="Payout session lifetime (s).")
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


class DecimalAmount(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2
    """A positive amount given on the command line, kept exact."""

    name = "amount"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, Decimal):
            return value
        try:
            amount = Decimal(str(value).replace(",", ""))
        except InvalidOperation:
            self.fail(f"{value!r} is not an amount", param, ctx)
        if not amount.is_finite() or amount <= 0:
            self.fail(f"{value!r} must be a positive amount", param, ctx)
        return amount


def sheet_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """How to read and check a sheet: --sheet, --country, --currency, --max-amount,
    --allow-duplicates (shared by validate, plan and run)."""
    options = [
        click.option("--sheet", metavar="NAME", help="Excel sheet to read (default: the first)."),
        click.option(
            "--country",
            type=click.Choice(sorted(SUPPORTED_COUNTRIES), case_sensitive=False),
            help="Country of rows without one; also how local phone numbers are read.",
        ),
        click.option(
            "--currency",
            type=click.Choice(sorted(SUPPORTED_CURRENCIES), case_sensitive=False),
            help="Currency of rows without one.",
        ),
        click.option(
            "--max-amount",
            type=DecimalAmount(),
            help="Reject any row paying more than this (in the row's currency).",
        ),
        click.option(
            "--allow-duplicates",
            is_flag=True,
            help="Allow the same phone or external id on several rows.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def output_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--json for machines, --quiet for cron."""
    func = click.option("--quiet", "-q", is_flag=True, help="Print only the summary line.")(func)
    return click.option(
        "--json", "json_output", is_flag=True, help="Print one JSON object instead of a table."
    )(func)


def validation_options(
    country: str | None, currency: str | None, max_amount: Decimal | None, allow_duplicates: bool
) -> ValidationOptions:
    """The library's ValidationOptions from the sheet_options values."""
    return ValidationOptions(
        default_country=country.upper() if country else None,
        default_currency=currency.upper() if currency else None,
        max_amount=max_amount,
        allow_duplicates=allow_duplicates,
    )


@main.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=True))
@sheet_options
@output_options
@handle_errors
def validate(
    file: Path,
    sheet: str | None,
    country: str | None,
    currency: str | None,
    max_amount: Decimal | None,
    allow_duplicates: bool,
    json_output: bool,
    quiet: bool,
) -> None:
    """Check a payout sheet and list every problem with the row number Excel shows.

    Exit code 0 when every row is valid, 1 otherwise. Nothing is sent.

    \b
    Example:
      paybatch validate samples/payroll_liberia.csv
      paybatch validate payroll.xlsx --sheet November --country LR --json
    """
    options = validation_options(country, currency, max_amount, allow_duplicates)
    report = validate_sheet(load_sheet(file, sheet=sheet), options)
    if json_output:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        render_validation(report, Console(), quiet=quiet)
    sys.exit(EXIT_OK if report.ok else EXIT_INPUT)


# The paying commands live in their own module; importing it registers them on `main`.
from batch.cli import payouts as _cli_payouts  # noqa: E402,F401
from batch.cli import reading as _cli_report  # noqa: E402,F401  (status, report, --log-file)
