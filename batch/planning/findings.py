"""Review findings, the records (pure): what a finding is, the rows compared, and what
earlier batches say about each phone and person (issue 17)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from batch.ledger.approvals import HistoryLine
from batch.markets import from_minor

HISTORY_DEPTH = 12  # earlier amounts per recipient kept for the median


class Kind(StrEnum):
    """What a finding is about."""

    NEW = "new"
    MISSING = "missing"
    AMOUNT_CHANGED = "amount_changed"
    PHONE_OTHER_NAME = "phone_other_name"
    NAME_OTHER_PHONE = "name_other_phone"
    SHARED_PHONE = "shared_phone"
    OUTLIER_HISTORY = "outlier_history"
    OUTLIER_BATCH = "outlier_batch"


@dataclass(frozen=True, slots=True)
class ReviewRow:
    """One row of the batch under review."""

    sheet_row: int
    name: str | None
    phone: str | None
    amount_minor: int | None
    currency: str | None
    external_id: str | None = None


@dataclass(frozen=True)
class Finding:
    """One thing the checker should look at; `row` is the sheet row (None: not in this sheet,
    then `batch` and `batch_row` say where it was)."""

    kind: Kind
    row: int | None
    name: str | None
    phone: str | None
    message: str
    batch: str | None = None
    batch_row: int | None = None
    data: dict[str, str] = field(default_factory=dict)


_PUNCTUATION = re.compile(r"[^\w]+")


def norm_name(name: str | None) -> str:
    """A name as compared: case, punctuation and spacing ignored."""
    return " ".join(_PUNCTUATION.sub(" ", (name or "").casefold()).split())


def person_key(external_id: str | None, name: str | None) -> tuple[str, str]:
    """Who a row pays: its external id when it has one, else its name."""
    if external_id:
        return ("id", external_id.strip().casefold())
    return ("name", norm_name(name))


def median(values: Iterable[int]) -> Decimal:
    """The median, exact (the mean of the middle two for an even count)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return Decimal(ordered[middle])
    return (Decimal(ordered[middle - 1]) + Decimal(ordered[middle])) / 2


def money_text(minor: int | None, currency: str | None) -> str:
    if minor is None or currency is None:
        return "?"
    return f"{from_minor(minor, currency):,} {currency}"


@dataclass
class History:
    """What earlier batches (newest first) say about phones and people."""

    names: dict[int, str]  # batch id -> name
    phone_last: dict[str, HistoryLine] = field(default_factory=dict)
    person_last: dict[tuple[str, str], HistoryLine] = field(default_factory=dict)
    amounts: dict[tuple[tuple[str, str], str], list[int]] = field(
        default_factory=lambda: defaultdict(list)
    )

    @classmethod
    def of(
        cls, lines: Iterable[HistoryLine], names: dict[int, str], *,
        keep: int | None = None, kept: list[HistoryLine] | None = None,
    ) -> History:
        """Built from earlier rows given newest batch first; the lines of batch `keep` are
        also appended to `kept` (the previous batch, read in the same pass)."""
        h = cls(names)
        for line in lines:
            if kept is not None and line.batch_id == keep:
                kept.append(line)
            if line.phone:
                h.phone_last.setdefault(line.phone, line)
            person = person_key(line.external_id, line.name)
            if person[1]:
                h.person_last.setdefault(person, line)
                if line.currency and line.amount_minor is not None:
                    seen = h.amounts[(person, line.currency)]
                    if len(seen) < HISTORY_DEPTH:
                        seen.append(line.amount_minor)
        return h

    def where(self, line: HistoryLine) -> str:
        """`batch NAME row N`."""
        return f"batch {self.names.get(line.batch_id, line.batch_id)!r} row {line.sheet_row}"
