"""Fees predicted from the fee schedule (issue 15 item 1): sandbox endpoints, the pure
arithmetic, and plan + pay against the real sandbox, with and without a disagreeing schedule."""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from batch.dollr.fees import GatewayFee, PlatformFee
from batch.ledger import Ledger
from batch.planning.schedule import (
    disagreement,
    pick_rates,
    sample_amounts,
    schedule_quote,
)
from batch.sandbox import SandboxHandle
from batch.sandbox import fees as sandbox_fees
from tests._dollr import client
from tests.engine_helpers import QUICK_PAYOUTS, cli

NOW = datetime(2026, 1, 1, tzinfo=UTC)
FEE_CALLS = "predictions.amount_and_fees"


def gateway(method: str, pct: str, **extra: object) -> GatewayFee:
    return GatewayFee.model_validate(
        {"payment_method": method, "operation_type": "PAYOUT", "percentage": pct, **extra}
    )


def platform(pct: str, **extra: object) -> PlatformFee:
    return PlatformFee.model_validate({"operation_type": "PAYOUT", "percentage": pct, **extra})


# --- the sandbox's endpoints ---------------------------------------------------------------


def test_sandbox_publishes_the_schedule_with_reference_types(sandbox: SandboxHandle) -> None:
    with closing(client(sandbox.base_url)) as api:
        g = api.get("/v1/fees/gateway",
                    params={"payment_method": "ORANGE_MONEY_LBR", "operation_type": "PAYOUT"})
        me = api.get("/v1/merchants/merchant-info").json()
        tier = api.get("/v1/fees/merchant-tier", params={
            "owner_type": me["merchant_type"], "owner_id": me["merchant_id"]}).json()
        p = api.get("/v1/fees/platform",
                    params={"operation_type": "PAYOUT", "fee_tier_name": tier["name"]})
        tiers = api.get("/v1/fees/tiers").json()
        unknown = api.get("/v1/fees/platform",
                          params={"operation_type": "PAYOUT", "fee_tier_name": "gold"})
    assert g.status_code == 200 and p.status_code == 200
    assert g.json()["percentage"] == 2.0  # a JSON number on the gateway fee
    assert g.json()["fixed_fee"] is None and g.json()["effective_to"] is None
    assert isinstance(g.json()["provider_id"], int)
    assert p.json()["percentage"] == "1.000"  # a string on the platform fee (REFERENCE §3.11)
    assert [t["name"] for t in tiers if t["is_default"]] == [tier["name"]]
    assert unknown.status_code == 404


def test_the_skew_switch_makes_the_schedule_disagree(sandbox: SandboxHandle) -> None:
    sandbox.set_faults(fee_schedule_skew_points="0.25")
    with closing(client(sandbox.base_url)) as api:
        g = api.get("/v1/fees/gateway",
                    params={"payment_method": "MTN_MOMO_LBR", "operation_type": "PAYOUT"})
    assert g.json()["percentage"] == 1.75


# --- pure ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "currency"), [
    ("MTN_MOMO_LBR", "USD"), ("ORANGE_MONEY_LBR", "LRD"), ("MTN_MOMO_RWA", "RWF"),
    ("AIRTEL_RWA", "RWF"), ("ORANGE_MONEY_LBR", "USD"),
])
def test_schedule_arithmetic_matches_the_sandbox_quote_to_the_minor_unit(
    method: str, currency: str
) -> None:
    rates = pick_rates(
        [gateway(method, str(sandbox_fees.gateway_percentage(method)))],
        [platform(str(sandbox_fees.platform_percentage("PAYOUT")))],
        payment_method=method, at=NOW,
    )
    assert not isinstance(rates, str)
    step = Decimal("1") if currency == "RWF" else Decimal("0.01")
    for i in range(1, 3000, 7):  # half-up edges included: 0.5 of a minor unit and around it
        amount = step * i * 13
        ours = schedule_quote(amount, currency, rates)
        theirs = sandbox_fees.quote(
            base_amount=amount, base_currency=currency, target_currency=currency,
            payment_method=method, operation_type="PAYOUT", fee_bearer="PAYER",
        )
        assert not isinstance(ours, str)
        assert ours.total_fee == theirs.total_fee, amount
        assert ours.payer_amount == theirs.payer_amount, amount


def test_entries_out_of_force_or_ambiguous_give_no_rates() -> None:
    old = gateway("MTN_MOMO_LBR", "1.5", effective_to=NOW - timedelta(days=1))
    new = gateway("MTN_MOMO_LBR", "1.6", effective_from=NOW - timedelta(days=1))
    rates = pick_rates([old, new], [platform("1.0")], payment_method="MTN_MOMO_LBR", at=NOW)
    assert not isinstance(rates, str) and rates.gateway.percentage == Decimal("1.6")
    assert not rates.valid_at(NOW - timedelta(days=2))
    both = pick_rates([new, new], [platform("1.0")], payment_method="MTN_MOMO_LBR", at=NOW)
    assert isinstance(both, str) and "2 gateway fee entries" in both
    future = gateway("MTN_MOMO_LBR", "1.5", effective_from=NOW + timedelta(days=1))
    assert isinstance(pick_rates([future], [platform("1")], payment_method="MTN_MOMO_LBR",
                                 at=NOW), str)


def test_fixed_fee_in_another_currency_is_not_guessed() -> None:
    g = gateway("MTN_MOMO_LBR", "1.5", fixed_fee="0.10", fixed_fee_currency="USD")
    rates = pick_rates([g], [platform("1")], payment_method="MTN_MOMO_LBR", at=NOW)
    assert not isinstance(rates, str)
    same = schedule_quote(Decimal("10.00"), "USD", rates)
    assert not isinstance(same, str) and same.total_fee == Decimal("0.35")  # 0.10+0.15+0.10
    assert isinstance(schedule_quote(Decimal("1000"), "LRD", rates), str)


def test_sample_is_smallest_median_largest_and_disagreement_names_the_amount() -> None:
    amounts = [Decimal(x) for x in ("5", "1", "9", "3", "7", "3")]
    assert sample_amounts(amounts) == [Decimal(1), Decimal(5), Decimal(9)]
    assert sample_amounts([Decimal(2)]) == [Decimal(2)]
    rates = pick_rates([gateway("MTN_MOMO_LBR", "1.5")], [platform("1")],
                       payment_method="MTN_MOMO_LBR", at=NOW)
    assert not isinstance(rates, str)
    ours = schedule_quote(Decimal("10.00"), "USD", rates)
    other = schedule_quote(Decimal("10.00"), "USD", pick_rates(
        [gateway("MTN_MOMO_LBR", "1.6")], [platform("1")], payment_method="MTN_MOMO_LBR",
        at=NOW))  # type: ignore[arg-type]
    assert not isinstance(ours, str) and not isinstance(other, str)
    assert disagreement(Decimal("10.00"), ours, ours) is None
    assert "at 10.00 USD" in (disagreement(Decimal("10.00"), ours, other) or "")


# --- plan and pay against the sandbox -------------------------------------------------------


def varied_sheet(path: Path) -> list[tuple[str, Decimal, str]]:
    """Three groups (MTN USD, Orange USD, MTN Rwanda RWF) of 12 distinct amounts each."""
    rows = []
    for i in range(12):
        rows.append((f"23177001{i:04d}", Decimal("3.37") * (i + 1) + Decimal("0.01"), "USD"))
        rows.append((f"23188002{i:04d}", Decimal("41.13") * (i + 1), "USD"))
        rows.append((f"25078803{i:04d}", Decimal(1733) * (i + 1), "RWF"))
    lines = ["name,phone,amount,currency,country"]
    lines += [f"P {n},{p},{a},{c},{'RW' if p.startswith('250') else 'LR'}"
              for n, (p, a, c) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return rows


def fee_calls(sandbox: SandboxHandle) -> int:
    return sum(sandbox.stats()["requests"].get(FEE_CALLS, {}).values())


def charged_fees(sandbox: SandboxHandle) -> dict[str, Decimal]:
    return {e.phone or "": e.fee for e in sandbox.executions(status="COMPLETED")}


def predicted_fees(ledger: Path, batch_id: int) -> dict[str, tuple[Decimal | None, str | None]]:
    return {r.phone or "": (r.predicted_fee, r.fee_source) for r in Ledger(ledger).rows(batch_id)}


def test_fees_from_the_schedule_are_what_the_sandbox_charges(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    sandbox.set_faults(**QUICK_PAYOUTS)
    sheet, ledger = tmp_path / "varied.csv", tmp_path / "l.db"
    rows = varied_sheet(sheet)
    code, plan, _ = cli(["plan", str(sheet)], sandbox.base_url, ledger)
    assert code == 0
    assert plan["fee_sources"] == {"schedule": len(rows)}
    assert any("fee schedule" in n and "MTN_MOMO_RWA RWF" in n for n in plan["fee_notes"])
    assert fee_calls(sandbox) <= 9  # three samples per group, not one call per amount
    code, out, _ = cli(["run", str(sheet), "--yes"], sandbox.base_url, ledger)
    assert code == 0
    predicted, charged = predicted_fees(ledger, out["batch_id"]), charged_fees(sandbox)
    assert len(charged) == len(rows)
    assert {p: fee for p, (fee, _src) in predicted.items()} == charged
    assert {src for _fee, src in predicted.values()} == {"schedule"}
    from batch.report.columns import PAYOUT_COLUMNS
    from batch.report.lines import payout_line

    assert "fee_source" in [c.key for c in PAYOUT_COLUMNS]
    lines = [payout_line(r) for r in Ledger(ledger).rows(out["batch_id"])]
    assert {line["fee_source"] for line in lines} == {"schedule"}


def test_a_disagreeing_schedule_falls_back_to_per_amount_predictions(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    sandbox.set_faults(**QUICK_PAYOUTS, fee_schedule_skew_points="0.1")
    sheet, ledger = tmp_path / "varied.csv", tmp_path / "l.db"
    rows = varied_sheet(sheet)
    code, plan, _ = cli(["plan", str(sheet)], sandbox.base_url, ledger)
    assert code == 0
    assert plan["fee_sources"] == {"prediction": len(rows)}
    assert len(plan["fee_notes"]) == 3
    assert all("per-amount predictions" in n and "the schedule gives" in n
               for n in plan["fee_notes"])
    assert fee_calls(sandbox) == len(rows)  # the sampled quotes are not asked for twice
    code, out, _ = cli(["run", str(sheet), "--yes"], sandbox.base_url, ledger)
    assert code == 0
    predicted = predicted_fees(ledger, out["batch_id"])
    assert {p: fee for p, (fee, _src) in predicted.items()} == charged_fees(sandbox)


def test_few_amounts_are_asked_per_amount_without_the_schedule(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    sheet, ledger = tmp_path / "same.csv", tmp_path / "l.db"
    sheet.write_text("name,phone,amount,currency,country\n"
                     + "".join(f"P {i},2317700{i:05d},10.50,USD,LR\n" for i in range(10)))
    code, plan, _ = cli(["plan", str(sheet)], sandbox.base_url, ledger)
    assert code == 0 and plan["fee_sources"] == {"prediction": 10}
    [note] = plan["fee_notes"]
    assert note.endswith("USD: per-amount predictions: 1 distinct amount(s), fewer calls "
                         "than checking the fee schedule")
    assert "fees.gateway" not in sandbox.stats()["requests"]
    assert fee_calls(sandbox) == 1


def test_plain_plan_output_says_where_fees_came_from(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from batch.cli import main
    from tests.engine_helpers import env

    sheet, ledger = tmp_path / "varied.csv", tmp_path / "l.db"
    varied_sheet(sheet)
    result = CliRunner().invoke(main, ["plan", str(sheet), "--base-url", sandbox.base_url,
                                       "--ledger", str(ledger)], env=env())
    assert result.exit_code == 0, result.output
    assert "fees from: fee schedule 36 row(s)" in result.stdout
    assert "fees for MTN_MOMO_LBR USD: fee schedule" in result.stdout


def test_plain_client_reads_the_schedule(sandbox: SandboxHandle) -> None:
    import asyncio

    from batch.dollr.client import ApiClient
    from batch.pipeline import SANDBOX_CREDENTIALS

    async def go() -> tuple[str | None, list[GatewayFee], list[PlatformFee]]:
        async with ApiClient(sandbox.base_url, SANDBOX_CREDENTIALS, rate=500) as api:
            tier = await api.fee_tier_name()
            return (tier, await api.gateway_fees("AIRTEL_RWA", "PAYOUT"),
                    await api.platform_fees("PAYOUT", tier or ""))

    tier, g, p = asyncio.run(go())
    assert tier == "default"
    assert [x.percentage for x in g] == [Decimal("1.2")]
    assert [x.percentage for x in p] == [Decimal("1.000")]
    assert httpx  # the module's client helper uses it


# --- progress covers fee look-ups (issue 15 item 2) ---------------------------------------


def test_planning_progress_counts_fee_lookups_with_an_eta() -> None:
    from batch.cli.progress import PlainProgress
    from batch.engine.progress import FeeLookups, Phase, Predicted

    now, lines = [0.0], []
    progress = PlainProgress(lines.append, interval=1, clock=lambda: now[0])
    progress.start(Phase.PLAN, total=10)
    for _ in range(10):
        now[0] += 1
        progress.advance(Predicted())
    progress.advance(FeeLookups(expected=10))
    for _ in range(5):
        now[0] += 1
        progress.advance(FeeLookups(answered=1))
    # 15 look-ups in 15 s, 5 to go: the line keeps moving and the ETA counts the fees.
    assert lines[-1] == ("planning: 10/10 rows predicted, 5/10 fee look-ups, "
                         "1.0 look-ups/s, ETA 0:00:05")


def test_plan_progress_shows_fee_lookups_of_a_per_amount_fallback(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    sandbox.set_faults(fee_schedule_skew_points="0.1")
    sheet, ledger = tmp_path / "varied.csv", tmp_path / "l.db"
    rows = varied_sheet(sheet)
    code, _plan, err = cli(["plan", str(sheet)], sandbox.base_url, ledger)
    assert code == 0
    last = [line for line in err.splitlines() if line.startswith("planning:")][-1]
    # 36 per-amount quotes, 9 samples, the tier, a gateway fee per method, the platform fee.
    assert f"{len(rows)}/{len(rows)} rows predicted" in last
    lookups = last.split(", ")[1]
    done, expected = lookups.split()[0].split("/")
    assert done == expected and int(done) == fee_calls(sandbox) + 1 + 3 + 1


class _ScheduleStub:
    """The fee calls of ApiClient, answered from the sandbox's arithmetic, with a gateway
    entry that ends an hour after NOW (the sandbox publishes open-ended entries only)."""

    def __init__(self) -> None:
        self.gateway_calls = 0

    async def fee_tier_name(self) -> str:
        return "default"

    async def gateway_fees(self, method: str, operation: str) -> list[GatewayFee]:
        self.gateway_calls += 1
        pct = str(sandbox_fees.gateway_percentage(method))
        return [gateway(method, pct, effective_to=NOW + timedelta(hours=1)),
                gateway(method, "9", effective_from=NOW + timedelta(hours=1))]

    async def platform_fees(self, operation: str, tier: str) -> list[PlatformFee]:
        return [platform(str(sandbox_fees.platform_percentage(operation)))]

    async def amount_and_fees(self, *, amount: Decimal, currency: str, payment_method: str,
                              **_: str) -> object:
        from batch.dollr.models import FeeQuote

        q = sandbox_fees.quote(base_amount=amount, base_currency=currency,
                               target_currency=currency, payment_method=payment_method,
                               operation_type="PAYOUT", fee_bearer="PAYER")
        return FeeQuote.model_validate(q.model_dump())


def test_schedule_is_cached_until_its_entry_ends_then_asked_again() -> None:
    import asyncio

    from batch.planning.fee_plan import FeePlanner
    from batch.planning.predict import _gather_bounded

    stub, now = _ScheduleStub(), [NOW]
    planner = FeePlanner(stub, now=lambda: now[0])
    keys = {(Decimal(10 + i), "USD", "MTN_MOMO_LBR", "PAWAPAY"): None for i in range(10)}

    def run() -> tuple[dict, list]:  # type: ignore[type-arg]
        cache: dict[object, object] = {}  # a new chunk's amounts: none cached
        return asyncio.run(planner.quotes(
            keys, cache.get, _gather_bounded, 4, keep=cache.__setitem__))  # type: ignore[arg-type]

    priced, rest = run()
    assert len(priced) == 10 and rest == [] and stub.gateway_calls == 1
    now[0] = NOW + timedelta(minutes=30)
    priced, rest = run()
    assert len(priced) == 10 and stub.gateway_calls == 1  # still in force: cached
    now[0] = NOW + timedelta(hours=2)
    priced, rest = run()  # the 9 % entry is in force now: checked again, and it disagrees
    assert stub.gateway_calls == 2
    assert priced == {} and len(rest) == 10 - 3  # 3 sampled quotes are cached already
    assert "per-amount predictions" in planner.notes["MTN_MOMO_LBR USD"]
