"""How many requests per second the sandbox serves on the payout path. Prints the figures.

    python tests/perf/bench_sandbox.py [--payouts 600] [--concurrency 8] [--mode both] [--state]

Each payout is 5 requests: create a session, execute it, poll its status 3 times.
Two load generators, each against the sandbox in its own process (`python -m batch sandbox`)
and embedded in a thread of this process (as the test suite runs it); `--state` keeps the
sandbox's records in a SQLite file (as `paybatch run` without --base-url does):
  h11    keep-alive connections driven with h11 directly: light, so it measures the server;
  httpx  one httpx.AsyncClient per worker: what paybatch's real client can get through.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import h11
import httpx

from batch.sandbox import SandboxConfig, running_sandbox

PASSCODE = {"token": {"code": "0000", "phone": "231770000000"},
            "device": {"name": "bench", "type": "SERVER", "platform": "PYTHON",
                       "user_agent": "bench/1", "client_ip": "127.0.0.1"}}
Call = Callable[[str, str, Any], Awaitable[tuple[int, Any]]]


class H11Connection:
    """One keep-alive HTTP/1.1 connection, spoken with h11 over asyncio streams."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port, self.token = host, port, token

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.conn = h11.Connection(h11.CLIENT)

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else b""
        headers = [("host", self.host), ("authorization", f"Bearer {self.token}"),
                   ("content-type", "application/json"), ("content-length", str(len(data)))]
        out = self.conn.send(h11.Request(method=method, target=path, headers=headers))
        out += self.conn.send(h11.Data(data=data)) + self.conn.send(h11.EndOfMessage())
        self.writer.write(out)
        status, chunks = 0, []
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(await self.reader.read(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                self.conn.start_next_cycle()
                return status, json.loads(b"".join(chunks))

    def close(self) -> None:
        self.writer.close()


async def _setup(base_url: str) -> tuple[str, int]:
    async with httpx.AsyncClient(base_url=base_url) as http:
        token = (await http.post("/v1/jwt/client/obtain/token", json={
            "client_id": "sandbox", "client_secret": "sandbox-secret"})).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        party = (await http.post("/v1/parties/create",
                                 json={"fullname": "Bench", "phone": "231770000001"})).json()
        account = (await http.post(
            "/v1/payment-accounts/create", params={"operation_type": "PAYOUT"},
            json={"account_name": "b", "provider": "PAWAPAY", "method": "ORANGE_MONEY_LBR",
                  "party_id": party["id"], "insensitive_account_number": "231770000001"})).json()
    return token, int(account["id"])


async def _payouts(call: Call, account_id: int, todo: list[int]) -> int:
    count = 0
    while todo:
        todo.pop()
        _, session = await call("POST", "/v1/sessions/payout", {
            "payout_account_id": account_id, "amount": 1.5, "currency": "USD"})
        ref = str(uuid.uuid4())
        status, _ = await call("POST", "/v1/executions/payout", {
            "session_id": str(session["id"]), "payout_account_id": str(account_id),
            "reference_id": ref, "passcode": PASSCODE})
        assert status == 200
        for _ in range(3):
            status, _ = await call("GET", f"/v1/status/payout/{ref}", None)
            assert status == 200
        count += 5
    return count


async def _run(base_url: str, generator: str, payouts: int, concurrency: int) -> float:
    token, account_id = await _setup(base_url)
    todo = list(range(payouts))
    calls: list[Call] = []
    closers: list[Callable[[], Any]] = []
    for _ in range(concurrency):
        if generator == "h11":
            parts = urlsplit(base_url)
            conn = H11Connection(parts.hostname or "", parts.port or 80, token)
            await conn.open()
            calls.append(conn.call)
            closers.append(conn.close)
        else:
            client = httpx.AsyncClient(base_url=base_url,
                                       headers={"Authorization": f"Bearer {token}"})

            async def call(method: str, path: str, body: Any, c: Any = client) -> tuple[int, Any]:
                response = await c.request(method, path, json=body)
                return response.status_code, response.json()

            calls.append(call)
            closers.append(client.aclose)
    started = time.perf_counter()
    counts = await asyncio.gather(*(_payouts(c, account_id, todo) for c in calls))
    elapsed = time.perf_counter() - started
    for close in closers:
        result = close()
        if asyncio.iscoroutine(result):
            await result
    return sum(counts) / elapsed


@contextmanager
def _process_sandbox(state: str | None) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "batch", "sandbox", "--port", str(port)]
    command += ["--state", state] if state else []
    with subprocess.Popen(command, stdout=subprocess.DEVNULL) as proc:
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    httpx.get(f"{base}/_sandbox/health")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            yield base
        finally:
            proc.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--payouts", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--mode", choices=["embedded", "process", "both"], default="both")
    parser.add_argument("--state", action="store_true", help="state in a SQLite file")
    args = parser.parse_args()
    modes = ["process", "embedded"] if args.mode == "both" else [args.mode]
    kept = "state file" if args.state else "in memory"
    for mode in modes:
        for generator in ("h11", "httpx"):
            with tempfile.TemporaryDirectory() as folder:
                state = f"{folder}/sandbox.db" if args.state else None
                if mode == "embedded":
                    config = SandboxConfig(state_path=state)
                    with running_sandbox(config) as sb:
                        rps = asyncio.run(
                            _run(sb.base_url, generator, args.payouts, args.concurrency))
                else:
                    with _process_sandbox(state) as base:
                        rps = asyncio.run(_run(base, generator, args.payouts, args.concurrency))
            print(f"sandbox {mode:8} {kept:10} load {generator:5} {args.payouts} payouts x 5 "
                  f"requests, {args.concurrency} connections: {rps:6.0f} req/s")


if __name__ == "__main__":
    main()
