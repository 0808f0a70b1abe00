"""`paybatch collect`: plan (or find) a collection batch, then one campaign round under its lock.

A round: fetch receipts a previous run missed, start the re-requests that are due, confirm
before the first requests of a new batch, run the engine with `CollectionOperation` (settle
what is in flight, request what is new), then count where every invoice stands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batch import errors
from batch.config import Settings
from batch.engine.outcome import RunResult
from batch.engine.runner import Runner
from batch.engine.states import OperationKind
from batch.ledger import Ledger
from batch.operations.campaign import (
    CampaignCounts,
    campaign_counts,
    finish_receipts,
    start_due_requests,
)
from batch.operations.collect_plan import (
    CollectionPlan,
    collection_plan,
    plan_collection,
)
from batch.operations.collection import CollectionOperation

if TYPE_CHECKING:
    from batch.engine.progress import Progress


@dataclass(frozen=True)
class CollectResult:
    """The plan, the engine's run, and where every invoice stands afterwards."""

    plan: CollectionPlan
    run: RunResult
    campaign: CampaignCounts
    re_requested: int = 0
    receipts: int = 0

    @property
    def exit_code(self) -> int:
        """0 all paid, 4 requests pending or due later, 3 requests used up (or failed)."""
        return self.campaign.exit_code


Confirm = Callable[[CollectionPlan], bool]


async def resolve_collection(
    ledger: Ledger, api: Any, target: str, settings: Settings
) -> CollectionPlan:
    """The collection batch a command is about: planned from a file (`settings.collect`),
    or found by name."""
    path = Path(target)
    if settings.collect is not None and path.is_file():
        return await plan_collection(ledger, api, path, settings.collect, settings.validation,
                                     concurrency=settings.run.concurrency)
    batch = ledger.batch_by_name(target)
    if batch is None:
        raise errors.InputError(f"{target}: no such file or batch in {ledger.path}")
    if batch.kind is not OperationKind.COLLECTION:
        raise errors.InputError(f"{target} is a {batch.kind} batch: use `paybatch run`")
    return collection_plan(ledger, batch)


async def collect(
    ledger: Ledger, api: Any, target: str, settings: Settings, *, confirm: Confirm,
    say: Callable[[str], None], progress: Progress | None = None,
) -> CollectResult:
    """One campaign round of a collection batch (see the module's docstring): `target` is a
    sheet or a batch name; `settings.run` says how the engine runs."""
    planned = await resolve_collection(ledger, api, target, settings)
    batch_id = planned.batch.id
    given = settings.collect.policy if settings.collect and settings.collect.policy_given else None
    policy = given or planned.policy
    run = settings.run
    with ledger.locked(batch_id):
        if given is not None and given != planned.policy:
            # Given on the command line: the batch keeps it (status and report judge by it).
            ledger.set_batch_option(batch_id, "max_requests", policy.max_requests)
            ledger.set_batch_option(batch_id, "re_request_after",
                                    policy.re_request_after.total_seconds())
        receipts = await finish_receipts(ledger, api, batch_id)
        again = 0
        if not run.reconcile_only:
            again = await start_due_requests(
                ledger, api, batch_id, policy, ledger.clock(), say=say
            )
        shown = collection_plan(ledger, planned.batch, created=planned.created,
                                unroutable=planned.unroutable, notices=planned.notices)
        if shown.payable and not run.reconcile_only:
            if planned.batch.started_at is None and not confirm(shown):
                raise errors.AbortedError("not confirmed; nothing was requested")
            ledger.mark_batch_started(batch_id)
        runner = Runner(ledger, CollectionOperation(ledger, api), batch_id, run,
                        say=say, progress=progress)
        result = await runner.run()
        counts = campaign_counts(ledger, batch_id, policy, ledger.clock())
        if counts.exit_code != 4:
            ledger.mark_batch_finished(batch_id)
        result = RunResult(result.batch_id, result.counts, result.stopped,
                           getattr(api, "request_count", None))
    return CollectResult(shown, result, counts, again, receipts)
