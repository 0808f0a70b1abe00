"""A real ledger holding one batch in every situation a report must show, built through the
ledger's named transitions: completed, failed (API and pre-send), retried, in flight, not sent,
skipped — with sheet text that tries formula injection."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from batch.engine.states import ExecuteOutcome
from batch.ledger import Ledger, NewRow, SkippedRow

BATCH = "payroll-2026-11"
T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


class Clock:
    """A ledger clock that moves one second per reading (deterministic timestamps)."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@dataclass
class Answer:
    """An execution answer as the API client returns it (api_models.Execution fits)."""

    status: str
    payer_amount: Decimal
    payer_currency: str
    payee_amount: Decimal
    payee_currency: str
    provider_transaction_id: str | None = None
    gateway_message: str | None = None
    wallet_message: str | None = None


# sheet row -> (name, phone, amount_minor, currency, country, external_id, note, email)
ROWS: dict[int, tuple[str, str, int, str, str, str | None, str | None, str | None]] = {
    2: ("Alice Kollie", "231770000102", 15000, "USD", "LR", "EMP-001", "#N/A", None),
    3: ("=HYPERLINK(\"http://x\",\"click\")", "231770000103", 8050, "USD", "LR", "-5+3", "+cmd|' /C calc'!A0", "@SUM(1)"),  # noqa: E501
    4: ("Bob Doe", "231880000104", 500000, "LRD", "LR", "EMP-003", None, None),
    5: ("Claudine Uwase", "250780000105", 20000, "RWF", "RW", "EMP-004", None, None),
    6: ("Dan Sumo", "231770000106", 6000, "USD", "LR", "EMP-005", None, None),
    7: ("Eve Tarr", "231770000107", 4510, "USD", "LR", "EMP-006", "\tTabbed", None),
    8: ("Frank Gbah", "231770000108", 1200, "USD", "LR", "EMP-007", None, None),
    9: ("Grace Weah", "231770000109", 2500, "USD", "LR", "EMP-008", None, None),
    10: ("Henry Flomo", "231990000110", 3000, "USD", "LR", "EMP-009", None, None),
}
FEES = {2: "2.25", 3: "1.21", 4: "75.00", 5: "300", 6: "0.90", 7: "0.68", 8: "0.18", 9: "0.38"}
NO_MONEY = "Insufficient wallet balance"


@dataclass
class Built:
    """Where the ledger is and what was put in it."""

    path: Path
    batch_id: int
    refs: dict[int, list[str]]  # sheet row -> reference_ids sent, in order


def build(path: Path) -> Built:
    """Create the ledger file and walk every row to its situation."""
    ledger = Ledger(path, clock=Clock())
    first = {r: str(uuid.uuid4()) for r in ROWS}
    batch_id = ledger.create_batch(
        name=BATCH, source_file="payroll_nov.xlsx", content_hash="c" * 64,
        payout_set_hash="p" * 64,
        rows=[
            NewRow(sheet_row=r, name=n, phone=p, amount_minor=a, currency=c, country=co,
                   reference_id=first[r], external_id=e, note=no, email=em)
            for r, (n, p, a, c, co, e, no, em) in ROWS.items()
        ],
        skipped=[SkippedRow(sheet_row=11, name="=2+2", phone=None, amount="abc", currency="USD",
                            country="LR", problems=[{"column": "amount", "value": "abc",
                                                     "message": "not a number"}])],
    )
    ids = {r.sheet_row: r.id for r in ledger.rows(batch_id, with_attempts=False)}
    for sheet_row, fee in FEES.items():
        cur = ROWS[sheet_row][3]
        ledger.set_row_prediction(ids[sheet_row], operator="MTN", method="MTN_MOMO_LBR",
                                  provider="PAWAPAY", predicted_fee=Decimal(fee), fee_currency=cur)
    ledger.mark_batch_started(batch_id)
    refs: dict[int, list[str]] = {}

    def send(sheet_row: int, ref: str) -> None:
        ledger.mark_recipient_ready(ids[sheet_row], account_id=500 + sheet_row)
        ledger.mark_session_open(ids[sheet_row], ref, session_id=900 + sheet_row, wallet_id=1,
                                 expires_at=T0 + timedelta(hours=1),
                                 account_id=500 + sheet_row)
        ledger.mark_submitting([(ids[sheet_row], ref)])
        refs.setdefault(sheet_row, []).append(ref)

    def answer(sheet_row: int, status: str, charged: str | None = None, **kw: str) -> Answer:
        _, _, minor, cur, *_ = ROWS[sheet_row]
        amount = Decimal(minor).scaleb(-2 if cur != "RWF" else 0)
        fee = Decimal(charged if charged is not None else FEES[sheet_row])
        return Answer(status, amount + fee, cur, amount, cur, **kw)

    for r in (2, 3, 4, 5, 6, 7, 9):
        send(r, first[r])
    ledger.mark_completed(ids[2], first[2], answer(2, "COMPLETED", provider_transaction_id="TX-2"))
    ledger.mark_completed(ids[3], first[3], answer(3, "COMPLETED", "1.30",
                                                   provider_transaction_id="TX-3"))
    for r in (4, 5):
        ledger.mark_failed(ids[r], first[r], reason=f"payout FAILED: {NO_MONEY}",
                           execution=answer(r, "FAILED", gateway_message=NO_MONEY))
    ledger.mark_unknown(ids[6], first[6], outcome=ExecuteOutcome.AMBIGUOUS, reason="ServerError: 502 from execute")
    ledger.mark_submitted(ids[7], first[7], answer(7, "PROCESSING"))
    # Row 9: the first attempt failed, the second (new reference_id) completed.
    ledger.mark_failed(ids[9], first[9], reason="payout FAILED: timeout at operator",
                       execution=answer(9, "FAILED", gateway_message="timeout at operator"))
    second = str(uuid.uuid4())
    ledger.start_new_attempt(ids[9], second, reason="--retry-failed")
    send(9, second)
    ledger.mark_completed(ids[9], second, answer(9, "COMPLETED", provider_transaction_id="TX-9b"))
    # Row 10: unroutable, failed before anything was sent.
    ledger.mark_failed(ids[10], first[10], reason="cannot be paid: phone has no operator")
    ledger.close()
    return Built(path, batch_id, refs)


def small_batch(path: Path, name: str, outcomes: list[str], *, day: int = 0) -> None:
    """A batch whose rows end as `outcomes` ("completed", "failed", "unknown", "new")."""
    ledger = Ledger(path, clock=Clock(T0 + timedelta(days=day)))
    batch_id = ledger.create_batch(
        name=name, source_file=f"{name}.csv", content_hash=name, payout_set_hash=name,
        rows=[NewRow(sheet_row=i + 2, name=f"P{i}", phone=f"2317700{i:05d}", amount_minor=1000,
                     currency="USD", country="LR", reference_id=str(uuid.uuid4()))
              for i in range(len(outcomes))],
    )
    for row, outcome in zip(ledger.rows(batch_id), outcomes, strict=True):
        ref = row.current_reference_id
        assert ref is not None
        if outcome == "new":
            continue
        ledger.mark_recipient_ready(row.id, account_id=1)
        ledger.mark_session_open(row.id, ref, session_id=1, wallet_id=1,
                                 expires_at=T0 + timedelta(hours=1), account_id=1)
        ledger.mark_submitting([(row.id, ref)])
        done = Answer(outcome.upper(), Decimal("10.15"), "USD", Decimal("10.00"), "USD")
        if outcome == "completed":
            ledger.mark_completed(row.id, ref, done)
        elif outcome == "failed":
            ledger.mark_failed(row.id, ref, reason="payout FAILED", execution=done)
        else:
            ledger.mark_unknown(row.id, ref, outcome=ExecuteOutcome.AMBIGUOUS, reason="timeout")
    ledger.close()
