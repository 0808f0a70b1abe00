"""The stages' option models, nested in `config.Settings` and built once in the CLI.

A shared module (below intake): every stage reads its own part of the one Settings object
(`settings.validation`, `.plan`, `.collect`, `.run`, `.run.monitor`) without importing a
later stage. Each model is frozen and validated: a bad value is refused where it is built.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from batch.markets import COUNTRY_CURRENCIES, CURRENCY_DECIMALS

DEFAULT_REPEAT_WINDOW_DAYS = 20  # days the repeat guard looks back
DEFAULT_PURPOSE = "payroll"
DEFAULT_WAIT = 300.0  # seconds a run keeps polling once nothing new can start
DEFAULT_CONCURRENCY = 16  # rows worked on at once (the API's rate is the real limit)
DEFAULT_INTERRUPT_SETTLE = 5.0  # seconds an interrupted run settles rows in flight
PAYER, PAYEE = "PAYER", "PAYEE"

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ValidationOptions(BaseModel):
    """Defaults and switches for validation."""

    model_config = _FROZEN

    default_country: str | None = None
    default_currency: str | None = None
    # One limit for every currency, or per currency ({"USD": 3000, "LRD": 500000}; a currency
    # not named has no limit)
    max_amount: Decimal | dict[str, Decimal] | None = None
    allow_duplicates: bool = False
    include_hidden: bool = False  # pay rows and sheets hidden in Excel (an error otherwise)
    decimal_comma: bool = False  # amounts written 1.250,00 (else detected when unambiguous)

    @model_validator(mode="after")
    def _known(self) -> ValidationOptions:
        if self.default_country is not None and self.default_country not in COUNTRY_CURRENCIES:
            raise ValueError(f"unsupported default country {self.default_country!r}")
        if self.default_currency is not None and self.default_currency not in CURRENCY_DECIMALS:
            raise ValueError(f"unsupported default currency {self.default_currency!r}")
        for currency, limit in self.max_amounts().items():
            if not limit.is_finite() or limit <= 0:
                raise ValueError("max_amount must be positive")
            if currency not in CURRENCY_DECIMALS:
                raise ValueError(f"max_amount: unsupported currency {currency!r}")
        return self

    def max_amounts(self) -> dict[str, Decimal]:
        """The --max-amount limit of each currency that has one."""
        if self.max_amount is None:
            return {}
        if isinstance(self.max_amount, Decimal):
            return dict.fromkeys(CURRENCY_DECIMALS, self.max_amount)
        return {c.upper(): Decimal(v) for c, v in self.max_amount.items()}


class PlanOptions(BaseModel):
    """How a payout sheet becomes a batch (its validation is `Settings.validation`)."""

    model_config = _FROZEN

    sheet: str | None = None
    batch_name: str | None = None
    skip_invalid: bool = False
    allow_repeat: bool = False
    repeat_window_days: int = Field(default=DEFAULT_REPEAT_WINDOW_DAYS, ge=0)
    # Recorded with a new batch among its options: who planned it, its approval policy.
    recorded: dict[str, Any] = Field(default_factory=dict)
    only_new: bool = False  # pay only recipients not paid yet (issue 11)
    period: str | None = Field(default=None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$")  # YYYY-MM
    purpose: str = Field(default=DEFAULT_PURPOSE, pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    rejected_out: Path | None = None  # the invalid rows, in the sheet's own format


class CampaignPolicy(BaseModel):
    """How often and how soon an unpaid invoice is requested again."""

    model_config = _FROZEN

    max_requests: int = Field(default=3, ge=1, le=20)
    re_request_after: timedelta = Field(default=timedelta(hours=24), ge=timedelta(0))


class CollectPlanOptions(BaseModel):
    """How a collection sheet becomes a batch (its validation is `Settings.validation`)."""

    model_config = _FROZEN

    sheet: str | None = None
    batch_name: str | None = None
    fee_bearer: Literal["PAYER", "PAYEE"] = "PAYER"  # who bears the fees
    allow_repeat: bool = False
    repeat_window_days: int = Field(default=DEFAULT_REPEAT_WINDOW_DAYS, ge=0)
    policy: CampaignPolicy = Field(default_factory=CampaignPolicy)
    # The policy was given on the command line: it overrides the batch's recorded one.
    policy_given: bool = False
    skip_invalid: bool = False  # collect the valid invoices; the others are kept as SKIPPED
    rejected_out: Path | None = None  # the left-out rows, in the sheet's own format


class MonitorOptions(BaseModel):
    """Polling and trust timings (seconds). An operation has its own defaults; the fields
    given on the command line (`model_fields_set`) override them one by one."""

    model_config = _FROZEN

    first_poll: float = Field(default=5.0, ge=0)  # the expected processing time (REFERENCE §4.4)
    max_poll_interval: float = Field(default=60.0, gt=0)
    not_found_grace: float = Field(default=180.0, ge=0)  # after the request and session expiry
    max_rejected_attempts: int = Field(default=3, ge=1)  # 422 on execute: fresh attempts
    # An ambiguous execute (lost answer, 5xx) whose status says "not found" this long after
    # the send is re-sent with the same reference_id, while its session stays open (after a
    # 429, as soon as status says not found).
    # Shorter than not_found_grace: a resend that meets a late-visible execution is answered
    # with it (one execution per reference_id), so waiting longer would only delay the row.
    resend_grace: float = Field(default=10.0, ge=0)
    max_resends: int = Field(default=2, ge=0)  # per attempt; then the session's expiry + grace
    # A session with less time left is renewed before a first send, and gets no resend.
    session_margin: float = Field(default=5.0, ge=0)
    # A 404 for an attempt submitted before this instant is final at once: the embedded
    # sandbox that could have received it died with its process (its successor kept its state).
    not_found_final_before: datetime | None = None

    def over(self, defaults: MonitorOptions) -> MonitorOptions:
        """`defaults` with the fields given here (and only those) replaced."""
        return defaults.model_copy(update={k: getattr(self, k) for k in self.model_fields_set})


class RunOptions(BaseModel):
    """How a run behaves."""

    model_config = _FROZEN

    concurrency: int = Field(default=DEFAULT_CONCURRENCY, ge=1, le=256)
    wait: float = Field(default=DEFAULT_WAIT, ge=0)  # seconds polling once nothing can start
    retry_failed: bool = False
    reconcile_only: bool = False  # settle rows in flight; start nothing new
    commit_window: float = Field(default=0.1, gt=0)  # seconds: non-SUBMITTING commits batch
    # Seconds an interrupted run keeps settling rows in flight (PAYBATCH_INTERRUPT_SETTLE).
    interrupt_settle: float = Field(default=DEFAULT_INTERRUPT_SETTLE, ge=0)
    monitor: MonitorOptions | None = None  # None: the operation's own timings
