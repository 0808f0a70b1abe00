"""The two-person release commands of the CLI: `review`, `approve`, `keygen`, and the approval
policy options that `plan` and `run` share (issue 17). Ledger only, no network."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from batch import errors
from batch.cli.common import handle_errors, ledger_option
from batch.engine.outcome import EXIT_OK
from batch.ledger import BatchRecord
from batch.planning.approval import ApprovalPolicy, parse_tier
from batch.planning.release import ENV_REQUIRE_APPROVALS, current_user, recorded_facts
from batch.planning.signing import ENV_APPROVER_KEY

ENV_APPROVER_KEYS = "PAYBATCH_APPROVER_KEYS"  # allowed public keys, separated by spaces/commas


def _tiers(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> Any:
    try:
        return tuple(parse_tier(v) for v in values)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _keys(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> Any:
    from batch.planning.signing import normalise_public_key

    given = [k for v in values for k in v.replace(",", " ").split()]
    try:
        return frozenset(normalise_public_key(k) for k in given) if given else None
    except errors.ConfigError as exc:
        raise click.BadParameter(str(exc)) from None


def approval_policy_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--require-approvals, --approval-tier, --approver-pubkey and --as (plan, run, review,
    approve): a new batch records them; `run` enforces the stricter of these and the batch's."""
    options = [
        click.option("--require-approvals", type=click.IntRange(0), default=0,
                      envvar=ENV_REQUIRE_APPROVALS, show_default=True, show_envvar=True,
                      help="Distinct approvers (not the maker) a batch needs before it is paid."),
        click.option("--approval-tier", "approval_tiers", multiple=True,
                     metavar="CUR=AMOUNT:N", callback=_tiers,
                     help="Batches whose total debit in CUR exceeds AMOUNT need N approvers "
                          "(e.g. USD=10000:2). Repeatable."),
        click.option("--approver-pubkey", "approver_keys", multiple=True, metavar="KEY",
                     envvar=ENV_APPROVER_KEYS, show_envvar=True, callback=_keys,
                     help="Only approvals signed by this public key (hex, or a .pub file) "
                          "count. Repeatable."),
        click.option("--as", "acting_as", metavar="NAME",
                     help="Who you are (default: the operating-system user)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def policy_from(kw: dict[str, Any]) -> ApprovalPolicy:
    """The approval policy the command's options and environment ask for."""
    return ApprovalPolicy(
        required=kw.get("require_approvals") or 0,
        tiers=tuple(kw.get("approval_tiers") or ()),
        keys=kw.get("approver_keys"),
    )


def recorded_from(kw: dict[str, Any]) -> dict[str, Any]:
    """What `plan`/`run` record with a new batch: the policy and who planned it."""
    return recorded_facts(policy_from(kw), current_user(kw.get("acting_as")))


def approval_hint(batch: BatchRecord, runtime: ApprovalPolicy) -> str | None:
    """After `plan`: the next steps when the batch needs approval before it is paid."""
    from batch.planning.release import batch_maker, batch_policy

    if batch_policy(batch).stricter(runtime).empty:
        return None
    maker = batch_maker(batch)
    return (f"approval required before paying: `paybatch review {batch.name}`, then "
            f"`paybatch approve {batch.name} --as NAME`"
            + (f" by someone other than {maker}" if maker else ""))


@click.command()
@click.argument("batch_name", metavar="BATCH")
@ledger_option
@click.option("--out", "-o", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the review as an Excel workbook (.xlsx).")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object.")
@handle_errors
def review(batch_name: str, ledger: Path, out: Path | None, json_output: bool) -> None:
    """Show what a checker should see before approving a batch: totals and what changed.

    Totals per currency and operator, predicted fees, the largest amounts, and findings
    against earlier batches of the same kind run from this ledger: new and missing recipients,
    changed amounts, a phone now under another name, a name now at another phone, one phone
    on several names, amounts far outside a recipient's history or the batch's own range.
    Each finding names its sheet row. Prints the plan hash that `approve` binds to.

    \b
    Example:
      paybatch review payroll-2026-11
      paybatch review payroll-2026-11 --out review.xlsx
    """
    from batch.cli.reading import open_existing
    from batch.planning.review_flow import build_review
    from batch.report.review import review_json, review_text, write_review_xlsx

    if out is not None and out.suffix.lower() != ".xlsx":
        raise errors.InputError(f"{out}: the review workbook's name must end in .xlsx")
    with open_existing(ledger) as book:
        built = build_review(book, batch_name)
    if out is not None:
        write_review_xlsx(built, out)
    if json_output:
        click.echo(json.dumps({**review_json(built),
                               "file": str(out) if out is not None else None}))
    else:
        click.echo(review_text(built))
        if out is not None:
            click.echo(f"\nWorkbook: {out}")
    sys.exit(EXIT_OK)


@click.command()
@click.argument("batch_name", metavar="BATCH")
@ledger_option
@click.option("--as", "acting_as", metavar="NAME",
              help="Who approves (default: the operating-system user).")
@click.option("--key", "key_file", type=click.Path(path_type=Path, dir_okay=False),
              envvar=ENV_APPROVER_KEY, help="Sign with this Ed25519 private key "
              f"(from `paybatch keygen`; env {ENV_APPROVER_KEY}).")
@click.option("--plan-hash", metavar="HASH",
              help="Approve only if the plan still has this hash (or prefix) from `review`.")
@click.option("--revoke", is_flag=True, help="Withdraw your approval instead.")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object.")
@handle_errors
def approve(batch_name: str, ledger: Path, acting_as: str | None, key_file: Path | None,
            plan_hash: str | None, revoke: bool, json_output: bool) -> None:
    """Approve a batch's plan as a second person (maker-checker); `--revoke` withdraws it.

    The approval binds to the plan hash (every row's phone, amount, currency and
    reference_id, with the batch's kind and period): any later change to the plan voids it.
    With a key the approval is signed, so it cannot be forged by editing the ledger.

    \b
    Example:
      paybatch approve payroll-2026-11 --as "Grace Finance"
      PAYBATCH_APPROVER_KEY=~/.paybatch/grace.key paybatch approve payroll-2026-11
      paybatch approve payroll-2026-11 --as "Grace Finance" --revoke
    """
    from batch.cli.reading import open_existing
    from batch.planning import release
    from batch.report.approvals import approval_state, approvals_json, approvals_text

    who = current_user(acting_as)
    with open_existing(ledger) as book:
        if revoke:
            gone = release.revoke(book, batch_name, approver=who)
            if json_output:
                click.echo(json.dumps({"batch": batch_name, "revoked": len(gone),
                                       "approver": who, "exit_code": EXIT_OK}))
            else:
                click.echo(f"{batch_name}: approval by {who} revoked")
            sys.exit(EXIT_OK)
        key = None
        if key_file is not None:
            from batch.planning.signing import load_private_key

            key = load_private_key(key_file.expanduser())
        done = release.approve(book, batch_name, approver=who, key=key, expected_hash=plan_hash)
    state = approval_state(done.check)
    if json_output:
        click.echo(json.dumps({"batch": batch_name, "approver": who, "already": done.already,
                               "voided": done.voided, **approvals_json(state),
                               "exit_code": EXIT_OK}))
    else:
        if done.voided:
            click.echo(f"{done.voided} earlier approval(s) void: the plan changed since")
        verb = "had already approved" if done.already else "approved"
        signed = " (signed)" if done.approval.signature else ""
        click.echo(f"{batch_name}: {who} {verb} plan {done.check.plan_hash[:16]}{signed}")
        click.echo("\n".join(approvals_text(state)))
    sys.exit(EXIT_OK)


@click.command()
@click.argument("key_file", type=click.Path(path_type=Path, dir_okay=False))
@handle_errors
def keygen(key_file: Path) -> None:
    """Make an Ed25519 key pair for signing approvals; prints the public key.

    The private key goes to KEY_FILE (owner-only), the public key to KEY_FILE.pub. Give the
    public key to whoever plans batches (`--approver-pubkey`), keep the private one.

    \b
    Example:
      paybatch keygen ~/.paybatch/grace.key
      export PAYBATCH_APPROVER_KEY=~/.paybatch/grace.key
    """
    from batch.planning.signing import generate_key

    public = generate_key(key_file.expanduser())
    click.echo(f"private key: {key_file} (keep it; set {ENV_APPROVER_KEY} to it)")
    click.echo(f"public key:  {public}")
    click.echo(f"             (also in {key_file}.pub; plan with --approver-pubkey {public})")
    sys.exit(EXIT_OK)

