"""Progress: counting is pure; plain periodic lines off a terminal; rich bars on one; NO_COLOR."""

from __future__ import annotations

import io
import logging

import pytest
from rich.console import Console

from batch.cli.progress import PlainProgress, RichProgress, console_for, make_progress
from batch.engine.progress import Moved, Phase, Predicted, Tally, describe
from batch.engine.states import RowState as S


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def pay(progress: PlainProgress | RichProgress, clock: FakeClock, *, ok: bool) -> None:
    """One row's life from NEW to COMPLETED (or FAILED), one second later."""
    for a, b in ((S.NEW, S.RECIPIENT_READY), (S.RECIPIENT_READY, S.SESSION_OPEN),
                 (S.SESSION_OPEN, S.SUBMITTING), (S.SUBMITTING, S.SUBMITTED)):
        progress.advance(Moved(a, b))
    clock.now += 1
    progress.advance(Moved(S.SUBMITTED, S.COMPLETED if ok else S.FAILED))


def test_tally_counts_submitted_completed_failed_in_flight() -> None:
    t = Tally(total=4)
    t.sync({"NEW": 3, "UNKNOWN": 1})  # one row left in flight by an earlier run
    assert t.in_flight == 1
    for a, b in ((S.NEW, S.RECIPIENT_READY), (S.RECIPIENT_READY, S.SESSION_OPEN),
                 (S.SESSION_OPEN, S.SUBMITTING)):
        t.apply(Moved(a, b))
    assert (t.submitted, t.in_flight) == (1, 2)
    t.apply(Moved(S.SUBMITTING, S.COMPLETED))
    t.apply(Moved(S.UNKNOWN, S.FAILED))
    assert (t.completed, t.failed, t.in_flight, t.done) == (1, 1, 0, 2)
    line = describe(t, rate=2.0)
    assert "submitted 1" in line and "completed 1/4" in line and "failed 1" in line
    assert "in flight 0" in line and "not sent 2" in line and "ETA 0:00:01" in line


def test_the_eta_follows_rows_sent_while_their_polls_wait() -> None:
    """Polls give way to rows still to send: rows in flight count toward the ETA."""
    t = Tally(total=4)
    t.sync({"NEW": 4})
    for a, b in ((S.NEW, S.SESSION_OPEN), (S.SESSION_OPEN, S.SUBMITTING),
                 (S.SUBMITTING, S.SUBMITTED)):
        t.apply(Moved(a, b))
    assert (t.completed, t.done) == (0, 1)
    assert "completed 0/4" in describe(t, rate=1.0) and "ETA 0:00:03" in describe(t, rate=1.0)


def test_resends_are_counted_apart_from_rows_submitted() -> None:
    """Issue 13: "submitted 45" for a 40-row batch; a re-send of the same reference_id is
    not another row submitted."""
    t = Tally(total=2)
    t.sync({"SESSION_OPEN": 2})
    t.apply(Moved(S.SESSION_OPEN, S.SUBMITTING))
    t.apply(Moved(S.SUBMITTING, S.UNKNOWN))
    t.apply(Moved(S.UNKNOWN, S.SUBMITTING))  # the same reference_id, sent again
    t.apply(Moved(S.SESSION_OPEN, S.SUBMITTING))
    assert (t.submitted, t.resent) == (2, 1)
    assert "submitted 2 (+1 re-sent)" in describe(t, rate=1.0)
    t.sync({"COMPLETED": 2}, submitted=2, resent=3)
    assert "submitted 2 (+3 re-sent), completed 2/2" in describe(t, rate=1.0)


def test_plain_progress_prints_periodically_not_per_event() -> None:
    clock, lines = FakeClock(), []
    progress = PlainProgress(lines.append, interval=10, clock=clock)
    with progress:
        progress.start(Phase.RUN, total=30, counts={"NEW": 30})
        for i in range(30):
            pay(progress, clock, ok=i % 10 != 0)
    # One line at start, one each 10 simulated seconds, one at close: not one per event.
    assert 3 <= len(lines) <= 5
    assert lines[-1].startswith("paying: submitted 30, completed 27/30, failed 3, in flight 0")
    assert "1.0 rows/s" in lines[-1]


def test_plain_progress_for_planning() -> None:
    clock, lines = FakeClock(), []
    progress = PlainProgress(lines.append, interval=5, clock=clock)
    progress.start(Phase.PLAN, total=10)
    for _ in range(10):
        clock.now += 1
        progress.advance(Predicted())
    progress.close()
    assert lines[-1] == "planning: 10/10 rows predicted, 1.0 rows/s, ETA 0:00:00"


def test_not_a_terminal_gives_plain_lines(caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()  # isatty() is False, like cron or a pipe
    progress = make_progress(stream=stream, clock=FakeClock())
    assert isinstance(progress, PlainProgress)
    with caplog.at_level(logging.INFO, logger="paybatch.progress"), progress:
        progress.start(Phase.PLAN, total=2)
        progress.advance(Predicted(2))
    assert "\x1b[" not in stream.getvalue()
    assert stream.getvalue().splitlines()[-1].startswith("planning: 2/2")
    assert caplog.messages[-1].startswith("planning: 2/2")


def test_quiet_prints_nothing_but_still_logs(caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    progress = make_progress(quiet=True, stream=stream, clock=FakeClock())
    with caplog.at_level(logging.INFO, logger="paybatch.progress"), progress:
        progress.start(Phase.RUN, total=1, counts={"NEW": 1})
    assert stream.getvalue() == "" and caplog.messages


def test_rich_bars_show_each_count_separately() -> None:
    out = io.StringIO()
    clock = FakeClock()
    console = Console(file=out, force_terminal=True, width=120, no_color=True)
    with RichProgress(console, clock=clock) as progress:
        progress.start(Phase.RUN, total=3, counts={"NEW": 3})
        pay(progress, clock, ok=True)
        pay(progress, clock, ok=False)
    text = out.getvalue()
    for label in ("submitted", "completed", "failed", "in flight"):
        assert label in text
    assert "2/3" in text and "1/3" in text


@pytest.mark.parametrize(("env", "no_color"), [({"NO_COLOR": "1"}, True), ({}, False)])
def test_no_color_is_respected(env: dict[str, str], no_color: bool) -> None:
    assert console_for(io.StringIO(), env).no_color is no_color
