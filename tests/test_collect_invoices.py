"""Invoice preparation exactly once, in-process against the sandbox: a lost answer on create,
on an item or on publish never leaves a duplicated or missing item, and an invoice holding
something unexpected is cancelled and replaced before any money moves."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from batch import errors
from batch.dollr.client import ApiClient
from batch.engine.states import RowState
from batch.ledger import Ledger
from batch.operations.collect_plan import plan_collection
from batch.operations.collection import CollectionOperation
from batch.options import CollectPlanOptions, ValidationOptions
from batch.pipeline import SANDBOX_CREDENTIALS

SHEET = (
    "Payer,Phone,Invoice,Item,Quantity,Unit price,Currency,Country\n"
    "Joseph Kollie,231770000102,SCH-01,Tuition,1,120.00,USD,LR\n"
    "Joseph Kollie,231770000102,SCH-01,Books,6,1.50,USD,LR\n"
    "Joseph Kollie,231770000102,SCH-01,Uniform,2,18.00,USD,LR\n"
)
EXPECTED = [("Tuition", 1, 120), ("Books", 6, 1.5), ("Uniform", 2, 18)]


def _prepare(sandbox: Any, tmp_path: Path) -> int:
    """Plan the sheet (or find its batch), then prepare its invoice; the payer's account."""
    sheet = tmp_path / "fees.csv"
    sheet.write_text(SHEET, encoding="utf-8")

    async def flow() -> int:
        async with ApiClient(sandbox.base_url, SANDBOX_CREDENTIALS, rate=500) as api:
            with Ledger(tmp_path / "l.db", environment="test") as ledger:
                plan = await plan_collection(
                    ledger, api, sheet, CollectPlanOptions(), ValidationOptions())
                row = next(iter(ledger.each_row(plan.batch.id)))
                return await CollectionOperation(ledger, api).prepare(row)

    return asyncio.run(flow())


def _items(invoice: Any) -> list[tuple[str, int, float]]:
    return [(x.name, x.qty, float(x.amount)) for x in invoice.items]


@pytest.mark.parametrize("endpoint", ["invoices.create", "invoices.items_add",
                                      "invoices.publish"])
def test_a_lost_answer_is_read_back_not_repeated(
    sandbox: Any, tmp_path: Path, endpoint: str
) -> None:
    # Every answer of this endpoint is lost (the work is done): each is read back
    # (list, retrieve) and carried on from, never sent twice.
    sandbox.set_faults(drop_rate=1.0, drop_endpoints=[endpoint])
    _prepare(sandbox, tmp_path)
    invoices = sandbox.invoices()
    assert len(invoices) == 1, [(i.id, i.status, _items(i)) for i in invoices]
    assert invoices[0].status == "ACTIVE"
    assert _items(invoices[0]) == EXPECTED
    sent = sandbox.stats()["requests"][endpoint]
    assert sum(sent.values()) == (3 if endpoint == "invoices.items_add" else 1), sent
    _prepare(sandbox, tmp_path)  # done: a later run sends nothing more
    assert sum(sandbox.stats()["requests"][endpoint].values()) == sum(sent.values())


def test_answers_lost_at_random_still_give_one_clean_invoice(
    sandbox: Any, tmp_path: Path
) -> None:
    sandbox.set_faults(drop_rate=0.5, error_rate=0.2, drop_endpoints=["invoices.*"])
    for _ in range(30):
        try:
            _prepare(sandbox, tmp_path)
            break
        except errors.ApiError:
            continue
    sandbox.set_faults(drop_rate=0.0, error_rate=0.0)
    _prepare(sandbox, tmp_path)
    live = [i for i in sandbox.invoices() if i.status != "CANCELED"]
    assert len(live) == 1 and live[0].status == "ACTIVE" and _items(live[0]) == EXPECTED


def test_an_invoice_holding_an_unexpected_item_is_cancelled_and_replaced(
    sandbox: Any, tmp_path: Path
) -> None:
    # A run died after sending item 2 (its answer never journaled); meanwhile the invoice
    # holds a line nobody meant. It must never be published or paid: cancelled, replaced.
    sheet = tmp_path / "fees.csv"
    sheet.write_text(SHEET, encoding="utf-8")

    async def crashed_run() -> int:
        async with ApiClient(sandbox.base_url, SANDBOX_CREDENTIALS, rate=500) as api:
            with Ledger(tmp_path / "l.db", environment="test") as ledger:
                plan = await plan_collection(
                    ledger, api, sheet, CollectPlanOptions(), ValidationOptions())
                row = next(iter(ledger.each_row(plan.batch.id)))
                op = CollectionOperation(ledger, api)
                _, counterparty = await op._payer(row)
                ref = row.current_reference_id or ""
                ledger.record_step(row.id, ref, "inv1.requested", f"paybatch:{ref}:1")
                inv = await api.create_invoice(counterparty_id=counterparty, currency="USD",
                                               note="fees", fee_bearer="PAYER",
                                               reference_id=f"paybatch:{ref}:1")
                ledger.record_step(row.id, ref, "inv1", str(inv.id))
                item = await api.add_invoice_item(inv.id, name="Tuition", currency="USD",
                                                  qty=1, amount=Decimal("120.00"))
                ledger.record_step(row.id, ref, "inv1.item1", str(item.id))
                await api.add_invoice_item(inv.id, name="Stray", currency="USD", qty=1,
                                           amount=Decimal("5"))
                return inv.id

    first = asyncio.run(crashed_run())
    _prepare(sandbox, tmp_path)
    by_id = {i.id: i for i in sandbox.invoices()}
    assert by_id[first].status == "CANCELED"
    live = [i for i in by_id.values() if i.status == "ACTIVE"]
    assert len(live) == 1 and _items(live[0]) == EXPECTED
    with Ledger(tmp_path / "l.db", environment="test") as ledger:
        batch = ledger.batch_by_name("fees")
        assert batch is not None
        row = ledger.rows(batch.id)[0]
        assert row.state is RowState.NEW  # nothing was sent: only preparation happened
        steps = ledger.row_steps(row.id)
        assert steps["inv1.cancelled"].startswith("holds items")
        assert int(steps["inv2"]) == live[0].id
        record = ledger.invoice_record(row.id)
        assert record is not None and record.invoice_id == live[0].id
