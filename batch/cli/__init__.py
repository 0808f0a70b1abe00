"""The paybatch command line: options -> Settings -> one library call -> output and exit code.

Each command group lives in its own module and is registered here, explicitly.
"""

from __future__ import annotations

import click

from batch.cli.approval import approve, keygen, review
from batch.cli.cancel import cancel
from batch.cli.collect import collect
from batch.cli.common import JsonAwareGroup, add_log_file_option
from batch.cli.payouts import plan, reconcile, run
from batch.cli.reading import report, status
from batch.cli.sandbox import sandbox
from batch.cli.validate import validate


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


for _command in (validate, plan, run, reconcile, collect, cancel, status, report, review, approve,
                 keygen, sandbox):
    main.add_command(_command)
# `paybatch --log-file PATH <command>` and `paybatch <command> ... --log-file PATH`: cron's
# usual spellings.
add_log_file_option(main)
for _command in main.commands.values():
    add_log_file_option(_command)
