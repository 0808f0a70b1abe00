"""The command line's values -> the one `Settings` object, built once per command.

Click checks each flag's type; the models check the rest (ranges, durations, patterns). A
value the models refuse is reported like any bad flag: one usage line naming the flag
(exit 2), never a pydantic traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from batch.cli.common import max_amounts, resolve_ledger
from batch.config import Settings, credentials_from_env
from batch.options import MonitorOptions, ValidationOptions

# Hidden timing options (tests, benchmarks): flag, MonitorOptions field, environment variable.
MONITOR_KNOBS: tuple[tuple[str, str, str], ...] = (
    ("--not-found-grace", "not_found_grace", "PAYBATCH_NOT_FOUND_GRACE"),
    ("--resend-grace", "resend_grace", "PAYBATCH_RESEND_GRACE"),
    ("--max-resends", "max_resends", "PAYBATCH_MAX_RESENDS"),
    ("--poll-first", "first_poll", "PAYBATCH_POLL_FIRST"),
    ("--poll-max", "max_poll_interval", "PAYBATCH_POLL_MAX"),
)
ENV_INTERRUPT_SETTLE = "PAYBATCH_INTERRUPT_SETTLE"
T = TypeVar("T")

# Where a Settings field comes from on the command line (others: --FIELD-NAME).
_FLAGS: dict[tuple[str | int, ...], str] = {
    **{("run", "monitor", field): flag for flag, field, _ in MONITOR_KNOBS},
    ("validation", "default_country"): "--country",
    ("validation", "default_currency"): "--currency",
    ("plan", "repeat_window_days"): "--repeat-window",
    ("collect", "repeat_window_days"): "--repeat-window",
}


def monitor_knobs(func: Callable[..., Any]) -> Callable[..., Any]:
    """The hidden --poll-first ... options (each also read from its environment variable) and
    --interrupt-settle (PAYBATCH_INTERRUPT_SETTLE); unset: the operation's own."""
    defaults = MonitorOptions()
    options = [
        click.option(flag, field, type=type(getattr(defaults, field)), default=None,
                     hidden=True, envvar=envvar)
        for flag, field, envvar in MONITOR_KNOBS
    ]
    options.append(click.option("--interrupt-settle", type=float, default=None, hidden=True,
                                envvar=ENV_INTERRUPT_SETTLE))
    for option in reversed(options):
        func = option(func)
    return func


def validation_from(kw: dict[str, Any]) -> dict[str, Any]:
    """ValidationOptions' fields from the sheet_options values."""
    return {
        "default_country": kw["country"].upper() if kw.get("country") else None,
        "default_currency": kw["currency"].upper() if kw.get("currency") else None,
        "max_amount": max_amounts(kw.get("max_amount")),
        "allow_duplicates": kw.get("allow_duplicates", False),
        "include_hidden": kw.get("include_hidden", False),
        "decimal_comma": kw.get("decimal_comma", False),
    }


def validation_options(kw: dict[str, Any]) -> ValidationOptions:
    """`validate`'s options (no ledger, no API: not a whole Settings)."""
    return checked(lambda: ValidationOptions(**validation_from(kw)), prefix=("validation",))


def run_from(kw: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """RunOptions' fields from --concurrency, --wait, the hidden knobs, and `fields`."""
    run: dict[str, Any] = {"concurrency": kw["concurrency"], **fields}
    if "wait" in kw:
        run["wait"] = kw["wait"]
    if kw.get("interrupt_settle") is not None:
        run["interrupt_settle"] = kw["interrupt_settle"]
    given = {field: kw[field] for _, field, _ in MONITOR_KNOBS if kw.get(field) is not None}
    if given:  # only the fields given: the others stay the operation's own
        run["monitor"] = given
    return run


def settings_from(kw: dict[str, Any], **parts: Any) -> Settings:
    """The command's Settings: ledger, API, output, validation from `kw`; `parts` the
    command's own nested options as plain dicts (plan=..., collect=..., run=...)."""
    ledger = resolve_ledger(kw["ledger"], kw["base_url"])
    return checked(lambda: Settings.model_validate({
        "ledger": ledger, "base_url": kw["base_url"] or None,
        "credentials": credentials_from_env(os.environ), "rate": kw["rate"],
        "max_rate": kw["max_rate"], "json_output": kw["json_output"], "quiet": kw["quiet"],
        "validation": validation_from(kw), **parts,
    }))


def checked(build: Callable[[], T], *, prefix: tuple[str, ...] = ()) -> T:
    """`build()`, with a refused value turned into click's usage error naming its flag."""
    try:
        return build()
    except ValidationError as exc:
        error = exc.errors()[0]
        where = (*prefix, *error["loc"])
        flag = _FLAGS.get(where) or (
            "--" + str(where[-1]).replace("_", "-") if where and where[-1] not in
            ("validation", "plan", "collect", "run") else None
        )
        message = error["msg"].removeprefix("Value error, ")
        raise click.BadParameter(
            message, ctx=click.get_current_context(silent=True),
            param_hint=f"'{flag}'" if flag else None,  # quoted as click quotes its own
        ) from None
