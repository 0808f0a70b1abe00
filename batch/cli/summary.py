"""What plan, run and reconcile print: plain text for people, one JSON object for machines.

Kept behind these few functions so a richer renderer can replace them.
"""

from __future__ import annotations

from typing import Any

from batch.engine.states import RowState
from batch.pipeline import RunReport
from batch.planning.flow import PlanResult


def _state_order(counts: dict[str, int]) -> list[tuple[str, int]]:
    order = {s.value: i for i, s in enumerate(RowState)}
    return sorted(counts.items(), key=lambda kv: order.get(kv[0], 99))


def format_plan(plan: PlanResult) -> str:
    """Totals per currency: payouts, fees, total debit, rows per operator."""
    verb = "planned" if plan.created else "already planned"
    lines = [f"batch {plan.batch.name!r} ({verb}, from {plan.batch.source_file})"]
    for cur, t in sorted(plan.totals.items()):
        if t.rows:
            ops = ", ".join(f"{op} {n}" for op, n in sorted(t.operators.items()))
            lines.append(
                f"  {cur}: {t.rows} payout(s) {t.payouts}  fees {t.fees}  "
                f"total debit {t.total_debit}  ({ops})"
            )
        else:
            lines.append(f"  {cur}: fees {t.fees}")
    lines.append("  rows: " + ", ".join(f"{s} {n}" for s, n in _state_order(plan.counts)))
    lines.extend(f"  {line}" for line in fee_source_lines(plan))
    lines.extend(f"  {p}" for p in plan.unroutable)
    return "\n".join(lines)


def fee_source_lines(plan: PlanResult) -> list[str]:
    """Where the predicted fees came from: rows per source, then how this planning decided."""
    if not plan.fee_sources:
        return []
    names = {"schedule": "fee schedule", "prediction": "per-amount predictions"}
    counts = ", ".join(
        f"{names.get(source, source)} {n} row(s)" for source, n in sorted(plan.fee_sources.items())
    )
    return [f"fees from: {counts}", *plan.fee_notes]


def plan_json(plan: PlanResult) -> dict[str, Any]:
    """The `plan --json` object."""
    return {
        "batch": plan.batch.name,
        "batch_id": plan.batch.id,
        "created": plan.created,
        "counts": plan.counts,
        "totals": _totals_json(plan),
        "unroutable": plan.unroutable,
        "fee_sources": plan.fee_sources,
        "fee_notes": plan.fee_notes,
        "exit_code": 0,
    }


def _totals_json(plan: PlanResult) -> dict[str, Any]:
    return {
        cur: {
            "rows": t.rows,
            "payouts": str(t.payouts),
            "fees": str(t.fees),
            "total_debit": str(t.total_debit),
            "operators": dict(t.operators),
        }
        for cur, t in sorted(plan.totals.items())
    }


def format_run(report: RunReport) -> str:
    """The end-of-run summary: where every row stands and what to do next."""
    result = report.result
    lines = [
        f"batch {report.plan.batch.name!r}: "
        + ", ".join(f"{s} {n}" for s, n in _state_order(result.counts))
    ]
    if result.stopped:
        lines.append(f"  stopped starting new payouts: {result.stopped}")
    if result.in_flight:
        lines.append(
            f"  {result.in_flight} row(s) still in flight: run "
            f"`paybatch reconcile {report.plan.batch.name}` later"
        )
    elif result.pending:
        lines.append(f"  {result.pending} row(s) not sent yet: run again to continue")
    if result.failed:
        lines.append(f"  {result.failed} row(s) FAILED: see `paybatch status`; --retry-failed")
    return "\n".join(lines)


def run_json(report: RunReport) -> dict[str, Any]:
    """The `run --json` / `reconcile --json` object."""
    result = report.result
    return {
        "batch": report.plan.batch.name,
        "batch_id": report.plan.batch.id,
        "counts": result.counts,
        "exit_code": result.exit_code,
        "stopped": result.stopped,
        "in_flight": result.in_flight,
        "totals": _totals_json(report.plan),
        "requests": result.requests,
    }
