"""The shared rate ceiling and the global 429 pause, in virtual time."""

from __future__ import annotations

import asyncio

import pytest
from fake_dollr import VirtualClock

from batch.dollr.throttle import BURST, CEILING_MARGIN, MIN_FACTOR, SAFETY, SLOWDOWN, Throttle


async def _starts(throttle: Throttle, clock: VirtualClock, workers: int, each: int) -> list[float]:
    starts: list[float] = []

    async def worker() -> None:
        for _ in range(each):
            await throttle.acquire()
            starts.append(clock())

    await asyncio.gather(*(worker() for _ in range(workers)))
    return sorted(starts)


def test_requests_are_evenly_spaced_across_workers() -> None:
    clock = VirtualClock()
    throttle = Throttle(10, clock=clock, sleep=clock.sleep, safety=1.0)
    t0 = clock()
    starts = asyncio.run(_starts(throttle, clock, workers=8, each=5))
    assert len(starts) == 40
    assert starts == pytest.approx([t0 + i * 0.1 for i in range(40)])
    for i in range(len(starts) - 10):  # never more than `rate` starts in any 1 s window
        assert starts[i + 10] - starts[i] >= 1.0 - 1e-9


@pytest.mark.parametrize("rate", [20.0, 100.0, 250.0])
def test_rate_is_just_under_the_ceiling(rate: float) -> None:
    clock = VirtualClock()
    throttle = Throttle(rate, clock=clock, sleep=clock.sleep)
    starts = asyncio.run(_starts(throttle, clock, workers=16, each=50))
    achieved = (len(starts) - 1) / (starts[-1] - starts[0])
    assert achieved == pytest.approx(rate * SAFETY, rel=1e-6)
    assert 0.95 * rate < achieved < rate


def test_idle_time_does_not_allow_a_burst() -> None:
    clock = VirtualClock()
    throttle = Throttle(10, clock=clock, sleep=clock.sleep, safety=1.0)

    async def go() -> list[float]:
        await throttle.acquire()
        clock.advance(60)  # a long quiet spell
        return await _starts(throttle, clock, workers=5, each=1)

    starts = asyncio.run(go())
    assert starts == pytest.approx([starts[0] + i * 0.1 for i in range(5)])


def test_a_429_pauses_every_worker_then_slows_down() -> None:
    clock = VirtualClock()
    throttle = Throttle(10, clock=clock, sleep=clock.sleep, safety=1.0)

    async def go() -> list[float]:
        await throttle.acquire()
        throttle.pause(5.0)
        t_pause = clock()
        starts = await _starts(throttle, clock, workers=4, each=2)
        assert min(starts) >= t_pause + 5.0
        return starts

    starts = asyncio.run(go())
    assert throttle.rate_limited == 1
    assert throttle.effective_rate == pytest.approx(10 * SLOWDOWN)
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert min(gaps) >= 1 / (10 * SLOWDOWN) - 1e-9


def _starts_around_a_stall(throttle: Throttle, clock: VirtualClock) -> list[float]:
    """5 workers × 6 requests; after the first 5 the loop is stuck for 0.5 s."""
    starts: list[float] = []

    async def worker() -> None:
        for _ in range(6):
            await throttle.acquire()
            starts.append(clock())

    async def go() -> None:
        tasks = [asyncio.create_task(worker()) for _ in range(5)]
        await asyncio.sleep(0)
        while len(starts) < 5:
            await asyncio.sleep(0)
        clock.advance(0.5)  # the loop was stuck: five slots came and went meanwhile
        await asyncio.gather(*tasks)

    asyncio.run(go())
    assert len(starts) == 30
    return starts


def test_workers_held_up_together_do_not_leave_together_past_the_rate() -> None:
    """A blocked event loop wakes every overdue worker at once: the window holds the excess."""
    clock = VirtualClock()
    starts = _starts_around_a_stall(Throttle(10, clock=clock, sleep=clock.sleep, safety=1.0), clock)
    # Without the window a stall would let 5 overdue requests out at once on top of the
    # previous second's: more than 10 in one second, the server's limit.
    for i in range(len(starts) - 10):
        assert starts[i + 10] - starts[i] >= 1.0 - 1e-9, starts


def test_workers_a_stall_wakes_together_leave_spaced_again() -> None:
    """A bunch sent at once arrives bunched: the overdue leave 1/rate apart (BURST early)."""
    clock = VirtualClock()
    starts = _starts_around_a_stall(Throttle(10, clock=clock, sleep=clock.sleep, safety=1.0), clock)
    for i in range(len(starts) - BURST - 1):
        assert starts[i + BURST + 1] - starts[i] >= 0.1 - 1e-9, starts


def test_a_429_arriving_while_a_worker_waits_holds_it_back() -> None:
    clock = VirtualClock()
    throttle = Throttle(10, clock=clock, sleep=clock.sleep, safety=1.0)
    started: list[float] = []

    async def waiter() -> None:
        await throttle.acquire()  # gets a slot 0.1 s ahead and sleeps for it
        started.append(clock())

    async def go() -> float:
        await throttle.acquire()  # takes the current slot
        task = asyncio.create_task(waiter())
        await asyncio.sleep(0)  # the waiter reserves and starts sleeping
        throttle.pause(3.0)  # a 429 comes back meanwhile
        paused_until = throttle.paused_until
        await task
        return paused_until

    paused_until = asyncio.run(go())
    assert started[0] >= paused_until


def test_a_cancelled_request_does_not_hold_up_the_queue() -> None:
    """Requests wait their turn in line: one cancelled while waiting, while reserving its
    slot, or just as its turn came must leave the line moving (a stuck turn would freeze
    every worker)."""
    clock = VirtualClock()
    throttle = Throttle(10, clock=clock, sleep=clock.sleep, safety=1.0)
    started: list[int] = []
    tasks: list[asyncio.Task[None]] = []

    async def request(n: int) -> None:
        await throttle.acquire()
        started.append(n)
        if n == 1:
            tasks[2].cancel()  # 2 was just handed its turn and has not run yet

    async def go() -> None:
        await throttle.acquire()
        tasks.extend(asyncio.create_task(request(n)) for n in range(6))
        await asyncio.sleep(0)  # 0 reserves its slot and sleeps; 1-5 wait in line
        tasks[0].cancel()  # the one whose turn it is
        tasks[3].cancel()  # one still in line
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=10)

    asyncio.run(go())
    assert started == [1, 4, 5]


def test_a_rate_raised_while_requests_wait_applies_to_them() -> None:
    """Slow start doubles the rate while 48 workers wait: the limit (100/s) is found within
    about a second of the first request, not after the waiting requests' old spacing (2 s
    when each reserved its slot as it queued)."""
    clock = VirtualClock(settle=5)
    throttle = Throttle(None, clock=clock, sleep=clock.sleep)
    first_429: list[float] = []
    pause = throttle.pause

    def noting_pause(seconds: float | None) -> None:
        first_429.append(clock())
        pause(seconds)

    throttle.pause = noting_pause  # type: ignore[method-assign]
    t0 = clock()
    answered, limited = asyncio.run(_against_a_limited_server(throttle, clock, 100.0, 3.0))
    assert first_429 and first_429[0] - t0 <= 1.1
    assert answered >= 230  # 207 before: the ramp, a Retry-After pause, then ~98/s
    assert limited <= 10


def test_the_429s_of_one_burst_slow_the_rate_once() -> None:
    clock = VirtualClock()
    throttle = Throttle(100, clock=clock, sleep=clock.sleep, safety=1.0)
    for _ in range(6):  # six requests sent together, all answered 429 within the pause
        throttle.pause(1.0)
        clock.now += 0.01
    assert throttle.rate_limited == 6
    assert throttle.effective_rate == pytest.approx(100 * SLOWDOWN)
    clock.now = throttle.paused_until + 0.5
    throttle.pause(1.0)  # a later episode slows it again
    assert throttle.effective_rate == pytest.approx(100 * SLOWDOWN**2)


def test_rate_recovers_with_answers_and_never_drops_below_half() -> None:
    clock = VirtualClock()
    throttle = Throttle(100, clock=clock, sleep=clock.sleep, safety=1.0)
    for _ in range(50):
        throttle.pause(0)
    assert throttle.effective_rate == pytest.approx(100 * MIN_FACTOR)
    for _ in range(200):
        throttle.answered()
    # Quickly back to just under the rate that drew the last 429, then slowly beyond.
    assert 100 * MIN_FACTOR < throttle.effective_rate < 100 * MIN_FACTOR * 1.05
    for _ in range(100_000):
        throttle.answered()
    assert throttle.effective_rate == pytest.approx(100)


def test_after_a_429_recovery_stops_just_under_the_rate_that_drew_it() -> None:
    clock = VirtualClock()
    throttle = Throttle(100, clock=clock, sleep=clock.sleep, safety=1.0)
    throttle.pause(0)
    for _ in range(300):  # enough to regain the whole slowdown, were there no ceiling
        throttle.answered()
    assert throttle.effective_rate == pytest.approx(100 * CEILING_MARGIN, rel=0.01)
    assert throttle.effective_rate < 100 * CEILING_MARGIN * 1.01


def test_no_retry_after_means_a_default_pause() -> None:
    clock = VirtualClock()
    throttle = Throttle(10, clock=clock, sleep=clock.sleep)
    throttle.pause(None)
    assert throttle.paused_until == pytest.approx(clock() + 1.0)


@pytest.mark.parametrize(("rate", "safety"), [(0, 1.0), (-5, 1.0), (10, 0.0), (10, 1.5)])
def test_invalid_settings(rate: float, safety: float) -> None:
    with pytest.raises(ValueError):
        Throttle(rate, safety=safety)


def test_works_with_the_real_clock_and_sleep() -> None:
    throttle = Throttle(2000)

    async def go() -> None:
        await asyncio.gather(*(throttle.acquire() for _ in range(20)))

    asyncio.run(go())  # 20 slots at 2000/s: about 10 ms of real time


async def _against_a_limited_server(
    throttle: Throttle, clock: VirtualClock, limit: float, seconds: float, workers: int = 48
) -> tuple[int, int]:
    """Workers send through the throttle to a server allowing `limit` requests in any 1 s
    (as the sandbox counts), answering after 40 ms; a 429 carries Retry-After: 1."""
    arrivals: list[float] = []
    answered = limited = 0
    end = clock() + seconds

    async def worker() -> None:
        nonlocal answered, limited
        while clock() < end:
            await throttle.acquire()
            now = clock()
            while arrivals and arrivals[0] <= now - 1.0:
                arrivals.pop(0)
            over = len(arrivals) >= limit
            arrivals.append(now)
            await clock.sleep(0.04)
            if over:
                limited += 1
                throttle.pause(1.0)
            else:
                answered += 1
                throttle.answered()

    await asyncio.gather(*(worker() for _ in range(workers)))
    return answered, limited


@pytest.mark.parametrize("limit", [20.0, 100.0])
def test_the_adaptive_ceiling_finds_the_servers_limit(limit: float) -> None:
    """No --rate: ≥ 90 % of an unknown limit, ≤ 1 % of requests answered 429 (issue 15)."""
    clock = VirtualClock(settle=5)
    throttle = Throttle(None, clock=clock, sleep=clock.sleep)
    answered, limited = asyncio.run(_against_a_limited_server(throttle, clock, limit, 120.0))
    assert answered / 120.0 >= 0.95 * limit
    assert limited <= 0.01 * (answered + limited)
    # Learned from what the server let through, not from what was sent while the rate still
    # doubled: the rate aimed at never passes the limit.
    assert throttle.learned is not None and throttle.learned * SAFETY <= limit


def test_after_the_first_429_the_rate_holds_under_the_learned_ceiling() -> None:
    """The first 429 ends slow start just under the limit; probing past it at once drew
    another 429 (a whole Retry-After pause) a few seconds later."""
    clock = VirtualClock(settle=5)
    throttle = Throttle(None, clock=clock, sleep=clock.sleep)
    _, limited = asyncio.run(_against_a_limited_server(throttle, clock, 100.0, 15.0))
    assert throttle.learned is not None and throttle.rate <= throttle.learned
    assert limited <= 10  # the one burst that ended slow start


def test_a_429_after_idle_time_does_not_lower_the_learned_ceiling() -> None:
    """Few requests sent in the last second: a 429 then says nothing about the limit."""
    clock = VirtualClock(settle=5)
    throttle = Throttle(None, clock=clock, sleep=clock.sleep)
    asyncio.run(_against_a_limited_server(throttle, clock, 100.0, 10.0))
    learned = throttle.learned
    clock.advance(5.0)  # nothing sent or answered for a while
    throttle.pause(0.5)
    clock.advance(1.0)
    throttle.pause(0.5)  # soon after: would mean "really lower" had we been sending flat out
    assert throttle.learned == learned


def test_the_adaptive_ceiling_never_passes_its_maximum() -> None:
    clock = VirtualClock(settle=5)
    throttle = Throttle(None, clock=clock, sleep=clock.sleep, max_rate=50.0)
    answered, limited = asyncio.run(_against_a_limited_server(throttle, clock, 1000.0, 30.0))
    assert limited == 0 and throttle.rate == 50.0
    assert answered / 30.0 <= 50.0 * 1.01  # the first second starts with a full window


def test_a_lone_429_from_a_stall_does_not_lower_the_learned_ceiling() -> None:
    """A server stall bunches requests and draws a 429 though the client stayed under the
    limit: the rate dips and comes back; only 429s in quick succession lower the ceiling
    (each lone 429 used to take 8 % off for good: 0.69 of the limit on a busy machine)."""
    clock = VirtualClock(settle=5)
    throttle = Throttle(None, clock=clock, sleep=clock.sleep)

    async def go() -> tuple[float, float]:
        await _against_a_limited_server(throttle, clock, 100.0, 30.0)
        learned = throttle.learned
        assert learned is not None
        for _ in range(6):  # a stall every 20 s
            await _against_a_limited_server(throttle, clock, 100.0, 20.0)
            throttle.pause(1.0)
        answered, _ = await _against_a_limited_server(throttle, clock, 100.0, 20.0)
        return learned, answered / 20.0

    learned, rate = asyncio.run(go())
    assert throttle.learned is not None and throttle.learned >= 0.97 * learned
    assert rate >= 0.9 * 100.0


def test_a_resumed_ceiling_starts_at_the_learned_rate_without_a_429() -> None:
    """The rate an earlier command learned (kept in the ledger) is where the next one starts:
    no slow start from 20/s and no 429 to find the limit again (issue 15, item 4)."""
    clock = VirtualClock(settle=5)
    cold = Throttle(None, clock=clock, sleep=clock.sleep)
    cold_answered, cold_limited = asyncio.run(
        _against_a_limited_server(cold, clock, 100.0, 5.0)
    )
    assert cold.learned is not None and cold_limited > 0
    warm = Throttle(None, clock=clock, sleep=clock.sleep)
    warm.resume(cold.learned)
    clock.advance(2.0)  # the server's window forgets the cold run
    answered, limited = asyncio.run(_against_a_limited_server(warm, clock, 100.0, 5.0))
    assert limited == 0 and answered >= 0.9 * 100.0 * 5.0 > cold_answered


def test_probing_that_finds_the_same_limit_again_probes_less_often() -> None:
    """Each probe past the learned ceiling costs a 429 and a Retry-After pause: a limit that
    stays where it is gets probed at 60, 120, 240 s... intervals, not every 60 s."""
    clock = VirtualClock(settle=5)
    throttle = Throttle(None, clock=clock, sleep=clock.sleep)
    answered, limited = asyncio.run(
        _against_a_limited_server(throttle, clock, 100.0, 600.0, workers=16)
    )
    assert limited <= 30  # every 60 s: 52 over these 10 minutes
    assert answered / 600.0 >= 0.97 * 100.0

