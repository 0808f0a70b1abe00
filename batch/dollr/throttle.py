"""A client-side request-rate ceiling shared by every worker, and a global pause after a 429.

Requests are spaced evenly (1/rate apart, on a schedule that does not drift with sleep
overshoot), and never more than the rate leave in any one second. Workers held up together (a
blocked event loop, an fsync) must not leave together: a bunch reaches the server bunched, and
with its own stalls a server counting per second then sees more than the rate. So the spacing
is checked again when a request really leaves.
After a 429 every worker waits out Retry-After, and the rate steps down a little, creeping back
up with each answered request, so a server limit is approached, not hammered.

Dollr publishes no rate limit, so by default the ceiling itself adapts (issue 15): it starts
moderate and doubles every few round trips until the first 429, like TCP's slow start. That
429 sets the learned ceiling just under what the server let through (answered without a 429)
in the last second, which is its limit as it counts it, not what was sent (that overshot
while the rate still doubled). The rate holds there a while (PROBE_HOLD), then rises slowly
past it (probing), never above the maximum; a 429 while probing sets the ceiling anew and
holds again. A later lone 429 only cuts the rate, which climbs back at ADDITIVE requests/s a
second; only 429s in quick succession lower the ceiling itself, and only if we were sending
flat out (after idle time a 429 says nothing about the limit).
A fixed `rate` (`--rate R`) keeps the old behaviour.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

log = logging.getLogger("paybatch.throttle")

SAFETY = 0.97  # aim just under the ceiling: arrival jitter must not burst past a server limit
SLOWDOWN = 0.9  # rate factor applied on each 429 ...
MIN_FACTOR = 0.5  # ... down to at most half the ceiling
RECOVERY = 0.0005  # factor regained per answered request (about 200 answers per 10 %)
# A 429 also marks a ceiling just under the rate that drew it: recovery stops there, and the
# ceiling itself rises more slowly (1 % per 500 answers, ~15 s back to the full rate at 100
# req/s), so the limit is approached rather than hit again every few seconds (each hit costs
# a whole Retry-After pause) — yet one 429 from a passing stall does not slow the whole run.
CEILING_MARGIN = 0.97
CEILING_RECOVERY = 0.00002
DEFAULT_PAUSE = 1.0  # seconds to pause after a 429 without Retry-After
MAX_PAUSE = 60.0  # a huge Retry-After (or a far HTTP-date) must not freeze the run
WINDOW = 1.0  # seconds: how servers count a requests-per-second limit
BURST = 1  # requests that may leave early, beyond the even spacing, after a stall
# The adaptive ceiling (no --rate): requests/s.
# 50, not 20: slow start from 20 cost a 300-row batch ~2 s to reach a 100 req/s limit; a
# server limited lower answers the first second's overshoot with one 429 episode.
ADAPTIVE_START = 50.0
DEFAULT_MAX_RATE = 200.0
# Slow start: the rate grows by this share of itself per second of answers (2: doubling
# about every 0.35 s, a few round trips). Each 429 that ends it costs one Retry-After pause
# whatever the growth; slower growth only spent longer under the limit (~0.2 s a run).
SLOW_START_GROWTH = 2.0
ADDITIVE = 10.0  # req/s gained per second of clean answers, below the learned limit
# Past it, the rate gains this share of itself per second (1 req/s a second at 100 req/s): a
# ceiling learned low (a first 429 in slow start measures fewer sends than the limit) is
# corrected in seconds, not minutes.
PROBE = 0.01
# Aim this far under what the server let through in the second before a 429 (0.92 of what
# was sent left 8 % of the limit unused; answers never exceed the limit, sends may).
LEARNED_MARGIN = 0.98
FLAT_OUT = 0.8  # share of the rate sent in the last second: "sending flat out"
# A 429 this soon after the previous one means the limit really is lower: the learned ceiling
# comes down. A lone 429 (a stall on either side bunched requests) only cuts the rate, which
# climbs back to the learned ceiling at ADDITIVE: lowering the ceiling for every lone 429
# ratcheted a 5,000-row run on a busy machine down to 0.69 of the limit.
REPEAT_EPISODE = 10.0
# After a 429 the rate stays at the learned ceiling this long before probing past it again:
# a 429 while probing says the limit is just above; probing on at once drew one every ~10 s
# (a whole Retry-After pause each) against a server limited at 20 req/s.
PROBE_HOLD = 60.0
MAX_PROBE_HOLD = 480.0  # ... doubled each time a probe finds the same limit, up to this


class Throttle:
    """Evenly spaced request slots at `rate` per second, with a global pause.

    Single event loop, no lock needed: a slot is reserved without awaiting in between.
    """

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        safety: float = SAFETY,
        max_rate: float = DEFAULT_MAX_RATE,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be positive, not {rate}")
        if not 0 < safety <= 1:
            raise ValueError(f"safety must be in (0, 1], not {safety}")
        if max_rate <= 0:
            raise ValueError(f"max_rate must be positive, not {max_rate}")
        self.adaptive = rate is None  # None: find the server's limit (see the module's doc)
        self.max_rate = max_rate
        self.rate = min(ADAPTIVE_START, max_rate) if rate is None else rate
        self.learned: float | None = None  # adaptive: just under the rate that drew a 429
        self._clock = clock
        self._sleep = sleep
        self._safety = safety
        self._factor = 1.0
        self._ceiling = 1.0  # highest factor recovery may reach
        self._next_slot = float("-inf")  # the next slot handed out (reservation)
        self._turn_taken = False  # a request is reserving its slot or leaving
        self._queue: deque[asyncio.Future[None]] = deque()  # requests waiting for their turn
        self._next_release = float("-inf")  # when the next request may really leave
        self._paused_until = float("-inf")
        self._sent: deque[float] = deque()  # when requests really left, over the last WINDOW
        self._accepted: deque[float] = deque()  # adaptive: when answers without a 429 came
        self._last_episode = float("-inf")  # when the last 429 episode began
        self._hold_until = float("-inf")  # no probing past the learned ceiling before this
        self._probe_hold = PROBE_HOLD
        self.rate_limited = 0  # 429s seen

    def resume(self, learned: float) -> None:
        """Adaptive: start at a ceiling an earlier command learned from this API's 429s
        (instead of 20/s doubling up to the limit and a 429: ~2.5 s each command). A 429
        still corrects it within a second."""
        if self.adaptive and learned > 0:
            self.learned = self.rate = min(learned, self.max_rate)
            self._hold_until = self._clock() + PROBE_HOLD  # stay there before probing past

    @property
    def effective_rate(self) -> float:
        """Requests per second currently aimed at."""
        return self.rate * self._safety * self._factor

    @property
    def paused_until(self) -> float:
        """Clock time before which no request may start."""
        return self._paused_until

    async def acquire(self) -> None:
        """Wait for this request's slot (and for any pause), then return.

        Requests queue in turn and only the first in line reserves a slot: a slot reserved
        the moment a request queued kept the spacing of the rate at that time, so with 16
        workers waiting a rate that doubled took 16 old intervals (0.3 s at 50/s) to show.
        """
        if self._turn_taken or self._queue:
            await self._wait_for_turn()
        else:
            self._turn_taken = True
        try:
            await self._slot()
            await self._release()
        finally:
            self._pass_turn()

    async def _wait_for_turn(self) -> None:
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._pass_turn()  # handed the turn as it was cancelled: hand it on
            raise

    def _pass_turn(self) -> None:
        """The next waiting request (skipping cancelled ones) has its turn, or nobody does."""
        while self._queue:
            turn = self._queue.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self._turn_taken = False

    async def _slot(self) -> None:
        while True:
            now = self._clock()
            if self._paused_until > now:
                await self._sleep(self._paused_until - now)
                continue
            slot = max(self._next_slot, now)
            self._next_slot = slot + 1.0 / self.effective_rate
            if slot <= now:
                return
            await self._sleep(slot - now)
            if self._paused_until <= self._clock():
                return
            # A 429 arrived while we waited: queue again behind the pause.

    async def _release(self) -> None:
        """Let a request leave once it is spaced from the last one and the window has room.

        In steady state a slot's owner passes at once; after a stall the overdue owners
        leave 1/rate apart again (BURST early at most) instead of all together.
        """
        while True:
            now = self._clock()
            while self._sent and self._sent[0] <= now - WINDOW:
                self._sent.popleft()
            interval = 1.0 / self.effective_rate
            release = max(self._next_release, now)
            wait = max(
                self._paused_until - now,  # a 429 came back meanwhile
                release - BURST * interval - now,
                self._window_full_for(now),
            )
            if wait <= 0:
                self._next_release = release + interval
                self._sent.append(now)
                return
            await self._sleep(wait)

    def _window_full_for(self, now: float) -> float:
        """Seconds until the last WINDOW's sends (at most the rate) leave room for one more."""
        if len(self._sent) < max(1, math.ceil(self.effective_rate * WINDOW)):
            return 0.0
        return self._sent[0] + WINDOW - now

    def pause(self, seconds: float | None) -> None:
        """A 429 answered: every worker waits `seconds` (default DEFAULT_PAUSE), then slower."""
        self.rate_limited += 1
        now = self._clock()
        # The other 429s of the same burst arrive while its pause holds: slow down once per
        # episode, or one burst of N answers would cut the rate by SLOWDOWN**N.
        same_episode = now < self._paused_until
        wait = DEFAULT_PAUSE if seconds is None else min(MAX_PAUSE, max(0.0, seconds))
        self._paused_until = max(self._paused_until, now + wait)
        self._next_slot = max(self._next_slot, self._paused_until)
        if same_episode:
            return
        if self.adaptive:
            self._learn(now)
        else:
            self._ceiling = max(MIN_FACTOR, self._factor * CEILING_MARGIN)
            self._factor = max(MIN_FACTOR, self._factor * SLOWDOWN)

    def _learn(self, now: float) -> None:
        """Adaptive: what a 429 (the first of its episode) says about the server's limit."""
        for times in (self._sent, self._accepted):
            while times and times[0] <= now - WINDOW:
                times.popleft()
        # The server's count: what it answered without a 429 in the last second never passes
        # its limit (what was sent may have, while the rate still doubled). It tells the
        # limit only if we were sending flat out; after idle time it tells nothing.
        accepted = len(self._accepted)
        flat_out = len(self._sent) >= FLAT_OUT * self.effective_rate
        measured = max(1.0, accepted * LEARNED_MARGIN / self._safety)
        probing = self.learned is not None and self.rate > self.learned
        if self.learned is None:  # slow start's end: the rate doubled past the limit
            self.learned, flat_out = measured, True
        elif not flat_out:
            pass  # a 429 after idle time or a stall: the ceiling stands
        elif now - self._last_episode < REPEAT_EPISODE:  # really lower than learned
            self.learned = min(self.learned, measured)
        elif probing:  # probing found the limit: hold just under it
            # ... never below the ceiling it was probing from (fewer answers: a stall)
            raised = measured > self.learned * (1 + PROBE)
            self.learned = max(self.learned, measured)
            # The same limit again: probe half as often (each probe costs a Retry-After).
            self._probe_hold = PROBE_HOLD if raised else min(
                MAX_PROBE_HOLD, 2 * self._probe_hold)
        # else a lone 429 below the learned ceiling: a stall, the ceiling stands
        if flat_out:  # the limit is about here: hold just under it a while before probing
            self._hold_until = now + self._probe_hold
        self._last_episode = now
        self.rate = min(self.rate, measured) if flat_out else self.rate * SLOWDOWN
        log.info(
            "429: rate now %.1f req/s, learned ceiling %.1f (%d requests answered and %d "
            "sent in the last second)", self.rate, self.learned, accepted, len(self._sent),
        )

    def answered(self) -> None:
        """A request was answered without a 429: regain a little of the rate."""
        if self.adaptive:
            now = self._clock()
            self._accepted.append(now)
            while self._accepted[0] <= now - WINDOW:
                self._accepted.popleft()
            # `rate` answers come back per second at this rate: +step per second. Before any
            # 429 the rate grows by SLOW_START_GROWTH times itself a second (slow start);
            # then additive, then probing.
            if self.learned is None:
                step = max(ADDITIVE, SLOW_START_GROWTH * self.rate)
            elif self.rate < self.learned:
                step = ADDITIVE
            elif self._clock() < self._hold_until:
                return
            else:
                step = PROBE * self.rate
            self.rate = min(self.max_rate, self.rate + step / self.rate)
            return
        self._ceiling = min(1.0, self._ceiling + CEILING_RECOVERY)
        self._factor = min(self._ceiling, self._factor + RECOVERY)
