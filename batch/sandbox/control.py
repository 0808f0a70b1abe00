"""Inspection and control under `/_sandbox/`: executions, recipients, stats, faults, wallet, reset.

No auth, never faulted, never counted. "Paid exactly once" is judged from `/_sandbox/recipients`
(per phone: executions by status) and `/_sandbox/executions?phone=...&status=COMPLETED`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, ValidationError

from batch.sandbox.routes import Rt
from batch.sandbox.state import FAILED, Execution, iso
from batch.sandbox.store import Rejected

control = APIRouter(prefix="/_sandbox", include_in_schema=False)


class ExecutionRecord(BaseModel):
    """One payout execution as the sandbox saw it (amounts exact, as strings)."""

    reference_id: str
    session_id: int
    payout_account_id: int
    phone: str | None
    amount: Decimal
    currency: str
    fee: Decimal
    status: str
    created_at: str
    wallet_message: str | None
    gateway_message: str | None


def execution_record(e: Execution, now: float) -> ExecutionRecord:
    """The inspection view of an execution at `now`."""
    return ExecutionRecord(
        reference_id=e.reference_id, session_id=e.session_id,
        payout_account_id=e.payout_account_id, phone=e.phone, amount=e.amount,
        currency=e.currency, fee=e.fee, status=e.status(now), created_at=iso(e.created_at),
        wallet_message=e.wallet_message,
        gateway_message=e.gateway_message if e.status(now) == FAILED else None,
    )


@control.get("/health")
async def health(rt: Rt) -> dict[str, Any]:
    """Readiness probe, and which sandbox instance (stable across restarts on a state file)."""
    return {"ok": True, "instance_id": rt.store.instance_id}


@control.get("/executions")
async def executions(
    rt: Rt, phone: str | None = None, status: str | None = None,
    reference_id: str | None = None,
) -> list[ExecutionRecord]:
    """Every payout execution, oldest first, optionally filtered."""
    now = rt.now()
    rt.store.settle(now)
    records = [execution_record(e, now) for e in rt.store.executions.values()]
    return [
        r for r in records
        if (phone is None or r.phone == phone) and (status is None or r.status == status)
        and (reference_id is None or r.reference_id == reference_id)
    ]


@control.get("/recipients")
async def recipients(rt: Rt) -> dict[str, dict[str, int]]:
    """Per recipient phone: how many executions are in each status."""
    now = rt.now()
    by_phone: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for e in rt.store.executions.values():
        by_phone[e.phone or ""][e.status(now)] += 1
    return {phone: dict(counts) for phone, counts in by_phone.items()}


@control.get("/stats")
async def stats(rt: Rt) -> dict[str, Any]:
    """Requests per endpoint and outcome, faults injected per kind, executions, balances."""
    now = rt.now()
    rt.store.settle(now)
    faults: Counter[str] = Counter(rt.injected)
    statuses: Counter[str] = Counter()
    for e in rt.store.executions.values():
        statuses[e.status(now)] += 1
        if e.wallet_message:
            faults["insufficient_funds"] += 1
        elif e.outcome == FAILED:
            faults["payout_failure"] += 1
    return {
        "requests": {name: dict(c) for name, c in rt.requests.items()},
        "requests_total": sum(sum(c.values()) for c in rt.requests.values()),
        "faults": dict(faults),
        "executions": dict(statuses),
        "balances": {k: str(v) for k, v in rt.store.balances.items()},
        # tenth of a second since the epoch -> requests that arrived (after the latency)
        "timeline": {str(k): n for k, n in sorted(rt.timeline.items())},
    }


@control.get("/faults")
async def get_faults(rt: Rt) -> dict[str, Any]:
    """The fault switches in force."""
    return rt.faults.model_dump()


@control.post("/faults")
async def set_faults(
    changes: Annotated[dict[str, Any], Body()], rt: Rt
) -> dict[str, Any]:
    """Change some switches; the others keep their values."""
    try:
        return rt.set_faults(changes).model_dump()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise Rejected(["body", *first["loc"]], first["msg"], first["type"]) from exc


@control.get("/wallet")
async def wallet(rt: Rt) -> dict[str, str]:
    """Merchant wallet balances, exact."""
    rt.store.settle(rt.now())
    return {k: str(v) for k, v in rt.store.balances.items()}


@control.post("/wallet")
async def set_wallet(
    balances: Annotated[dict[str, Decimal], Body()], rt: Rt
) -> dict[str, str]:
    """Set some currencies' balances."""
    return {k: str(v) for k, v in rt.store.set_balances(balances).items()}


@control.post("/reset")
async def reset(rt: Rt) -> dict[str, bool]:
    """Forget all data and counters; balances and faults back to the starting config."""
    rt.reset()
    return {"ok": True}
