"""The paybatch command line: options -> Settings -> one library call -> output and exit code.

Each command group lives in its own module, registered here by name and imported when used.
"""

from __future__ import annotations

import gc
import importlib
from collections.abc import Callable, Iterator, MutableMapping

import click

from batch.cli.common import JsonAwareGroup, add_log_file_option

# Where each command lives ("module:attribute"). A command's module is imported when the
# command is used (or listed by --help): importing every command's module cost each `run`
# ~0.17 s of start-up, 2 % of a 300-row batch at 100 requests/s (issue 15).
COMMANDS = {
    "validate": "batch.cli.validate:validate",
    "plan": "batch.cli.payouts:plan",
    "run": "batch.cli.payouts:run",
    "reconcile": "batch.cli.payouts:reconcile",
    "collect": "batch.cli.collect:collect",
    "cancel": "batch.cli.cancel:cancel",
    "status": "batch.cli.reading:status",
    "report": "batch.cli.reading:report",
    "review": "batch.cli.approval:review",
    "approve": "batch.cli.approval:approve",
    "keygen": "batch.cli.approval:keygen",
    "sandbox": "batch.cli.sandbox:sandbox",
}


class LazyCommands(MutableMapping[str, click.Command]):
    """A group's commands by name, each imported on first use and then `prepare`d."""

    def __init__(self, where: dict[str, str], prepare: Callable[[click.Command], None]) -> None:
        self._where = dict(where)
        self._prepare = prepare
        self._loaded: dict[str, click.Command] = {}
        self.after_import: Callable[[], None] | None = None  # set by the process's `entry`

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            module, attribute = self._where[name].split(":")  # KeyError: no such command
            command = getattr(importlib.import_module(module), attribute)
            if self.after_import is not None:
                self.after_import()
            self._prepare(command)
            self._loaded[name] = command
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._prepare(command)
        self._loaded[name] = command
        self._where.setdefault(name, "")

    def __delitem__(self, name: str) -> None:
        del self._where[name]
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)


@click.group(cls=JsonAwareGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="paybatch")
def main() -> None:
    """Pay a payroll sheet (or collect invoices) through Dollr mobile money, exactly once.

    \b
    Example:
      paybatch validate samples/payroll_liberia.csv
      paybatch run samples/payroll_liberia.csv --yes
      paybatch collect samples/collections_liberia.csv --yes
    """


# `paybatch --log-file PATH <command>` and `paybatch <command> ... --log-file PATH`: cron's
# usual spellings.
COMMAND_MODULES = LazyCommands(COMMANDS, prepare=add_log_file_option)
main.commands = COMMAND_MODULES
add_log_file_option(main)


def entry() -> None:
    """The `paybatch` process (console script and `python -m batch`): `main`, then exit.

    The cyclic garbage collector waits until the command's module is imported, and the
    objects of the ~950 modules by then are frozen out of it: none of them is garbage, yet a
    full collection scanned them all, 12 ms at start-up and 25-30 ms mid-run (a stall that
    sends requests bunched, then fewer that second). As the process ends everything is frozen
    too: the interpreter's teardown scanned it all again (~75 ms after a `run`). Nothing is
    left to collect by then: the ledger, report and logs are closed, and atexit still runs.
    """
    gc.disable()
    COMMAND_MODULES.after_import = _collect_from_here
    try:
        main()
    finally:
        gc.freeze()


def _collect_from_here() -> None:
    gc.freeze()
    gc.enable()
