"""The monitor against a real ledger file: a row it left SUBMITTED is polled without a read."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from batch.dollr.models import Execution
from batch.engine.monitor import Monitor
from batch.engine.states import RowState
from batch.errors import NotFoundError
from batch.ledger import Ledger, NewRow
from batch.operations.payout import PayoutOperation
from batch.options import MonitorOptions


def _execution(status: str) -> Execution:
    return Execution.model_construct(
        status=status, reference_id=None, payer_amount=Decimal("10.60"), payer_currency="USD",
        payee_amount=Decimal("10.50"), payee_currency="USD",
        provider_transaction_id="tx-1" if status == "COMPLETED" else None,
        gateway_message=None, wallet_message=None,
    )


class StatusAnswers:
    """payout_status answering from a list: an Execution, or an exception to raise."""

    def __init__(self, *answers: Execution | Exception) -> None:
        self.answers = list(answers)

    async def payout_status(self, reference_id: str) -> Execution:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_a_row_left_submitted_is_polled_and_settled_without_reading_it(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.db")
    batch_id = ledger.create_batch(
        name="b", source_file="b.csv", content_hash="h", payout_set_hash="p",
        rows=[NewRow(sheet_row=2, name="N", phone="231770100001", amount_minor=1050,
                     currency="USD", country="LR", reference_id=str(uuid.uuid4()))],
    )
    row = ledger.rows(batch_id)[0]
    ref = row.current_reference_id or ""
    ledger.mark_session_open(
        row.id, ref, session_id=1, wallet_id=1, account_id=1, recipient_ready=True,
        expires_at=datetime.now(UTC) + timedelta(minutes=5),
    )
    ledger.mark_submitting([(row.id, ref)])
    submitting = ledger.row(row.id)
    assert submitting is not None
    api = StatusAnswers(NotFoundError("no such reference_id"), _execution("COMPLETED"))
    monitor = Monitor(
        ledger, PayoutOperation(ledger, api), MonitorOptions(first_poll=0.0), mint=lambda: str(uuid.uuid4()),
        on_new_attempt=lambda _: None, on_stop=lambda _: None,
    )
    monitor.apply(submitting, ref, _execution("PENDING"), polls=0)  # the execute answer
    assert ledger.row(row.id).state is RowState.SUBMITTED  # type: ignore[union-attr]
    statements: list[str] = []
    ledger.conn.set_trace_callback(statements.append)
    # A 404 for a row the API once accepted is its inconsistency: asked again, still unread.
    asyncio.run(monitor.poll(monitor.take_due()[0]))
    assert monitor.watches[row.id].accepted is not None
    asyncio.run(monitor.poll(monitor.take_due()[0]))
    ledger.conn.set_trace_callback(None)
    assert not [s for s in statements if s.startswith("SELECT")]
    assert ledger.row(row.id).state is RowState.COMPLETED  # type: ignore[union-attr]
    assert row.id not in monitor.watches and not api.answers
