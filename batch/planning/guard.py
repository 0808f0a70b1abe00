"""The row-level repeat guard, pure (issue 11): is anyone in this sheet paid already?

Every row of a new batch is compared with what the ledger has paid, has in flight or has
planned, in any batch, in the same pay period or within the repeat window: same recipient
(phone) and currency, with the same or another amount. Matches under the same purpose refuse
the batch unless the user chooses `--only-new` (pay the others) or `--allow-repeat` (pay them
again, recorded); matches under another purpose are only shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from batch.errors import BatchConflictError
from batch.ledger.records import EarlierPayment
from batch.markets import from_minor


class RepeatMode(StrEnum):
    """What the user chose for rows paid already."""

    REFUSE = "refuse"  # the default: list them and stop
    ONLY_NEW = "only_new"  # pay only recipients not paid yet
    ALLOW = "allow_repeat"  # pay them again on purpose (a recorded repeat number)

    @classmethod
    def chosen(cls, *, allow_repeat: bool, only_new: bool) -> RepeatMode:
        """The mode --allow-repeat / --only-new ask for (--allow-repeat wins)."""
        if allow_repeat:
            return cls.ALLOW
        return cls.ONLY_NEW if only_new else cls.REFUSE


@dataclass(frozen=True, slots=True)
class Candidate:
    """A row of the sheet being planned, as the guard sees it."""

    sheet_row: int
    phone: str
    currency: str
    amount_minor: int


@dataclass(frozen=True, slots=True)
class Repeat:
    """A row of the new sheet that pays a recipient an earlier batch pays already."""

    row: Candidate
    earlier: EarlierPayment

    @property
    def same_amount(self) -> bool:
        return self.row.amount_minor == self.earlier.amount_minor


@dataclass(frozen=True)
class GuardDecision:
    """What the guard lets through: rows to leave out, the repeat number, lines to show."""

    skip: dict[int, Repeat]  # sheet row -> why it is left out (--only-new)
    repeat_no: int
    repeats: list[Repeat]  # same purpose (what refused, or what --only-new / --allow-repeat met)
    others: list[Repeat]  # another purpose in the same period or window: shown only
    notes: list[str]


def find_repeats(
    rows: Iterable[Candidate], earlier: Sequence[EarlierPayment], *, purpose: str
) -> tuple[list[Repeat], list[Repeat]]:
    """(same purpose, other purpose) matches of each row by phone and currency, one per row."""
    by_recipient: dict[tuple[str, str], list[EarlierPayment]] = {}
    for e in earlier:
        by_recipient.setdefault((e.phone, e.currency), []).append(e)
    same: list[Repeat] = []
    other: list[Repeat] = []
    for row in rows:
        found = by_recipient.get((row.phone, row.currency))
        if not found:
            continue
        mine = [e for e in found if (e.purpose or "payroll") == purpose]
        if mine:
            # The paid one first, then the latest: what the user most needs to hear about.
            best = max(mine, key=lambda e: (e.paid, e.created_at))
            same.append(Repeat(row, best))
        else:
            other.append(Repeat(row, max(found, key=lambda e: (e.paid, e.created_at))))
    return same, other


def decide(
    rows: Sequence[Candidate],
    earlier: Sequence[EarlierPayment],
    *,
    purpose: str,
    period: str,
    mode: RepeatMode,
    window_days: int,
) -> GuardDecision:
    """Refuse, or say which rows to leave out and which repeat number the batch gets.

    Raises:
        RepeatPaymentError: rows are paid already under this purpose and no mode was chosen.
    """
    same, other = find_repeats(rows, earlier, purpose=purpose)
    notes = [f"note: {line}" for line in describe(other, total=len(rows), purposes=True)]
    if same and mode is RepeatMode.REFUSE:
        raise RepeatPaymentError(same, total=len(rows), window_days=window_days)
    skip: dict[int, Repeat] = {}
    repeat_no = 0
    if same and mode is RepeatMode.ONLY_NEW:
        skip = {r.row.sheet_row: r for r in same}
        notes += [f"--only-new leaves out: {line}" for line in describe(same, total=len(rows))]
    elif same and mode is RepeatMode.ALLOW:
        in_period = [r.earlier.repeat_no for r in same if r.earlier.period == period]
        repeat_no = max(in_period) + 1 if in_period else 0
        notes += [f"--allow-repeat pays again: {line}" for line in describe(same, total=len(rows))]
    return GuardDecision(skip, repeat_no, same, other, notes)


def describe(repeats: Sequence[Repeat], *, total: int, purposes: bool = False) -> list[str]:
    """Human lines, one per earlier batch: which rows, when, and amounts that differ.

    "19 of 20 rows were paid in batch 'hr' on 2026-11-25: rows 2-20; row 8 was paid
    1,519.55, now 1,619.55"
    """
    by_batch: dict[int, list[Repeat]] = {}
    for r in repeats:
        by_batch.setdefault(r.earlier.batch_id, []).append(r)
    lines = []
    for group in by_batch.values():
        e = group[0].earlier
        paid = all(r.earlier.paid for r in group)
        verb = "were paid" if paid else "are paid or planned"
        kind = f" ({e.purpose or 'payroll'}, period {e.period or '?'})" if purposes else ""
        line = (
            f"{len(group)} of {total} rows {verb} in batch {e.batch_name!r}{kind} on "
            f"{e.created_at:%Y-%m-%d}: {_rows_text(r.row.sheet_row for r in group)}"
        )
        changed = [r for r in group if not r.same_amount]
        for r in changed[:5]:
            line += (
                f"; row {r.row.sheet_row} was paid {_money(r.earlier.amount_minor, r.row.currency)}"
                f", now {_money(r.row.amount_minor, r.row.currency)}"
            )
        if len(changed) > 5:
            line += f"; {len(changed) - 5} more rows with another amount"
        lines.append(line)
    return lines


def _money(minor: int, currency: str) -> str:
    amount = from_minor(minor, currency)
    return f"{amount:,} {currency}"


def _rows_text(numbers: Iterable[int]) -> str:
    """'rows 2-20, 25' from sheet row numbers."""
    ordered = sorted(set(numbers))
    spans: list[str] = []
    start = prev = ordered[0]
    for n in [*ordered[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        spans.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    word = "row" if len(ordered) == 1 else "rows"
    if len(spans) > 12:
        spans = [*spans[:12], "..."]
    return f"{word} {', '.join(spans)}"


class RepeatPaymentError(BatchConflictError):
    """Rows of a new batch pay recipients an earlier batch pays already (issue 11)."""

    def __init__(self, repeats: Sequence[Repeat], *, total: int, window_days: int) -> None:
        self.repeats = list(repeats)
        lines = describe(repeats, total=total)
        new = total - len({r.row.sheet_row for r in repeats})
        changed = sum(1 for r in repeats if not r.same_amount)
        advice = (
            f"nothing was sent. --only-new pays only the {new} row(s) not paid yet"
            if new else "nothing was sent; every row is paid already"
        )
        if changed:
            advice += (
                f"; {changed} row(s) paid with another amount are not paid by --only-new "
                "(pay a difference as its own batch, e.g. --purpose adjustment)"
            )
        advice += "; --allow-repeat pays them all again on purpose"
        super().__init__(
            f"{'; '.join(lines)} (same pay period or the last {window_days} days). {advice}",
            batch_id=repeats[0].earlier.batch_id if repeats else None,
        )
