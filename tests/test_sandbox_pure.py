"""Pure parts of the sandbox: fee schedule, FX, operator routing, timeline, public surface."""

from __future__ import annotations

from decimal import Decimal

import pytest

import batch.sandbox
from batch.sandbox import fees
from batch.sandbox.config import parse_balances
from batch.sandbox.operators import UnroutablePhoneError, operator_for, valid_providers
from batch.sandbox.state import Execution


@pytest.mark.parametrize(
    ("amount", "currency", "target", "method", "bearer", "payer", "payee", "platform", "gateway",
     "fx"),
    [
        ("25.50", "USD", "USD", "ORANGE_MONEY_LBR", "PAYER", "26.27", "25.50", "0.26", "0.51",
         None),
        ("25.50", "USD", "USD", "ORANGE_MONEY_LBR", "PAYEE", "25.50", "24.73", "0.26", "0.51",
         None),
        ("0.01", "USD", "USD", "MTN_MOMO_LBR", "PAYER", "0.01", "0.01", "0.00", "0.00", None),
        ("100", "USD", "RWF", "MTN_MOMO_RWA", "PAYER", "103.00", "140000", "1.00", "1.00",
         "1.00"),
        ("150000", "RWF", "RWF", "AIRTEL_RWA", "PAYER", "153300", "150000", "1500", "1800",
         None),
        ("1900", "LRD", "USD", "MTN_MOMO_LBR", "PAYER", "1966.50", "10.00", "19.00", "28.50",
         "19.00"),
        ("1400", "RWF", "LRD", "WALLET", "PAYER", "1428", "190.00", "14", "0", "14"),
    ],
)
def test_fee_schedule(
    amount: str, currency: str, target: str, method: str, bearer: str, payer: str, payee: str,
    platform: str, gateway: str, fx: str | None,
) -> None:
    q = fees.quote(base_amount=Decimal(amount), base_currency=currency, target_currency=target,
                   payment_method=method, operation_type="PAYOUT", fee_bearer=bearer)
    assert (str(q.payer_amount), str(q.payee_amount), str(q.platform_fee), str(q.gateway_fee),
            None if q.fx_fee is None else str(q.fx_fee)) == (payer, payee, platform, gateway, fx)
    assert q.total_fee == q.platform_fee + (q.gateway_fee or 0) + (q.fx_fee or 0)


def test_fee_schedule_refuses_unknown_currencies() -> None:
    with pytest.raises(ValueError, match="NGN"):
        fees.quote(base_amount=Decimal(1), base_currency="NGN", target_currency="USD",
                   payment_method="WALLET", operation_type="PAYOUT", fee_bearer="PAYER")


@pytest.mark.parametrize(
    ("phone", "method"),
    [("231770000001", "ORANGE_MONEY_LBR"), ("231777123456", "ORANGE_MONEY_LBR"),
     ("231880000001", "MTN_MOMO_LBR"), ("231555000001", "MTN_MOMO_LBR"),
     ("250788000001", "MTN_MOMO_RWA"), ("250790000001", "MTN_MOMO_RWA"),
     ("250728000001", "AIRTEL_RWA"), ("250738000001", "AIRTEL_RWA")],
)
def test_operator_routing(phone: str, method: str) -> None:
    assert operator_for(phone).payment_method == method


@pytest.mark.parametrize(
    ("phone", "reason"),
    [("231220000000", "no mobile-money operator"), ("250250000000", "not a mobile number"),
     ("250700000001", "not a valid"), ("2348031234567", "not a supported market"),
     ("abc", "not a phone number")],
)
def test_unroutable_phones(phone: str, reason: str) -> None:
    with pytest.raises(UnroutablePhoneError, match=reason):
        operator_for(phone)


@pytest.mark.parametrize(
    ("method", "provider", "ok"),
    [("MTN_MOMO_LBR", "PAWAPAY", True), ("MTN_MOMO_LBR", "MTN_MOMO_LBR", True),
     ("MTN_MOMO_LBR", "ORANGE_MONEY_LBR", False), ("CREDIT_CARD", "STRIPE", True),
     ("WALLET", "PAWAPAY", False), ("BITCOIN", "PAWAPAY", False)],
)
def test_provider_method_combinations(method: str, provider: str, ok: bool) -> None:
    assert (provider in valid_providers(method)) is ok


def test_timeline_is_a_function_of_time() -> None:
    e = Execution(reference_id="r", session_id=1, payout_account_id=2, phone=None,
                  amount=Decimal(1), currency="USD", fee=Decimal(0), created_at=100.0,
                  pending_seconds=1, processing_seconds=2, outcome="FAILED")
    assert [e.status(t) for t in (100, 100.99, 101, 102.99, 103, 1e9)] == [
        "PENDING", "PENDING", "PROCESSING", "PROCESSING", "FAILED", "FAILED"]


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [(["USD=500", "lrd=1e3"], {"USD": Decimal(500), "LRD": Decimal(1000)}), ([], {})],
)
def test_parse_balances(pairs: list[str], expected: dict[str, Decimal]) -> None:
    assert parse_balances(pairs) == expected


@pytest.mark.parametrize("bad", ["USD", "USD=abc", "USD=-1", "DOLLAR=5", "USD=NaN"])
def test_parse_balances_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="CURRENCY=AMOUNT"):
        parse_balances([bad])


def test_public_surface() -> None:
    assert {"SandboxConfig", "Faults", "running_sandbox", "SandboxHandle", "ManualClock"} <= set(
        batch.sandbox.__all__)
    assert all(hasattr(batch.sandbox, name) for name in batch.sandbox.__all__)


def test_every_endpoint_name_is_a_served_path() -> None:
    app = batch.sandbox.create_app()
    paths = set(app.app.openapi()["paths"])
    assert set(batch.sandbox.ENDPOINTS.values()) == {p for p in paths if p.startswith("/v1/")}
