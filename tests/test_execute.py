"""The runner's pieces that need no API: group commit and the run result's exit codes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from batch.engine.outcome import RunResult
from batch.errors import TransitionError
from batch.ledger import Ledger, NewRow
from batch.ledger.group_commit import SubmitGate


def _ready_rows(ledger: Ledger, n: int) -> list[tuple[int, str]]:
    batch_id = ledger.create_batch(
        name="b",
        source_file="b.csv",
        content_hash="h",
        payout_set_hash="p",
        rows=[
            NewRow(
                sheet_row=i + 2,
                name="N",
                phone=f"2317701{i:05d}",
                amount_minor=100,
                currency="USD",
                country="LR",
                reference_id=str(uuid.uuid4()),
            )
            for i in range(n)
        ],
    )
    pairs = []
    for row in ledger.rows(batch_id):
        ref = row.current_reference_id or ""
        ledger.mark_recipient_ready(row.id, account_id=1)
        ledger.mark_session_open(
            row.id,
            ref,
            session_id=row.id,
            wallet_id=1,
            account_id=1,
            expires_at=datetime.now(UTC) + timedelta(minutes=5),
        )
        pairs.append((row.id, ref))
    return pairs


def test_submitting_marks_of_concurrent_workers_share_one_durable_commit(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.db")
    pairs = _ready_rows(ledger, 20)
    gate = SubmitGate(ledger, run_session="test")

    async def all_workers() -> None:
        await asyncio.gather(*(gate.commit(row_id, ref) for row_id, ref in pairs))

    asyncio.run(all_workers())
    assert gate.commits == 1
    assert ledger.counts(1) == {"SUBMITTING": 20}
    assert all(a.submitted_at for r in ledger.rows(1) for a in r.attempts)


def test_one_row_in_the_wrong_state_does_not_hold_back_the_group(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.db")
    pairs = _ready_rows(ledger, 3)
    ledger.mark_submitting([pairs[1]])  # already SUBMITTING: its second mark must be refused
    gate = SubmitGate(ledger, run_session="test")

    async def all_workers() -> list[object]:
        return await asyncio.gather(
            *(gate.commit(row_id, ref) for row_id, ref in pairs), return_exceptions=True
        )

    results = asyncio.run(all_workers())
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], TransitionError)
    assert ledger.counts(1) == {"SUBMITTING": 3}


def test_durable_transaction_must_be_outermost(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.db")
    with ledger.atomic(), pytest.raises(ValueError, match="outermost"):
        with ledger.atomic(durable=True):
            pass


@pytest.mark.parametrize(
    ("counts", "code"),
    [
        ({"COMPLETED": 3}, 0),
        ({"COMPLETED": 2, "SKIPPED": 1}, 6),  # issue 13: rows left out are not "done"
        ({"COMPLETED": 2, "CANCELLED": 1}, 6),
        ({"FAILED": 1, "SKIPPED": 1}, 3),
        ({"COMPLETED": 2, "FAILED": 1}, 3),
        ({"FAILED": 1, "NEW": 5}, 3),  # wallet ran out: stopped, some FAILED
        ({"COMPLETED": 2, "UNKNOWN": 1}, 4),
        ({"FAILED": 1, "SUBMITTED": 1}, 4),  # in flight wins: run again later
        ({"COMPLETED": 2, "NEW": 1}, 4),
        ({}, 0),
    ],
)
def test_exit_codes(counts: dict[str, int], code: int) -> None:
    assert RunResult(1, counts, stopped=None).exit_code == code
