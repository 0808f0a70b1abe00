"""Helpers for the collection tests: judge the ledger against the sandbox's own record."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from batch.engine.states import AttemptOutcome, RowState
from batch.ledger import Ledger
from batch.markets import from_minor
from tests.engine_helpers import left_for_later

# Payers answer in a fraction of a second; an unanswered request expires soon after.
QUICK_PAYERS = {"pending_seconds": 0.05, "payer_answer_seconds": 0.2,
                "approval_window_seconds": 0.6}


def collection_disagreements(sandbox: Any, ledger: Path, batch: str) -> dict[str, list[Any]]:
    """Every way the sandbox's record and the ledger disagree; all lists empty when sound."""
    collections = {c.reference_id: c for c in sandbox.collections()}
    invoices = {i.id: i for i in sandbox.invoices()}
    problems: dict[str, list[Any]] = defaultdict(list)
    debits: Counter[int] = Counter(c.invoice_id for c in collections.values()
                                   if c.status == "COMPLETED")
    problems["invoice debited twice"] = [i for i, n in debits.items() if n > 1]
    problems["still in flight at the sandbox"] = [
        r for r, c in collections.items() if c.status not in ("COMPLETED", "FAILED")]
    for inv in invoices.values():
        names = [(x.name, x.qty, x.amount) for x in inv.items]
        if len(set(x.id for x in inv.items)) != len(inv.items):
            problems["duplicated item id"].append(inv.id)
        if inv.status in ("ACTIVE", "PROCESSING", "PAID") and len(set(names)) != len(names):
            problems["invoice with a duplicated item"].append((inv.id, names))
    with Ledger(ledger) as db:
        found = db.batch_by_name(batch)
        assert found is not None
        rows = db.rows(found.id)
        items = db.items_of_batch(found.id)
        steps = {r.id: db.row_steps(r.id) for r in rows}
    owner: dict[int, int] = {}
    now = datetime.now(UTC)
    for row in rows:
        for step, value in steps[row.id].items():
            if step.startswith("inv") and step[3:].isdigit():
                owner[int(value)] = row.id
    problems["invoice unknown to the ledger"] = sorted(set(invoices) - set(owner))
    paid_by_phone: Counter[str] = Counter()
    for c in collections.values():
        if c.status == "COMPLETED":
            paid_by_phone[c.phone or ""] += 1
    ledger_paid: Counter[str] = Counter(r.phone or "" for r in rows
                                        if r.state is RowState.COMPLETED)
    if paid_by_phone != ledger_paid:
        problems["debits per payer differ"].append((dict(paid_by_phone), dict(ledger_paid)))
    totals: dict[str, Decimal] = defaultdict(Decimal)
    ledger_totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        mine = [invoices[i] for i, r in owner.items() if r == row.id and i in invoices]
        paid = [i for i in mine if i.status == "PAID"]
        if len(paid) > 1:
            problems["row paid on two invoices"].append(row.sheet_row)
        live = [i for i in mine if i.status in ("ACTIVE", "PROCESSING", "PAID")]
        if len(live) > 1:
            problems["row with two live invoices"].append((row.sheet_row, [i.id for i in live]))
        expected = [(x.name, x.qty, from_minor(x.unit_minor, row.currency or "USD"))
                    for x in items.get(row.id, [])]
        for inv in live:
            held = [(x.name, x.qty, x.amount) for x in inv.items]
            if held != expected:
                problems["published invoice differs from the sheet"].append(
                    (row.sheet_row, held, expected))
        current = collections.get(row.current_reference_id or "")
        if row.state is RowState.COMPLETED:
            if not (current and current.status == "COMPLETED" and paid
                    and paid[0].paid_by == current.reference_id):
                problems["row disagrees"].append((row.sheet_row, row.state, current))
            ledger_totals[row.currency or ""] += row.amount or Decimal(0)
        elif paid:
            problems["row disagrees"].append((row.sheet_row, row.state, "invoice PAID"))
        later = left_for_later(row, now)
        if later:
            problems["left for later"].append(row.sheet_row)
        for attempt in row.attempts:
            there = collections.get(attempt.reference_id)
            status = there.status if there else None
            if later and not attempt.outcome and status is None:
                continue  # left UNKNOWN, and nothing of it reached the sandbox
            want = {AttemptOutcome.COMPLETED: "COMPLETED", AttemptOutcome.FAILED: "FAILED",
                    AttemptOutcome.NOT_FOUND: None, AttemptOutcome.NOT_SENT: None,
                    }.get(attempt.outcome) if attempt.outcome else "open"
            if want == "open" or status != want:
                problems["attempt disagrees"].append(
                    (row.sheet_row, attempt.reference_id, attempt.outcome, status))
    for c in collections.values():
        if c.status == "COMPLETED":
            totals[c.currency] += c.amount
    if dict(totals) != dict(ledger_totals):
        problems["collected totals differ"].append((dict(totals), dict(ledger_totals)))
    known = {a.reference_id for r in rows for a in r.attempts}
    problems["collection unknown to the ledger"] = sorted(set(collections) - known)
    return {k: v for k, v in problems.items() if v}
