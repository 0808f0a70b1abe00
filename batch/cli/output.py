"""How `plan`, `run` and `reconcile` talk: rich tables and bars on a terminal, plain lines off
one, one JSON object on stdout with --json. Every engine message also goes to the log.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from typing import Any

import click
from rich.console import Console

from batch.cli.progress import RichProgress, console_for, make_progress
from batch.cli.summary import format_plan, format_run, last_line, plan_json, run_json
from batch.engine.progress import Progress
from batch.pipeline import RecheckReport, RunReport
from batch.planning.flow import PlanResult
from batch.text import visible

log = logging.getLogger("paybatch.engine")
# Messages go to handlers the user asked for (--log-file) and nowhere else: without this,
# logging's last resort would print warnings a second time on stderr.
logging.getLogger("paybatch").addHandler(logging.NullHandler())

# Printed even with --quiet.
ALWAYS_SHOWN = ("SANDBOX", "NEW LEDGER", "warning", "stopping", "interrupted", "wallet")


@dataclass
class Output:
    """Where one command's messages, progress, totals and summary go."""

    json_output: bool = False
    quiet: bool = False
    terminal: bool = field(default_factory=lambda: sys.stdout.isatty())
    progress: Progress = field(init=False)

    def __post_init__(self) -> None:
        self.progress = make_progress(quiet=self.quiet)

    @property
    def rich(self) -> bool:
        """Tables for people: stdout is a terminal and no JSON was asked for."""
        return self.terminal and not self.json_output

    def say(self, message: str) -> None:
        """An engine message: to the log, and to stderr unless --quiet (warnings always)."""
        log.info(message)
        message = visible(message)  # may quote an API answer or a sheet's text
        if self.quiet and not message.startswith(ALWAYS_SHOWN):
            return
        if isinstance(self.progress, RichProgress):
            # Above the live bars, not through them.
            self.progress.bars.console.print(message, markup=False, highlight=False)
        else:
            click.echo(message, err=True)

    def plan(self, plan: PlanResult, *, err: bool = False) -> None:
        """The totals to confirm: a rich table on a terminal, plain text otherwise."""
        log.info("plan: %s", format_plan(plan).replace("\n", " |"))
        if self.rich and not err:
            from batch.cli.render import render_plan

            render_plan(self._stdout(), plan)
        else:
            click.echo(visible(format_plan(plan), keep="\n"), err=err)

    def plan_result(self, plan: PlanResult) -> None:
        """`plan`'s own output."""
        if self.json_output:
            click.echo(json.dumps(plan_json(plan)))
        else:
            self.plan(plan)

    def run_result(self, report: RunReport) -> None:
        """The end-of-run summary, with the report's path."""
        path = str(report.report_path) if report.report_path else None
        log.info("end of run: %s", format_run(report).replace("\n", " |"))
        if path:
            log.info("report: %s", path)
        if self.json_output:
            click.echo(json.dumps(run_result_json(report)))
            if report.interrupted:  # a person pressed Ctrl-C: tell them too
                click.echo(last_line(report), err=True)
        elif self.rich:
            from batch.cli.render import render_run

            render_run(self._stdout(), report, report_path=path)
        else:
            click.echo(visible(format_run(report), keep="\n"))
            if path:
                click.echo(f"  report: {visible(path)}")

    def recheck_result(self, report: RecheckReport) -> None:
        """`reconcile --recheck`'s summary."""
        r = report.recheck
        batch = report.plan.batch
        if self.json_output:
            click.echo(json.dumps({
                "batch": batch.name, "batch_id": batch.id, "sandbox": batch.sandbox,
                "checked": r.checked, "unanswered": r.unanswered, "reversed": r.reversed,
                "possible_double_payments": r.double_payments, "counts": report.plan.counts,
                "report": str(report.report_path) if report.report_path else None,
                "exit_code": r.exit_code,
            }))
            return
        mark = "SANDBOX (no money moved): " if batch.sandbox else ""
        click.echo(
            f"{mark}batch {batch.name!r}: rechecked {r.checked}, reversed {len(r.reversed)}, "
            f"possible double payments {len(r.double_payments)}, unanswered {r.unanswered}"
        )
        if report.report_path:
            click.echo(f"  report: {report.report_path}")

    def _stdout(self) -> Console:
        return console_for(sys.stdout)


def run_result_json(report: RunReport) -> dict[str, Any]:
    """`run --json` / `reconcile --json`: the summary's object plus the report file."""
    out = run_json(report)
    out["report"] = str(report.report_path) if report.report_path else None
    if report.report_error:
        out["report_error"] = report.report_error
    return out
