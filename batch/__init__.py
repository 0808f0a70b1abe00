"""paybatch: bulk mobile-money payouts through the Dollr API, paid exactly once.

The pipeline as a library: `load_sheet` -> `validate_sheet` -> `plan_file` / `run_batch`
(with a `Settings`), the `Ledger` for reading where every row stands, and `load_report` /
`write_report` for the reconciliation report. Heavy modules load on first use, so
`import batch` stays cheap for the command line.
"""

from __future__ import annotations

import importlib
from typing import Any

from batch.config import Settings
from batch.engine.states import RowState
from batch.errors import BatchError
from batch.models import PayoutRow, RowProblem

# Public name -> module that defines it (imported lazily by __getattr__).
_LAZY = {
    "load_sheet": "batch.intake.load",
    "validate_sheet": "batch.intake.validate",
    "ValidationOptions": "batch.options",
    "Ledger": "batch.ledger",
    "plan_file": "batch.pipeline",
    "run_batch": "batch.pipeline",
    "RunRequest": "batch.pipeline",
    "load_report": "batch.report.files",
    "write_report": "batch.report.files",
}

__all__ = [
    "BatchError",
    "Ledger",
    "PayoutRow",
    "RowProblem",
    "RowState",
    "RunRequest",
    "Settings",
    "ValidationOptions",
    "load_report",
    "load_sheet",
    "plan_file",
    "run_batch",
    "validate_sheet",
    "write_report",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'batch' has no attribute {name!r}")
