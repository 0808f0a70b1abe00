"""The memory-lean paths for big batches give the same answers as the all-at-once ones:
chunked predictions, rows streamed from the ledger, CSV reports written in chunks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from _report_ledger import BATCH, build

import batch.report.files
from batch.dollr.client import ApiClient
from batch.ledger import Ledger
from batch.models import PayoutRow
from batch.pipeline import SANDBOX_CREDENTIALS
from batch.planning.flow import predict_batch
from batch.planning.identity import content_hash, new_rows, payout_set_hash
from batch.report.files import load_report, write_report

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def payroll() -> list[PayoutRow]:
    rows = [
        PayoutRow(row=i + 2, name=f"Person {i}", phone=f"231{'77' if i % 2 else '88'}03{i:05d}",
                  amount=Decimal("10.50") + i % 3, currency="USD", country="LR")
        for i in range(9)
    ]
    # Two rows no operator can pay as asked: the sheet names a method their networks are not.
    rows[3] = rows[3].model_copy(update={"method": "WAVE_LBR"})
    rows[6] = rows[6].model_copy(update={"method": "WAVE_LBR"})
    return rows


async def planned(path: Path, base_url: str, chunk: int) -> tuple[list[str], list[tuple[Any, ...]]]:
    rows = payroll()
    with Ledger(path) as ledger:
        batch_id = ledger.create_batch(
            name="big", source_file="big.csv", content_hash=content_hash(rows),
            payout_set_hash=payout_set_hash(rows), rows=new_rows(rows),
        )
        async with ApiClient(base_url, SANDBOX_CREDENTIALS, rate=500) as api:
            problems = await predict_batch(
                ledger, api, batch_id, iter(rows), concurrency=3, chunk=chunk
            )
        facts = [
            (r.sheet_row, r.state, r.operator, r.method, r.provider, r.predicted_fee,
             r.fee_currency, r.failure_reason)
            for r in ledger.rows(batch_id)
        ]
    return problems, facts


def test_predictions_in_chunks_match_predictions_at_once(sandbox: Any, tmp_path: Path) -> None:
    at_once = asyncio.run(planned(tmp_path / "once.db", sandbox.base_url, chunk=5000))
    chunked = asyncio.run(planned(tmp_path / "chunked.db", sandbox.base_url, chunk=2))
    assert chunked == at_once
    problems, facts = chunked
    assert [p.split(":")[0] for p in problems] == ["row 5", "row 8"]
    assert sum(1 for f in facts if f[5] is not None) == 7  # every other row has its fee


def test_rows_in_row_order_hash_as_sorted_rows_and_disorder_is_refused() -> None:
    rows = payroll()
    assert content_hash(iter(rows), in_row_order=True) == content_hash(reversed(rows))
    with pytest.raises(ValueError, match="not in row order"):
        content_hash(reversed(rows), in_row_order=True)


def test_streamed_report_in_small_chunks_writes_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = build(tmp_path / "paybatch.db")
    with Ledger(built.path) as ledger:
        eager = load_report(ledger, BATCH, now=NOW)
        written = {
            p.name: p.read_bytes()
            for ext in (".csv", ".json") for p in write_report(eager, tmp_path / f"a{ext}")
        }
        monkeypatch.setattr(batch.report.files, "CSV_CHUNK", 2)
        streamed = load_report(ledger, BATCH, now=NOW, stream=True)
        again = {
            p.name: p.read_bytes()
            for ext in (".csv", ".json") for p in write_report(streamed, tmp_path / f"b{ext}")
        }
        assert list(streamed.attempts) == list(eager.attempts)  # re-read: the ledger is open
        assert len(streamed.payouts) == len(eager.payouts) > 4
    assert len(written) == 4 and {k.replace("b", "a", 1): v for k, v in again.items()} == written
    assert streamed.counts == eager.counts and streamed.failures == eager.failures


def test_plan_totals_summed_in_sqlite_are_the_totals_row_by_row(
    sandbox: Any, tmp_path: Path
) -> None:
    """plan_result sums in SQLite (issue 15: no read a row at 500k rows): the same totals as
    row by row, with several fees, a second currency, unroutable and SKIPPED rows."""
    from batch.ledger import SkippedRow
    from batch.planning.identity import group_totals, totals

    rows = payroll() + [
        PayoutRow(row=20 + i, name=f"LRD {i}", phone=f"23177099{i:04d}",
                  amount=Decimal("1500") + i, currency="LRD", country="LR")
        for i in range(3)
    ]
    skipped = [SkippedRow(sheet_row=40, name="X", phone="231770999999", amount="5.00",
                          currency="USD", country="LR", reason="skipped (--only-new)")]

    async def go() -> None:
        with Ledger(tmp_path / "l.db") as ledger:
            batch_id = ledger.create_batch(
                name="sums", source_file="sums.csv", content_hash=content_hash(rows),
                payout_set_hash=payout_set_hash(rows), rows=new_rows(rows), skipped=skipped,
            )
            async with ApiClient(sandbox.base_url, SANDBOX_CREDENTIALS, rate=500) as api:
                await predict_batch(ledger, api, batch_id, iter(rows), concurrency=3)
            by_row = totals(ledger.each_row(batch_id))
            assert group_totals(ledger.payout_groups(batch_id)) == by_row
            assert set(by_row) == {"USD", "LRD"} and by_row["USD"].rows == 9
            assert by_row["USD"].fees > 0 and by_row["LRD"].fees > 0

    asyncio.run(go())
