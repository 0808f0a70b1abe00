"""Two-person release (issue 17), the ledger side: a batch's facts (kind, period, maker,
policy), approve or revoke it, and the check `run` makes before it sends anything.

Pure decisions are in approval.py (policy, plan hash, judgement); the review is in
review_flow.py.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from batch import errors
from batch.engine.states import RowState, may_retry
from batch.ledger import ApprovalRecord, BatchRecord, Ledger
from batch.planning.approval import (
    ApprovalCheck,
    ApprovalPolicy,
    approval_message,
    judge,
    plan_hash,
    same_person,
)
from batch.planning.identity import CurrencyTotals

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ENV_REQUIRE_APPROVALS = "PAYBATCH_REQUIRE_APPROVALS"
POLICY_OPTION, MAKER_OPTION = "approval", "planned_by"  # keys in the batch's options
DEFAULT_KIND = "payout"
MIN_HASH_PREFIX = 8  # --plan-hash: enough of the hash that it names one plan


def current_user(name: str | None = None) -> str:
    """`--as NAME`, else the operating-system user."""
    if name and name.strip():
        return name.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return f"uid-{os.getuid()}"


def recorded_facts(policy: ApprovalPolicy, maker: str) -> dict[str, Any]:
    """What a new batch records about its release: its approval policy and who planned it."""
    return {POLICY_OPTION: policy.to_json(), MAKER_OPTION: maker}


def batch_fact(batch: BatchRecord, name: str) -> Any:
    """A batch fact from its own column when the ledger has one, else from its options."""
    value = getattr(batch, name, None)
    if value is None:
        value = batch.options.get(name)
    return getattr(value, "value", value)  # an Enum's value


def batch_kind(batch: BatchRecord) -> str:
    """payout or collection (batches planned before kinds existed are payouts)."""
    return str(batch_fact(batch, "kind") or DEFAULT_KIND)


def batch_period(batch: BatchRecord) -> str:
    """The pay period YYYY-MM (default: the month the batch was first planned)."""
    return str(batch_fact(batch, "period") or f"{batch.created_at:%Y-%m}")


def batch_maker(batch: BatchRecord) -> str | None:
    """Who planned the batch, if recorded."""
    maker = batch.options.get(MAKER_OPTION)
    return str(maker) if maker else None


def batch_policy(batch: BatchRecord) -> ApprovalPolicy:
    """The approval policy recorded when the batch was planned."""
    return ApprovalPolicy.from_json(batch.options.get(POLICY_OPTION))


def find_batch(ledger: Ledger, name: str) -> BatchRecord:
    """The batch by name, or one clear InputError."""
    batch = ledger.batch_by_name(name)
    if batch is None:
        raise errors.InputError(f"{name}: no such batch in {ledger.path}")
    return batch


def current_plan_hash(ledger: Ledger, batch: BatchRecord) -> str:
    """The hash of the batch's plan as the ledger holds it now."""
    return plan_hash(batch_kind(batch), batch_period(batch), ledger.plan_lines(batch.id))


def debits(by_currency: Mapping[str, CurrencyTotals]) -> dict[str, Decimal]:
    """Total debit (amounts plus predicted fees) per currency."""
    return {c: t.total_debit for c, t in by_currency.items()}


def check_approvals(
    ledger: Ledger,
    batch: BatchRecord,
    runtime: ApprovalPolicy | None = None,
    *,
    by_currency: Mapping[str, CurrencyTotals] | None = None,
) -> ApprovalCheck:
    """The batch's approvals judged against its plan now and the stricter of its recorded
    policy and `runtime` (this command's flags and environment). Writes nothing."""
    policy = batch_policy(batch).stricter(runtime or ApprovalPolicy())
    if by_currency is not None:
        debit = debits(by_currency)
    else:
        debit = _debits(ledger, batch.id) if policy.tiers else {}
    return judge(
        batch=batch.name, plan=current_plan_hash(ledger, batch), maker=batch_maker(batch),
        policy=policy, debits=debit, approvals=ledger.approvals(batch.id),
    )


def _debits(ledger: Ledger, batch_id: int) -> dict[str, Decimal]:
    """Total debit per currency from the ledger's grouped sums (no row read one by one):
    the amounts of every row not SKIPPED plus the predicted fees charged in that currency."""
    from batch.markets import from_minor

    summary = ledger.summary(batch_id)
    assert summary is not None
    out: dict[str, Decimal] = {}
    for currency, by_state in summary.money.items():
        paid = sum(n for s, n in by_state.items() if s != RowState.SKIPPED.value)
        out[currency] = from_minor(paid, currency)
    for currency, fees in summary.fees.items():
        out[currency] = out.get(currency, Decimal(0)) + fees
    return out


def void_stale(ledger: Ledger, check: ApprovalCheck, reason: str | None = None) -> int:
    """Void approvals of a plan that has changed, saying so in the event log; how many."""
    stale = check.stale
    if stale:
        ledger.void_approvals(
            stale, reason=reason or f"the plan changed after approval (now {check.plan_hash[:16]})"
        )
    return len(stale)


def require_approval(
    ledger: Ledger, batch: BatchRecord, runtime: ApprovalPolicy | None = None
) -> ApprovalCheck:
    """What `run` asks before it sends anything: void what no longer matches, then refuse
    (ApprovalError, exit 5) unless enough distinct approvers approved this very plan."""
    check = check_approvals(ledger, batch, runtime)
    void_stale(ledger, check)
    if not check.satisfied:
        raise errors.ApprovalError(check.refusal(), batch_id=batch.id)
    return check


def governed(ledger: Ledger, batch: BatchRecord, runtime: ApprovalPolicy | None) -> bool:
    """Whether approvals matter to this batch: a policy asks for them, or it has some."""
    policy = batch_policy(batch).stricter(runtime or ApprovalPolicy())
    return not policy.empty or bool(ledger.approvals(batch.id))


def reopen_failed(ledger: Ledger, batch: BatchRecord, mint: Callable[[], str]) -> list[int]:
    """`--retry-failed` on a governed batch: new attempts for its retryable FAILED rows now,
    before the approval check, so they are a change of plan that needs a new approval.
    Returns their sheet rows; approvals of the old plan are voided, naming them."""
    reopened = []
    for row in ledger.each_row_with_attempts(batch.id):
        if row.state is RowState.FAILED and may_retry([a.outcome for a in row.attempts]):
            ledger.start_new_attempt(row.id, mint(), reason="--retry-failed")
            reopened.append(row.sheet_row)
    if reopened:
        shown = ", ".join(str(r) for r in reopened[:20]) + (" ..." if len(reopened) > 20 else "")
        active = [a for a in ledger.approvals(batch.id) if a.active]
        if active:
            ledger.void_approvals(
                active, reason=f"--retry-failed made new attempts for row(s) {shown}"
            )
    return reopened


@dataclass(frozen=True)
class Approved:
    """The outcome of `paybatch approve`."""

    approval: ApprovalRecord
    check: ApprovalCheck
    already: bool  # this approver had approved this very plan before: nothing new recorded
    voided: int  # stale approvals voided on the way


def approve(
    ledger: Ledger,
    name: str,
    *,
    approver: str,
    key: Ed25519PrivateKey | None = None,
    expected_hash: str | None = None,
    runtime: ApprovalPolicy | None = None,
) -> Approved:
    """Record `approver`'s approval of the batch's current plan (signed with `key` if given)."""
    from batch.planning import signing

    batch = find_batch(ledger, name)
    check = check_approvals(ledger, batch, runtime)
    voided = void_stale(ledger, check)
    plan = check.plan_hash
    if expected_hash is not None and len(expected_hash.strip()) < MIN_HASH_PREFIX:
        raise errors.ApprovalRefusedError(
            f"--plan-hash: give at least {MIN_HASH_PREFIX} characters of the hash `review` prints"
        )
    if expected_hash and not plan.startswith(expected_hash.strip().lower()):
        raise errors.ApprovalRefusedError(
            f"{name}: the plan is now {plan[:16]}, not the {expected_hash[:16]} you reviewed; "
            "review it again"
        )
    if same_person(approver, check.maker):
        raise errors.ApprovalRefusedError(
            f"{name}: {check.maker} planned this batch; an approval must come from someone else "
            "(maker-checker)"
        )
    policy = batch_policy(batch).stricter(runtime or ApprovalPolicy())
    public = signing.public_key_hex(key) if key is not None else None
    if policy.keys is not None and public not in policy.keys:
        raise errors.ApprovalRefusedError(
            f"{name}: this batch accepts only approvals signed by its listed keys; "
            + ("set PAYBATCH_APPROVER_KEY to your key file" if public is None
               else f"key {public[:16]} is not one of them")
        )
    for j in check.judged:
        a = j.approval
        if j.counts and same_person(a.approver, approver) and a.public_key == public:
            return Approved(a, check, already=True, voided=voided)
    at = ledger.now()
    signature = None
    if key is not None:
        signature = signing.sign(key, approval_message(batch.name, plan, approver, at))
    record = ledger.add_approval(batch.id, approver=approver, plan_hash=plan, approved_at=at,
                                 public_key=public, signature=signature)
    return Approved(record, check_approvals(ledger, batch, runtime), already=False, voided=voided)


def revoke(ledger: Ledger, name: str, *, approver: str) -> list[ApprovalRecord]:
    """Withdraw `approver`'s active approvals of the batch; the ones withdrawn."""
    batch = find_batch(ledger, name)
    mine = [a for a in ledger.approvals(batch.id) if a.active and same_person(a.approver,
                                                                              approver)]
    if not mine:
        raise errors.ApprovalRefusedError(f"{name}: {approver} has no approval to revoke")
    for a in mine:
        ledger.revoke_approval(a, by=approver)
    return mine


def refuse_edited_sheet(
    ledger: Ledger, conflict: errors.BatchConflictError, *, name: str, path: Any
) -> None:
    """A sheet whose rows differ from the approved batch of the same name: its approvals are
    void (the maker changed what was approved) and the command stops (ApprovalError, exit 5).
    Returns without a word when the conflict is another one, or the batch has no approvals."""
    batch = ledger.batch_by_name(name)
    if batch is None or batch.id != conflict.batch_id:
        return
    active = [a for a in ledger.approvals(batch.id) if a.active]
    if not active and batch_policy(batch).empty:
        return
    who = ", ".join(a.approver for a in active)
    if active:
        ledger.void_approvals(
            active, reason=f"{path} has other rows than the batch approved (an edited sheet)"
        )
    raise errors.ApprovalError(
        f"{path} has other rows than batch {name!r}"
        + (f", which {who} approved: that approval is now void" if active else "")
        + "; nothing was sent. The batch pays only the rows it was planned and approved with",
        batch_id=batch.id,
    )
