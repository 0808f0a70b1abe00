"""Approval, pure (issue 17): the policy, the plan hash an approval binds to, and the judgement
of a batch's approvals against both.

The plan hash covers the batch's kind and pay period and, for every row to pay, its sheet
row, phone, amount (minor units), currency and reference_id: change any of them (re-plan,
`--retry-failed`, an edited ledger) and every approval of the old hash stops counting.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from batch.ledger.approvals import ApprovalRecord, PlanLine
from batch.planning import signing

HASH_VERSION = 1


@dataclass(frozen=True)
class Tier:
    """Batches whose total debit in `currency` exceeds `above` need `approvals` approvers."""

    currency: str
    above: Decimal
    approvals: int

    def text(self) -> str:
        """As given on the command line: USD=10000:2."""
        return f"{self.currency}={self.above}:{self.approvals}"


def parse_tier(text: str) -> Tier:
    """`USD=10000:2` -> Tier; ValueError with a readable message otherwise."""
    currency, _, rest = text.partition("=")
    amount, _, count = rest.partition(":")
    try:
        above = Decimal(amount.replace(",", "").strip())
        approvals = int(count)
    except (InvalidOperation, ValueError):
        raise ValueError(f"{text!r} is not CUR=AMOUNT:APPROVALS (e.g. USD=10000:2)") from None
    if not currency.strip().isalpha() or not above.is_finite() or above < 0 or approvals < 1:
        raise ValueError(f"{text!r} is not CUR=AMOUNT:APPROVALS (e.g. USD=10000:2)")
    return Tier(currency.strip().upper(), above, approvals)


@dataclass(frozen=True)
class ApprovalPolicy:
    """How many distinct approvers a batch needs, and whose keys may sign.

    keys None: any approver, signed or not; a set: only approvals signed by one of these
    public keys (hex) count, and at least one is needed.
    """

    required: int = 0
    tiers: tuple[Tier, ...] = ()
    keys: frozenset[str] | None = None

    @property
    def empty(self) -> bool:
        """Asks for nothing."""
        return not self.required and not self.tiers and self.keys is None

    def stricter(self, other: ApprovalPolicy) -> ApprovalPolicy:
        """Both policies at once: the larger count, every tier, only keys both allow."""
        if self.keys is None or other.keys is None:
            keys = self.keys if other.keys is None else other.keys
        else:
            keys = self.keys & other.keys
        tiers = tuple(dict.fromkeys(self.tiers + other.tiers))
        return ApprovalPolicy(max(self.required, other.required), tiers, keys)

    def to_json(self) -> dict[str, Any]:
        """As recorded with a batch."""
        return {
            "required": self.required,
            "tiers": [t.text() for t in self.tiers],
            "keys": None if self.keys is None else sorted(self.keys),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ApprovalPolicy:
        """The policy recorded with a batch (none recorded: the empty policy)."""
        if not data:
            return cls()
        keys = data.get("keys")
        return cls(
            required=int(data.get("required") or 0),
            tiers=tuple(parse_tier(t) for t in data.get("tiers") or ()),
            keys=None if keys is None else frozenset(keys),
        )

    def requirement(self, debits: Mapping[str, Decimal]) -> tuple[int, list[str]]:
        """Approvers needed for a batch with these total debits per currency, and why."""
        needed, why = self.required, [f"policy asks for {self.required}"] if self.required else []
        for tier in self.tiers:
            debit = debits.get(tier.currency, Decimal(0))
            if debit > tier.above:
                needed = max(needed, tier.approvals)
                why.append(f"{tier.currency} total debit {debit:,} exceeds {tier.above:,}: "
                           f"{tier.approvals}")
        if self.keys is not None and needed < 1:
            needed = 1
            why.append("approver keys are listed: 1")
        return needed, why


def plan_hash(kind: str, period: str, lines: Iterable[PlanLine]) -> str:
    """sha256 (hex) of the plan: kind, period, then each row's sheet row, phone, amount in
    minor units, currency and reference_id, one JSON line each (streamed)."""
    digest = hashlib.sha256()
    head = {"v": HASH_VERSION, "kind": kind, "period": period}
    digest.update(json.dumps(head, sort_keys=True).encode() + b"\n")
    for line in lines:
        row = [line.sheet_row, line.phone, line.amount_minor, line.currency, line.reference_id]
        digest.update(json.dumps(row).encode() + b"\n")
    return digest.hexdigest()


def approval_message(batch: str, plan: str, approver: str, approved_at: str) -> bytes:
    """What an approver's key signs: the batch, the plan hash, who and when."""
    return (
        f"paybatch approval v{HASH_VERSION}\nbatch: {batch}\nplan: {plan}\n"
        f"approver: {approver}\nat: {approved_at}\n"
    ).encode()


def same_person(a: str | None, b: str | None) -> bool:
    """Names compared as people write them: case and spacing ignored."""
    return a is not None and b is not None and " ".join(a.casefold().split()) == " ".join(
        b.casefold().split()
    )


@dataclass(frozen=True)
class Judged:
    """One approval of a batch, judged: does it count, and if not, why not."""

    approval: ApprovalRecord
    signature: str  # "verified" | "unsigned" | "invalid"
    why_not: str | None = None

    @property
    def counts(self) -> bool:
        """Counted towards the policy."""
        return self.why_not is None


@dataclass(frozen=True)
class ApprovalCheck:
    """Where a batch stands with its approvals."""

    batch: str
    plan_hash: str
    maker: str | None
    required: int
    reasons: tuple[str, ...]
    judged: tuple[Judged, ...] = field(default=())

    @property
    def approvers(self) -> list[str]:
        """Distinct approvers that count (one per name and one per key)."""
        names: list[str] = []
        keys: set[str] = set()
        for j in self.judged:
            a = j.approval
            if not j.counts or any(same_person(a.approver, n) for n in names):
                continue
            if a.public_key is not None and a.public_key in keys:
                continue
            names.append(a.approver)
            if a.public_key is not None:
                keys.add(a.public_key)
        return names

    @property
    def satisfied(self) -> bool:
        """Enough distinct approvers of this very plan."""
        return len(self.approvers) >= self.required

    @property
    def stale(self) -> list[ApprovalRecord]:
        """Approvals still marked active although the plan has changed since."""
        return [
            j.approval for j in self.judged
            if j.approval.active and j.approval.plan_hash != self.plan_hash
        ]

    def refusal(self) -> str:
        """Why a run may not pay this batch, naming what is missing and what to do."""
        have = self.approvers
        parts = [
            f"batch {self.batch!r} needs {self.required} approval(s) "
            f"({'; '.join(self.reasons)}) and has {len(have)}"
            + (f" ({', '.join(have)})" if have else "")
        ]
        unused = [j for j in self.judged if j.why_not and j.approval.revoked_at is None]
        for j in unused[-3:]:  # the latest few: why the approvals given do not count
            parts.append(f"approval by {j.approval.approver}: {j.why_not}")
        parts.append(
            f"nothing was sent; have the plan {self.plan_hash[:16]} reviewed and approved: "
            f"`paybatch review {self.batch}`, then `paybatch approve {self.batch} --as NAME`"
        )
        return "; ".join(parts)


Verify = Callable[[str, bytes, str], bool]


def judge(
    *,
    batch: str,
    plan: str,
    maker: str | None,
    policy: ApprovalPolicy,
    debits: Mapping[str, Decimal],
    approvals: Sequence[ApprovalRecord],
    verify: Verify = signing.verify,
) -> ApprovalCheck:
    """Judge every approval of a batch against its current plan hash and the policy."""
    required, reasons = policy.requirement(debits)
    judged = []
    for a in approvals:
        signature = "unsigned"
        if a.signature and a.public_key:
            message = approval_message(batch, a.plan_hash, a.approver, a.approved_at.isoformat())
            signature = "verified" if verify(a.public_key, message, a.signature) else "invalid"
        judged.append(Judged(a, signature, _why_not(a, signature, plan, maker, policy)))
    return ApprovalCheck(batch, plan, maker, required, tuple(reasons), tuple(judged))


def _why_not(
    a: ApprovalRecord, signature: str, plan: str, maker: str | None, policy: ApprovalPolicy
) -> str | None:
    if a.revoked_at is not None:
        return f"revoked {a.revoked_at:%Y-%m-%d %H:%M} UTC"
    if a.voided_at is not None:
        return str(a.void_reason or "voided")
    if a.plan_hash != plan:
        return f"the plan changed after approval (approved {a.plan_hash[:16]}, now {plan[:16]})"
    if same_person(a.approver, maker):
        return "the maker (who planned the batch) cannot approve it"
    if signature == "invalid":
        return "its signature does not verify (the ledger was edited?)"
    if policy.keys is not None and (signature != "verified" or a.public_key not in policy.keys):
        return "not signed by a key the policy allows"
    return None
