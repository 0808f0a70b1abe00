"""Benchmark: ApiClient's rate ceiling against a server limit of 100 requests/s, in real time.

A fake server (httpx.MockTransport) with 40 ms +- 10 ms latency answers 429 (Retry-After: 1)
to any request that would put more than LIMIT arrivals in a sliding 1 s window (the
strictest rule a server could use), or that finds an empty token bucket (burst LIMIT).
Prints achieved requests/s, efficiency versus the limit, and the share of 429s.

    python tests/perf/bench_client.py [--requests 1000] [--workers 16] [--limit 100]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import deque
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fake_dollr import FakeDollr, credentials  # noqa: E402

from batch import errors  # noqa: E402
from batch.dollr.client import ApiClient  # noqa: E402


class Limited:
    """Wraps the fake API with a latency and a server-side rate limit."""

    def __init__(self, limit: int, rule: str) -> None:
        self.fake = FakeDollr()
        self.limit = limit
        self.rule = rule
        self.arrivals: deque[float] = deque()
        self.tokens = float(limit)
        self.last = time.monotonic()
        self.answered = 0
        self.rejected = 0

    def _admit(self, now: float) -> bool:
        if self.rule == "window":
            while self.arrivals and now - self.arrivals[0] >= 1.0:
                self.arrivals.popleft()
            if len(self.arrivals) >= self.limit:
                return False
            self.arrivals.append(now)
            return True
        self.tokens = min(self.limit, self.tokens + (now - self.last) * self.limit)
        self.last = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    async def handle(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(random.uniform(0.015, 0.025))  # half the latency on the way in
        if not self._admit(time.monotonic()):
            self.rejected += 1
            return httpx.Response(429, headers={"Retry-After": "1"}, json={"detail": "slow down"})
        self.answered += 1
        response = await self.fake.handle(request)
        await asyncio.sleep(random.uniform(0.015, 0.025))
        return response


async def bench(requests: int, workers: int, limit: int, rule: str) -> None:
    server = Limited(limit, rule)
    api = ApiClient(
        "http://127.0.0.1:1",
        credentials(),
        transport=httpx.MockTransport(server.handle),
        rate=float(limit),
    )
    queue = iter(range(requests))
    failures = 0

    async def worker() -> None:
        nonlocal failures
        for _ in queue:
            try:
                await api.payout_status("3b0f6f1e-9a51-4c3e-8a77-2f1d0c6b9e10")
            except errors.ApiError:
                failures += 1

    async with api:
        await api.auth.token()
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(workers)))
        elapsed = time.perf_counter() - start
    sent = server.answered + server.rejected
    rate = server.answered / elapsed
    print(
        f"rule={rule:6s} limit={limit}/s workers={workers} calls={requests} "
        f"http_requests={sent} elapsed={elapsed:.2f}s answered/s={rate:.1f} "
        f"efficiency={rate / limit:.3f} 429s={server.rejected} "
        f"({100 * server.rejected / sent:.2f}%) failed_calls={failures}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--limit", type=int, default=100)
    args = parser.parse_args()
    for rule in ("window", "bucket"):
        asyncio.run(bench(args.requests, args.workers, args.limit, rule))


if __name__ == "__main__":
    main()
