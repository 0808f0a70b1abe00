"""Issue 11, pure parts: derived reference_ids and the row-level repeat guard."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from batch import errors, refids
from batch.engine.adoption import (
    NotFound,
    after_not_found,
    fresh_sends_after_interrupt,
    is_duplicate_reference,
)
from batch.errors import ApiValidationError
from batch.ledger import EarlierPayment
from batch.planning.guard import Candidate, RepeatMode, RepeatPaymentError, decide
from batch.planning.preflight import sample_ids, sample_known

PARTS = refids.KeyParts("client-a", "2026-11", "payroll")


def test_reference_ids_are_uuid4_and_depend_only_on_the_key() -> None:
    key = refids.row_key(external_id=None, phone="231770000001", currency="USD", occurrence=1)
    first = refids.reference_id(refids.seed(PARTS, key), 1)
    KP = refids.KeyParts
    assert uuid.UUID(first).version == 4 and uuid.UUID(first).variant == uuid.RFC_4122
    assert first == refids.reference_id(refids.seed(PARTS, key), 1)  # any machine, any name
    others = [
        refids.reference_id(refids.seed(PARTS, key), 2),  # the next attempt
        refids.reference_id(refids.seed(KP("client-b", "2026-11", "payroll"), key), 1),
        refids.reference_id(refids.seed(KP("client-a", "2026-12", "payroll"), key), 1),
        refids.reference_id(refids.seed(KP("client-a", "2026-11", "bonus"), key), 1),
        refids.reference_id(refids.seed(KP("client-a", "2026-11", "payroll", 1), key), 1),
    ]
    assert len({first, *others}) == 6


def test_row_keys_prefer_the_external_id_and_count_repeated_phones() -> None:
    keys = list(refids.row_keys([
        ("E-7", "231770000001", "USD"), (None, "231770000002", "USD"),
        (None, "231770000002", "USD"), (None, "231770000002", "LRD"),
    ]))
    assert keys == [
        "ext:e-7", "tel:231770000002:USD:1", "tel:231770000002:USD:2", "tel:231770000002:LRD:1"
    ]


def earlier(row: int, phone: str, minor: int, *, purpose: str = "payroll",
            state: str = "COMPLETED", period: str = "2026-11") -> EarlierPayment:
    return EarlierPayment(
        batch_id=1, batch_name="hr", created_at=datetime(2026, 11, 25, tzinfo=UTC),
        period=period, purpose=purpose, repeat_no=0, sheet_row=row, phone=phone,
        currency="USD", amount_minor=minor, state=state,
    )


PAID = [earlier(i, f"23177000{i:04d}", 151955 if i == 8 else 10000) for i in range(2, 21)]
SHEET = [Candidate(i, f"23177000{i:04d}", "USD", 161955 if i == 8 else 10000)
         for i in range(2, 22)]  # row 21 is the late hire


def test_guard_refuses_with_the_list_and_both_amounts() -> None:
    with pytest.raises(RepeatPaymentError) as refused:
        decide(SHEET, PAID, purpose="payroll", period="2026-11", mode=RepeatMode.REFUSE,
               window_days=20)
    text = str(refused.value)
    assert "19 of 20 rows were paid in batch 'hr' on 2026-11-25: rows 2-20" in text
    assert "row 8 was paid 1,519.55 USD, now 1,619.55 USD" in text
    assert "--only-new pays only the 1 row(s) not paid yet" in text


def test_only_new_leaves_out_every_paid_recipient_whatever_the_amount() -> None:
    got = decide(SHEET, PAID, purpose="payroll", period="2026-11", mode=RepeatMode.ONLY_NEW,
                 window_days=20)
    assert sorted(got.skip) == list(range(2, 21)) and got.repeat_no == 0


def test_allow_repeat_numbers_the_repeat_and_another_purpose_is_only_shown() -> None:
    got = decide(SHEET, PAID, purpose="payroll", period="2026-11", mode=RepeatMode.ALLOW,
                 window_days=20)
    assert got.skip == {} and got.repeat_no == 1
    bonus = decide(SHEET, PAID, purpose="bonus", period="2026-11", mode=RepeatMode.REFUSE,
                   window_days=20)
    assert bonus.skip == {} and bonus.repeat_no == 0 and len(bonus.others) == 19
    assert any("(payroll, period 2026-11)" in n for n in bonus.notes)


def test_duplicate_reference_is_read_from_the_error_structure() -> None:
    dup = ApiValidationError("x", detail=[{"loc": ["body", "reference_id"], "msg": "?"}])
    other = ApiValidationError("x", detail=[{"loc": ["body", "session_id"], "msg": "dup"}])
    assert is_duplicate_reference(dup) and not is_duplicate_reference(other)
    assert not is_duplicate_reference(ApiValidationError("reference_id duplicate", detail="s"))


def test_not_found_resends_the_same_id_and_fails_only_after_rejections() -> None:
    assert after_not_found(rejected=False, fresh_sends=0, max_rejected=3).action is (
        NotFound.RESEND_FRESH)
    assert after_not_found(rejected=False, fresh_sends=3, max_rejected=3).action is (
        NotFound.KEEP_WATCHING)
    assert after_not_found(rejected=True, fresh_sends=1, max_rejected=3).action is (
        NotFound.RESEND_FRESH)
    assert after_not_found(rejected=True, fresh_sends=2, max_rejected=3).action is NotFound.FAIL


def test_only_an_interrupted_fresh_send_is_given_back() -> None:
    """Our crash during a fresh send does not count against the limit; during a resend on
    that fresh session (or the first send) nothing is given back."""
    assert fresh_sends_after_interrupt(fresh_sends=3, resends=0) == 2
    assert fresh_sends_after_interrupt(fresh_sends=3, resends=1) == 3
    assert fresh_sends_after_interrupt(fresh_sends=0, resends=0) == 0


def test_sample_is_small_fixed_and_spread() -> None:
    ids = [str(i) for i in range(100)]
    assert sample_ids(ids) == ["0", "25", "50", "74", "99"]
    assert sample_ids(ids[:3]) == ["0", "1", "2"]


class _SlowStatus:
    """Answers after a few event-loop turns; records how many questions were open at once."""

    def __init__(self, known: set[str], failing: set[str]) -> None:
        self.known, self.failing = known, failing
        self.open = self.most_open = 0

    async def payout_status(self, reference_id: str) -> object:
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        for _ in range(3):
            await asyncio.sleep(0)
        self.open -= 1
        if reference_id in self.failing:
            raise errors.ServerError("HTTP 503", status=503)
        if reference_id not in self.known:
            raise errors.NotFoundError("HTTP 404", status=404)
        return {"status": "COMPLETED"}


def test_sample_is_asked_together_and_sorted_by_answer() -> None:
    """A fresh ledger's five questions go out together (one after another they idled five
    round trips before the first payout); a 5xx counts as unanswered, never as not found."""
    ids = [str(i) for i in range(100)]
    api = _SlowStatus(known={"25", "99"}, failing={"50"})
    result = asyncio.run(sample_known(api, ids))
    assert api.most_open == 5
    assert (result.asked, result.known, result.unanswered) == (5, ["25", "99"], 1)
