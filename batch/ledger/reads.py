"""Ledger reads for the engine and the reports: batches with counts and money, rows, events."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from batch.engine.states import RowState
from batch.errors import LedgerDamagedError
from batch.ledger.core import LedgerCore
from batch.ledger.records import AttemptRecord, BatchRecord, BatchSummary, EventRecord, RowRecord


class Reads(LedgerCore):
    """Queries; none of them writes."""

    def counts(self, batch_id: int) -> dict[str, int]:
        """Rows per state in one batch (states with no rows are left out)."""
        return {
            r["state"]: r["n"]
            for r in self._all(
                "SELECT state, COUNT(*) AS n FROM rows WHERE batch_id = ? GROUP BY state",
                (batch_id,),
            )
        }

    def fee_sources(self, batch_id: int) -> dict[str, int]:
        """Rows with a predicted fee per fee source ('schedule', 'prediction', 'unrecorded')."""
        return {
            r["source"] or "unrecorded": r["n"]
            for r in self._all(
                "SELECT fee_source AS source, COUNT(*) AS n FROM rows "
                "WHERE batch_id = ? AND predicted_fee IS NOT NULL GROUP BY fee_source",
                (batch_id,),
            )
        }

    def payout_groups(
        self, batch_id: int
    ) -> list[tuple[str, str, int, int, Decimal | None, str | None]]:
        """A batch's rows to pay (not SKIPPED), summed by currency, operator, predicted fee
        and fee currency: (currency, operator, rows, amount in minor units, fee each, fee
        currency). What the plan's totals need, in one query rather than a read a row."""
        return [
            (r["currency"], r["op"], r["n"], r["minor"],
             _fee(r) if r["predicted_fee"] is not None else None, r["fee_currency"])
            for r in self._all(
                "SELECT currency, COALESCE(NULLIF(operator, ''), NULLIF(method, ''), 'unknown') "
                "AS op, COUNT(*) AS n, SUM(amount_minor) AS minor, predicted_fee, fee_currency "
                "FROM rows WHERE batch_id = ? AND state != ? AND currency IS NOT NULL "
                "AND amount_minor IS NOT NULL GROUP BY currency, op, predicted_fee, fee_currency",
                (batch_id, RowState.SKIPPED.value),
            )
        ]

    def summary(self, batch_id: int) -> BatchSummary | None:
        """One batch with per-state counts, money per currency and state, and predicted fees."""
        batch = self._one("SELECT * FROM batches WHERE id = ?", (batch_id,))
        if batch is None:
            return None
        return self._summaries([BatchRecord.from_row(batch)])[0]

    def batches(self) -> list[BatchSummary]:
        """Every batch, newest first, with counts and money."""
        records = [
            BatchRecord.from_row(r)
            for r in self._all("SELECT * FROM batches ORDER BY created_at DESC, id DESC")
        ]
        return self._summaries(records)

    def _summaries(self, records: list[BatchRecord]) -> list[BatchSummary]:
        if not records:
            return []
        ids = [b.id for b in records]
        marks = ", ".join("?" * len(ids))
        counts: dict[int, dict[str, int]] = defaultdict(dict)
        money: dict[int, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
        per_cur: dict[int, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
        fees: dict[int, dict[str, Decimal]] = defaultdict(dict)
        for r in self._all(
            "SELECT batch_id, state, currency, COUNT(*) AS n, SUM(amount_minor) AS total "
            f"FROM rows WHERE batch_id IN ({marks}) GROUP BY batch_id, state, currency",
            ids,
        ):
            counts[r["batch_id"]][r["state"]] = counts[r["batch_id"]].get(r["state"], 0) + r["n"]
            if r["currency"] is not None:
                per_cur[r["batch_id"]][r["currency"]][r["state"]] = r["n"]
            if r["currency"] is not None and r["total"] is not None:
                money[r["batch_id"]][r["currency"]][r["state"]] = r["total"]
        # Fees are decimal text: sum them exactly in Python, not as SQLite floats.
        for r in self._all(
            "SELECT batch_id, fee_currency, predicted_fee FROM rows "
            f"WHERE batch_id IN ({marks}) AND predicted_fee IS NOT NULL AND state != ?",
            [*ids, RowState.SKIPPED.value],
        ):
            per = fees[r["batch_id"]]
            per[r["fee_currency"]] = per.get(r["fee_currency"], Decimal(0)) + _fee(r)
        return [
            BatchSummary(
                batch=b,
                counts=dict(counts[b.id]),
                money={c: dict(v) for c, v in money[b.id].items()},
                fees=dict(fees[b.id]),
                rows_by_currency={c: dict(v) for c, v in per_cur[b.id].items()},
            )
            for b in records
        ]

    def wallet_failed_currencies(self, batch_id: int) -> dict[str, str]:
        """Currencies with a FAILED row whose current attempt the wallet refused: currency ->
        the wallet's message (issue 13: a rerun does not send them until --retry-failed)."""
        found: dict[str, str] = {}
        for r in self._all(
            "SELECT r.currency, a.wallet_message FROM rows r JOIN attempts a "
            "ON a.reference_id = r.current_reference_id WHERE r.batch_id = ? "
            "AND r.state = 'FAILED' AND a.wallet_message IS NOT NULL ORDER BY a.settled_at",
            (batch_id,),
        ):
            if r["currency"] is not None:
                found[r["currency"]] = r["wallet_message"]
        return found

    def fee_figures(self, batch_id: int) -> dict[str, tuple[Decimal, Decimal]]:
        """Per fee currency: (predicted fees of the COMPLETED rows, fees charged for them).

        Charged is the completed attempt's fee, else payer minus payee amount when both are
        in one currency (what `report.lines.actual_fee` reads); exact decimal text summed in
        Python.
        """
        figures: dict[str, list[Decimal]] = {}
        for r in self._all(
            "SELECT r.fee_currency, r.currency, r.predicted_fee, a.fee, a.payer_amount, "
            "a.payee_amount, a.payer_currency, a.payee_currency FROM rows r "
            "LEFT JOIN attempts a ON a.row_id = r.id AND a.outcome = 'COMPLETED' "
            "WHERE r.batch_id = ? AND r.state = 'COMPLETED'",
            (batch_id,),
        ):
            currency = r["fee_currency"] or r["payer_currency"] or r["currency"]
            if currency is None:
                continue
            per = figures.setdefault(currency, [Decimal(0), Decimal(0)])
            if r["predicted_fee"] is not None:
                per[0] += Decimal(r["predicted_fee"])
            if r["fee"] is not None:
                per[1] += Decimal(r["fee"])
            elif (
                r["payer_amount"] is not None and r["payee_amount"] is not None
                and r["payer_currency"] == r["payee_currency"]
            ):
                per[1] += Decimal(r["payer_amount"]) - Decimal(r["payee_amount"])
        return {c: (p, ch) for c, (p, ch) in figures.items()}

    def rows(
        self,
        batch_id: int,
        *,
        states: Iterable[RowState] | None = None,
        with_attempts: bool = True,
    ) -> list[RowRecord]:
        """Rows of a batch in sheet order, optionally only some states, with all attempts."""
        sql = "SELECT * FROM rows WHERE batch_id = ?"
        params: list[object] = [batch_id]
        if states is not None:
            wanted = [s.value for s in states]
            sql += f" AND state IN ({', '.join('?' * len(wanted))})"
            params += wanted
        found = self._all(sql + " ORDER BY sheet_row", params)
        if not with_attempts:
            return [RowRecord.from_row(_as_dict(r)) for r in found]
        attempts = self._attempts_of_batch(batch_id)
        return [RowRecord.from_row(_as_dict(r), tuple(attempts.get(r["id"], ()))) for r in found]

    def row(self, row_id: int) -> RowRecord | None:
        """One row with its attempts."""
        # Read several times per paid row: one statement (rows joined with attempts), and
        # plain dicts, as sqlite3.Row looks names up one by one.
        cur = self._execute(
            "SELECT r.*, a.* FROM rows r LEFT JOIN attempts a ON a.row_id = r.id "
            "WHERE r.id = ? ORDER BY a.attempt_no",
            (row_id,),
        )
        found = cur.fetchall()
        if not found:
            return None
        names = [d[0] for d in cur.description]
        split = self._row_width()
        row_names, attempt_names = names[:split], names[split:]
        attempts = tuple(
            AttemptRecord.from_row(dict(zip(attempt_names, values[split:], strict=True)))
            for values in found
            if values[split] is not None  # LEFT JOIN: a row without attempts (SKIPPED)
        )
        first = found[0]
        return RowRecord.from_row(dict(zip(row_names, first[:split], strict=True)), attempts)

    def _attempts_of_batch(self, batch_id: int) -> dict[int, list[AttemptRecord]]:
        grouped: dict[int, list[AttemptRecord]] = defaultdict(list)
        for a in self._all(
            "SELECT a.* FROM attempts a JOIN rows r ON r.id = a.row_id WHERE r.batch_id = ? "
            "ORDER BY a.row_id, a.attempt_no",
            (batch_id,),
        ):
            grouped[a["row_id"]].append(AttemptRecord.from_row(_as_dict(a)))
        return grouped

    def attempt(self, reference_id: str) -> AttemptRecord | None:
        """One attempt by its reference_id."""
        a = self._one("SELECT * FROM attempts WHERE reference_id = ?", (reference_id,))
        return AttemptRecord.from_row(a) if a else None

    def events(self, batch_id: int, *, row_id: int | None = None) -> list[EventRecord]:
        """The event log of a batch (or one row of it), oldest first."""
        if row_id is None:
            found = self._all("SELECT * FROM events WHERE batch_id = ? ORDER BY id", (batch_id,))
        else:
            found = self._all(
                "SELECT * FROM events WHERE batch_id = ? AND row_id = ? ORDER BY id",
                (batch_id, row_id),
            )
        return [EventRecord.from_row(e) for e in found]


def _fee(r: sqlite3.Row) -> Decimal:
    """A row's predicted fee, exact; LedgerDamagedError when the text is no amount."""
    try:
        fee = Decimal(r["predicted_fee"])
    except ArithmeticError:
        fee = Decimal("NaN")
    if not fee.is_finite():
        raise LedgerDamagedError("rows (a predicted fee)", f"{r['predicted_fee']!r} is no amount")
    return fee


def _as_dict(r: sqlite3.Row) -> dict[str, Any]:
    return dict(zip(r.keys(), r, strict=True))
