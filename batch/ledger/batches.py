"""Ledger writes outside the row state machine: batches and their rows, recipients, fee quotes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from batch.engine.states import PAYOUT, OperationKind, RowState
from batch.ledger.core import LedgerCore
from batch.ledger.records import BatchRecord, NewRow, Recipient, SkippedRow
from batch.markets import CURRENCY_DECIMALS, to_minor

_ROW_COLUMNS = (
    "batch_id, sheet_row, name, phone, amount_minor, currency, country, external_id, email, "
    "note, method, provider, state, current_reference_id, updated_at, ref_seed, ref_base"
)


class BatchWrites(LedgerCore):
    """Create batches with their rows and first reference_ids; cache recipients and fees."""

    def create_batch(
        self,
        *,
        name: str,
        source_file: str,
        content_hash: str,
        payout_set_hash: str,
        rows: Iterable[NewRow],
        skipped: Sequence[SkippedRow] = (),
        options: dict[str, Any] | None = None,
        kind: OperationKind = OperationKind.PAYOUT,
        period: str | None = None,
        purpose: str | None = None,
        environment: str | None = None,
        sandbox: bool = False,
        repeat_no: int = 0,
    ) -> int:
        """Record a new batch, its rows (NEW) with their first attempt, and SKIPPED rows.

        `period`, `purpose`, `environment`, `sandbox`, `repeat_no`: issue 11 (migration 004).
        """
        now = self.now()
        with self.atomic():
            cur = self._execute(
                "INSERT INTO batches (name, source_file, content_hash, payout_set_hash, "
                "options_json, created_at, kind, period, purpose, environment, sandbox, "
                "repeat_no) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, source_file, content_hash, payout_set_hash,
                 json.dumps(options or {}, sort_keys=True, default=str), now, kind.value,
                 period, purpose, environment, int(sandbox), repeat_no),
            )
            batch_id = cur.lastrowid
            assert batch_id is not None
            self._executemany(
                f"INSERT INTO rows ({_ROW_COLUMNS}) VALUES ({', '.join('?' * 17)})",
                (  # a generator: 100k parameter tuples are never all in memory at once
                    (batch_id, r.sheet_row, r.name, r.phone, r.amount_minor, r.currency,
                     r.country, r.external_id, r.email, r.note, r.method, r.provider,
                     RowState.NEW.value, r.reference_id, now, r.ref_seed, r.ref_base)
                    for r in rows
                ),
            )
            # First attempts: one reference_id per row, durable from the plan on (REFERENCE §4.1).
            self._execute(
                "INSERT INTO attempts (reference_id, row_id, attempt_no, created_at) "
                "SELECT current_reference_id, id, 1, ? FROM rows WHERE batch_id = ?",
                (now, batch_id),
            )
            self._executemany(
                "INSERT INTO rows (batch_id, sheet_row, name, phone, amount_minor, currency, "
                "country, state, problems_json, failure_reason, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (batch_id, s.sheet_row, s.name, s.phone, _skipped_minor(s), s.currency,
                     s.country, RowState.SKIPPED.value, json.dumps(s.problems), _skip_reason(s),
                     now)
                    for s in skipped
                ],
            )
            planned = self._execute(
                "SELECT COUNT(*) FROM rows WHERE batch_id = ? AND state = ?",
                (batch_id, RowState.NEW.value),
            ).fetchone()[0]
            self._execute(
                "INSERT INTO events (batch_id, to_state, at, detail) VALUES (?, ?, ?, ?)",
                (batch_id, "PLANNED", now,
                 f"{planned} row(s) planned, {len(skipped)} skipped, from {source_file}"),
            )
        return batch_id

    def batch_by_name(self, name: str) -> BatchRecord | None:
        """The batch with this name, if any."""
        r = self._one("SELECT * FROM batches WHERE name = ?", (name,))
        return BatchRecord.from_row(r) if r else None

    def batch_by_id(self, batch_id: int) -> BatchRecord | None:
        """The batch with this id, if any."""
        r = self._one("SELECT * FROM batches WHERE id = ?", (batch_id,))
        return BatchRecord.from_row(r) if r else None

    def repeats_of(self, payout_set_hash: str, *, since: datetime, name: str) -> list[BatchRecord]:
        """Other batches created since `since` that hold the same set of payouts."""
        rows = self._all(
            "SELECT * FROM batches WHERE payout_set_hash = ? AND created_at >= ? AND name != ? "
            "ORDER BY created_at",
            (payout_set_hash, since.isoformat(), name),
        )
        return [BatchRecord.from_row(r) for r in rows]

    def mark_batch_started(self, batch_id: int) -> None:
        """Stamp the first time a run started sending this batch."""
        with self.atomic():
            self._execute(
                "UPDATE batches SET started_at = COALESCE(started_at, ?) WHERE id = ?",
                (self.now(), batch_id),
            )

    def mark_batch_finished(self, batch_id: int) -> None:
        """Stamp the time every row of the batch reached a terminal state."""
        with self.atomic():
            self._execute("UPDATE batches SET finished_at = ? WHERE id = ?", (self.now(), batch_id))

    def set_row_prediction(
        self,
        row_id: int,
        *,
        operator: str | None,
        method: str | None,
        provider: str | None,
        predicted_fee: Decimal | None,
        fee_currency: str | None,
        fee_source: str | None = None,
    ) -> None:
        """Store a row's predicted operator and fee, and where the fee came from (plan)."""
        self._execute(
            "UPDATE rows SET operator = ?, method = ?, provider = ?, predicted_fee = ?, "
            "fee_currency = ?, fee_source = ? WHERE id = ?",
            (operator, method, provider,
             str(predicted_fee) if predicted_fee is not None else None, fee_currency,
             fee_source, row_id),
        )

    # -- recipients (reused across batches) --------------------------------------------------

    def recipient(self, phone: str, operation_type: str = PAYOUT) -> Recipient | None:
        """What the ledger knows about this phone for this operation type."""
        r = self._one(
            "SELECT * FROM recipients WHERE environment = ? AND phone = ? AND operation_type = ?",
            (self.environment, phone, operation_type),
        )
        return Recipient.from_row(r) if r else None

    def recipients(
        self, phones: Sequence[str], operation_type: str = PAYOUT, *,
        routed_since: str | None = None,
    ) -> dict[str, Recipient]:
        """Known recipients among these phones, for this operation type.

        `routed_since` (a time as the ledger stores it): only those whose operator was
        asked at or after it (planning's freshness window)."""
        found: dict[str, Recipient] = {}
        chunk = 500
        fresh = "" if routed_since is None else (
            "AND method IS NOT NULL AND provider IS NOT NULL AND routed_at >= ? "
        )
        since = [] if routed_since is None else [routed_since]
        for i in range(0, len(phones), chunk):
            part = list(phones[i : i + chunk])
            marks = ", ".join("?" * len(part))
            for r in self._all(
                f"SELECT * FROM recipients WHERE environment = ? AND operation_type = ? {fresh}"
                f"AND phone IN ({marks})",
                [self.environment, operation_type, *since, *part],
            ):
                found[r["phone"]] = Recipient.from_row(r)
        return found

    def save_routing(
        self,
        phone: str,
        *,
        carrier: str | None,
        country: str | None,
        currencies: Sequence[str],
        method: str,
        provider: str,
        operation_type: str = PAYOUT,
    ) -> None:
        """Cache a phone's operator prediction (mmo-provider-info) for this operation type.

        A phone whose operator changed (asked again after the freshness window: the number
        was ported) loses its account id: that account was made for the old operator, and
        the next payment makes one for the new operator."""
        now = self.now()
        self._write(
            "INSERT INTO recipients (environment, phone, operation_type, carrier, country, "
            "currencies_json, method, provider, created_at, updated_at, routed_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (environment, phone, operation_type) DO UPDATE SET "
            "carrier = excluded.carrier, "
            "country = excluded.country, currencies_json = excluded.currencies_json, "
            "account_id = CASE WHEN recipients.method IS excluded.method "
            "AND recipients.provider IS excluded.provider THEN recipients.account_id END, "
            "method = excluded.method, provider = excluded.provider, "
            "updated_at = excluded.updated_at, routed_at = excluded.routed_at",
            (self.environment, phone, operation_type, carrier, country,
             json.dumps(list(currencies)), method, provider, now, now, now),
        )

    def pace(self, *, max_age_days: float = 7.0) -> float | None:
        """The request rate learned from this API's 429s by an earlier command (requests/s),
        if not older than `max_age_days`."""
        since = (self.clock() - timedelta(days=max_age_days)).astimezone(UTC).isoformat()
        found = self._one(
            "SELECT learned_rate FROM api_pace WHERE environment = ? AND learned_at >= ?",
            (self.environment, since),
        )
        return float(found[0]) if found is not None else None

    def save_pace(self, rate: float) -> None:
        """Remember the request rate learned from this API's 429s (see `pace`)."""
        self._write(
            "INSERT INTO api_pace (environment, learned_rate, learned_at) VALUES (?, ?, ?) "
            "ON CONFLICT (environment) DO UPDATE SET learned_rate = excluded.learned_rate, "
            "learned_at = excluded.learned_at",
            (self.environment, rate, self.now()),
        )

    def save_recipient_ids(
        self,
        phone: str,
        *,
        party_id: int | None = None,
        counterparty_id: int | None = None,
        account_id: int | None = None,
        relationship_type: str | None = None,
        operation_type: str = PAYOUT,
    ) -> None:
        """Remember the API ids created for this phone and operation type (only the ones
        given change)."""
        now = self.now()
        self._write(
            "INSERT INTO recipients (environment, phone, operation_type, party_id, "
            "counterparty_id, account_id, relationship_type, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (environment, phone, operation_type) DO UPDATE SET "
            "party_id = COALESCE(excluded.party_id, party_id), "
            "counterparty_id = COALESCE(excluded.counterparty_id, counterparty_id), "
            "account_id = COALESCE(excluded.account_id, account_id), "
            "relationship_type = COALESCE(excluded.relationship_type, relationship_type), "
            "updated_at = excluded.updated_at",
            (self.environment, phone, operation_type, party_id, counterparty_id, account_id,
             relationship_type, now, now),
        )

    # -- fee quotes --------------------------------------------------------------------------

    def fee_quote(
        self, *, amount: Decimal, currency: str, target_currency: str, method: str, provider: str
    ) -> dict[str, Any] | None:
        """The cached quote (its JSON, amounts as text) for this amount and route."""
        r = self._one(
            "SELECT quote_json FROM fee_quotes WHERE environment = ? AND amount = ? "
            "AND currency = ? AND target_currency = ? AND method = ? AND provider = ?",
            (self.environment, str(amount), currency, target_currency, method, provider),
        )
        return dict(json.loads(r["quote_json"])) if r else None

    def save_fee_quote(
        self,
        *,
        amount: Decimal,
        currency: str,
        target_currency: str,
        method: str,
        provider: str,
        total_fee: Decimal,
        fee_currency: str,
        quote: dict[str, Any],
    ) -> None:
        """Cache a fee quote (amount-and-fees)."""
        with self.atomic():
            self._execute(
                "INSERT OR REPLACE INTO fee_quotes (environment, amount, currency, "
                "target_currency, method, provider, total_fee, fee_currency, quote_json, "
                "fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (self.environment, str(amount), currency, target_currency, method, provider,
                 str(total_fee), fee_currency, json.dumps(quote, default=str), self.now()),
            )


def _skipped_minor(row: SkippedRow) -> int | None:
    """A SKIPPED row's amount in minor units when the amount itself was valid (issue 13: the
    report and the totals show it), else None."""
    if row.amount is None or row.currency not in CURRENCY_DECIMALS:
        return None
    try:
        return to_minor(Decimal(row.amount), row.currency)
    except (ArithmeticError, ValueError):
        return None


def _skip_reason(row: SkippedRow) -> str:
    if row.reason:
        return row.reason
    messages = [str(p.get("message", "")) for p in row.problems]
    return "skipped (invalid): " + "; ".join(m for m in messages if m)
