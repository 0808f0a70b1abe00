"""Approval (issue 17): policy and tiers, the plan hash, judging approvals (maker, distinct
approvers, signatures, forgery), and the ledger's approvals, revocations and voids."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from batch import errors
from batch.cli import main
from batch.engine.states import RowState
from batch.ledger import ApprovalRecord, Ledger, NewRow, PlanLine
from batch.planning import release, signing
from batch.planning.approval import (
    ApprovalPolicy,
    Tier,
    approval_message,
    judge,
    parse_tier,
    plan_hash,
)

PLAN = "a" * 64
AT = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


# -- policy ----------------------------------------------------------------------------------


def test_parse_tier() -> None:
    assert parse_tier("usd=10,000:2") == Tier("USD", Decimal(10000), 2)
    for bad in ("USD=10000", "USD:2", "=5:1", "USD=x:2", "USD=100:0"):
        with pytest.raises(ValueError, match="CUR=AMOUNT:APPROVALS"):
            parse_tier(bad)


def test_tier_raises_the_count_only_above_its_amount() -> None:
    policy = ApprovalPolicy(required=1, tiers=(parse_tier("USD=10000:2"),))
    assert policy.requirement({"USD": Decimal("10000.00")})[0] == 1
    needed, why = policy.requirement({"USD": Decimal("10000.01"), "LRD": Decimal(9**9)})
    assert needed == 2 and "USD total debit 10,000.01 exceeds 10,000" in why[-1]
    assert ApprovalPolicy().requirement({"USD": Decimal(1)})[0] == 0
    assert ApprovalPolicy(keys=frozenset({"k"})).requirement({})[0] == 1  # keys imply one


def test_stricter_of_two_policies() -> None:
    a = ApprovalPolicy(required=1, keys=frozenset({"k1", "k2"}))
    b = ApprovalPolicy(required=2, tiers=(parse_tier("USD=5:3"),), keys=frozenset({"k2", "k3"}))
    both = a.stricter(b)
    assert both.required == 2 and both.tiers == b.tiers and both.keys == {"k2"}
    assert ApprovalPolicy().stricter(a).keys == a.keys
    assert ApprovalPolicy.from_json(both.to_json()) == both


# -- the plan hash ---------------------------------------------------------------------------


LINES = [PlanLine(2, "231770000001", 1000, "USD", "ref-1"),
         PlanLine(3, "231770000002", 2000, "USD", "ref-2")]


@pytest.mark.parametrize("change", [
    {"phone": "231770000009"}, {"amount_minor": 1001}, {"currency": "LRD"},
    {"reference_id": "ref-9"}, {"sheet_row": 4},
])
def test_plan_hash_covers_every_field_of_every_row(change: dict[str, object]) -> None:
    before = plan_hash("payout", "2026-11", LINES)
    assert plan_hash("payout", "2026-11", list(LINES)) == before
    assert plan_hash("payout", "2026-11", [LINES[0], replace(LINES[1], **change)]) != before


def test_plan_hash_covers_period_and_kind() -> None:
    before = plan_hash("payout", "2026-11", LINES)
    assert plan_hash("payout", "2026-12", LINES) != before
    assert plan_hash("collection", "2026-11", LINES) != before


# -- judging approvals -----------------------------------------------------------------------


def _approval(approver: str, *, plan: str = PLAN, key: Ed25519PrivateKey | None = None,
              id: int = 1, batch: str = "nov", **extra: object) -> ApprovalRecord:
    public = signature = None
    if key is not None:
        public = signing.public_key_hex(key)
        signature = signing.sign(key, approval_message(batch, plan, approver, AT.isoformat()))
    fields = dict(id=id, batch_id=1, approver=approver, plan_hash=plan, approved_at=AT,
                  public_key=public, signature=signature, revoked_at=None, voided_at=None,
                  void_reason=None)
    fields.update(extra)
    return ApprovalRecord(**fields)  # type: ignore[arg-type]


TWO = ApprovalPolicy(required=2)


def _judge(approvals: list[ApprovalRecord], policy: ApprovalPolicy = TWO,
           debits: dict[str, Decimal] | None = None):  # type: ignore[no-untyped-def]
    return judge(batch="nov", plan=PLAN, maker="Alice", policy=policy,
                 debits=debits or {}, approvals=approvals)


def test_two_distinct_approvers_satisfy_two() -> None:
    check = _judge([_approval("Bob"), _approval("Carol", id=2)])
    assert check.satisfied and check.approvers == ["Bob", "Carol"]


def test_the_same_person_twice_counts_once() -> None:
    check = _judge([_approval("Bob"), _approval(" bob ", id=2)])
    assert not check.satisfied and check.approvers == ["Bob"]
    assert "needs 2 approval(s)" in check.refusal() and "has 1 (Bob)" in check.refusal()


def test_one_key_under_two_names_counts_once() -> None:
    key = Ed25519PrivateKey.generate()
    check = _judge([_approval("Bob", key=key), _approval("Bobby", key=key, id=2)])
    assert check.approvers == ["Bob"]


def test_the_maker_cannot_approve() -> None:
    check = _judge([_approval("alice")], ApprovalPolicy(required=1))
    assert not check.satisfied
    assert "maker" in (check.judged[0].why_not or "")


def test_an_approval_of_another_plan_does_not_count() -> None:
    check = _judge([_approval("Bob", plan="b" * 64)], ApprovalPolicy(required=1))
    assert not check.satisfied and check.stale
    assert "plan changed after approval" in check.refusal()


def test_revoked_and_voided_approvals_do_not_count() -> None:
    check = _judge([_approval("Bob", revoked_at=AT),
                    _approval("Carol", id=2, voided_at=AT, void_reason="--retry-failed")],
                   ApprovalPolicy(required=1))
    assert not check.satisfied and not check.stale
    assert [j.why_not for j in check.judged] == ["revoked 2026-11-25 09:00 UTC", "--retry-failed"]


def test_tier_needs_a_second_approver_above_its_amount() -> None:
    policy = ApprovalPolicy(tiers=(parse_tier("USD=10000:2"),))
    assert _judge([_approval("Bob")], policy, {"USD": Decimal(9000)}).satisfied
    big = _judge([_approval("Bob")], policy, {"USD": Decimal(12000)})
    assert not big.satisfied and big.required == 2


def test_a_signed_approval_verifies() -> None:
    key = Ed25519PrivateKey.generate()
    policy = ApprovalPolicy(required=1, keys=frozenset({signing.public_key_hex(key)}))
    check = _judge([_approval("Bob", key=key)], policy)
    assert check.satisfied and check.judged[0].signature == "verified"


def test_a_forged_approval_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    policy = ApprovalPolicy(required=1, keys=frozenset({signing.public_key_hex(key)}))
    genuine = _approval("Bob", key=key, plan="b" * 64)  # Bob signed another plan
    forged = replace(genuine, plan_hash=PLAN)  # ... and the ledger was edited to this one
    check = _judge([forged], policy)
    assert not check.satisfied and check.judged[0].signature == "invalid"
    renamed = replace(_approval("Bob", key=key), approver="Carol")
    assert _judge([renamed], policy).judged[0].signature == "invalid"


def test_unsigned_or_unlisted_keys_do_not_count_when_keys_are_listed() -> None:
    listed, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    policy = ApprovalPolicy(required=1, keys=frozenset({signing.public_key_hex(listed)}))
    for a in (_approval("Bob"), _approval("Bob", key=other)):
        check = _judge([a], policy)
        assert not check.satisfied and "not signed by a key" in (check.judged[0].why_not or "")


# -- keys ------------------------------------------------------------------------------------


def test_keygen_writes_a_private_key_and_prints_the_public_one(tmp_path: Path) -> None:
    path = tmp_path / "grace.key"
    result = CliRunner().invoke(main, ["keygen", str(path)])
    assert result.exit_code == 0, result.output
    public = (tmp_path / "grace.key.pub").read_text().strip()
    assert public in result.stdout and len(public) == 64
    assert path.stat().st_mode & 0o777 == 0o600
    assert signing.public_key_hex(signing.load_private_key(path)) == public
    again = CliRunner().invoke(main, ["keygen", str(path)])
    assert again.exit_code == 1 and "never overwrites" in again.stderr


def test_a_file_that_is_not_a_key_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("hello")
    with pytest.raises(errors.ConfigError, match="not an unencrypted PEM private key"):
        signing.load_private_key(bad)
    with pytest.raises(errors.ConfigError, match="not an Ed25519 public key"):
        signing.normalise_public_key("abcd")


# -- the ledger: approve, revoke, void -------------------------------------------------------


def _planned(path: Path, *, maker: str = "alice", policy: ApprovalPolicy | None = None,
             name: str = "nov") -> int:
    facts = release.recorded_facts(policy or ApprovalPolicy(required=1), maker)
    with Ledger(path) as ledger:
        return ledger.create_batch(
            name=name, source_file=f"{name}.csv", content_hash=name, payout_set_hash=name,
            rows=[NewRow(sheet_row=i + 2, name=f"P{i}", phone=f"23177000000{i}",
                         amount_minor=1000 * (i + 1), currency="USD", country="LR",
                         reference_id=f"{name}-ref-{i}") for i in range(3)],
            options=facts,
        )


def _events(path: Path, batch_id: int) -> list[str]:
    with Ledger(path) as ledger:
        return [e.to_state or "" for e in ledger.events(batch_id) if e.row_id is None]


def test_approve_revoke_and_the_event_log(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    batch_id = _planned(path)
    with Ledger(path) as ledger:
        done = release.approve(ledger, "nov", approver="Bob")
        assert done.check.satisfied and not done.already
        assert release.approve(ledger, "nov", approver="bob").already  # no second record
        release.revoke(ledger, "nov", approver="Bob")
        batch = release.find_batch(ledger, "nov")
        with pytest.raises(errors.ApprovalError, match="needs 1 approval"):
            release.require_approval(ledger, batch)
        with pytest.raises(errors.ApprovalRefusedError, match="no approval to revoke"):
            release.revoke(ledger, "nov", approver="Bob")
    assert _events(path, batch_id) == ["PLANNED", "APPROVED", "APPROVAL_REVOKED"]


def test_self_approval_and_a_plan_changed_since_review_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    _planned(path, maker="Alice")
    with Ledger(path) as ledger:
        with pytest.raises(errors.ApprovalRefusedError, match="Alice planned this batch"):
            release.approve(ledger, "nov", approver="alice")
        with pytest.raises(errors.ApprovalRefusedError, match="review it again"):
            release.approve(ledger, "nov", approver="Bob", expected_hash="0123abcd")
        with pytest.raises(errors.ApprovalRefusedError, match="at least 8 characters"):
            release.approve(ledger, "nov", approver="Bob", expected_hash="a")
        plan = release.current_plan_hash(ledger, release.find_batch(ledger, "nov"))
        assert release.approve(ledger, "nov", approver="Bob", expected_hash=plan[:12])


def test_an_edited_ledger_voids_the_approval_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    batch_id = _planned(path)
    with Ledger(path) as ledger:
        release.approve(ledger, "nov", approver="Bob")
    with sqlite3.connect(path) as db:  # someone raises an amount behind paybatch's back
        db.execute("UPDATE rows SET amount_minor = 99999 WHERE batch_id = ? AND sheet_row = 3",
                   (batch_id,))
    with Ledger(path) as ledger:
        batch = release.find_batch(ledger, "nov")
        with pytest.raises(errors.ApprovalError, match="plan changed after approval"):
            release.require_approval(ledger, batch)
        assert [a.active for a in ledger.approvals(batch_id)] == [False]
    assert _events(path, batch_id)[-1] == "APPROVAL_VOIDED"


def test_the_engines_own_new_attempt_keeps_the_plan_but_retry_failed_changes_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "l.db"
    batch_id = _planned(path)
    with Ledger(path) as ledger:
        batch = release.find_batch(ledger, "nov")
        before = release.current_plan_hash(ledger, batch)
        first, second = ledger.rows(batch_id)[:2]
        # An attempt confirmed never to have landed: the engine makes a new one (UNKNOWN -> NEW).
        ledger._write("UPDATE rows SET state = ? WHERE id = ?",
                      (RowState.UNKNOWN.value, first.id))
        ledger.start_new_attempt(first.id, "engine-ref", reason="not found",
                                 not_found_reference_id=first.current_reference_id)
        assert release.current_plan_hash(ledger, batch) == before
        # A FAILED row given a new attempt by --retry-failed is a new plan.
        ledger.mark_failed(second.id, second.current_reference_id or "", reason="failed")
        release.approve(ledger, "nov", approver="Bob")
        assert release.reopen_failed(ledger, batch, lambda: "retry-ref") == [3]
        assert release.current_plan_hash(ledger, batch) != before
        (voided,) = ledger.approvals(batch_id)
        assert voided.voided_at is not None and "row(s) 3" in (voided.void_reason or "")


# -- the approve command ---------------------------------------------------------------------


def _approve(path: Path, *args: str, **env: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    result = CliRunner().invoke(
        main, ["approve", "nov", "--ledger", str(path), "--json", *args], env=env
    )
    out = result.stdout.strip()
    return result.exit_code, json.loads(out) if out else {}, result.stderr


def test_approve_command_signs_with_the_key_from_the_environment(tmp_path: Path) -> None:
    key = tmp_path / "grace.key"
    public = signing.generate_key(key)
    path = tmp_path / "l.db"
    _planned(path, policy=ApprovalPolicy(required=1, keys=frozenset({public})))
    code, out, err = _approve(path, "--as", "Grace")
    assert code == 1 and "PAYBATCH_APPROVER_KEY" in err  # unsigned: refused
    code, out, err = _approve(path, "--as", "Grace", PAYBATCH_APPROVER_KEY=str(key))
    assert code == 0, err
    assert out["satisfied"] and out["approvals"][0]["signature"] == "verified"
    assert out["approvals"][0]["public_key"] == public
    status = CliRunner().invoke(main, ["status", "nov", "--ledger", str(path), "--json"])
    shown = json.loads(status.stdout)["approvals"]
    assert shown["approved_by"] == ["Grace"] and shown["approvals"][0]["signature"] == "verified"


def test_approve_command_refuses_a_key_the_policy_does_not_list(tmp_path: Path) -> None:
    listed, other = tmp_path / "a.key", tmp_path / "b.key"
    public = signing.generate_key(listed)
    signing.generate_key(other)
    path = tmp_path / "l.db"
    _planned(path, policy=ApprovalPolicy(keys=frozenset({public})))
    code, _, err = _approve(path, "--as", "Grace", "--key", str(other))
    assert code == 1 and "is not one of them" in err


def test_approve_command_revoke(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    _planned(path)
    assert _approve(path, "--as", "Bob")[0] == 0
    code, out, _ = _approve(path, "--as", "Bob", "--revoke")
    assert code == 0 and out["revoked"] == 1
    status = CliRunner().invoke(main, ["status", "nov", "--ledger", str(path)])
    assert "revoked" in status.stdout and "0 of 1" in status.stdout
