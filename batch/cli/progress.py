"""Progress on screen: rich bars on a terminal, plain periodic lines otherwise (cron, logs)."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
)
from rich.progress import Progress as RichBars
from rich.text import Text

from batch.engine.progress import (
    BaseProgress,
    Phase,
    Progress,
    describe,
)

log = logging.getLogger("paybatch.progress")

DEFAULT_INTERVAL = 10.0  # seconds between plain progress lines


class PlainProgress(BaseProgress):
    """A plain line at most every `interval` seconds, and a last one at close (cron, --quiet)."""

    def __init__(
        self,
        emit: Callable[[str], None],
        *,
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(clock)
        self.emit = emit
        self.interval = interval
        self.last_emit: float | None = None
        self.pending = False

    def _changed(self) -> None:
        now = self.clock()
        self.pending = True
        if self.last_emit is None or now - self.last_emit >= self.interval:
            self._emit(now)

    def _emit(self, now: float) -> None:
        self.emit(describe(self.tally, rate=self.rate()))
        self.last_emit, self.pending = now, False

    def close(self) -> None:
        if self.pending:
            self._emit(self.clock())


class _RateColumn(ProgressColumn):
    """Rows per second of the tasks that have a rate."""

    def render(self, task: Task) -> Text:
        if not task.fields.get("timed") or task.speed is None:
            return Text("")
        unit = task.fields.get("unit", "rows")
        return Text(f"{task.speed:.1f} {unit}/s", style="progress.data.speed")


class _EtaColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        if not task.fields.get("timed") or task.time_remaining is None:
            return Text("")
        return Text(f"ETA {timedelta(seconds=round(task.time_remaining))}",
                    style="progress.remaining")


class RichProgress(BaseProgress):
    """Live bars on a terminal: planning, or submitted / completed / failed / in flight."""

    def __init__(self, console: Console, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self.bars = RichBars(
            TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
            _RateColumn(), _EtaColumn(), console=console, transient=False,
        )
        self.tasks: dict[str, TaskID] = {}

    def start(self, phase: Phase, total: int, counts: Mapping[str, int] | None = None) -> None:
        for task_id in self.tasks.values():
            self.bars.remove_task(task_id)
        names = ["planning", "fee look-ups"] if phase is Phase.PLAN else [
            "submitted", "completed", "failed", "in flight"
        ]
        timed = {"planning", "completed", "fee look-ups"}
        self.tasks = {
            n: self.bars.add_task(
                n, total=total, timed=n in timed, visible=n != "fee look-ups",
                unit="look-ups" if n == "fee look-ups" else "rows",
            )
            for n in names
        }
        self.bars.start()
        super().start(phase, total, counts)

    def _changed(self) -> None:
        t = self.tally
        values = {
            "planning": t.predicted, "submitted": t.submitted, "completed": t.completed,
            "failed": t.failed, "in flight": t.in_flight, "fee look-ups": t.fee_lookups,
        }
        for name, task_id in self.tasks.items():
            total = t.fee_lookups_expected if name == "fee look-ups" else t.total
            self.bars.update(task_id, completed=values[name], total=max(total, values[name]),
                             visible=name != "fee look-ups" or total > 0)

    def close(self) -> None:
        self.bars.stop()


def console_for(stream: IO[str], env: Mapping[str, str] | None = None) -> Console:
    """A rich console on `stream` that respects NO_COLOR."""
    env = os.environ if env is None else env
    # Off a terminal (pipes, cron mail) lines may be wider than 80: tables stay readable.
    width = None if stream.isatty() else 132
    return Console(file=stream, no_color=bool(env.get("NO_COLOR")), highlight=False, width=width)


def make_progress(
    *,
    quiet: bool = False,
    stream: IO[str] | None = None,
    env: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.monotonic,
    interval: float = DEFAULT_INTERVAL,
) -> Progress:
    """Bars when `stream` and stdout are terminals; else plain lines (to the log only if quiet)."""
    stream = sys.stderr if stream is None else stream
    interactive = stream.isatty() and sys.stdout.isatty()
    if interactive and not quiet:
        return RichProgress(console_for(stream, env), clock=clock)

    def emit(line: str) -> None:
        log.info(line)
        if not quiet:
            print(line, file=stream, flush=True)

    return PlainProgress(emit, interval=interval, clock=clock)
