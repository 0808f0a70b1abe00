"""What `run`, `reconcile` and `cancel` need beside the flow (issue 13): the input checked
with no side effect, the holders of a busy ledger named, the money figures, what a short
wallet's currency needs, and withdrawing a batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from batch import errors
from batch.config import Settings, user_at_host
from batch.engine.states import IN_FLIGHT
from batch.ledger import Ledger
from batch.planning.flow import check_sheet, sending_totals
from batch.report.money import CurrencyMoney, WalletShort, money_figures

if TYPE_CHECKING:
    from batch.intake.outcome import ValidationReport


@dataclass(frozen=True)
class CancelReport:
    """What `paybatch cancel` did to a batch."""

    batch: str
    cancelled_rows: int  # rows not sent, now CANCELLED (0 when cancelled before)
    counts: dict[str, int]
    money: list[CurrencyMoney]
    already: bool  # it was cancelled before

    @property
    def in_flight(self) -> int:
        return sum(self.counts.get(s.value, 0) for s in IN_FLIGHT)


def cancel_batch(ledger_path: Path, name: str, *, reason: str | None = None) -> CancelReport:
    """`paybatch cancel`: withdraw a batch (issue 13) under its lock; no network.

    Before any row was sent the batch is closed for good; after, its rows not sent are
    CANCELLED and what was paid stays paid; rows in flight still settle (`reconcile`).
    """
    if not ledger_path.is_file():
        raise errors.InputError(f"{name}: no such batch (no ledger at {ledger_path})")
    with Ledger(ledger_path) as ledger:
        batch = ledger.batch_by_name(name)
        if batch is None:
            raise errors.InputError(f"{name}: no such batch in {ledger_path}")
        why = f"cancelled by {user_at_host()}" + (f": {reason}" if reason else "")
        with ledger.locked(batch.id):
            done = ledger.cancel_batch(batch.id, reason=why)
        return CancelReport(
            name, done, ledger.counts(batch.id), batch_money(ledger, batch.id),
            already=batch.cancelled_at is not None,
        )


def batch_money(ledger: Ledger, batch_id: int) -> list[CurrencyMoney]:
    """The batch's money figures per currency as the ledger holds them now."""
    summary = ledger.summary(batch_id)
    assert summary is not None
    return money_figures(summary, ledger.fee_figures(batch_id))


def wallet_shortfalls(
    ledger: Ledger, batch_id: int, paused: dict[str, str]
) -> list[WalletShort]:
    """For each currency paused for its wallet: what a --retry-failed run would send."""
    if not paused:
        return []
    needs = sending_totals(ledger, batch_id, retry_failed=True)
    shorts = []
    for currency, message in sorted(paused.items()):
        t = needs.get(currency)
        shorts.append(WalletShort(
            currency, message, t.rows if t else 0,
            t.payouts if t else Decimal(0), t.fees if t else Decimal(0),
        ))
    return shorts


def refuse_cancelled(ledger: Ledger, batch_id: int) -> None:
    batch = ledger.batch_by_id(batch_id)
    if batch is not None and batch.cancelled_at is not None:
        raise errors.InputError(
            f"batch {batch.name!r} was cancelled at {batch.cancelled_at:%Y-%m-%d %H:%M} UTC "
            "and can never be run; `paybatch reconcile` still settles rows in flight"
        )


def check_input(settings: Settings, target: str) -> ValidationReport | None:
    """What `run`/`reconcile` is about, checked with no side effect (issue 13): a sheet is
    loaded and validated (`settings.plan`, `settings.validation`); a batch name needs an
    existing ledger holding it. Returns the sheet's validation (None for a batch name);
    raises InputError."""
    path = Path(target)
    ledger_path = settings.ledger
    if settings.plan is not None and path.is_file():
        return check_sheet(path, settings.plan, settings.validation)
    missing = f"{target}: no such file or batch in {ledger_path}"
    if not ledger_path.is_file():
        raise errors.InputError(f"{missing} (no ledger there yet)")
    with Ledger(ledger_path) as ledger:
        if ledger.batch_by_name(target) is None:
            raise errors.InputError(missing)
    return None


def holders_of(ledger_path: Path) -> str:
    """Who holds batches of this ledger: 'batch 'x' is being run by process N on HOST …'."""
    if not ledger_path.is_file():
        return "another paybatch process uses this ledger"
    with Ledger(ledger_path) as ledger:
        held = ledger.lock_holders()
    if not held:
        return "another paybatch process (planning, or `paybatch sandbox --state`) uses it"
    return "; ".join(
        f"batch {h['name']!r} is being run by process {h['pid']} on {h['host']} since "
        f"{h['acquired_at']}" for h in held
    )
