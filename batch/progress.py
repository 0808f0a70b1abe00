"""Progress while planning and paying: rich bars on a terminal, plain periodic lines otherwise.

The engine reports what happens (`advance(Predicted())`, `advance(Moved(old, new))`, or a
fresh `sync(counts)` from the ledger); this module decides how it is shown. The clock is
injected so tests never wait.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import IO, Protocol, Self

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

from batch.engine.states import IN_FLIGHT, RowState

log = logging.getLogger("paybatch.progress")

DEFAULT_INTERVAL = 10.0  # seconds between plain progress lines


class Phase(StrEnum):
    """What is being counted."""

    PLAN = "planning"
    RUN = "paying"


@dataclass(frozen=True)
class Predicted:
    """Planning: `n` more rows have their operator and fee."""

    n: int = 1


@dataclass(frozen=True)
class Moved:
    """Paying: one row went from one state to another."""

    from_state: RowState
    to_state: RowState


Event = Predicted | Moved


@dataclass
class Tally:
    """Live counts of one phase (pure): rows per state, rows sent, rows predicted."""

    phase: Phase = Phase.RUN
    total: int = 0
    states: dict[RowState, int] = field(default_factory=dict)
    predicted: int = 0
    submitted: int = 0  # rows whose execute was sent during this run (first sends)
    resent: int = 0  # the same reference_id sent again (issue 13: counted apart)

    def apply(self, event: Event) -> None:
        """Count one event."""
        if isinstance(event, Predicted):
            self.predicted += event.n
            return
        self.states[event.from_state] = self.states.get(event.from_state, 0) - 1
        self.states[event.to_state] = self.states.get(event.to_state, 0) + 1
        if event.to_state is RowState.SUBMITTING:
            if event.from_state is RowState.UNKNOWN:
                self.resent += 1
            else:
                self.submitted += 1

    def sync(
        self, counts: Mapping[str, int], *, submitted: int | None = None,
        resent: int | None = None,
    ) -> None:
        """Take the ledger's counts as they are now."""
        self.states = {RowState(s): n for s, n in counts.items()}
        if submitted is not None:
            self.submitted = submitted
        if resent is not None:
            self.resent = resent

    def count(self, *states: RowState) -> int:
        """Rows now in any of these states."""
        return sum(self.states.get(s, 0) for s in states)

    @property
    def completed(self) -> int:
        return self.count(RowState.COMPLETED)

    @property
    def failed(self) -> int:
        return self.count(RowState.FAILED)

    @property
    def in_flight(self) -> int:
        return self.count(*IN_FLIGHT)

    @property
    def done(self) -> int:
        """What the rate and ETA follow: predictions when planning, settled rows when paying."""
        return self.predicted if self.phase is Phase.PLAN else self.completed + self.failed


def _eta(remaining: int, rate: float) -> str:
    if rate <= 0:
        return "?"
    return str(timedelta(seconds=round(remaining / rate)))


def describe(tally: Tally, *, rate: float) -> str:
    """One plain progress line."""
    eta = _eta(max(0, tally.total - tally.done), rate)
    if tally.phase is Phase.PLAN:
        return (
            f"planning: {tally.predicted}/{tally.total} rows predicted, "
            f"{rate:.1f} rows/s, ETA {eta}"
        )
    not_sent = tally.count(RowState.NEW, RowState.RECIPIENT_READY, RowState.SESSION_OPEN)
    return (
        f"paying: submitted {tally.submitted}"
        + (f" (+{tally.resent} re-sent)" if tally.resent else "")
        + f", completed {tally.completed}/{tally.total}, "
        f"failed {tally.failed}, in flight {tally.in_flight}, not sent {not_sent}, "
        f"{rate:.1f} rows/s, ETA {eta}"
    )


class Progress(Protocol):
    """What the engine calls; every implementation is also a context manager."""

    def start(self, phase: Phase, total: int, counts: Mapping[str, int] | None = None) -> None: ...
    def advance(self, event: Event) -> None: ...
    def sync(
        self, counts: Mapping[str, int], *, submitted: int | None = None,
        resent: int | None = None,
    ) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...


class _Base:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.tally = Tally()
        self.started = clock()
        self.done_at_start = 0

    def start(self, phase: Phase, total: int, counts: Mapping[str, int] | None = None) -> None:
        self.tally = Tally(phase=phase, total=total)
        if counts is not None:
            self.tally.sync(counts)
        self.started = self.clock()
        self.done_at_start = self.tally.done
        self._changed()

    def advance(self, event: Event) -> None:
        self.tally.apply(event)
        self._changed()

    def sync(
        self, counts: Mapping[str, int], *, submitted: int | None = None,
        resent: int | None = None,
    ) -> None:
        self.tally.sync(counts, submitted=submitted, resent=resent)
        self._changed()

    def rate(self) -> float:
        """Rows per second since `start`."""
        elapsed = self.clock() - self.started
        return (self.tally.done - self.done_at_start) / elapsed if elapsed > 0 else 0.0

    def _changed(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PlainProgress(_Base):
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
        return Text(f"{task.speed:.1f} rows/s", style="progress.data.speed")


class _EtaColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        if not task.fields.get("timed") or task.time_remaining is None:
            return Text("")
        return Text(f"ETA {timedelta(seconds=round(task.time_remaining))}",
                    style="progress.remaining")


class RichProgress(_Base):
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
        names = ["planning"] if phase is Phase.PLAN else [
            "submitted", "completed", "failed", "in flight"
        ]
        timed = {"planning", "completed"}
        self.tasks = {
            n: self.bars.add_task(n, total=total, timed=n in timed) for n in names
        }
        self.bars.start()
        super().start(phase, total, counts)

    def _changed(self) -> None:
        t = self.tally
        values = {
            "planning": t.predicted, "submitted": t.submitted, "completed": t.completed,
            "failed": t.failed, "in flight": t.in_flight,
        }
        for name, task_id in self.tasks.items():
            self.bars.update(task_id, completed=values[name], total=max(t.total, values[name]))

    def close(self) -> None:
        self.bars.stop()


class NullProgress(_Base):
    """Shows nothing (--json with --quiet, tests)."""

    def __init__(self) -> None:
        super().__init__(time.monotonic)


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
