"""Plan a collection: validate the sheet, record the batch once (an invoice per row), detect
each payer's operator (operation_type=COLLECTION) and predict the fees and who bears them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from batch import errors
from batch.dollr.models import FeeQuote, ProviderInfo
from batch.engine.states import COLLECTION, OperationKind, RowState
from batch.intake.collection import (
    CollectionReport,
    PlannedInvoice,
    RejectedRow,
    validate_collection,
)
from batch.intake.rejected import rejected_line, write_rejected_rows
from batch.ledger import BatchRecord, Ledger, NewRow, RowRecord, SkippedRow
from batch.ledger.collections import ItemRecord, NewInvoice
from batch.markets import CURRENCY_DECIMALS, from_minor, to_minor
from batch.options import PAYEE, PAYER, CampaignPolicy, CollectPlanOptions, ValidationOptions
from batch.planning.identity import (
    check_same_name,
    default_batch_name,
    repeat_window_start,
)

MAX_PROBLEMS_SHOWN = 20


@dataclass
class CollectionTotals:
    """One currency of a collection: what is requested, the predicted fees, who bears them."""

    currency: str
    invoices: int = 0
    requested: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    fee_bearer: str = PAYER
    # What the payers are predicted to be debited, per the currency their wallets pay in
    # (another currency than the invoices' when FX applies).
    payer_debits: dict[str, Decimal] = field(default_factory=dict)
    fx_invoices: int = 0  # invoices paid from a wallet in another currency

    @property
    def payers_pay(self) -> Decimal:
        """What the payers are debited in all (fees on top when they bear them)."""
        return self.requested + (self.fees if self.fee_bearer == PAYER else 0)

    @property
    def merchant_receives(self) -> Decimal:
        """What reaches the wallet once every invoice is paid."""
        return self.requested - (self.fees if self.fee_bearer == PAYEE else 0)


@dataclass(frozen=True)
class CollectionPlan:
    """A planned collection batch."""

    batch: BatchRecord
    created: bool
    counts: dict[str, int]
    totals: dict[str, CollectionTotals]
    unroutable: list[str] = field(default_factory=list)
    notices: tuple[str, ...] = ()

    @property
    def payable(self) -> int:
        """Invoices not requested yet."""
        return sum(self.counts.get(s.value, 0)
                   for s in (RowState.NEW, RowState.RECIPIENT_READY, RowState.SESSION_OPEN))

    @property
    def policy(self) -> CampaignPolicy:
        """The batch's re-request policy, as recorded when it was planned."""
        return policy_of(self.batch)


def policy_of(batch: BatchRecord) -> CampaignPolicy:
    """The campaign policy recorded on a collection batch."""
    o = batch.options
    return CampaignPolicy(
        max_requests=int(o.get("max_requests", 3)),
        re_request_after=timedelta(seconds=float(o.get("re_request_after", 86400))),
    )


def sheet_problems(
    report: CollectionReport, rejected_out: Path | None = None
) -> errors.InputError:
    """One line per problem (Excel row and column), as an InputError."""
    where = f"; the rows are in {rejected_out}, with what to fix" if rejected_out else ""
    lines = [f"{report.file}: {len(report.problems)} problem(s) in "
             f"{report.invalid_invoices} invoice(s); nothing was recorded{where} "
             "(--skip-invalid collects the valid invoices)"]
    for p in report.problems[:MAX_PROBLEMS_SHOWN]:
        value = f" {p.value!r}" if p.value else ""
        lines.append(f"  row {p.row}, {p.column}{value}: {p.message}")
    if len(report.problems) > MAX_PROBLEMS_SHOWN:
        lines.append(f"  … and {len(report.problems) - MAX_PROBLEMS_SHOWN} more")
    return errors.InputError("\n".join(lines))


def content_hash(invoices: tuple[PlannedInvoice, ...], fee_bearer: str) -> str:
    """sha256 of the normalised invoices: the same sheet, however formatted, hashes the same."""
    canonical = [
        [i.sheet_row, i.name, i.phone, i.currency, i.country, i.email, i.note, i.invoice_key,
         i.due_date.isoformat() if i.due_date else None,
         [[x.sheet_row, x.name, x.qty, str(to_minor(x.unit_price, i.currency))] for x in i.items]]
        for i in invoices
    ]
    text = json.dumps([fee_bearer, canonical], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def request_set_hash(invoices: tuple[PlannedInvoice, ...]) -> str:
    """sha256 of the sorted (phone, total, currency) set: the repeat guard's key."""
    pairs = sorted([i.phone, str(to_minor(i.total, i.currency)), i.currency] for i in invoices)
    return "collection:" + hashlib.sha256(json.dumps(pairs).encode()).hexdigest()


async def plan_collection(
    ledger: Ledger, api: Any, path: Path, options: CollectPlanOptions,
    validation: ValidationOptions, *, concurrency: int = 8,
    mint: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> CollectionPlan:
    """Validate, record the batch (once), detect operators and predict fees."""
    report = validate_collection(path, validation, sheet=options.sheet)
    notices = list(report.notices)
    if report.rejected and options.rejected_out is not None:
        written = write_rejected_rows(
            path, report.kind, report.header_row,
            {r: x.problems for r, x in report.rejected.items()}, options.rejected_out,
            sheet=options.sheet,
        )
        notices.append(rejected_line(options.rejected_out, written))
    if report.problems and not options.skip_invalid:
        raise sheet_problems(report, options.rejected_out)
    if report.problems:
        notices.append(f"{report.invalid_invoices} invoice(s) left out (--skip-invalid): "
                       f"sheet rows {', '.join(map(str, report.rejected))}; kept as SKIPPED")
    if not report.invoices:
        raise errors.InputError(f"{path}: no invoices to collect")
    name = options.batch_name or default_batch_name(path)
    chash = content_hash(report.invoices, options.fee_bearer)
    existing = ledger.batch_by_name(name)
    created = existing is None
    if existing is not None:
        if existing.kind is not OperationKind.COLLECTION:
            raise errors.BatchConflictError(
                f"batch {name!r} is a {existing.kind} batch, not a collection", existing.id)
        check_same_name(existing, content=chash)
        batch = existing
    else:
        pset = request_set_hash(report.invoices)
        if not options.allow_repeat:
            since = repeat_window_start(ledger.clock(), options.repeat_window_days)
            _check_repeat(ledger.repeats_of(pset, since=since, name=name),
                         window_days=options.repeat_window_days)
        batch_id = ledger.create_batch(
            name=name, source_file=str(path), content_hash=chash, payout_set_hash=pset,
            rows=(_new_row(i, mint()) for i in report.invoices), kind=OperationKind.COLLECTION,
            skipped=[_skipped(x) for x in report.rejected.values()] if options.skip_invalid
            else (),
            options={
                "sheet": options.sheet, "fee_bearer": options.fee_bearer,
                "skip_invalid": options.skip_invalid,
                "max_requests": options.policy.max_requests,
                "re_request_after": options.policy.re_request_after.total_seconds(),
            },
        )
        found = ledger.batch_by_id(batch_id)
        assert found is not None
        batch = found
    ledger.add_invoices(batch.id, (_new_invoice(i, batch) for i in report.invoices))
    unroutable = await predict_collection(ledger, api, batch, concurrency=concurrency)
    return collection_plan(ledger, batch, created=created, unroutable=unroutable,
                           notices=tuple(notices))


def _new_row(i: PlannedInvoice, reference_id: str) -> NewRow:
    return NewRow(
        sheet_row=i.sheet_row, name=i.name, phone=i.phone,
        amount_minor=to_minor(i.total, i.currency), currency=i.currency, country=i.country,
        reference_id=reference_id, external_id=i.invoice_key, email=i.email, note=i.note,
    )


def _skipped(x: RejectedRow) -> SkippedRow:
    """A row of an invoice left out with --skip-invalid, kept as SKIPPED (never lost)."""
    currency = (x.currency or "").strip().upper()
    return SkippedRow(
        sheet_row=x.row, name=x.name, phone=x.phone, amount=x.amount,
        currency=currency if currency in CURRENCY_DECIMALS else None, country=x.country,
        problems=[{"column": "row", "value": None, "message": x.problems}],
    )


def _new_invoice(i: PlannedInvoice, batch: BatchRecord) -> NewInvoice:
    return NewInvoice(
        sheet_row=i.sheet_row, invoice_key=i.invoice_key,
        due_date=i.due_date.isoformat() if i.due_date else None,
        fee_bearer=str(batch.options.get("fee_bearer", PAYER)),
        items=[ItemRecord(n, x.sheet_row, x.name, x.qty, to_minor(x.unit_price, i.currency))
               for n, x in enumerate(i.items, start=1)],
    )


def collection_plan(
    ledger: Ledger, batch: BatchRecord, *, created: bool = False,
    unroutable: list[str] | None = None, notices: tuple[str, ...] = (),
) -> CollectionPlan:
    """The totals of a collection batch as the ledger holds it now."""
    bearer = str(batch.options.get("fee_bearer", PAYER))
    totals: dict[str, CollectionTotals] = {}
    invoices = ledger.invoices_of_batch(batch.id)
    for r in ledger.each_row(batch.id):
        if r.state is RowState.SKIPPED or r.currency is None or r.amount is None:
            continue
        t = totals.setdefault(r.currency, CollectionTotals(r.currency, fee_bearer=bearer))
        t.invoices += 1
        t.requested += r.amount
        if r.predicted_fee is not None:
            t.fees += r.predicted_fee
        invoice = invoices.get(r.id)
        if invoice is not None and invoice.payer_currency and invoice.payer_amount_minor:
            cur = invoice.payer_currency
            t.payer_debits[cur] = (t.payer_debits.get(cur, Decimal(0))
                                   + from_minor(invoice.payer_amount_minor, cur))
            t.fx_invoices += cur != r.currency
    return CollectionPlan(batch, created, ledger.counts(batch.id), totals, unroutable or [],
                          notices)


async def predict_collection(
    ledger: Ledger, api: Any, batch: BatchRecord, *, concurrency: int
) -> list[str]:
    """Each NEW row's payer operator and fee quote (cached per phone and per quote)."""
    rows = [r for r in ledger.each_row(batch.id)
            if r.state is RowState.NEW and r.method is None]
    if not rows:
        return []
    bearer = str(batch.options.get("fee_bearer", PAYER))
    gate = asyncio.Semaphore(concurrency)
    operators: dict[str, ProviderInfo | str] = {}

    async def operator(phone: str) -> None:
        known = ledger.recipient(phone, COLLECTION)
        if known is not None and known.method and known.provider:
            operators[phone] = ProviderInfo(payment_method=known.method,
                                            gateway_provider=known.provider,
                                            carrier=known.carrier, currencies=known.currencies)
            return
        async with gate:
            try:
                # For a COLLECTION, `currencies` are those the payer's wallet pays in.
                info = await api.mmo_provider_info(phone, COLLECTION)
            except errors.UnroutablePhoneError as exc:
                operators[phone] = str(exc)
                return
        ledger.save_routing(phone, carrier=info.carrier, country=info.country,
                            currencies=info.currencies, method=info.payment_method,
                            provider=info.gateway_provider, operation_type=COLLECTION)
        operators[phone] = info

    await asyncio.gather(*(operator(p) for p in {r.phone for r in rows if r.phone}))
    Key = tuple[Decimal, str, str, str, str]
    quotes: dict[Key, FeeQuote] = {}

    async def quote(key: Key) -> None:
        amount, currency, payer_currency, method, provider = key
        async with gate:
            # target_currency is the payer's (REFERENCE §3.5.3): the quote says what they pay.
            quotes[key] = await api.amount_and_fees(
                amount=amount, currency=currency, target_currency=payer_currency,
                payment_method=method, provider=provider, operation_type=COLLECTION,
                fee_bearer=bearer,
            )

    def key_of(r: RowRecord, info: ProviderInfo) -> Key:
        assert r.amount is not None and r.currency is not None
        return (r.amount, r.currency, payer_currency(r.currency, info.currencies),
                info.payment_method, info.gateway_provider)

    keys = set()
    for r in rows:
        info = operators.get(r.phone or "")
        if isinstance(info, ProviderInfo) and r.amount is not None and r.currency:
            keys.add(key_of(r, info))
    await asyncio.gather(*(quote(k) for k in keys))
    problems: list[str] = []
    with ledger.atomic():
        for r in rows:
            info = operators.get(r.phone or "")
            if not isinstance(info, ProviderInfo):
                reason = f"cannot be collected: {info}"
                ledger.mark_failed(r.id, r.current_reference_id, reason=reason)
                problems.append(f"row {r.sheet_row}: {reason}")
                continue
            q = quotes[key_of(r, info)]
            ledger.set_row_prediction(
                r.id, operator=info.carrier or info.payment_method, method=info.payment_method,
                provider=info.gateway_provider, predicted_fee=q.total_fee,
                fee_currency=q.platform_currency,
            )
            try:
                debit: int | None = to_minor(q.payer_amount, q.payer_currency)
            except ValueError:  # more decimals than the currency has: shown as unknown
                debit = None
            ledger.set_payer_currency(r.id, q.payer_currency, debit)
    return problems


def payer_currency(invoice_currency: str, wallet: Sequence[str]) -> str:
    """The currency a payer pays an invoice in: the invoice's when their wallet holds it (or
    the API named none), else the wallet's own (FX applies)."""
    if not wallet or invoice_currency in wallet:
        return invoice_currency
    return wallet[0]


def _check_repeat(repeats: Sequence[BatchRecord], *, window_days: int) -> None:
    """Refuse a collection holding the same requests as a recent other batch (a re-exported
    copy would ask every payer again); `--allow-repeat` if intended."""
    if repeats:
        first = repeats[0]
        raise errors.BatchConflictError(
            f"the same requests (phone, amount, currency) are already in batch {first.name!r}, "
            f"created {first.created_at:%Y-%m-%d %H:%M} UTC from {first.source_file}, within "
            f"the last {window_days} days; pass --allow-repeat if this is intended",
            batch_id=first.id,
        )
