"""The review flow (issue 17): a batch and the earlier batches of its kind read from the
ledger, then the pure findings of review.py; what `paybatch review` shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from batch.ledger import BatchRecord, HistoryLine, Ledger
from batch.planning.approval import ApprovalCheck, ApprovalPolicy
from batch.planning.identity import CurrencyTotals
from batch.planning.release import (
    batch_fact,
    batch_kind,
    batch_period,
    check_approvals,
    find_batch,
)
from batch.planning.review import Finding, History, Largest, ReviewRow, find_changes, largest

PARTY = {"payout": "recipient", "collection": "payer"}


@dataclass(frozen=True)
class Review:
    """Everything `paybatch review` shows."""

    batch: BatchRecord
    kind: str
    period: str
    party: str
    totals: dict[str, CurrencyTotals]
    largest: list[Largest]
    findings: list[Finding]
    compared_with: BatchRecord | None
    earlier: int  # earlier batches of this kind on the ledger
    check: ApprovalCheck
    generated_at: datetime


def build_review(ledger: Ledger, name: str, runtime: ApprovalPolicy | None = None) -> Review:
    """The review of a batch against the earlier batches of its kind on this ledger."""
    batch = find_batch(ledger, name)
    kind = batch_kind(batch)
    purpose = batch_fact(batch, "purpose")
    # Only batches that were run: one planned and abandoned is not what was paid last time.
    earlier = [b for b in ledger.earlier_batches(batch)
               if batch_kind(b) == kind and b.started_at is not None]
    # The previous batch of the same purpose when batches have one (a bonus is not payroll).
    same = [b for b in earlier if batch_fact(b, "purpose") == purpose] or earlier
    previous = same[0] if same else None
    rows = [
        ReviewRow(h.sheet_row, h.name, h.phone, h.amount_minor, h.currency, h.external_id)
        for h in ledger.history_lines([batch.id])
    ]
    by_currency = _totals(ledger, batch.id)
    names = {b.id: b.name for b in earlier}
    before: list[HistoryLine] = []
    history = History.of(ledger.history_lines([b.id for b in earlier]), names,
                         keep=previous.id if previous else None, kept=before)
    return Review(
        batch=batch, kind=kind, period=batch_period(batch), party=PARTY.get(kind, "recipient"),
        totals=by_currency, largest=largest(rows),
        findings=find_changes(rows, before, history, party=PARTY.get(kind, "recipient")),
        compared_with=previous, earlier=len(earlier),
        check=check_approvals(ledger, batch, runtime, by_currency=by_currency),
        generated_at=ledger.clock(),
    )


def _totals(ledger: Ledger, batch_id: int) -> dict[str, CurrencyTotals]:
    """CurrencyTotals of the rows to pay, from grouped sums (no row read one by one)."""
    from batch.markets import from_minor

    summary = ledger.summary(batch_id)
    assert summary is not None
    out: dict[str, CurrencyTotals] = {}
    for currency, operator, n, minor in ledger.operator_totals(batch_id):
        t = out.setdefault(currency, CurrencyTotals(currency))
        t.rows += n
        t.payouts += from_minor(minor, currency)
        t.operators[operator] += n
    for currency, fees in summary.fees.items():
        out.setdefault(currency, CurrencyTotals(currency)).fees += fees
    return out
