"""Rich rendering for people: status tables, the plan's totals and the end-of-run summary.

Machines get JSON (batch.report.status, batch.cli.summary); these functions only print to a Console.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from batch.engine.states import IN_FLIGHT, RowState
from batch.ledger.records import BatchSummary
from batch.markets import display_amount
from batch.report.lines import BatchReport
from batch.report.money import money_lines
from batch.report.status import NOT_SENT, Money, money_of
from batch.text import visible

if TYPE_CHECKING:
    from batch.pipeline import RunReport
    from batch.planning.flow import PlanResult

STATE_STYLES = {
    "COMPLETED": "green", "FAILED": "bold red", "UNKNOWN": "yellow", "SUBMITTING": "yellow",
    "SUBMITTED": "yellow", "SKIPPED": "dim",
}
SITUATION_STYLES = {0: "green", 3: "bold red", 4: "yellow", 6: "yellow"}


def _safe(text: str) -> str:
    """Text from a sheet, a file name or the API as rich prints it: markup escaped, control
    and bidi characters shown as escapes (issue 12)."""
    return escape(visible(text))


def _amount(value: Decimal, currency: str | None = None) -> str:
    """An exact amount by the one rule (`markets.display_amount`), never via float."""
    return display_amount(value, currency)


def _counts_text(counts: dict[str, int]) -> str:
    order = [s.value for s in RowState]
    parts = [
        f"[{STATE_STYLES[s]}]{s} {counts[s]}[/]" if s in STATE_STYLES else f"{s} {counts[s]}"
        for s in order
        if counts.get(s)
    ]
    return ", ".join(parts) or "no rows"


def _counts_short(counts: dict[str, int]) -> str:
    """Counts in the words of the status list: completed, failed, in flight, not sent, skipped."""
    groups = {
        "completed": counts.get("COMPLETED", 0),
        "failed": counts.get("FAILED", 0),
        "in flight": sum(counts.get(s.value, 0) for s in IN_FLIGHT),
        "not sent": sum(counts.get(s.value, 0) for s in NOT_SENT),
        "skipped": counts.get("SKIPPED", 0),
    }
    styles = {"completed": "green", "failed": "bold red", "in flight": "yellow"}
    return "\n".join(
        f"[{styles[k]}]{n} {k}[/]" if k in styles else f"{n} {k}" for k, n in groups.items() if n
    ) or "no rows"


def render_status_list(console: Console, summaries: Sequence[BatchSummary], ledger: str) -> None:
    """Every batch: name, created, rows, counts per state, money paid / pending / failed."""
    if not summaries:
        console.print(f"No batches in {_safe(ledger)} yet. Start with: paybatch plan FILE")
        return
    table = Table(title=f"Batches in {_safe(ledger)}", title_justify="left")
    for header, justify in (("Batch", "left"), ("Created (UTC)", "left"), ("Rows", "right"),
                            ("States", "left"), ("Currency", "left"), ("Paid", "right"),
                            ("Pending", "right"), ("Failed", "right")):
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for s in summaries:
        money: list[Money | None] = [*money_of(s)] or [None]
        for i, m in enumerate(money):
            first = i == 0
            table.add_row(
                (_safe(s.batch.name) + (" (SANDBOX)" if s.batch.sandbox else ""))
                if first else "",
                f"{s.batch.created_at:%Y-%m-%d %H:%M}" if first else "",
                str(s.total_rows) if first else "",
                _counts_short(s.counts) if first else "",
                m.currency if m else "",
                _amount(m.paid, m.currency) if m else "",
                _amount(m.pending, m.currency) if m else "",
                _amount(m.failed, m.currency) if m else "",
            )
    console.print(table)


def render_status_batch(console: Console, summary: BatchSummary, report: BatchReport) -> None:
    """One batch in detail: identity, situation, money, fees, failures, rows in flight."""
    i = report.identity
    style = SITUATION_STYLES.get(report.exit_code, "")
    if i.watermark:
        console.print(f"[bold yellow]{i.watermark}[/]")
    console.print(
        f"[bold]{_safe(i.name)}[/]  from {_safe(i.source_file)}  (ledger {_safe(i.ledger)})"
    )
    console.print(
        f"created {i.created_at:%Y-%m-%d %H:%M} UTC"
        + (f", started {i.started_at:%Y-%m-%d %H:%M}" if i.started_at else ", not started")
        + (f", finished {i.finished_at:%Y-%m-%d %H:%M}" if i.finished_at else "")
    )
    if i.cancelled_at is not None:
        console.print(f"[bold]cancelled {i.cancelled_at:%Y-%m-%d %H:%M} UTC[/]: its rows not "
                      "sent will never be paid")
    console.print(f"[{style}]{report.situation}[/]  ({_counts_text(report.counts)})")
    for line in money_lines(report.money):  # issue 13: reconciles to the sheet
        console.print(_safe(line), highlight=False)

    money = Table(title="Money", title_justify="left")
    for header in ("Currency", "Paid", "In flight", "Not sent", "Failed"):
        money.add_column(header, justify="left" if header == "Currency" else "right")
    for m in money_of(summary):
        c = m.currency
        money.add_row(c, _amount(m.paid, c), _amount(m.in_flight, c), _amount(m.not_sent, c),
                      _amount(m.failed, c))
    console.print(money)

    if report.fees:
        fees = Table(title="Fees", title_justify="left")
        for header in ("Currency", "Predicted (all rows)", "Predicted (completed)", "Charged",
                       "Difference"):
            fees.add_column(header, justify="left" if header == "Currency" else "right")
        for f in report.fees:
            c = f.currency
            fees.add_row(c, _amount(f.predicted, c), _amount(f.predicted_completed, c),
                         _amount(f.charged, c), _amount(f.difference, c))
        console.print(fees)

    for g in report.failures:
        amounts = ", ".join(f"{c} {_amount(a, c)}" for c, a in sorted(g.amounts.items()))
        rows = ", ".join(str(r) for r in g.rows)
        paren = f" ({amounts})" if amounts else ""
        console.print(
            f"[{STATE_STYLES.get(g.state, 'red')}]{g.state}[/] {len(g.rows)} row(s){paren}: "
            f"{_safe(g.reason)}  [dim]rows {rows}[/]",
            soft_wrap=True,
        )
    if report.in_flight:
        console.print(f"[yellow]{len(report.in_flight)} row(s) in flight[/]: run "
                      f"`paybatch reconcile {_safe(i.name)}` to settle them")
    if report.approvals is not None:
        from batch.report.approvals import approvals_text

        for line in approvals_text(report.approvals):
            console.print(_safe(line), soft_wrap=True)


def render_plan(console: Console, plan: PlanResult) -> None:
    """The totals a person confirms before paying: per currency payouts, fees, total debit."""
    verb = "planned" if plan.created else "already planned"
    console.print(
        f"[bold]{_safe(plan.batch.name)}[/] ({verb}, from {_safe(plan.batch.source_file)})"
    )
    table = Table()
    for header in ("Currency", "Rows", "Payouts", "Predicted fees", "Total debit", "Operators"):
        right = header not in ("Currency", "Operators")
        table.add_column(header, justify="right" if right else "left")
    for cur, t in sorted(plan.totals.items()):
        ops = _safe(", ".join(f"{op} {n}" for op, n in sorted(t.operators.items())))
        table.add_row(cur, str(t.rows), _amount(t.payouts, cur), _amount(t.fees, cur),
                      f"[bold]{_amount(t.total_debit, cur)}[/]", ops)
    console.print(table)
    if plan.sending is not None:
        sends = ", ".join(
            f"{cur} {_amount(t.payouts, cur)} + fees {_amount(t.fees, cur)}"
            for cur, t in sorted(plan.sending.items())
        )
        console.print(f"[bold]this run sends {plan.sending_rows} row(s)[/]: {_safe(sends)}")
    console.print(f"rows: {_counts_text(plan.counts)}")
    from batch.cli.summary import fee_source_lines

    for line in fee_source_lines(plan):
        console.print(escape(line), soft_wrap=True)
    for problem in plan.unroutable:
        console.print(f"[red]{_safe(problem)}[/]", soft_wrap=True)
    for notice in plan.notices:
        console.print(_safe(notice), soft_wrap=True)


def render_run(console: Console, report: RunReport, *, report_path: str | None = None) -> None:
    """The end-of-run summary: where every row stands and what to do next."""
    from batch.cli.summary import last_line

    result, name = report.result, _safe(report.plan.batch.name)
    style = SITUATION_STYLES.get(result.exit_code, "")
    console.print(f"[bold]{name}[/]: {_counts_text(result.counts)}")
    if result.stopped:
        console.print(f"[red]stopped starting new payouts:[/] {_safe(result.stopped)}")
    for line in money_lines(report.money):
        console.print(_safe(line), highlight=False)
    for short in report.wallet:
        console.print(f"[bold red]{_safe(short.advice(report.plan.batch.name))}[/]")
    last = _safe(last_line(report))
    console.print(f"[{style}]{last}[/]" if style else last)
    if report_path:
        console.print(f"report: {_safe(report_path)}")
