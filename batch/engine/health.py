"""Whether the API is failing too often to go on, and how long a deferred row waits (pure).

A run used to stop after three calls failed (after the client's own retries): safe, but a
flaky API then paid a few rows per run and a cron job took days (issue 12). Now a failing
row is retried later in the same run with backoff, and the run stops starting rows only when
a large share of recent calls failed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

WINDOW = 40  # calls looked at
MIN_CALLS = 10  # no verdict on fewer
MAX_FAILURE_SHARE = 0.6  # stop when this share of the window failed
MAX_ROW_DEFERRALS = 6  # per row and run; then the row waits for the next run
BACKOFF_FIRST = 1.0  # seconds before a deferred row is tried again
BACKOFF_CAP = 30.0


@dataclass
class CallHealth:
    """The outcomes of the last `window` calls before a send (preparation, sessions)."""

    window: int = WINDOW
    min_calls: int = MIN_CALLS
    max_failure_share: float = MAX_FAILURE_SHARE
    recent: deque[bool] = field(default_factory=deque)  # True: the call succeeded
    last_error: str | None = None

    def record(self, ok: bool, error: str | None = None) -> None:
        """Count one call's outcome (after the client's own retries)."""
        self.recent.append(ok)
        if len(self.recent) > self.window:
            self.recent.popleft()
        if not ok:
            self.last_error = error

    @property
    def failures(self) -> int:
        return sum(1 for ok in self.recent if not ok)

    def failing(self) -> bool:
        """Too many recent calls failed to keep starting rows."""
        n = len(self.recent)
        return n >= self.min_calls and self.failures >= self.max_failure_share * n

    def describe(self) -> str:
        """Why the run stopped, in words."""
        return (
            f"the API failed {self.failures} of the last {len(self.recent)} calls "
            f"(last: {self.last_error})"
        )


def deferral_delay(deferrals: int) -> float:
    """Seconds before a row deferred `deferrals` times (1, 2, ...) is tried again."""
    return float(min(BACKOFF_CAP, BACKOFF_FIRST * 2.0 ** max(0, deferrals - 1)))
