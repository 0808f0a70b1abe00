"""Planning, pure: batch identity (name, content hash, payout set), first reference_ids, totals."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import islice
from pathlib import Path

from batch import refids
from batch.engine.states import RowState
from batch.errors import BatchConflictError, ConfigError
from batch.ledger.records import BatchRecord, NewRow, RowRecord
from batch.markets import from_minor, to_minor
from batch.models import PayoutRow


def default_batch_name(path: Path) -> str:
    """The batch name when --batch-name is not given: the file's stem."""
    return path.stem


def _canonical(row: PayoutRow) -> list[object]:
    return [
        row.row, row.name, row.phone, str(to_minor(row.amount, row.currency)), row.currency,
        row.country, row.external_id, row.email, row.note, row.method, row.provider,
    ]


def _json_list_sha256(items: Iterable[object], *, ensure_ascii: bool = True) -> str:
    """sha256 of json.dumps(list(items)), fed item by item: no 100k-row string in memory."""
    digest = hashlib.sha256(b"[")
    todo = iter(items)
    first = True
    # A thousand items a dumps: the same bytes ("[a, b]" joins items with ", "), a fraction
    # of the calls (one a row cost ~7 us: 3.5 s at 500k rows).
    while chunk := list(islice(todo, 1000)):
        if not first:
            digest.update(b", ")
        digest.update(json.dumps(chunk, ensure_ascii=ensure_ascii)[1:-1].encode())
        first = False
    digest.update(b"]")
    return digest.hexdigest()


def content_hash(rows: Iterable[PayoutRow], *, in_row_order: bool = False) -> str:
    """sha256 of the normalised rows: the same sheet, however formatted, hashes the same.

    in_row_order: the rows come sorted by row number already (checked), so they are streamed
    rather than held and sorted.
    """
    in_order = _checked_order(rows) if in_row_order else sorted(rows, key=lambda r: r.row)
    return _json_list_sha256((_canonical(r) for r in in_order), ensure_ascii=False)


RowFacts = tuple[int, str | None, str, str, int]  # row, external id, phone, currency, minor


def noting_facts(rows: Iterable[PayoutRow], facts: list[RowFacts]) -> Iterator[PayoutRow]:
    """The rows, each one's RowFacts appended to `facts` as it passes (one pass for the
    content hash and what recording a new batch needs: building a row costs ~20 us a pass)."""
    for r in rows:
        facts.append((r.row, r.external_id, r.phone, r.currency, to_minor(r.amount, r.currency)))
        yield r


def _checked_order(rows: Iterable[PayoutRow]) -> Iterator[PayoutRow]:
    previous: int | None = None
    for r in rows:
        if previous is not None and r.row <= previous:
            raise ValueError(f"rows are not in row order: {r.row} after {previous}")
        previous = r.row
        yield r


def payout_set_hash(rows: Iterable[PayoutRow]) -> str:
    """sha256 of the sorted (phone, amount, currency) multiset: what the repeat guard compares."""
    return payout_set_hash_of((r.phone, to_minor(r.amount, r.currency), r.currency) for r in rows)


def payout_set_hash_of(payouts: Iterable[tuple[str, int, str]]) -> str:
    """payout_set_hash of (phone, amount in minor units, currency) triples."""
    return _json_list_sha256(sorted(payouts))


def new_rows(
    rows: Iterable[PayoutRow],
    *,
    seeds: Mapping[int, str] | None = None,
    bases: Mapping[str, int] | None = None,
    mint: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> Iterator[NewRow]:
    """Ledger rows for a new batch, each with its first reference_id (UUID v4 layout).

    `seeds` (sheet row -> seed, batch/refids.py): the id is derived from the seed and the
    attempt number, past the `bases` this ledger used under the same seed already; rows
    without a seed get a minted one. A generator: 100k rows are never held twice.
    """
    for r in rows:
        row_seed = seeds.get(r.row) if seeds is not None else None
        base = (bases or {}).get(row_seed, 0) if row_seed is not None else 0
        yield NewRow(
            sheet_row=r.row, name=r.name, phone=r.phone,
            amount_minor=to_minor(r.amount, r.currency), currency=r.currency, country=r.country,
            reference_id=refids.reference_id(row_seed, base + 1) if row_seed else mint(),
            external_id=r.external_id, email=r.email, note=r.note,
            method=r.method, provider=r.provider, ref_seed=row_seed, ref_base=base,
        )


def row_seeds(rows: Iterable[PayoutRow], parts: refids.KeyParts) -> dict[int, str]:
    """Sheet row -> the seed of its reference_ids (every valid row, in sheet order)."""
    ordered = sorted(rows, key=lambda r: r.row)
    return seeds_of([(r.row, r.external_id, r.phone, r.currency, 0) for r in ordered], parts)


def seeds_of(rows: Sequence[RowFacts], parts: refids.KeyParts) -> dict[int, str]:
    """row_seeds of (sheet row, external id, phone, currency, ...) facts in sheet order."""
    keys = refids.row_keys((external_id, phone, currency) for _, external_id, phone, currency,
                           *_ in rows)
    return {fact[0]: refids.seed(parts, key) for fact, key in zip(rows, keys, strict=True)}


def check_same_name(existing: BatchRecord, *, content: str) -> None:
    """A used batch name is fine for the same content (resume) and refused for other content.

    The message never suggests a path that pays twice (issue 11): another name alone would
    meet the row guard, which lists what is paid and offers --only-new.
    """
    if existing.content_hash != content:
        raise BatchConflictError(
            f"batch name {existing.name!r} is already used (created {existing.created_at:%Y-%m-%d}"
            f" from {existing.source_file}) for different rows. Rows of that batch that are "
            f"paid stay paid: to pay only the rows not paid yet, pass another --batch-name "
            f"with --only-new (`paybatch status {existing.name}` shows what was paid)",
            batch_id=existing.id,
        )


def check_same_kind(existing: BatchRecord, *, period: str | None, purpose: str) -> None:
    """Resuming a batch under another --period or --purpose would silently keep the old ones:
    refused, pointing at a new batch name (whose rows then pass the row guard)."""
    if not existing.derived_ids:
        return
    if (period is not None and period != existing.period) or purpose != existing.purpose:
        raise BatchConflictError(
            f"batch {existing.name!r} is for period {existing.period}, purpose "
            f"{existing.purpose}; for period {period or existing.period}, purpose {purpose}, "
            "pass another --batch-name",
            batch_id=existing.id,
        )


def describe_environment(name: str | None, sandbox: bool) -> str:
    """'the embedded sandbox' or 'https://api... (client id X)' for messages."""
    if sandbox or name == "sandbox":
        return "the embedded SANDBOX"
    if name and "#" in name:
        url, _, client = name.rpartition("#")
        return f"{url} (client id {client})"
    return name or "an unknown API"


def check_environment(batch: BatchRecord, *, name: str, sandbox: bool) -> None:
    """Refuse to run or reconcile a batch against another API than the one it was planned on.

    Batches planned before issue 11 recorded none and are not checked.
    """
    if batch.environment is None or batch.environment == name:
        return
    planned_on = describe_environment(batch.environment, batch.sandbox)
    raise WrongEnvironmentError(
        f"batch {batch.name!r} was planned on {planned_on}"
        f" and is not run against {describe_environment(name, sandbox)}: nothing was sent. "
        + ("Set DOLLR_BASE_URL (or --base-url) and the credentials it was planned with"
           if not batch.sandbox else "Unset DOLLR_BASE_URL / --base-url to run a sandbox batch")
    )


def repeat_window_start(now: datetime, days: int) -> datetime:
    """The earliest creation time of a batch the repeat guard still compares with."""
    return now - timedelta(days=days)


class WrongEnvironmentError(ConfigError):
    """A batch planned on one API (sandbox or live) run or reconciled against another."""


@dataclass
class CurrencyTotals:
    """What one currency of a batch costs: payouts, predicted fees, the total debit."""

    currency: str
    rows: int = 0
    payouts: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)  # predicted fees charged in this currency
    operators: Counter[str] = field(default_factory=Counter)

    @property
    def total_debit(self) -> Decimal:
        """Payouts plus fees: what leaves the wallet in this currency."""
        return self.payouts + self.fees


def totals(rows: Iterable[RowRecord]) -> dict[str, CurrencyTotals]:
    """Per-currency totals of the rows that are to be paid (SKIPPED rows left out)."""
    out: dict[str, CurrencyTotals] = {}
    for r in rows:
        if r.state is RowState.SKIPPED or r.currency is None or r.amount is None:
            continue
        t = out.setdefault(r.currency, CurrencyTotals(r.currency))
        t.rows += 1
        t.payouts += r.amount
        t.operators[r.operator or r.method or "unknown"] += 1
        if r.predicted_fee is not None:
            fee_currency = r.fee_currency or r.currency
            out.setdefault(fee_currency, CurrencyTotals(fee_currency)).fees += r.predicted_fee
    return out


def group_totals(
    groups: Iterable[tuple[str, str, int, int, Decimal | None, str | None]],
) -> dict[str, CurrencyTotals]:
    """`totals` from Ledger.payout_groups' sums (the same figures, without a read a row)."""
    out: dict[str, CurrencyTotals] = {}
    for currency, operator, n, minor, fee, fee_currency in groups:
        t = out.setdefault(currency, CurrencyTotals(currency))
        t.rows += n
        t.payouts += from_minor(minor, currency)
        t.operators[operator] += n
        if fee is not None:
            fee_in = fee_currency or currency
            out.setdefault(fee_in, CurrencyTotals(fee_in)).fees += fee * n
    return out


def over_limits(
    by_currency: dict[str, CurrencyTotals], limits: dict[str, Decimal]
) -> list[str]:
    """Human lines for each currency whose total debit exceeds its --max-total."""
    return [
        f"{cur} total debit {by_currency[cur].total_debit} exceeds --max-total {limit}"
        for cur, limit in sorted(limits.items())
        if cur in by_currency and by_currency[cur].total_debit > limit
    ]
