"""The report after a real run: the engine pays a batch through the sandbox with failures, and
the report's figures reconcile with the ledger, `status`, and what the sandbox executed."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
from click.testing import CliRunner

from batch.cli import main
from batch.dollr.client import ApiClient
from batch.engine.runner import Runner
from batch.ledger import Ledger
from batch.models import PayoutRow
from batch.operations.payout import PayoutOperation
from batch.options import MonitorOptions, RunOptions
from batch.pipeline import SANDBOX_CREDENTIALS
from batch.planning.flow import predict_batch
from batch.planning.identity import content_hash, new_rows, payout_set_hash
from batch.report.files import load_report, write_run_report

N = 12


def payroll() -> list[PayoutRow]:
    return [
        PayoutRow(row=i + 2, name=f"Person {i}", phone=f"231{'77' if i % 2 else '88'}02{i:05d}",
                  amount=Decimal("10.50") + i, currency="USD", country="LR")
        for i in range(N)
    ]


async def pay(ledger: Ledger, base_url: str) -> int:
    rows = payroll()
    batch_id = ledger.create_batch(
        name="december", source_file="december.csv", content_hash=content_hash(rows),
        payout_set_hash=payout_set_hash(rows), rows=new_rows(rows),
    )
    async with ApiClient(base_url, SANDBOX_CREDENTIALS, rate=500) as api:
        await predict_batch(ledger, api, batch_id, rows, concurrency=4)
        ledger.mark_batch_started(batch_id)
        options = RunOptions(concurrency=4, wait=30, monitor=MonitorOptions(
            first_poll=0.1, max_poll_interval=0.3, not_found_grace=0.5))
        await Runner(ledger, PayoutOperation(ledger, api), batch_id, options).run()
    return batch_id


def test_report_after_a_sandbox_run_with_failures(sandbox: Any, tmp_path: Path) -> None:
    sandbox.set_faults(pending_seconds=0.05, processing_seconds=0.1, payout_failure_rate=0.5)
    path = tmp_path / "paybatch.db"
    with Ledger(path) as ledger:
        batch_id = asyncio.run(pay(ledger, sandbox.base_url))
        report = load_report(ledger, batch_id)
        summary = ledger.summary(batch_id)
        xlsx = write_run_report(ledger, batch_id)
    assert summary is not None
    lines = {line["reference_ids"]: line for line in report.payouts}
    executions = {e.reference_id: e for e in sandbox.executions()}
    assert set(lines) == set(executions) and len(lines) == N

    completed = [ln for ln in report.payouts if ln["state"] == "COMPLETED"]
    failed = [ln for ln in report.payouts if ln["state"] == "FAILED"]
    assert completed and failed and len(completed) + len(failed) == N
    assert report.exit_code == 3
    for ref, line in lines.items():
        sent = executions[ref]
        assert sent.status == line["state"]
        assert sent.amount == line["amount"]
        if line["state"] == "COMPLETED":
            # What the report says was charged is what the sandbox took.
            assert line["actual_fee"] == sent.fee
            assert line["provider_transaction_id"]
        else:
            assert line["failure_reason"] and line["gateway_message"] == sent.gateway_message

    usd = next(f for f in report.fees if f.currency == "USD")
    charged = sum((executions[str(ln["reference_ids"])].fee for ln in completed), Decimal(0))
    assert usd.charged == charged
    assert usd.predicted == summary.fees["USD"]

    result = CliRunner().invoke(main, ["status", "december", "--ledger", str(path), "--json"])
    status = json.loads(result.stdout)
    assert result.exit_code == 3 == status["exit_code"]
    paid = sum((ln["amount"] for ln in completed), Decimal(0))  # type: ignore[misc]
    assert Decimal(status["money"]["USD"]["paid"]) == paid
    assert {(t.state, t.currency): t.amount for t in report.totals} == {
        (t["state"], t["currency"]): Decimal(t["amount"]) for t in status["totals"]
    }

    book = openpyxl.load_workbook(xlsx)
    payouts = book["Payouts"]
    states = [payouts.cell(r, 9).value for r in range(2, payouts.max_row + 1)]
    assert states.count("FAILED") == len(failed) and book["Attempts"].max_row == N + 1
