"""What plan, run and reconcile print: plain text for people, one JSON object for machines.

Kept behind these few functions so a richer renderer can replace them.
"""

from __future__ import annotations

import functools
from typing import Any

from batch.engine.outcome import situation
from batch.engine.states import RowState
from batch.markets import display_amount, exact
from batch.pipeline import RunReport
from batch.planning.flow import PlanResult
from batch.planning.identity import CurrencyTotals
from batch.report.money import money_json, money_lines


def _state_order(counts: dict[str, int]) -> list[tuple[str, int]]:
    order = {s.value: i for i, s in enumerate(RowState)}
    return sorted(counts.items(), key=lambda kv: order.get(kv[0], 99))


def _ops(t: CurrencyTotals) -> str:
    return ", ".join(f"{op} {n}" for op, n in sorted(t.operators.items()))


def format_plan(plan: PlanResult) -> str:
    """Totals per currency: payouts, fees, total debit, rows per operator (one number rule:
    `markets.display_amount`); then what this command sends, when that is known."""
    verb = "planned" if plan.created else "already planned"
    lines = [f"batch {plan.batch.name!r} ({verb}, from {plan.batch.source_file})"]
    if plan.batch.sandbox:
        lines[0] = "SANDBOX — simulated API, no money moves: " + lines[0]
    if plan.batch.period:
        lines.append(f"  period {plan.batch.period}, purpose {plan.batch.purpose}"
                     + (f", repeat {plan.batch.repeat_no}" if plan.batch.repeat_no else ""))
    lines += _totals_lines(plan.totals)
    lines.append("  rows: " + ", ".join(f"{s} {n}" for s, n in _state_order(plan.counts)))
    if plan.sending is not None:
        lines.append(f"  this run sends {plan.sending_rows} row(s):")
        lines += ["  " + line for line in _totals_lines(plan.sending)]
    lines.extend(f"  {line}" for line in fee_source_lines(plan))  # issue 15
    lines.extend(f"  {p}" for p in plan.unroutable)
    lines.extend(f"  {n}" for n in plan.notices)
    return "\n".join(lines)


def _totals_lines(totals: dict[str, CurrencyTotals]) -> list[str]:
    lines = []
    for cur, t in sorted(totals.items()):
        a = functools.partial(display_amount, currency=cur)
        if t.rows:
            lines.append(
                f"  {cur}: {t.rows} payout(s) {a(t.payouts)}  fees {a(t.fees)}  "
                f"total debit {a(t.total_debit)}  ({_ops(t)})"
            )
        else:
            lines.append(f"  {cur}: fees {a(t.fees)}")
    return lines


def confirm_question(plan: PlanResult) -> str:
    """The prompt before paying, about what this command sends (issue 13)."""
    sending = plan.sending or plan.totals
    debit = ", ".join(
        f"{cur} {display_amount(t.total_debit, cur)}" for cur, t in sorted(sending.items())
    )
    return f"Pay these {plan.sending_rows} row(s) now (total debit {debit})?"


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
        "sandbox": plan.batch.sandbox,
        "period": plan.batch.period,
        "purpose": plan.batch.purpose,
        "notes": plan.notes,
        "counts": all_counts(plan.counts),
        "totals": _totals_json(plan.totals),
        "unroutable": plan.unroutable,
        "notices": plan.notices,
        "fee_sources": plan.fee_sources,
        "fee_notes": plan.fee_notes,
        "exit_code": 0,
    }


def all_counts(counts: dict[str, int]) -> dict[str, int]:
    """Every state in state-machine order, zeros included (one shape in every JSON)."""
    return {s.value: counts.get(s.value, 0) for s in RowState}


def _totals_json(totals: dict[str, CurrencyTotals]) -> dict[str, Any]:
    return {
        cur: {
            "rows": t.rows,
            "payouts": str(exact(t.payouts, cur)),
            "fees": str(exact(t.fees, cur)),
            "total_debit": str(exact(t.total_debit, cur)),
            "operators": dict(t.operators),
        }
        for cur, t in sorted(totals.items())
    }


def last_line(report: RunReport) -> str:
    """The run's last line: what happened and what to do (issue 13: never "every row
    completed" when rows were skipped, cancelled or interrupted)."""
    result, name = report.result, report.plan.batch.name
    paid = result.counts.get(RowState.COMPLETED.value, 0)
    if report.interrupted:
        return (
            f"interrupted: {paid} paid, {result.in_flight} in flight, {result.pending} not sent"
            " — run the same command again"
        )
    if result.in_flight:
        return f"{result.in_flight} row(s) still in flight: run `paybatch reconcile {name}` later"
    if result.failed:
        return f"{result.failed} row(s) FAILED: see `paybatch status {name}`; --retry-failed"
    if result.pending:
        return f"{result.pending} row(s) not sent yet: run again to continue"
    left_out = [
        f"{n} {s}" for s in (RowState.SKIPPED.value, RowState.CANCELLED.value)
        if (n := result.counts.get(s, 0))
    ]
    if left_out:
        return f"every row sent completed; NOT paid: {', '.join(left_out)} (exit 6)"
    return "every row completed"


def format_run(report: RunReport) -> str:
    """The end-of-run summary: where every row stands, the money, and what to do next."""
    result = report.result
    lines = [
        ("SANDBOX (no money moved): " if report.plan.batch.sandbox else "")
        + f"batch {report.plan.batch.name!r}: "
        + ", ".join(f"{s} {n}" for s, n in _state_order(result.counts))
    ]
    if result.stopped:
        lines.append(f"  stopped starting new payouts: {result.stopped}")
    lines += ["  " + line for line in money_lines(report.money)]
    lines += ["  " + short.advice(report.plan.batch.name) for short in report.wallet]
    lines.append("  " + last_line(report))
    return "\n".join(lines)


def run_json(report: RunReport) -> dict[str, Any]:
    """The `run --json` / `reconcile --json` object (docs/json.md)."""
    result = report.result
    return {
        "batch": report.plan.batch.name,
        "batch_id": report.plan.batch.id,
        "sandbox": report.plan.batch.sandbox,
        "period": report.plan.batch.period,
        "purpose": report.plan.batch.purpose,
        "counts": all_counts(result.counts),
        "exit_code": result.exit_code,
        "situation": situation(result.exit_code),
        "stopped": result.stopped,
        "interrupted": report.interrupted,
        "in_flight": result.in_flight,
        "not_sent": result.pending,
        "failed": result.failed,
        "skipped": result.counts.get(RowState.SKIPPED.value, 0),
        "cancelled": result.counts.get(RowState.CANCELLED.value, 0),
        "money": money_json(report.money),
        "wallet_short": {w.currency: w.to_json() for w in report.wallet},
        "plan_totals": _totals_json(report.plan.totals),
        "last_line": last_line(report),
        "requests": result.requests,
    }
