"""The SQLite ledger, the single source of truth; this package holds all of paybatch's SQL.

`Ledger(path)` opens (and migrates) a ledger file; see the mixins for its parts.
"""

from __future__ import annotations

from batch.ledger.adoption import LateTransitions
from batch.ledger.approvals import ApprovalRecord, Approvals, HistoryLine, PlanLine
from batch.ledger.batches import BatchWrites
from batch.ledger.cancel import Cancels
from batch.ledger.collections import CollectionBook
from batch.ledger.core import LedgerCore, migration_files, sql_dir, utc_now
from batch.ledger.history import History
from batch.ledger.journal import Journal
from batch.ledger.locks import Locks, pid_alive
from batch.ledger.reads import Reads
from batch.ledger.records import (
    AttemptRecord,
    BatchRecord,
    BatchSummary,
    EarlierPayment,
    EventRecord,
    ExecutionLike,
    NewRow,
    Recipient,
    RowRecord,
    SkippedRow,
)
from batch.ledger.streams import Streams
from batch.ledger.transitions import Transitions


class Ledger(
    BatchWrites, History, LateTransitions, Transitions, Reads, Streams, Locks, Journal, Approvals,
    Cancels, CollectionBook,
):
    """A paybatch ledger file: batches, rows, attempts, recipients, events, locks, journal,
    approvals, cancellations, invoices."""


__all__ = [
    "ApprovalRecord",
    "AttemptRecord",
    "BatchRecord",
    "BatchSummary",
    "EarlierPayment",
    "EventRecord",
    "ExecutionLike",
    "HistoryLine",
    "Ledger",
    "LedgerCore",
    "NewRow",
    "PlanLine",
    "Recipient",
    "RowRecord",
    "SkippedRow",
    "migration_files",
    "pid_alive",
    "sql_dir",
    "utc_now",
]
