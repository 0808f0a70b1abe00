"""Money figures per currency that reconcile to the sheet (issue 13), pure.

One shape for `run`, `status` and `reconcile` (JSON and text) and the report's Summary:

    sheet = paid + failed + in flight + not sent + skipped + cancelled      (per currency)
    planned = sheet - skipped                                              (rows to be paid)

`sheet` is the total the sheet itself held when it was planned (valid rows plus skipped rows
whose amount was readable), recorded with the batch; the figures on the right come from the
rows' states now. A difference means a row was lost or changed: it is shown, never hidden.
Fees are per fee currency: predicted for every row to be paid, and for the completed rows
predicted vs what the API's amounts show was charged.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from batch.engine.states import IN_FLIGHT, RowState
from batch.ledger.records import BatchSummary
from batch.markets import display_amount, exact, from_minor

NOT_SENT: frozenset[RowState] = frozenset(
    {RowState.NEW, RowState.RECIPIENT_READY, RowState.SESSION_OPEN}
)
# Where a row's money stands, in the order the figures are read; each state in one group.
GROUPS: tuple[tuple[str, frozenset[RowState]], ...] = (
    ("paid", frozenset({RowState.COMPLETED})),
    ("failed", frozenset({RowState.FAILED})),
    ("in_flight", IN_FLIGHT),
    ("not_sent", NOT_SENT),
    ("skipped", frozenset({RowState.SKIPPED})),
    ("cancelled", frozenset({RowState.CANCELLED})),
)
GROUP_NAMES = tuple(name for name, _ in GROUPS)
ZERO = Decimal(0)


@dataclass(frozen=True)
class CurrencyMoney:
    """One currency of one batch: the sheet's total and where every part of it stands."""

    currency: str
    sheet: Decimal  # what the sheet held (recorded at plan time)
    amounts: Mapping[str, Decimal]  # group name (GROUP_NAMES) -> amount
    rows: Mapping[str, int]  # group name -> rows
    fees_predicted: Decimal = ZERO  # every row to be paid
    fees_predicted_completed: Decimal = ZERO
    fees_charged: Decimal = ZERO  # completed rows, from the API's amounts

    @property
    def paid(self) -> Decimal:
        return self.amounts.get("paid", ZERO)

    @property
    def failed(self) -> Decimal:
        return self.amounts.get("failed", ZERO)

    @property
    def in_flight(self) -> Decimal:
        return self.amounts.get("in_flight", ZERO)

    @property
    def not_sent(self) -> Decimal:
        return self.amounts.get("not_sent", ZERO)

    @property
    def skipped(self) -> Decimal:
        return self.amounts.get("skipped", ZERO)

    @property
    def cancelled(self) -> Decimal:
        return self.amounts.get("cancelled", ZERO)

    @property
    def planned(self) -> Decimal:
        """Rows to be paid: everything but SKIPPED."""
        return self._sum(n for n in GROUP_NAMES if n != "skipped")

    @property
    def accounted(self) -> Decimal:
        """Every row's amount, whatever its state."""
        return self._sum(GROUP_NAMES)

    @property
    def difference(self) -> Decimal:
        """Sheet total minus what the rows account for: zero when it reconciles."""
        return exact(self.sheet - self.accounted, self.currency)

    @property
    def reconciles(self) -> bool:
        return self.difference == 0

    @property
    def total_debit_planned(self) -> Decimal:
        """Payouts planned plus their predicted fees (fees in this currency)."""
        return exact(self.planned + self.fees_predicted, self.currency)

    @property
    def debited(self) -> Decimal:
        """What the completed rows took from the wallet: paid plus fees charged."""
        return exact(self.paid + self.fees_charged, self.currency)

    def _sum(self, names: Any) -> Decimal:
        return exact(sum((self.amounts.get(n, ZERO) for n in names), ZERO), self.currency)


def money_figures(
    summary: BatchSummary, fee_figures: Mapping[str, tuple[Decimal, Decimal]] | None = None
) -> list[CurrencyMoney]:
    """Per currency (sorted): sheet total, amounts and rows per group, fees."""
    sheet_totals = summary.batch.options.get("sheet_totals")
    fee_figures = fee_figures or {}
    currencies = set(summary.money) | set(summary.fees) | set(fee_figures)
    currencies |= set(summary.rows_by_currency)
    if isinstance(sheet_totals, dict):
        currencies |= set(sheet_totals)
    result = []
    for cur in sorted(currencies):
        by_state = summary.money.get(cur, {})
        rows_by_state = summary.rows_by_currency.get(cur, {})
        amounts: dict[str, Decimal] = {}
        rows: dict[str, int] = {}
        for name, states in GROUPS:
            minor = sum(n for s, n in by_state.items() if RowState(s) in states)
            amounts[name] = from_minor(minor, cur) if _known(cur) else Decimal(minor)
            rows[name] = sum(n for s, n in rows_by_state.items() if RowState(s) in states)
        if isinstance(sheet_totals, dict):
            sheet = exact(Decimal(sheet_totals.get(cur, "0")), cur)
        else:  # planned before issue 13: no recorded total, the rows are all there is
            sheet = exact(sum(amounts.values(), ZERO), cur)
        predicted_completed, charged = fee_figures.get(cur, (ZERO, ZERO))
        result.append(CurrencyMoney(
            cur, sheet, amounts, rows,
            fees_predicted=exact(summary.fees.get(cur, ZERO), cur),
            fees_predicted_completed=exact(predicted_completed, cur),
            fees_charged=exact(charged, cur),
        ))
    return result


def _known(currency: str) -> bool:
    from batch.markets import CURRENCY_DECIMALS

    return currency in CURRENCY_DECIMALS


def money_json(figures: list[CurrencyMoney]) -> dict[str, Any]:
    """`money` in the JSON of run, status and reconcile (docs/json.md): exact strings."""
    out: dict[str, Any] = {}
    for m in figures:
        out[m.currency] = {
            "sheet": str(m.sheet),
            "planned": str(m.planned),
            **{name: str(exact(m.amounts.get(name, ZERO), m.currency)) for name in GROUP_NAMES},
            "pending": str(exact(m.in_flight + m.not_sent, m.currency)),
            "rows": {name: m.rows.get(name, 0) for name in GROUP_NAMES},
            "fees": {
                "predicted": str(m.fees_predicted),
                "predicted_completed": str(m.fees_predicted_completed),
                "charged": str(m.fees_charged),
                "difference": str(exact(m.fees_charged - m.fees_predicted_completed,
                                        m.currency)),
            },
            "total_debit_planned": str(m.total_debit_planned),
            "debited": str(m.debited),
            "reconciles": m.reconciles,
            "difference": str(m.difference),
        }
    return out


def money_lines(figures: list[CurrencyMoney]) -> list[str]:
    """The same figures for people, one currency per line (plus a fee line)."""
    lines = []
    for m in figures:
        cur = m.currency

        def a(value: Decimal, cur: str = cur) -> str:
            return display_amount(value, cur)

        parts = [f"paid {a(m.paid)}", f"failed {a(m.failed)}", f"in flight {a(m.in_flight)}",
                 f"not sent {a(m.not_sent)}", f"skipped {a(m.skipped)}"]
        if m.rows.get("cancelled") or m.cancelled:
            parts.append(f"cancelled {a(m.cancelled)}")
        check = "✓" if m.reconciles else f"✗ difference {a(m.difference)}"
        lines.append(f"{cur} sheet {a(m.sheet)} = " + " + ".join(parts) + f"  {check}")
        lines.append(
            f"{cur} fees predicted {a(m.fees_predicted)}; completed rows: predicted "
            f"{a(m.fees_predicted_completed)}, charged {a(m.fees_charged)}"
        )
    return lines


@dataclass(frozen=True)
class WalletShort:
    """A currency whose wallet could not cover a payout (issue 13): what finishing needs.

    The API has no balance endpoint (REFERENCE: "no documented API to read it"), so what is
    missing is stated as what the rest of this currency needs: the rows a
    `run --retry-failed` would send, their payouts plus predicted fees.
    """

    currency: str
    message: str  # the API's wallet message, as it said it
    rows: int
    payouts: Decimal
    fees: Decimal

    @property
    def needed(self) -> Decimal:
        return exact(self.payouts + self.fees, self.currency)

    def advice(self, batch: str) -> str:
        """One line for people: how much, and what to do."""
        a = functools.partial(display_amount, currency=self.currency)
        return (
            f"wallet: {self.currency} is short ({self.message}); its {self.rows} row(s) not "
            f"paid need {self.currency} {a(self.needed)} (payouts {a(self.payouts)} + "
            f"predicted fees {a(self.fees)}): fund the {self.currency} wallet with at least "
            f"that, then `paybatch run {batch} --yes --retry-failed`"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "message": self.message, "rows": self.rows, "payouts": str(self.payouts),
            "fees": str(self.fees), "needed": str(self.needed),
        }
