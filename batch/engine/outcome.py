"""The one exit-code rule (DESIGN.md): where a batch's rows stand -> the code cron sees;
and a run's result, which carries it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from batch.engine.states import IN_FLIGHT, TERMINAL, RowState

EXIT_OK = 0  # every row completed (or: the sheet is valid)
EXIT_INPUT = 1  # bad input or configuration, nothing sent
EXIT_USAGE = 2  # usage error (click's own)
EXIT_FAILED_ROWS = 3  # finished, some rows FAILED
EXIT_IN_FLIGHT = 4  # rows still in flight or unknown, run again later
EXIT_ABORTED = 5  # confirmation declined, a guard tripped, or stopped before sending
EXIT_LEFT_OUT = 6  # every row sent completed, but rows were SKIPPED or CANCELLED (not paid)

SITUATIONS = {
    EXIT_OK: "every row completed",
    EXIT_FAILED_ROWS: "finished; some rows FAILED",
    EXIT_IN_FLIGHT: "rows still in flight or not yet sent: run again later",
    EXIT_LEFT_OUT: "every row sent completed; some rows were left out (skipped or cancelled)",
}


def batch_exit_code(counts: Mapping[str, int]) -> int:
    """0 every row completed, 3 some FAILED, 4 rows in flight or not yet sent, 6 every row
    settled but some were left out (SKIPPED or CANCELLED)."""
    states = [RowState(s) for s, n in counts.items() if n]
    if any(s in IN_FLIGHT for s in states):
        return EXIT_IN_FLIGHT
    if RowState.FAILED in states or RowState.REVERSED in states:
        # A REVERSED row (paid, then taken back) needs a person, as a FAILED one does.
        return EXIT_FAILED_ROWS
    if any(s not in TERMINAL for s in states):
        return EXIT_IN_FLIGHT  # not sent yet
    if RowState.SKIPPED in states or RowState.CANCELLED in states:
        return EXIT_LEFT_OUT  # those people were not paid (issue 13)
    return EXIT_OK


def run_exit_code(counts: Mapping[str, int], *, refused: bool, accepted: int) -> int:
    """A run's exit code: the batch's, except 1 when the API refused at its gate (bad
    credentials or passcode) and this run moved nothing: a configuration error, nothing sent.
    """
    code = batch_exit_code(counts)
    nothing_moving = not any(RowState(s) in IN_FLIGHT for s, n in counts.items() if n)
    if refused and accepted == 0 and nothing_moving and code != EXIT_OK:
        return EXIT_INPUT
    return code


def situation(exit_code: int) -> str:
    """A batch's situation in words, from its exit code."""
    return SITUATIONS.get(exit_code, f"exit code {exit_code}")


@dataclass(frozen=True)
class RunResult:
    """Where a batch stands after a run."""

    batch_id: int
    counts: dict[str, int]
    stopped: str | None  # why new payouts were stopped, if they were
    requests: int | None = None
    # Set when the API refused at its gate (401/403, REFERENCE §4.2): what to fix.
    refused: str | None = None
    accepted: int = 0  # execute requests of this run the API answered (any status)
    # Currencies whose wallet was short (issue 13): currency -> the API's wallet message;
    # their rows not sent yet stay as they are, other currencies went on.
    paused: dict[str, str] = field(default_factory=dict)
    # Set when the kind judges its batch by more than row states (a collection's FAILED
    # rows may still be due for a new request: 4, not 3).
    standing_exit_code: int | None = None

    @property
    def in_flight(self) -> int:
        """Rows sent but not settled."""
        return sum(n for s, n in self.counts.items() if RowState(s) in IN_FLIGHT)

    @property
    def failed(self) -> int:
        return self.counts.get(RowState.FAILED.value, 0)

    @property
    def pending(self) -> int:
        """Rows not sent yet."""
        return sum(
            n
            for s, n in self.counts.items()
            if RowState(s) not in TERMINAL and RowState(s) not in IN_FLIGHT
        )

    @property
    def exit_code(self) -> int:
        """DESIGN.md: 0 all completed, 3 some FAILED, 4 in flight or not yet sent; 1 when
        the API refused at its gate before this run moved anything."""
        if self.standing_exit_code is not None:
            return self.standing_exit_code
        return run_exit_code(self.counts, refused=self.refused is not None, accepted=self.accepted)
