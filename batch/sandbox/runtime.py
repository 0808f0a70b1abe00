"""One running sandbox's moving parts: store, clock, sleep, live fault switches and counters."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable
from typing import Any

from batch.sandbox.config import Faults, SandboxConfig
from batch.sandbox.store import Store

Clock = Callable[[], float]  # seconds since the epoch
TIMELINE_TENTHS = 36_000  # the arrivals timeline keeps the last hour with requests
Sleep = Callable[[float], Awaitable[None]]


class ManualClock:
    """A clock that only moves when told to: timelines and expiry without real waiting."""

    def __init__(self, start: float = 1_767_600_000.0) -> None:  # 2026-01-05T08:00:00Z
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


class Runtime:
    """Shared by the routes, the fault middleware and the inspection endpoints."""

    def __init__(
        self, config: SandboxConfig, *, clock: Clock = time.time, sleep: Sleep = asyncio.sleep
    ) -> None:
        self.config = config
        self.clock = clock
        self.sleep = sleep
        self.store = Store(config)  # takes up a state file's records, if there is one
        self._start()

    def reset(self) -> None:
        """Back to the starting state: data, balances, faults, counters, randomness."""
        self.store.reset()
        self._start()

    def close(self) -> None:
        """Flush and release the store's state file."""
        self.store.close()

    def _start(self) -> None:
        self.store.faults = self.config.faults.model_copy(deep=True)
        self.rng = random.Random(self.config.seed)
        self.requests: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.injected: Counter[str] = Counter()
        self.recent: deque[float] = deque()  # request times inside the rate-limit window
        # Requests per tenth of a second (sandbox clock), for benchmarks: where a run's
        # time goes (start-up, ramp, tail) shows as gaps in the server's own record.
        self.timeline: Counter[int] = Counter()

    @property
    def faults(self) -> Faults:
        """The fault switches in force."""
        return self.store.faults

    def set_faults(self, changes: dict[str, Any]) -> Faults:
        """Change some switches (validated as a whole; ValidationError leaves them as they were)."""
        self.store.faults = Faults.model_validate({**self.faults.model_dump(), **changes})
        return self.store.faults

    def now(self) -> float:
        """The sandbox's clock reading."""
        return self.clock()

    def count(self, endpoint: str, outcome: str) -> None:
        """Record one answered request (outcome: status code text or 'dropped')."""
        self.requests[endpoint][outcome] += 1

    def arrived(self, now: float) -> None:
        """Count one request in the arrivals timeline."""
        self.timeline[int(now * 10)] += 1
        if len(self.timeline) > TIMELINE_TENTHS:  # a sandbox left running for days
            del self.timeline[next(iter(self.timeline))]

    def over_rate_limit(self, now: float) -> bool:
        """Whether one more request would exceed the limit in a 1-second sliding window."""
        limit = self.faults.rate_limit_rps
        if limit is None:
            return False
        while self.recent and self.recent[0] <= now - 1.0:
            self.recent.popleft()
        if len(self.recent) >= limit:
            return True
        self.recent.append(now)
        return False
