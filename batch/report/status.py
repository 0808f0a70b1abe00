"""`paybatch status`, shaping: where batches stand, as values and JSON (pure).

Money is split the way finance reads it: paid (COMPLETED), in flight (sent, not settled),
not sent yet, failed; "pending" is in flight + not sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from batch.engine.outcome import batch_exit_code
from batch.engine.states import IN_FLIGHT, RowState
from batch.ledger.records import BatchSummary
from batch.markets import exact, from_minor
from batch.report.lines import BatchReport
from batch.report.money import money_figures, money_json

NOT_SENT: frozenset[RowState] = frozenset(
    {RowState.NEW, RowState.RECIPIENT_READY, RowState.SESSION_OPEN}
)
MONEY_COLUMNS = ("paid", "in_flight", "not_sent", "failed")


@dataclass(frozen=True)
class Money:
    """Money of one batch in one currency, by where it stands."""

    currency: str
    paid: Decimal
    in_flight: Decimal
    not_sent: Decimal
    failed: Decimal

    @property
    def pending(self) -> Decimal:
        """Not settled yet: in flight or not sent."""
        return self.in_flight + self.not_sent


def money_of(summary: BatchSummary) -> list[Money]:
    """Per currency: paid, in flight, not sent and failed (exact, from minor units)."""
    result = []
    for currency, by_state in sorted(summary.money.items()):

        def total(states: frozenset[RowState], by_state: dict[str, int] = by_state) -> int:
            return sum(n for s, n in by_state.items() if RowState(s) in states)

        result.append(
            Money(
                currency,
                paid=from_minor(total(frozenset({RowState.COMPLETED})), currency),
                in_flight=from_minor(total(IN_FLIGHT), currency),
                not_sent=from_minor(total(NOT_SENT), currency),
                failed=from_minor(
                    total(frozenset({RowState.FAILED, RowState.REVERSED})), currency
                ),
            )
        )
    return result


def _money_json(m: Money) -> dict[str, str]:
    return {
        "paid": str(m.paid), "pending": str(m.pending), "in_flight": str(m.in_flight),
        "not_sent": str(m.not_sent), "failed": str(m.failed),
    }


def batch_line_json(
    summary: BatchSummary, fee_figures: Mapping[str, tuple[Decimal, Decimal]] | None = None
) -> dict[str, Any]:
    """One batch of the `status --json` list (docs/json.md): every state counted, zeros
    included, and the money figures per currency of `run --json` (issue 13)."""
    b = summary.batch
    return {
        "batch": b.name,
        "batch_id": b.id,
        "sandbox": b.sandbox,
        "period": b.period,
        "purpose": b.purpose,
        "source_file": b.source_file,
        "created_at": b.created_at.isoformat(),
        "started_at": b.started_at.isoformat() if b.started_at else None,
        "finished_at": b.finished_at.isoformat() if b.finished_at else None,
        "cancelled_at": b.cancelled_at.isoformat() if b.cancelled_at else None,
        "rows": summary.total_rows,
        "counts": {s.value: summary.counts.get(s.value, 0) for s in RowState},
        "money": money_json(money_figures(summary, fee_figures)),
        "predicted_fees": {c: str(exact(f, c)) for c, f in sorted(summary.fees.items())},
        "exit_code": batch_exit_code(summary.counts),
    }


def status_list_json(
    summaries: list[BatchSummary], ledger: str,
    fee_figures: Mapping[int, Mapping[str, tuple[Decimal, Decimal]]] | None = None,
) -> dict[str, Any]:
    """`paybatch status --json` without a batch: every batch, newest first; `ledger` is
    the absolute path (as in the detail's JSON)."""
    figures = fee_figures or {}
    return {
        "ledger": ledger,
        "batches": [batch_line_json(s, figures.get(s.batch.id)) for s in summaries],
        "exit_code": 0,
    }


def status_batch_json(summary: BatchSummary, report: BatchReport) -> dict[str, Any]:
    """`paybatch status BATCH --json`: counts, money, fees, failures and rows in flight."""
    from batch.report.files import line_json, summary_json

    detail = summary_json(report)
    return {
        **batch_line_json(summary),
        "money": detail["money"],
        "counts": report.counts,
        "exit_code": report.exit_code,
        "situation": report.situation,
        "content_hash": report.identity.content_hash,
        "ledger": report.identity.ledger,
        "totals": detail["totals"],
        "fees": detail["fees"],
        "failures": detail["failures"],
        "in_flight": [
            {k: line[k] for k in ("row", "name", "state", "reference_ids", "amount", "currency")}
            for line in detail["in_flight"]
        ],
        "approvals": detail["approvals"],
        # A collection's summary per currency and ageing (the report's own tables).
        **{t.title.lower(): [line_json(x) for x in t.lines] for t in report.extra},
    }
