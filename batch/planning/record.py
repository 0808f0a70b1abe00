"""Recording a new batch (issue 11): the row guard and the creation, in the caller's write
transaction, with reference_ids derived for the API the batch belongs to."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batch.ledger import BatchRecord, Ledger, SkippedRow
from batch.markets import from_minor
from batch.options import PlanOptions
from batch.planning.guard import Candidate, RepeatMode, decide
from batch.planning.identity import (
    RowFacts,
    new_rows,
    payout_set_hash_of,
    repeat_window_start,
    seeds_of,
)
from batch.refids import KeyParts

if TYPE_CHECKING:
    from batch.models import PayoutRow


@dataclass(frozen=True)
class ApiEnvironment:
    """The API a batch is planned on (issue 11): its reference_ids and its runs belong to it."""

    name: str  # 'sandbox', or base URL + '#' + client id
    client_id: str
    sandbox: bool


EMBEDDED_SANDBOX = ApiEnvironment("sandbox", "sandbox", sandbox=True)



def create_batch(
    ledger: Ledger,
    path: Path,
    name: str,
    chash: str,
    rows: Callable[[], Iterator[PayoutRow]],
    invalid: list[Any],
    options: PlanOptions,
    env: ApiEnvironment,
    *,
    facts: list[RowFacts],
    recorded: Mapping[str, Any] | None = None,
) -> tuple[BatchRecord, list[str]]:
    """Guard the rows against earlier batches, then record the batch (inside the caller's
    transaction); returns it with the guard's notes."""
    now = ledger.clock()
    period = options.period or f"{now:%Y-%m}"
    # What the guard, the ids and the payout-set hash need, noted while the content was
    # hashed (identity.noting_facts): no more passes over the sheet's rows.
    decision = decide(
        [Candidate(row, phone, currency, minor) for row, _, phone, currency, minor in facts],
        ledger.earlier_payments(
            period=period, since=repeat_window_start(now, options.repeat_window_days)
        ),
        purpose=options.purpose, period=period, window_days=options.repeat_window_days,
        mode=RepeatMode.chosen(allow_repeat=options.allow_repeat, only_new=options.only_new),
    )
    skipped = [skipped_row(o) for o in invalid]
    skipped += [
        SkippedRow(
            sheet_row=r.row.sheet_row, name=None, phone=r.row.phone,
            amount=str(from_minor(r.row.amount_minor, r.row.currency)),
            currency=r.row.currency, country=None,
            reason=f"skipped (--only-new): already in batch {r.earlier.batch_name!r}",
        )
        for r in decision.skip.values()
    ]
    parts = KeyParts(env.client_id, period, options.purpose, decision.repeat_no)
    seeds = seeds_of(facts, parts)
    set_hash = payout_set_hash_of((f[2], f[4], f[3]) for f in facts)  # phone, minor, currency
    facts.clear()  # ~150 bytes a row: not held while the rows are inserted
    bases = ledger.used_attempts(sorted(set(seeds.values())))
    batch_id = ledger.create_batch(
        name=name,
        source_file=str(path),
        content_hash=chash,
        payout_set_hash=set_hash,
        rows=new_rows(
            (r for r in rows() if r.row not in decision.skip), seeds=seeds, bases=bases
        ),
        skipped=skipped,
        options={
            "skip_invalid": options.skip_invalid, "sheet": options.sheet,
            "allow_repeat": options.allow_repeat, "only_new": options.only_new,
            **(recorded or {}),  # where it came from and who planned it (issues 13, 17)
        },
        period=period, purpose=options.purpose, environment=env.name, sandbox=env.sandbox,
        repeat_no=decision.repeat_no,
    )
    found = ledger.batch_by_id(batch_id)
    assert found is not None
    return found, decision.notes


def skipped_row(o: Any) -> SkippedRow:
    """An invalid row kept as SKIPPED (--skip-invalid)."""
    return SkippedRow(
        sheet_row=o.row,
        name=o.name,
        phone=o.phone,
        amount=None if o.amount is None else str(o.amount),
        currency=o.currency,
        country=o.country,
        problems=[{"column": p.column, "value": p.value, "message": p.message} for p in o.problems],
    )
