"""Review, pure (issue 17): what a checker should look at before approving a batch.

Totals, the largest amounts, and what changed against earlier batches of the same kind on
the ledger: new and missing recipients (payers, for collections), changed amounts, a phone
now under another name, a name now at another phone, one phone on several names, and
amounts far outside a recipient's history or the batch's own distribution. Every finding
names the sheet row it is about.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext

from batch.ledger.approvals import HistoryLine
from batch.markets import from_minor
from batch.planning.findings import (
    Finding,
    History,
    Kind,
    ReviewRow,
    median,
    money_text,
    norm_name,
    person_key,
)

__all__ = ["Finding", "History", "Kind", "Largest", "ReviewRow", "find_changes", "largest"]

HISTORY_RATIO = Decimal(3)  # x3 or /3 against a recipient's median earlier amount
BATCH_RATIO = Decimal(3)  # ... and at least this far from the batch's median
BATCH_MAD_SCORE = Decimal("3.5")  # robust z-score (log amounts) beyond which a row stands out
BATCH_MIN_ROWS = 5  # fewer rows in a currency: no distribution to stand out from
LARGEST = 5  # largest amounts listed per currency


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
        known = history.person_last.get(person_key(r.external_id, r.name))
        seen = f"last paid in {history.where(known)}" if known else "never paid on this ledger"
        out.append(Finding(Kind.NEW, r.sheet_row, r.name, r.phone,
                           f"new {party}: not in batch {prev_name!r}; {seen}",
                           data={"previous_batch": prev_name}))
    for p in missing:
        out.append(Finding(Kind.MISSING, None, p.name, p.phone,
                           f"{party} {p.name!r} ({p.phone}) missing since batch "
                           f"{prev_name!r} (its row {p.sheet_row}, "
                           f"{money_text(p.amount_minor, p.currency)})",
                           batch=prev_name, batch_row=p.sheet_row))
    for r, p in pairs:
        if r.amount_minor is None or p.amount_minor is None or r.amount_minor == p.amount_minor \
                and r.currency == p.currency:
            continue
        if r.currency != p.currency:
            message = (f"currency changed: {money_text(p.amount_minor, p.currency)} in batch "
                       f"{prev_name!r}, now {money_text(r.amount_minor, r.currency)}")
            data = {"before": money_text(p.amount_minor, p.currency)}
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
    person = person_key(r.external_id, r.name)
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
        middle = median(earlier)
        ratio = Decimal(r.amount_minor) / middle if middle else None
        if ratio is not None and (ratio >= HISTORY_RATIO or ratio <= 1 / HISTORY_RATIO):
            out.append(Finding(
                Kind.OUTLIER_HISTORY, r.sheet_row, r.name, r.phone,
                f"{money_text(r.amount_minor, r.currency)} is {ratio:.1f}x the median of this "
                f"person's {len(earlier)} earlier amount(s) "
                f"({money_text(int(middle), r.currency)})",
                data={"ratio": f"{ratio:.2f}", "median": str(from_minor(int(middle),
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
        middle = median(r.amount_minor or 0 for r in group)
        with localcontext() as ctx:
            ctx.prec = 12  # plenty for a ratio; Decimal.ln costs ~3x more at the default 28
            ln = {a: (Decimal(a) / middle).ln() for a in {r.amount_minor or 0 for r in group}}
        logs = [ln[r.amount_minor or 0] for r in group]
        mad = Decimal(statistics.median(abs(x) for x in logs))
        limit = max(BATCH_RATIO.ln(), BATCH_MAD_SCORE * Decimal("1.4826") * mad)
        for r, x in zip(group, logs, strict=True):
            if abs(x) > limit:
                ratio = Decimal(r.amount_minor or 0) / middle
                out.append(Finding(
                    Kind.OUTLIER_BATCH, r.sheet_row, r.name, r.phone,
                    f"{money_text(r.amount_minor, currency)} is {ratio:.1f}x this batch's median "
                    f"{currency} amount ({money_text(int(middle), currency)})",
                    data={"ratio": f"{ratio:.2f}",
                          "median": str(from_minor(int(middle), currency))},
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
