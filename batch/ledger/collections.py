"""Ledger reads and writes of collection batches: invoice items, the invoice, its receipt.

A collection row is one invoice. Its items are written with the batch; the invoice's id and
status, its receipt and any cancellation are written as they become known. The journal of
the invoice's preparation is `preparation_steps` (batch.ledger.journal), read here per row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from batch.engine.states import RowState
from batch.ledger.core import LedgerCore
from batch.ledger.records import parse_time


@dataclass(frozen=True)
class ItemRecord:
    """One invoice line as planned."""

    position: int
    sheet_row: int
    name: str
    qty: int
    unit_minor: int


@dataclass(frozen=True)
class InvoiceRecord:
    """What the ledger knows of one row's invoice."""

    row_id: int
    invoice_key: str | None
    due_date: str | None
    fee_bearer: str
    invoice_id: int | None
    invoice_number: str | None
    source_status: str | None
    paid_at: datetime | None
    receipt: dict[str, Any] | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    payer_currency: str | None = None  # the payer's wallet currency, when predicted
    payer_amount_minor: int | None = None  # the predicted debit, in payer_currency


@dataclass(frozen=True)
class NewInvoice:
    """The collection part of a new row: keyed by its sheet row (the row's first line)."""

    sheet_row: int
    invoice_key: str | None
    due_date: str | None
    fee_bearer: str
    items: Sequence[ItemRecord]


class CollectionBook(LedgerCore):
    """Collection batches' invoices, items and receipts."""

    def add_invoices(self, batch_id: int, invoices: Iterable[NewInvoice]) -> None:
        """Record the items and invoice rows of a batch's rows (idempotent: a crash between
        the batch and this is repaired by planning again)."""
        ids = {
            r["sheet_row"]: r["id"]
            for r in self._all(
                "SELECT id, sheet_row FROM rows WHERE batch_id = ? AND state != ?",
                (batch_id, RowState.SKIPPED.value),
            )
        }
        with self.atomic():
            for inv in invoices:
                row_id = ids[inv.sheet_row]
                self._execute(
                    "INSERT OR IGNORE INTO collection_invoices (row_id, invoice_key, due_date, "
                    "fee_bearer) VALUES (?, ?, ?, ?)",
                    (row_id, inv.invoice_key, inv.due_date, inv.fee_bearer),
                )
                self._executemany(
                    "INSERT OR IGNORE INTO collection_items (row_id, position, sheet_row, name, "
                    "qty, unit_minor) VALUES (?, ?, ?, ?, ?, ?)",
                    [(row_id, i.position, i.sheet_row, i.name, i.qty, i.unit_minor)
                     for i in inv.items],
                )

    def invoice_items(self, row_id: int) -> list[ItemRecord]:
        """The row's invoice lines, in order."""
        return [
            ItemRecord(r["position"], r["sheet_row"], r["name"], r["qty"], r["unit_minor"])
            for r in self._all(
                "SELECT * FROM collection_items WHERE row_id = ? ORDER BY position", (row_id,)
            )
        ]

    def items_of_batch(self, batch_id: int) -> dict[int, list[ItemRecord]]:
        """Every row's invoice lines (report)."""
        found: dict[int, list[ItemRecord]] = {}
        for r in self._all(
            "SELECT i.* FROM collection_items i JOIN rows r ON r.id = i.row_id "
            "WHERE r.batch_id = ? ORDER BY i.row_id, i.position",
            (batch_id,),
        ):
            found.setdefault(r["row_id"], []).append(
                ItemRecord(r["position"], r["sheet_row"], r["name"], r["qty"], r["unit_minor"])
            )
        return found

    def invoice_record(self, row_id: int) -> InvoiceRecord | None:
        """What the ledger knows of the row's invoice."""
        r = self._one("SELECT * FROM collection_invoices WHERE row_id = ?", (row_id,))
        return _invoice(r) if r else None

    def invoices_of_batch(self, batch_id: int) -> dict[int, InvoiceRecord]:
        """Every row's invoice record (report, campaign)."""
        return {
            r["row_id"]: _invoice(r)
            for r in self._all(
                "SELECT c.* FROM collection_invoices c JOIN rows r ON r.id = c.row_id "
                "WHERE r.batch_id = ?",
                (batch_id,),
            )
        }

    def row_steps(self, row_id: int) -> dict[str, str]:
        """Every preparation step journaled for this row, over all its attempts (an
        invoice outlives the attempt that prepared it: a re-request reuses it)."""
        return {
            r["step"]: r["value"]
            for r in self._all(
                "SELECT step, value FROM preparation_steps WHERE row_id = ? ORDER BY rowid",
                (row_id,),
            )
        }

    def set_invoice(
        self, row_id: int, *, invoice_id: int, invoice_number: str | None, status: str | None
    ) -> None:
        """The invoice this row is collected on (published)."""
        self._write(
            "UPDATE collection_invoices SET invoice_id = ?, "
            "invoice_number = COALESCE(?, invoice_number), "
            "source_status = COALESCE(?, source_status), source_checked_at = ? WHERE row_id = ?",
            (invoice_id, invoice_number, status, self.now(), row_id),
        )

    def set_payer_currency(self, row_id: int, currency: str, amount_minor: int | None) -> None:
        """The currency the payer pays in and the predicted debit (collection prediction)."""
        self._write(
            "UPDATE collection_invoices SET payer_currency = ?, payer_amount_minor = ? "
            "WHERE row_id = ?",
            (currency, amount_minor, row_id),
        )

    def set_source_status(self, row_id: int, status: str, paid_at: datetime | None) -> None:
        """The invoice's lifecycle status as `status/source` last said."""
        self._write(
            "UPDATE collection_invoices SET source_status = ?, source_checked_at = ?, "
            "paid_at = COALESCE(?, paid_at) WHERE row_id = ?",
            (status, self.now(), paid_at.isoformat() if paid_at else None, row_id),
        )

    def save_receipt(self, row_id: int, receipt: dict[str, Any]) -> None:
        """The receipt of the row's PAID invoice."""
        self._write(
            "UPDATE collection_invoices SET receipt_json = ?, receipt_at = ? WHERE row_id = ?",
            (json.dumps(receipt, default=str, sort_keys=True), self.now(), row_id),
        )

    def mark_cancelled(self, row_id: int, reason: str) -> None:
        """The row's invoice was cancelled at the API (or before it existed)."""
        with self.atomic():
            self._execute(
                "UPDATE collection_invoices SET cancelled_at = ?, cancel_reason = ?, "
                "source_status = CASE WHEN invoice_id IS NULL THEN source_status "
                "ELSE 'CANCELED' END WHERE row_id = ?",
                (self.now(), reason, row_id),
            )
            batch = self._one("SELECT batch_id FROM rows WHERE id = ?", (row_id,))
            assert batch is not None
            self._execute(
                "INSERT INTO events (batch_id, row_id, at, detail) VALUES (?, ?, ?, ?)",
                (batch["batch_id"], row_id, self.now(), f"invoice cancelled: {reason}"),
            )

    def set_batch_option(self, batch_id: int, key: str, value: Any) -> None:
        """Change one recorded option of a batch (a collection's re-request policy)."""
        with self.atomic():
            r = self._one("SELECT options_json FROM batches WHERE id = ?", (batch_id,))
            assert r is not None
            options = json.loads(r["options_json"])
            options[key] = value
            self._execute("UPDATE batches SET options_json = ? WHERE id = ?",
                          (json.dumps(options, sort_keys=True, default=str), batch_id))

    def payer_busy(self, phone: str, row_id: int) -> bool:
        """Whether another collection row of this payer has a request in flight."""
        # Through the (batch_id, state) index: only rows in flight are looked at.
        r = self._one(
            "SELECT 1 FROM rows WHERE batch_id IN (SELECT id FROM batches "
            "WHERE kind = 'collection') AND state IN (?, ?, ?) AND phone = ? AND id != ? "
            "LIMIT 1",
            (RowState.SUBMITTING.value, RowState.SUBMITTED.value, RowState.UNKNOWN.value,
             phone, row_id),
        )
        return r is not None


def _invoice(r: Any) -> InvoiceRecord:
    return InvoiceRecord(
        row_id=r["row_id"], invoice_key=r["invoice_key"], due_date=r["due_date"],
        fee_bearer=r["fee_bearer"], invoice_id=r["invoice_id"],
        invoice_number=r["invoice_number"], source_status=r["source_status"],
        paid_at=parse_time(r["paid_at"]),
        receipt=json.loads(r["receipt_json"]) if r["receipt_json"] else None,
        cancelled_at=parse_time(r["cancelled_at"]), cancel_reason=r["cancel_reason"],
        payer_currency=r["payer_currency"], payer_amount_minor=r["payer_amount_minor"],
    )
