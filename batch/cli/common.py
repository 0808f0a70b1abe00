"""What every command shares: the exit-code table, error handling, and the option decorators."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NoReturn

import click

from batch import errors
from batch.cli.logs import log_file_option
from batch.config import DEFAULT_LEDGER, ENV_LEDGER
from batch.intake.validate import ValidationOptions
from batch.markets import SUPPORTED_COUNTRIES, SUPPORTED_CURRENCIES

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


class MaxAmount(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2
    """`3000` (every currency) or `USD=3000` (that currency), kept exact."""

    name = "[CUR=]amount"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        currency, _, amount = str(value).rpartition("=")
        currency = currency.strip().upper()
        if currency and currency not in SUPPORTED_CURRENCIES:
            self.fail(f"{currency!r} is not a supported currency (USD, LRD, RWF)", param, ctx)
        return currency or None, DecimalAmount().convert(amount.strip(), param, ctx)


def max_amounts(given: Any) -> Decimal | dict[str, Decimal] | None:
    """--max-amount values as ValidationOptions takes them: one Decimal, or per currency (a
    plain amount then applies to the currencies not named)."""
    if isinstance(given, Decimal) or given is None:
        return given
    pairs = list(given)
    if not pairs:
        return None
    if all(currency is None for currency, _ in pairs):
        return Decimal(pairs[-1][1])
    plain = [amount for currency, amount in pairs if currency is None]
    limits = dict.fromkeys(SUPPORTED_CURRENCIES, plain[-1]) if plain else {}
    limits.update({currency: amount for currency, amount in pairs if currency is not None})
    return limits


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
            type=MaxAmount(),
            multiple=True,
            help="Reject any row paying more than this, in the row's currency; per currency "
            "with CUR=AMOUNT, repeatable (--max-amount USD=3000 --max-amount LRD=500000).",
        ),
        click.option(
            "--decimal-comma",
            is_flag=True,
            help="Amounts use a comma as the decimal mark (1.250,00 or 1 250,00).",
        ),
        click.option(
            "--allow-duplicates",
            is_flag=True,
            help="Allow the same phone or external id on several rows.",
        ),
        click.option(
            "--rejected-out",
            type=click.Path(path_type=Path, dir_okay=False),
            metavar="PATH",
            help="Write the invalid rows to PATH in the sheet's own format (.xlsx or .csv), "
            "with a 'problems' column: fix them there and pay that file.",
        ),
        click.option(
            "--include-hidden",
            is_flag=True,
            help="Pay rows and sheets hidden in Excel (or by its filter); refused otherwise.",
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
    country: str | None, currency: str | None, max_amount: Any, allow_duplicates: bool,
    include_hidden: bool = False, decimal_comma: bool = False,
) -> ValidationOptions:
    """The library's ValidationOptions from the sheet_options values."""
    return ValidationOptions(
        default_country=country.upper() if country else None,
        default_currency=currency.upper() if currency else None,
        max_amount=max_amounts(max_amount),
        allow_duplicates=allow_duplicates,
        include_hidden=include_hidden,
        decimal_comma=decimal_comma,
    )


def ledger_option(func: Any) -> Any:
    """--ledger PATH (env PAYBATCH_LEDGER) of an existing ledger."""
    return click.option(
        "--ledger", type=click.Path(path_type=Path, dir_okay=False), envvar=ENV_LEDGER,
        default=DEFAULT_LEDGER, show_default=True, help="The ledger file (SQLite).",
    )(func)


def add_log_file_option(command: click.Command) -> None:
    """Give a command (or the group) --log-file unless it has it already."""
    if not any(p.name == "log_file" for p in command.params):
        log_file_option(command)


