"""Planning, pure: hashes, reference_ids, name and repeat guards, totals."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from batch.errors import BatchConflictError
from batch.ledger import BatchRecord, Ledger
from batch.models import PayoutRow
from batch.planning.identity import (
    check_same_name,
    content_hash,
    default_batch_name,
    new_rows,
    over_limits,
    payout_set_hash,
    totals,
)


def row(n: int, phone: str, amount: str, currency: str = "USD", name: str = "Musu") -> PayoutRow:
    return PayoutRow(
        row=n, name=name, phone=phone, amount=Decimal(amount), currency=currency, country="LR"
    )


ROWS = [row(2, "231770000001", "10.00"), row(3, "231880000002", "25.5", "LRD")]


def batch_record(content: str = "h", name: str = "june") -> BatchRecord:
    return BatchRecord(
        id=1, name=name, source_file="june.csv", content_hash=content, payout_set_hash="p",
        options={}, created_at=datetime(2026, 11, 1, tzinfo=UTC), started_at=None,
        finished_at=None,
    )


def test_default_name_is_the_file_stem() -> None:
    assert default_batch_name(Path("/x/payroll_2026-11.xlsx")) == "payroll_2026-11"


def test_content_hash_ignores_formatting_and_order_but_not_content() -> None:
    same = [ROWS[1], row(2, "231770000001", "10")]
    assert content_hash(ROWS) == content_hash(same)
    assert content_hash(ROWS) != content_hash([row(2, "231770000001", "10.01"), ROWS[1]])
    assert content_hash(ROWS) != content_hash([row(2, "231770000001", "10", name="Ma"), ROWS[1]])


def test_payout_set_ignores_names_and_row_numbers() -> None:
    moved = [row(7, "231880000002", "25.50", "LRD", name="X"), row(9, "231770000001", "10")]
    assert payout_set_hash(ROWS) == payout_set_hash(moved)
    assert payout_set_hash(ROWS) != payout_set_hash([ROWS[0]])
    assert payout_set_hash(ROWS) != payout_set_hash([ROWS[0], ROWS[0]])


def test_hashes_match_the_ones_older_ledgers_hold() -> None:
    """Hashed row by row now; must equal sha256(json.dumps(whole list)) that ledgers store."""
    rows = [row(5, "231770000005", "10.5", name="Pé"), row(2, "231880000002", "7")]
    canonical = [
        [2, "Musu", "231880000002", "700", "USD", "LR", None, None, None, None, None],
        [5, "Pé", "231770000005", "1050", "USD", "LR", None, None, None, None, None],
    ]
    whole = json.dumps(canonical, ensure_ascii=False).encode()
    assert content_hash(rows) == hashlib.sha256(whole).hexdigest()
    payouts = json.dumps([["231770000005", 1050, "USD"], ["231880000002", 700, "USD"]])
    assert payout_set_hash(rows) == hashlib.sha256(payouts.encode()).hexdigest()
    assert content_hash([]) == hashlib.sha256(b"[]").hexdigest()


def test_new_rows_mint_distinct_uuid4s_in_minor_units() -> None:
    made = list(new_rows(ROWS))
    assert [m.amount_minor for m in made] == [1000, 2550]
    assert len({m.reference_id for m in made}) == 2
    assert all(uuid.UUID(m.reference_id).version == 4 for m in made)


def test_same_name_same_content_passes_other_content_is_refused() -> None:
    check_same_name(batch_record("h"), content="h")
    with pytest.raises(BatchConflictError, match="already used") as refused:
        check_same_name(batch_record("h"), content="other")
    # Issue 11: another name alone is not offered as the way out (it would pay twice).
    assert "--only-new" in str(refused.value)


def test_totals_and_max_total(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.db")
    batch_id = ledger.create_batch(
        name="b", source_file="b.csv", content_hash="h", payout_set_hash="p",
        rows=new_rows([*ROWS, row(4, "231770000003", "5.00")]),
    )
    for r in ledger.rows(batch_id):
        ledger.set_row_prediction(
            r.id, operator="MTN" if r.phone.startswith("23177") else "Orange",  # type: ignore[union-attr]
            method=None, provider=None, predicted_fee=Decimal("0.50"), fee_currency=r.currency,
        )
    got = totals(ledger.rows(batch_id))
    assert got["USD"].payouts == Decimal("15.00") and got["USD"].fees == Decimal("1.00")
    assert got["USD"].total_debit == Decimal("16.00")
    assert got["USD"].operators == {"MTN": 2}
    assert got["LRD"].rows == 1 and got["LRD"].operators == {"Orange": 1}
    assert over_limits(got, {"USD": Decimal("16.00")}) == []
    assert over_limits(got, {"USD": Decimal("15.99")}) == [
        "USD total debit 16.00 exceeds --max-total 15.99"
    ]
