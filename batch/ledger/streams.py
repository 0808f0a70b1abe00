"""Lean ledger reads for big batches: only the ids a stage needs, or rows one at a time.

A RowRecord costs ~1 KB; 100k of them in a list is what these reads avoid.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from batch.engine.states import AttemptOutcome, RowState
from batch.ledger.core import LedgerCore
from batch.ledger.integrity import damaged, find_bad_value
from batch.ledger.records import AttemptRecord, RowRecord
from batch.markets import CURRENCY_DECIMALS

_PAGE = 2000  # rows read at a time
_UNPREDICTED = "batch_id = ? AND state = ? AND predicted_fee IS NULL"


class Streams(LedgerCore):
    """Reads that never hold a whole batch's rows."""

    def unpredicted_count(self, batch_id: int) -> int:
        """NEW rows of a batch without a predicted fee (what planning still has to predict)."""
        found = self._one(
            f"SELECT COUNT(*) FROM rows WHERE {_UNPREDICTED}", (batch_id, RowState.NEW.value)
        )
        return int(found[0]) if found is not None else 0

    def unpredicted_rows(
        self, batch_id: int, *, first: int, last: int
    ) -> dict[int, tuple[int, str]]:
        """sheet_row -> (row id, current reference_id) of the NEW rows without a predicted fee
        whose sheet rows lie in first..last."""
        return {
            r["sheet_row"]: (r["id"], r["current_reference_id"])
            for r in self._execute(
                f"SELECT sheet_row, id, current_reference_id FROM rows WHERE {_UNPREDICTED} "
                "AND sheet_row BETWEEN ? AND ?",
                (batch_id, RowState.NEW.value, first, last),
            )
        }

    def _row_pages(self, batch_id: int) -> Iterator[list[sqlite3.Row]]:
        """A batch's `rows` in sheet order, _PAGE at a time.

        Each page is its own query, so no cursor stays open across the caller's writes.
        """
        after = -1
        while True:
            page = self._all(
                "SELECT * FROM rows WHERE batch_id = ? AND sheet_row > ? "
                f"ORDER BY sheet_row LIMIT {_PAGE}",
                (batch_id, after),
            )
            if not page:
                return
            yield page
            after = page[-1]["sheet_row"]

    def each_row(self, batch_id: int) -> Iterator[RowRecord]:
        """The rows of a batch in sheet order without attempts, read a page at a time."""
        for page in self._row_pages(batch_id):
            for r in page:
                yield RowRecord.from_row(r)

    def sent_count(self, batch_id: int) -> int:
        """How many of a batch's attempts were ever sent (their SUBMITTING committed)."""
        found = self._one(
            "SELECT COUNT(*) FROM attempts a JOIN rows r ON r.id = a.row_id "
            "WHERE r.batch_id = ? AND a.submitted_at IS NOT NULL",
            (batch_id,),
        )
        return int(found[0]) if found is not None else 0

    def check_values(self, batch_id: int) -> None:
        """Raise LedgerDamagedError if any row or attempt of a batch holds a value the engine
        could not read (text that is not UTF-8, a decimal, time, state or JSON that no write
        makes): run checks this before it sends anything (issue 12)."""
        try:
            found = find_bad_value(
                self.conn, batch_id, [s.value for s in RowState], sorted(CURRENCY_DECIMALS),
                [o.value for o in AttemptOutcome],
            )
        except sqlite3.Error as exc:
            raise self._query_error(exc) from exc
        if found is not None:
            raise damaged(self.path, *found)

    def row_stream(self, batch_id: int) -> RowStream:
        """The rows of a batch with their attempts, re-read from the ledger on each pass."""
        return RowStream(self, batch_id)

    def each_row_read_only(self, batch_id: int) -> Iterator[RowRecord]:
        """The rows of a batch in sheet order with all attempts, for a reader that writes
        nothing to this ledger while it goes through them (the report).

        One statement, rows joined with their attempts, fetched _PAGE result rows at a time
        as plain tuples: its cursor stays open between pages, which each_row_with_attempts
        avoids for callers that write meanwhile; one query instead of two per page.
        """
        cursor = self.conn.cursor()
        cursor.row_factory = None  # tuples: sqlite3.Row looks names up one by one
        try:
            cursor.execute(
                "SELECT r.*, a.* FROM rows r LEFT JOIN attempts a ON a.row_id = r.id "
                "WHERE r.batch_id = ? ORDER BY r.sheet_row, a.attempt_no",
                (batch_id,),
            )
        except sqlite3.Error as exc:
            raise self._query_error(exc) from exc
        names = [d[0] for d in cursor.description]
        split = self._row_width()
        row_names, attempt_names = names[:split], names[split:]
        row_id = row_names.index("id")

        def record(values: tuple[Any, ...], attempts: list[tuple[Any, ...]]) -> RowRecord:
            return RowRecord.from_row(
                dict(zip(row_names, values[:split], strict=True)),
                tuple(AttemptRecord.from_row(dict(zip(attempt_names, a, strict=True)))
                      for a in attempts),
            )

        current: tuple[Any, ...] | None = None
        attempts: list[tuple[Any, ...]] = []  # the current row's attempt columns
        try:
            while page := self._page(cursor):
                for values in page:
                    if current is None or values[row_id] != current[row_id]:
                        if current is not None:
                            yield record(current, attempts)
                        current, attempts = values, []
                    if values[split] is not None:  # LEFT JOIN: a row without attempts
                        attempts.append(values[split:])
            if current is not None:
                yield record(current, attempts)
        finally:
            cursor.close()

    def _page(self, cursor: sqlite3.Cursor) -> list[tuple[Any, ...]]:
        try:  # values are decoded as they are fetched
            return cursor.fetchmany(_PAGE)
        except sqlite3.Error as exc:
            raise self._query_error(exc) from exc

    def each_row_with_attempts(self, batch_id: int) -> Iterator[RowRecord]:
        """The rows of a batch in sheet order with all attempts, read a page at a time."""
        for page in self._row_pages(batch_id):
            first, last = page[0]["sheet_row"], page[-1]["sheet_row"]
            attempts: dict[int, list[AttemptRecord]] = defaultdict(list)
            for a in self._execute(
                "SELECT a.* FROM attempts a JOIN rows r ON r.id = a.row_id WHERE r.batch_id = ? "
                "AND r.sheet_row BETWEEN ? AND ? ORDER BY a.row_id, a.attempt_no",
                (batch_id, first, last),
            ):
                attempts[a["row_id"]].append(AttemptRecord.from_row(a))
            for r in page:
                yield RowRecord.from_row(r, tuple(attempts.get(r["id"], ())))


class RowStream:
    """A batch's rows with attempts as an iterable that re-reads the ledger on each pass
    (the ledger must stay open while it is used, and take no writes during a pass)."""

    def __init__(self, ledger: Streams, batch_id: int) -> None:
        self.ledger, self.batch_id = ledger, batch_id

    def __iter__(self) -> Iterator[RowRecord]:
        return self.ledger.each_row_read_only(self.batch_id)
