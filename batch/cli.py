"""The paybatch command line: options -> Settings -> one library call -> output and exit code."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

from batch import errors

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


def fail(exc: errors.BatchError) -> NoReturn:
    """Print one clear line to stderr and exit with the error's code."""
    click.echo(f"paybatch: error: {exc}", err=True)
    logging.getLogger("paybatch").error("error (exit %d): %s", exit_code_for(exc), exc)
    sys.exit(exit_code_for(exc))


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn BatchErrors raised by a command into one stderr line and an exit code."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except errors.BatchError as exc:
            fail(exc)

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

# The paying commands live in their own module; importing it registers them on `main`.
from batch import cli_payouts as _cli_payouts  # noqa: E402,F401
from batch import cli_report as _cli_report  # noqa: E402,F401  (status, report, --log-file)
