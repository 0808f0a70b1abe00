"""How `collect` and `cancel` talk: the plan's totals, the round's summary, or one JSON object."""

from __future__ import annotations

import json
from typing import Any

import click

from batch.operations.collect_plan import CollectionPlan
from batch.pipeline import CollectReport

SITUATIONS = {
    0: "every invoice paid (or cancelled)",
    3: "some invoices used up their requests (or failed): see the report",
    4: "requests pending or due later: run `paybatch collect BATCH` again (cron)",
}


def situation(exit_code: int) -> str:
    """A collection's situation in words, from its exit code."""
    return SITUATIONS.get(exit_code, f"exit code {exit_code}")


UNPAID_SHOWN = 15
_STANDING_WORDS = {
    "PAID": "paid", "OPEN": "requested or to request", "DUE": "due for a new request",
    "LATER": "to request again later", "EXHAUSTED": "requests used up",
    "FAILED": "failed before reaching the payer", "CANCELLED": "cancelled",
}


def format_collection_plan(plan: CollectionPlan) -> str:
    """Totals per currency: requested, predicted fees, who bears them."""
    b = plan.batch
    lines = [f"Collection {b.name!r} ({'new' if plan.created else 'known'}): "
             f"{sum(t.invoices for t in plan.totals.values())} invoice(s) from {b.source_file}"]
    for cur, t in sorted(plan.totals.items()):
        bearer = "payers" if t.fee_bearer == "PAYER" else "you (the payee)"
        lines.append(
            f"  {cur}: {t.invoices} invoice(s), requested {t.requested} {cur}; predicted fees "
            f"{t.fees} {cur}, borne by {bearer}; payers pay {t.payers_pay}, you receive "
            f"{t.merchant_receives}"
        )
        if t.fx_invoices:
            debits = ", ".join(f"{v} {c}" for c, v in sorted(t.payer_debits.items()))
            lines.append(f"    {t.fx_invoices} invoice(s) paid from wallets in another currency "
                         f"(FX); payers are debited {debits} (predicted)")
    policy = plan.policy
    hours = policy.re_request_after.total_seconds() / 3600
    lines.append(f"  Unpaid invoices are requested again after {hours:g} h, "
                 f"at most {policy.max_requests} request(s) each.")
    lines += [f"  notice: {n}" for n in plan.notices]
    lines += [f"  {u}" for u in plan.unroutable]
    return "\n".join(lines)


def collection_json(report: CollectReport) -> dict[str, Any]:
    """The `collect --json` object."""
    r = report.result
    return {
        "batch": r.plan.batch.name,
        "kind": "collection",
        "exit_code": r.exit_code,
        "situation": situation(r.exit_code),
        "rows": r.run.counts,
        "invoices": r.campaign.standings,
        "next_due": r.campaign.next_due.isoformat() if r.campaign.next_due else None,
        "re_requested": r.re_requested,
        "receipts_fetched": r.receipts,
        "stopped": r.run.stopped,
        "api_requests": r.run.requests,
        "totals": {
            cur: {"invoices": t.invoices, "requested": str(t.requested), "fees": str(t.fees),
                  "fee_bearer": t.fee_bearer, "fx_invoices": t.fx_invoices,
                  "payer_debits": {c: str(v) for c, v in sorted(t.payer_debits.items())}}
            for cur, t in sorted(r.plan.totals.items())
        },
        "report": str(report.report_path) if report.report_path else None,
    }


def echo_collect(report: CollectReport, *, json_output: bool) -> None:
    """The end-of-round summary."""
    if json_output:
        click.echo(json.dumps(collection_json(report)))
        return
    r = report.result
    parts = [f"{n} {_STANDING_WORDS.get(s, s)}" for s, n in sorted(r.campaign.standings.items())]
    click.echo(f"{r.plan.batch.name}: " + ", ".join(parts))
    if r.re_requested:
        click.echo(f"  {r.re_requested} invoice(s) requested again")
    for row, name, standing, reason in r.campaign.unpaid[:UNPAID_SHOWN]:
        said = f": {reason}" if reason else ""
        click.echo(f"  row {row} {name}: {_STANDING_WORDS.get(standing, standing)}{said}")
    if len(r.campaign.unpaid) > UNPAID_SHOWN:
        click.echo(f"  … and {len(r.campaign.unpaid) - UNPAID_SHOWN} more: see the report")
    if r.campaign.next_due:
        click.echo(f"  next re-request due {r.campaign.next_due:%Y-%m-%d %H:%M} UTC: "
                   f"run `paybatch collect {r.plan.batch.name}` again then")
    if report.report_path:
        click.echo(f"  report: {report.report_path}")
    click.echo(f"exit {r.exit_code}: {situation(r.exit_code)}")
