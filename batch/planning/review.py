"""Review, pure (issue 17): what a checker should look at before approving a batch.

Totals, the largest amounts, and what changed against earlier batches of the same kind on
the ledger: new and missing recipients (payers, for collections), changed amounts, a phone
now under another name, a name now at another phone, one phone on several names, and
amounts far outside a recipient's history or the batch's own distribution. Every finding
names the sheet row it is about.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from enum import StrEnum

from batch.ledger.approvals import HistoryLine
from batch.markets import from_minor

HISTORY_RATIO = Decimal(3)  # x3 or /3 against a recipient's median earlier amount
BATCH_RATIO = Decimal(3)  # ... and at least this far from the batch's median
BATCH_MAD_SCORE = Decimal("3.5")  # robust z-score (log amounts) beyond which a row stands out
BATCH_MIN_ROWS = 5  # fewer rows in a currency: no distribution to stand out from
HISTORY_DEPTH = 12  # earlier amounts per recipient kept for the median
LARGEST = 5  # largest amounts listed per currency


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


def _person(external_id: str | None, name: str | None) -> tuple[str, str]:
    """Who a row pays: its external id when it has one, else its name."""
    if external_id:
        return ("id", external_id.strip().casefold())
    return ("name", norm_name(name))


def _median(values: Iterable[int]) -> Decimal:
    """The median, exact (the mean of the middle two for an even count)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return Decimal(ordered[middle])
    return (Decimal(ordered[middle - 1]) + Decimal(ordered[middle])) / 2


def _money(minor: int | None, currency: str | None) -> str:
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
            person = _person(line.external_id, line.name)
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


def find_changes(
    rows: Sequence[ReviewRow],
    previous: Sequence[HistoryLine],
    history: History,
    *,
    party: str = "recipient",
) -> list[Finding]:
    """Every finding for `rows` against the previous batch and the whole history."""
    findings = _against_previous(rows, previous, history, party)
    for r in rows:
        findings += _against_history(r, history)
    findings += _shared_phones(rows)
    findings += _batch_outliers(rows)
    order = {k: i for i, k in enumerate(Kind)}
    return sorted(findings, key=lambda f: (f.row is None, f.row or 0, order[f.kind]))


def _ext(external_id: str | None) -> str:
    return external_id.strip().casefold() if external_id else ""


def _match(rows: Sequence[ReviewRow], previous: Sequence[HistoryLine]) -> tuple[
    list[tuple[ReviewRow, HistoryLine]], list[ReviewRow], list[HistoryLine]
]:
    """Pair rows with the previous batch's: by external id, else phone, else name (never two
    rows whose external ids differ)."""
    exts = [_ext(p.external_id) for p in previous]
    by_id: dict[str, list[int]] = defaultdict(list)
    by_phone: dict[str, list[int]] = defaultdict(list)
    by_name: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(previous):
        if exts[i]:
            by_id[exts[i]].append(i)
        if p.phone:
            by_phone[p.phone].append(i)
        by_name[norm_name(p.name)].append(i)
    taken: set[int] = set()
    pairs, new = [], []
    for r in rows:
        ext = _ext(r.external_id)
        found = None
        for candidates in (by_id.get(ext, ()) if ext else (), by_phone.get(r.phone or "", ()),
                           by_name.get(norm_name(r.name), ())):
            for i in candidates:
                if i not in taken and not (ext and exts[i] and ext != exts[i]):
                    found = i
                    break
            if found is not None:
                break
        if found is None:
            new.append(r)
        else:
            taken.add(found)
            pairs.append((r, previous[found]))
    return pairs, new, [p for i, p in enumerate(previous) if i not in taken]


def _against_previous(
    rows: Sequence[ReviewRow], previous: Sequence[HistoryLine], history: History, party: str
) -> list[Finding]:
    if not previous:
        return []
    prev_name = history.names.get(previous[0].batch_id, str(previous[0].batch_id))
    pairs, new, missing = _match(rows, previous)
    out: list[Finding] = []
    for r in new:
        known = history.person_last.get(_person(r.external_id, r.name))
        seen = f"last paid in {history.where(known)}" if known else "never paid on this ledger"
        out.append(Finding(Kind.NEW, r.sheet_row, r.name, r.phone,
                           f"new {party}: not in batch {prev_name!r}; {seen}",
                           data={"previous_batch": prev_name}))
    for p in missing:
        out.append(Finding(Kind.MISSING, None, p.name, p.phone,
                           f"{party} {p.name!r} ({p.phone}) missing since batch "
                           f"{prev_name!r} (its row {p.sheet_row}, "
                           f"{_money(p.amount_minor, p.currency)})",
                           batch=prev_name, batch_row=p.sheet_row))
    for r, p in pairs:
        if r.amount_minor is None or p.amount_minor is None or r.amount_minor == p.amount_minor \
                and r.currency == p.currency:
            continue
        if r.currency != p.currency:
            message = (f"currency changed: {_money(p.amount_minor, p.currency)} in batch "
                       f"{prev_name!r}, now {_money(r.amount_minor, r.currency)}")
            data = {"before": _money(p.amount_minor, p.currency)}
        else:
            assert r.currency is not None
            old, now = from_minor(p.amount_minor, r.currency), from_minor(r.amount_minor,
                                                                          r.currency)
            change = now - old
            pct = (change * 100 / old).quantize(Decimal("0.1")) if old else None
            shown = f", {pct:+}%" if pct is not None else ""
            message = (f"amount changed: {old:,} -> {now:,} {r.currency} "
                       f"({change:+,}{shown}) since batch {prev_name!r}")
            data = {"before": str(old), "after": str(now), "change": str(change),
                    "change_pct": "" if pct is None else str(pct), "currency": r.currency}
        out.append(Finding(Kind.AMOUNT_CHANGED, r.sheet_row, r.name, r.phone, message,
                           batch=prev_name, batch_row=p.sheet_row, data=data))
    return out


def _against_history(r: ReviewRow, history: History) -> list[Finding]:
    out: list[Finding] = []
    last = history.phone_last.get(r.phone or "")
    if last is not None and last.name and norm_name(last.name) != norm_name(r.name):
        out.append(Finding(
            Kind.PHONE_OTHER_NAME, r.sheet_row, r.name, r.phone,
            f"phone {r.phone} was paid to {last.name!r} ({history.where(last)}); now {r.name!r}",
            batch=history.names.get(last.batch_id), batch_row=last.sheet_row,
            data={"earlier_name": last.name},
        ))
    person = _person(r.external_id, r.name)
    known = history.person_last.get(person)
    if known is not None and known.phone and r.phone and known.phone != r.phone:
        out.append(Finding(
            Kind.NAME_OTHER_PHONE, r.sheet_row, r.name, r.phone,
            f"{r.name!r} was paid at {known.phone} ({history.where(known)}); now {r.phone}",
            batch=history.names.get(known.batch_id), batch_row=known.sheet_row,
            data={"earlier_phone": known.phone},
        ))
    earlier = history.amounts.get((person, r.currency or ""))
    if earlier and r.amount_minor and r.currency:
        median = _median(earlier)
        ratio = Decimal(r.amount_minor) / median if median else None
        if ratio is not None and (ratio >= HISTORY_RATIO or ratio <= 1 / HISTORY_RATIO):
            out.append(Finding(
                Kind.OUTLIER_HISTORY, r.sheet_row, r.name, r.phone,
                f"{_money(r.amount_minor, r.currency)} is {ratio:.1f}x the median of this "
                f"person's {len(earlier)} earlier amount(s) "
                f"({_money(int(median), r.currency)})",
                data={"ratio": f"{ratio:.2f}", "median": str(from_minor(int(median),
                                                                        r.currency))},
            ))
    return out


def _shared_phones(rows: Sequence[ReviewRow]) -> list[Finding]:
    by_phone: dict[str, list[ReviewRow]] = defaultdict(list)
    for r in rows:
        if r.phone:
            by_phone[r.phone].append(r)
    out: list[Finding] = []
    for phone, group in by_phone.items():
        if len({norm_name(r.name) for r in group}) < 2:
            continue
        for r in group:
            others = ", ".join(f"row {o.sheet_row} ({o.name})" for o in group if o is not r)
            out.append(Finding(Kind.SHARED_PHONE, r.sheet_row, r.name, phone,
                               f"phone {phone} is also on {others}"))
    return out


def _batch_outliers(rows: Sequence[ReviewRow]) -> list[Finding]:
    """Amounts far from the batch's median, in log terms (a typed extra zero is x10)."""
    by_currency: dict[str, list[ReviewRow]] = defaultdict(list)
    for r in rows:
        if r.currency and r.amount_minor and r.amount_minor > 0:
            by_currency[r.currency].append(r)
    out: list[Finding] = []
    for currency, group in by_currency.items():
        if len(group) < BATCH_MIN_ROWS:
            continue
        median = _median(r.amount_minor or 0 for r in group)
        with localcontext() as ctx:
            ctx.prec = 12  # plenty for a ratio; Decimal.ln costs ~3x more at the default 28
            ln = {a: (Decimal(a) / median).ln() for a in {r.amount_minor or 0 for r in group}}
        logs = [ln[r.amount_minor or 0] for r in group]
        mad = Decimal(statistics.median(abs(x) for x in logs))
        limit = max(BATCH_RATIO.ln(), BATCH_MAD_SCORE * Decimal("1.4826") * mad)
        for r, x in zip(group, logs, strict=True):
            if abs(x) > limit:
                ratio = Decimal(r.amount_minor or 0) / median
                out.append(Finding(
                    Kind.OUTLIER_BATCH, r.sheet_row, r.name, r.phone,
                    f"{_money(r.amount_minor, currency)} is {ratio:.1f}x this batch's median "
                    f"{currency} amount ({_money(int(median), currency)})",
                    data={"ratio": f"{ratio:.2f}",
                          "median": str(from_minor(int(median), currency))},
                ))
    return out


@dataclass(frozen=True)
class Largest:
    """One of the largest amounts of a currency."""

    row: int
    name: str | None
    phone: str | None
    amount: Decimal
    currency: str


def largest(rows: Iterable[ReviewRow], *, per_currency: int = LARGEST) -> list[Largest]:
    """The largest amounts of each currency, largest first."""
    by_currency: dict[str, list[ReviewRow]] = defaultdict(list)
    for r in rows:
        if r.currency and r.amount_minor is not None:
            by_currency[r.currency].append(r)
    out = []
    for currency in sorted(by_currency):
        top = sorted(by_currency[currency], key=lambda r: (-(r.amount_minor or 0), r.sheet_row))
        out += [Largest(r.sheet_row, r.name, r.phone,
                        from_minor(r.amount_minor or 0, currency), currency)
                for r in top[:per_currency]]
    return out
