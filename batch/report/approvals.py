"""Approvals as the report, `status` and `review` show them (pure): who, when, which plan,
signature verified or not, and whether each one counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from batch.planning.approval import ApprovalCheck, Judged


@dataclass(frozen=True)
class ApprovalLine:
    """One approval of a batch, as shown."""

    approver: str
    approved_at: datetime
    plan_hash: str
    signature: str  # verified | unsigned | invalid
    public_key: str | None
    status: str  # counts | revoked | void | not counted
    why: str | None


@dataclass(frozen=True)
class ApprovalState:
    """A batch's approvals against its plan now."""

    plan_hash: str
    maker: str | None
    required: int
    reasons: tuple[str, ...]
    approvers: tuple[str, ...]
    lines: tuple[ApprovalLine, ...]

    @property
    def satisfied(self) -> bool:
        """Enough approvers of this very plan."""
        return len(self.approvers) >= self.required


def _status(j: Judged, plan: str) -> str:
    if j.counts:
        return "counts"
    if j.approval.revoked_at is not None:
        return "revoked"
    if j.approval.voided_at is not None or j.approval.plan_hash != plan:
        return "void"
    return "not counted"


def approval_state(check: ApprovalCheck) -> ApprovalState:
    """What to show of an ApprovalCheck."""
    return ApprovalState(
        plan_hash=check.plan_hash, maker=check.maker, required=check.required,
        reasons=check.reasons, approvers=tuple(check.approvers),
        lines=tuple(
            ApprovalLine(
                j.approval.approver, j.approval.approved_at, j.approval.plan_hash, j.signature,
                j.approval.public_key, _status(j, check.plan_hash), j.why_not,
            )
            for j in check.judged
        ),
    )


def approvals_json(state: ApprovalState) -> dict[str, Any]:
    """The approvals part of a JSON output."""
    return {
        "plan_hash": state.plan_hash,
        "maker": state.maker,
        "required": state.required,
        "reasons": list(state.reasons),
        "approved_by": list(state.approvers),
        "satisfied": state.satisfied,
        "approvals": [
            {
                "approver": a.approver, "approved_at": a.approved_at.isoformat(),
                "plan_hash": a.plan_hash, "signature": a.signature, "public_key": a.public_key,
                "status": a.status, "why": a.why,
            }
            for a in state.lines
        ],
    }


def approvals_text(state: ApprovalState) -> list[str]:
    """Plain lines: the requirement, then one line per approval."""
    need = (f"needs {state.required} approval(s) ({'; '.join(state.reasons)})"
            if state.required else "approval not required")
    head = (f"Approvals: {len(state.approvers)} of {state.required}, {need}; "
            f"plan {state.plan_hash[:16]}"
            + (f"; planned by {state.maker}" if state.maker else ""))
    lines = [head]
    for a in state.lines:
        lines.append(
            f"  {a.approver}  {a.approved_at:%Y-%m-%d %H:%M} UTC  plan {a.plan_hash[:16]}  "
            f"signature {a.signature}  {a.status}" + (f": {a.why}" if a.why else "")
        )
    return lines
