"""Progress while planning and paying, as events and counts: what the engine reports.

The engine reports what happens (`advance(Predicted())`, `advance(Moved(old, new))`, or a
fresh `sync(counts)` from the ledger) to a `Progress`; how it is shown (rich bars, plain
lines) is the CLI's (`batch.cli.progress`). The clock is injected so tests never wait.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Protocol, Self

from batch.engine.states import IN_FLIGHT, RowState

log = logging.getLogger("paybatch.progress")



class Phase(StrEnum):
    """What is being counted."""

    PLAN = "planning"
    RUN = "paying"


@dataclass(frozen=True)
class Predicted:
    """Planning: `n` more rows have their operator and fee."""

    n: int = 1


@dataclass(frozen=True)
class FeeLookups:
    """Planning: `expected` more fee look-ups are to be made, `answered` more were made.

    Fee calls (schedule, samples, per-amount quotes) come after a chunk's operators are
    known; counting them keeps the bar and the ETA moving while they are asked for.
    """

    expected: int = 0
    answered: int = 0


@dataclass(frozen=True)
class Moved:
    """Paying: one row went from one state to another."""

    from_state: RowState
    to_state: RowState


Event = Predicted | FeeLookups | Moved


@dataclass
class Tally:
    """Live counts of one phase (pure): rows per state, rows sent, rows predicted."""

    phase: Phase = Phase.RUN
    total: int = 0
    states: dict[RowState, int] = field(default_factory=dict)
    predicted: int = 0
    fee_lookups_expected: int = 0
    fee_lookups: int = 0
    submitted: int = 0  # rows whose execute was sent during this run (first sends)
    resent: int = 0  # the same reference_id sent again (issue 13: counted apart)

    def apply(self, event: Event) -> None:
        """Count one event."""
        if isinstance(event, Predicted):
            self.predicted += event.n
            return
        if isinstance(event, FeeLookups):
            self.fee_lookups_expected += event.expected
            self.fee_lookups += event.answered
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
        """What the rate and ETA follow: predictions and fee look-ups when planning, rows
        sent or settled when paying (a sent row's poll gives way to rows still to send, up
        to the runner's POLL_GIVE_WAY: counting settled rows only, the ETA stayed unknown
        for the first 20 s of a run)."""
        if self.phase is Phase.PLAN:
            return self.predicted + self.fee_lookups
        return self.completed + self.failed + self.in_flight

    @property
    def expected(self) -> int:
        """What `done` goes up to."""
        if self.phase is Phase.PLAN:
            return self.total + max(self.fee_lookups_expected, self.fee_lookups)
        return self.total


def _eta(remaining: int, rate: float) -> str:
    if rate <= 0:
        return "?"
    return str(timedelta(seconds=round(remaining / rate)))


def describe(tally: Tally, *, rate: float) -> str:
    """One plain progress line."""
    eta = _eta(max(0, tally.expected - tally.done), rate)
    if tally.phase is Phase.PLAN:
        if not tally.fee_lookups_expected:
            return (
                f"planning: {tally.predicted}/{tally.total} rows predicted, "
                f"{rate:.1f} rows/s, ETA {eta}"
            )
        return (
            f"planning: {tally.predicted}/{tally.total} rows predicted, "
            f"{tally.fee_lookups}/{tally.fee_lookups_expected} fee look-ups, "
            f"{rate:.1f} look-ups/s, ETA {eta}"
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


class BaseProgress:
    """What every display shares: the tally, the phase's start, the rate."""

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


class NullProgress(BaseProgress):
    """Shows nothing (--json with --quiet, tests)."""

    def __init__(self) -> None:
        super().__init__(time.monotonic)
