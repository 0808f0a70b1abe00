"""Engine overhead per row, apart from the HTTP client; and the client's CPU per request.

    python tests/perf/bench_engine_cpu.py [--rows 2000 20000] [--repeat 3] [--requests 2000]
                                          [--profile]

Engine: N rows planned into a real ledger file, then the real `Runner` (monitor, group
commit, recipients, ledger, progress) against an in-process fake of the ApiClient's payout calls that answers after
a random 0-2 ms (no httpx; completions spread out as real answers are, so the runner's loop
wakes about once per call): batch 1 with new recipients (party, counterparty, account,
session, execute, status), batch 2 with the same phones (session, execute, status).
`time.process_time()` of each `Runner.run()` / rows = engine CPU ms per row.
Client: the real `ApiClient` through `httpx.MockTransport` to tests/fake_dollr.py's FakeDollr;
CPU per request of each call the runner makes, the fake server's own CPU taken out; then
the same client over loopback HTTP to a sandbox process (httpcore and sockets included).
The machine is shared: each figure is the min and median of `--repeat` runs, and a fixed
pure-Python loop's CPU is printed first to show how fast the machine was at the time.
`--profile` prints the top cumulative costs of one engine run (cProfile).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fake_dollr import FakeDollr, credentials  # noqa: E402

from batch.cli.progress import PlainProgress  # noqa: E402
from batch.dollr.client import ApiClient  # noqa: E402
from batch.dollr.models import (  # noqa: E402
    Counterparty,
    Execution,
    Party,
    PaymentAccount,
    PayoutSession,
    ProviderInfo,
)
from batch.engine.runner import Runner  # noqa: E402
from batch.ledger import Ledger, NewRow  # noqa: E402
from batch.operations.payout import PayoutOperation  # noqa: E402
from batch.options import (
    MonitorOptions,  # noqa: E402
    RunOptions,  # noqa: E402
)


class InstantApi:
    """The ApiClient's payout calls answered at once, or after a small random delay (`--api-delay-ms`).

    Answers are built once: the engine's cost is measured, not the fake's. Execute says
    PENDING and status says COMPLETED, so every row takes the monitor's path too.
    """

    def __init__(self, delay: float = 0.0) -> None:
        self.calls = 0
        self.delay = delay  # mean seconds an answer takes (uniform 0..2x)
        now = datetime.now(UTC)
        self._info = ProviderInfo.model_construct(
            carrier="MTN", country="LR", currencies=["USD"], payment_method="MTN_MOMO_LBR",
            gateway_provider="PAWAPAY",
        )
        self._party = Party.model_construct(id=314)
        self._counterparty = Counterparty.model_construct(id=77)
        self._account = PaymentAccount.model_construct(id=902)
        self._session = PayoutSession.model_construct(
            id=4411, wallet_id=3, created_at=now, expires_at=now + timedelta(minutes=15)
        )
        self._pending = _execution("PENDING")
        self._completed = _execution("COMPLETED")

    async def _answer(self, answer: Any) -> Any:
        self.calls += 1
        # A real answer arrives on its own: calls finish spread out, not all in one loop turn.
        await asyncio.sleep(random.uniform(0, 2 * self.delay) if self.delay else 0)
        return answer

    async def mmo_provider_info(self, phone: str, operation_type: str = "PAYOUT") -> ProviderInfo:
        return await self._answer(self._info)  # type: ignore[no-any-return]

    async def create_party(self, **_: Any) -> Party:
        return await self._answer(self._party)  # type: ignore[no-any-return]

    async def create_counterparty(self, **_: Any) -> Counterparty:
        return await self._answer(self._counterparty)  # type: ignore[no-any-return]

    async def create_payout_account(self, **_: Any) -> PaymentAccount:
        return await self._answer(self._account)  # type: ignore[no-any-return]

    async def create_payout_session(self, **_: Any) -> PayoutSession:
        return await self._answer(self._session)  # type: ignore[no-any-return]

    async def execute_payout(
        self, *, session_id: int, payout_account_id: int, reference_id: str
    ) -> Execution:
        return await self._answer(self._pending)  # type: ignore[no-any-return]

    async def payout_status(self, reference_id: str) -> Execution:
        return await self._answer(self._completed)  # type: ignore[no-any-return]


def _execution(status: str) -> Execution:
    return Execution.model_construct(
        status=status, reference_id=None, payer_amount=Decimal("10.60"),
        payer_currency="USD", payee_amount=Decimal("10.50"), payee_currency="USD",
        provider_transaction_id="tx-1" if status == "COMPLETED" else None,
        gateway_message=None, wallet_message=None,
    )


def plan(ledger: Ledger, name: str, n: int, offset: int = 0) -> int:
    """A batch of n rows with their operator known (as `plan` leaves them)."""
    return ledger.create_batch(
        name=name, source_file=f"{name}.csv", content_hash=name, payout_set_hash=name,
        rows=(
            NewRow(
                sheet_row=i + 2, name=f"Person {i}", phone=f"23177{offset + i:07d}",
                amount_minor=1050, currency="USD", country="LR", reference_id=str(uuid.uuid4()),
                method="MTN_MOMO_LBR", provider="PAWAPAY",
            )
            for i in range(n)
        ),
    )


async def _instant_sleep(_: float) -> None:
    await asyncio.sleep(0)


def run_engine(
    ledger: Ledger, batch_id: int, concurrency: int, delay: float = 0.0
) -> tuple[float, int, dict[str, int]]:
    """CPU seconds of one Runner.run(), API calls made, and the counts afterwards."""
    api = InstantApi(delay)
    options = RunOptions(
        concurrency=concurrency, wait=60, monitor=MonitorOptions(first_poll=0.0)
    )
    progress = PlainProgress(lambda _: None)
    operation = PayoutOperation(ledger, api)
    runner = Runner(
        ledger, operation, batch_id, options, progress=progress, sleep=_instant_sleep
    )
    started = time.process_time()
    result = asyncio.run(runner.run())
    return time.process_time() - started, api.calls, result.counts


def engine_bench(
    rows: int, concurrency: int, workdir: Path, profile: bool, repeat: int, delay: float
) -> None:
    """Per label, `repeat` fresh batches; min and median CPU (the machine is shared: noisy)."""
    ledger = Ledger(workdir / f"engine-{rows}.db")
    for label in ("new recipients", "repeat recipients"):
        figures: list[float] = []
        for attempt in range(repeat):
            # Fresh phones per new-recipient batch; the repeat batches reuse the first ones.
            offset = attempt * rows if label.startswith("new") else 0
            batch_id = plan(ledger, f"{label.split()[0]}-{rows}-{attempt}", rows, offset)
            profiler = cProfile.Profile() if profile and attempt == 0 else None
            if profiler:
                profiler.enable()
            cpu, calls, counts = run_engine(ledger, batch_id, concurrency, delay)
            if profiler:
                profiler.disable()
                print_profile(profiler, label)
            assert counts == {"COMPLETED": rows}, counts
            figures.append(cpu)
        best, median = min(figures), statistics.median(figures)
        print(
            f"engine rows={rows} {label:17s} calls/row={calls / rows:.2f} runs={repeat} "
            f"cpu_ms_per_row min={1000 * best / rows:.3f} median={1000 * median / rows:.3f}"
        )
    ledger.close()


def print_profile(profiler: cProfile.Profile, label: str) -> None:
    for order, lines in (("cumulative", 35), ("tottime", 25)):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(lines)
        print(f"--- profile, {label}, by {order} ---\n{out.getvalue()}")


def calibration() -> float:
    """CPU seconds of a fixed pure-Python loop: how fast this (shared) machine is right now."""
    started = time.process_time()
    total = 0
    for i in range(3_000_000):
        total += i
    return time.process_time() - started


# -- the client --------------------------------------------------------------------------


class MeteredFake(FakeDollr):
    """FakeDollr that keeps no request copies and counts the CPU its answers take."""

    def __init__(self) -> None:
        super().__init__()
        self.server_cpu = 0.0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        started = time.process_time()
        try:
            return self._answer(request)
        finally:
            self.server_cpu += time.process_time() - started


async def client_bench(requests: int) -> None:
    fake = MeteredFake()
    api = ApiClient(
        "http://127.0.0.1:1", credentials(), transport=httpx.MockTransport(fake.handle),
        rate=1e9,
    )
    ref = "3b0f6f1e-9a51-4c3e-8a77-2f1d0c6b9e10"
    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "mmo_provider_info": lambda: api.mmo_provider_info("231770000001"),
        "create_party": lambda: api.create_party(
            fullname="Person 1", phone="231770000001", country_code="LR"
        ),
        "create_counterparty": lambda: api.create_counterparty(party_id=314),
        "create_payout_account": lambda: api.create_payout_account(
            party_id=314, account_name="Person 1 MTN", provider="PAWAPAY",
            method="MTN_MOMO_LBR", country_code="LR", account_number="231770000001",
        ),
        "create_payout_session": lambda: api.create_payout_session(
            payout_account_id=902, amount=Decimal("10.50"), currency="USD"
        ),
        "execute_payout": lambda: api.execute_payout(
            session_id=4411, payout_account_id=902, reference_id=ref
        ),
        "payout_status": lambda: api.payout_status(ref),
    }
    async with api:
        await api.auth.token()
        total = 0.0
        for name, call in calls.items():
            for _ in range(50):  # warm-up
                await call()
            fake.server_cpu = 0.0
            started = time.process_time()
            for _ in range(requests):
                await call()
            cpu = time.process_time() - started - fake.server_cpu
            total += cpu / requests
            print(
                f"client {name:22s} cpu_ms_per_request={1000 * cpu / requests:.3f} "
                f"(fake server {1000 * fake.server_cpu / requests:.3f} taken out)"
            )
        print(f"client mean over the 7 calls cpu_ms_per_request={1000 * total / len(calls):.3f}")


async def http_bench(rows: int, workers: int) -> None:
    """The real ApiClient over loopback HTTP (httpcore, sockets) to a sandbox process."""
    from bench_engine import CREDENTIALS, sandbox_process

    from batch.config import Credentials

    creds = Credentials(
        client_id=CREDENTIALS["DOLLR_CLIENT_ID"],
        client_secret=CREDENTIALS["DOLLR_CLIENT_SECRET"],
        passcode=CREDENTIALS["DOLLR_PASSCODE"],
        passcode_phone=CREDENTIALS["DOLLR_PASSCODE_PHONE"],
    )
    with sandbox_process("--rate-limit", "100000") as url:
        async with ApiClient(url, creds, rate=1e9) as api:
            await api.auth.token()
            phones = iter(f"23188{i:07d}" for i in range(rows))

            async def worker() -> None:
                for phone in phones:
                    info = await api.mmo_provider_info(phone)
                    party = await api.create_party(
                        fullname=f"P {phone}", phone=phone, country_code="LR"
                    )
                    await api.create_counterparty(party_id=party.id)
                    account = await api.create_payout_account(
                        party_id=party.id, account_name=f"P {phone}",
                        provider=info.gateway_provider, method=info.payment_method,
                        country_code="LR", account_number=phone,
                    )
                    session = await api.create_payout_session(
                        payout_account_id=account.id, amount=Decimal("10.50"), currency="USD"
                    )
                    ref = str(uuid.uuid4())
                    await api.execute_payout(
                        session_id=session.id, payout_account_id=account.id, reference_id=ref
                    )
                    await api.payout_status(ref)

            before, started = api.request_count, time.process_time()
            await asyncio.gather(*(worker() for _ in range(workers)))
            cpu, sent = time.process_time() - started, api.request_count - before
    print(
        f"client over loopback HTTP ({workers} workers, 7 calls/row) requests={sent} "
        f"cpu_ms_per_request={1000 * cpu / sent:.3f} cpu_ms_per_row={1000 * cpu / rows:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[2000, 20000])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--requests", type=int, default=2000, help="per client call; 0: skip")
    parser.add_argument("--http-rows", type=int, default=300, help="loopback client; 0: skip")
    parser.add_argument("--api-delay-ms", type=float, default=1.0,
                        help="mean delay of the fake's answers (0: every call yields once)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per batch kind")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    print(f"calibration: 3M-addition loop cpu={calibration():.3f}s")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            engine_bench(
                rows, args.concurrency, Path(tmp), args.profile, args.repeat,
                args.api_delay_ms / 1000,
            )
    if args.requests:
        asyncio.run(client_bench(args.requests))
    if args.http_rows:
        asyncio.run(http_bench(args.http_rows, args.concurrency))


if __name__ == "__main__":
    main()
