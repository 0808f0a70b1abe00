"""What every command shares: the exit-code table, error handling, and the option decorators."""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NoReturn

import click

from batch import errors
from batch.cli.logs import log_file_option
from batch.config import DEFAULT_LEDGER as LEGACY_LEDGER
from batch.config import ENV_BASE_URL, ENV_LEDGER, data_dir, default_ledger
from batch.engine.outcome import EXIT_ABORTED, EXIT_IN_FLIGHT, EXIT_INPUT, EXIT_USAGE
from batch.ledger.integrity import damaged, is_damage, unwritable_hint
from batch.markets import SUPPORTED_COUNTRIES, SUPPORTED_CURRENCIES
from batch.text import visible


def exit_code_for(exc: errors.BatchError) -> int:
    """The exit code of an error that ended a command."""
    if isinstance(exc, errors.StoppedAfterSendingError):
        return EXIT_IN_FLIGHT  # payouts left before it failed: never "nothing sent" (issue 12)
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
    click.echo(f"paybatch: error: {visible(str(exc))}", err=True)
    if json_output:
        click.echo(error_json(str(exc), type(exc).__name__, exit_code_for(exc)))
    log = logging.getLogger("paybatch")
    if log.hasHandlers():  # a --log-file; else logging's last resort would repeat it on stderr
        log.error("error (exit %d): %s", exit_code_for(exc), exc)
    sys.exit(exit_code_for(exc))


def error_json(message: str, error_type: str, exit_code: int) -> str:
    """The JSON error object every failing command prints on stdout with --json."""
    return json.dumps({"error": message, "error_type": error_type, "exit_code": exit_code})


def wants_json(args: list[str]) -> bool:
    """Whether a command line asked for --json (read before click has parsed it: a usage
    error happens before any option has a value)."""
    return "--json" in args[: args.index("--")] if "--" in args else "--json" in args


class JsonAwareGroup(click.Group):
    """A group whose usage errors and interruptions keep the exit-code contract (issue 13).

    Usage errors exit 2 and, with --json anywhere on the line, also print the JSON error
    object; Ctrl-C outside a run's own handling (validating, planning, at the prompt) is
    "aborted, nothing sent": exit 5 rather than click's "Aborted!" and exit 1.
    """

    def main(self, args: Any = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if not standalone_mode:  # the caller handles click's exceptions itself
            return super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            return super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
            sys.exit(EXIT_USAGE)
        except click.UsageError as exc:
            if wants_json(argv):
                click.echo(error_json(exc.format_message(), type(exc).__name__, EXIT_USAGE))
            exc.show()
            sys.exit(EXIT_USAGE)
        except click.ClickException as exc:
            if wants_json(argv):
                click.echo(error_json(exc.format_message(), type(exc).__name__, exc.exit_code))
            exc.show()
            sys.exit(exc.exit_code)
        except (click.Abort, KeyboardInterrupt):
            message = "interrupted before anything was sent by this command"
            if wants_json(argv):
                click.echo(error_json(message, "Interrupted", EXIT_ABORTED))
            click.echo(f"paybatch: {message}", err=True)
            sys.exit(EXIT_ABORTED)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except OSError as exc:
            import errno

            if exc.errno == errno.EPIPE:  # output piped into `head`: not an error
                sys.exit(1)
            raise


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn BatchErrors raised by a command into one stderr line and an exit code."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        json_output = bool(kwargs.get("json_output"))
        try:
            return func(*args, **kwargs)
        except errors.BatchError as exc:
            fail(_with_ledger(exc, kwargs.get("ledger")), json_output=json_output)
        except sqlite3.Error as exc:  # a ledger read that was not translated where it ran
            fail(_ledger_error(exc, kwargs.get("ledger")), json_output=json_output)
        except OSError as exc:  # a disk that is full or read-only, a folder that is missing
            where = f"{exc.filename}: " if exc.filename else ""
            fail(errors.InputError(f"{where}{exc.strerror or exc}"), json_output=json_output)

    return wrapper


def _with_ledger(exc: errors.BatchError, ledger: object) -> errors.BatchError:
    """A LedgerDamagedError raised where the ledger's path was not known, told it."""
    if isinstance(exc, errors.LedgerDamagedError) and exc.path is None and ledger is not None:
        return damaged(Path(str(ledger)), exc.where, exc.detail)
    return exc


def _ledger_error(exc: sqlite3.Error, ledger: object) -> errors.LedgerError:
    path = Path(str(ledger)) if ledger is not None else Path("paybatch.db")
    if is_damage(exc):
        return damaged(path, "a stored value", str(exc))
    return errors.LedgerError(f"ledger {path}: {exc}{unwritable_hint(path)}")


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


LEDGER_HELP = (
    "The ledger file (SQLite). Default: one per user in the data directory "
    "(~/.local/share/paybatch/ledger.db, or sandbox.db without a base URL)."
)


def ledger_option(func: Any) -> Any:
    """--ledger PATH (env PAYBATCH_LEDGER) of an existing ledger."""
    return click.option(
        "--ledger", type=click.Path(path_type=Path, dir_okay=False), envvar=ENV_LEDGER,
        default=None, help=LEDGER_HELP,
    )(func)


def resolve_ledger(ledger: Path | None, base_url: str | None) -> Path:
    """--ledger as given, else the user's default ledger for this API (issue 11).

    Raises:
        ConfigError: no --ledger, and this folder holds a ledger of the old default name
            (./paybatch.db): silently starting another one could pay its batches again.
    """
    import os

    if ledger is not None:
        return ledger
    if LEGACY_LEDGER.is_file():
        raise errors.ConfigError(
            f"{LEGACY_LEDGER.resolve()} is a ledger of an earlier paybatch (the old default); "
            f"the default is now one ledger per user in {data_dir(os.environ)}. Pass "
            f"--ledger {LEGACY_LEDGER} (or set {ENV_LEDGER}) to keep using it, or move it "
            "there; nothing was sent"
        )
    return default_ledger(os.environ, base_url=base_url or os.environ.get(ENV_BASE_URL))


def add_log_file_option(command: click.Command) -> None:
    """Give a command (or the group) --log-file unless it has it already."""
    if not any(p.name == "log_file" for p in command.params):
        log_file_option(command)


