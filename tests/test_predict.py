"""Operator and fee predictions through the real client against the fake API, with caches."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest
from fake_dollr import FakeDollr, VirtualClock, make_client

from batch import errors
from batch.dollr.models import ProviderInfo
from batch.models import PayoutRow
from batch.planning.predict import (
    MemoryFeeCache,
    MemoryOperatorCache,
    RowPrediction,
    fee_key,
    predict_rows,
    route_problem,
)

MMO = "GET /v1/predictions/mmo-provider-info"
FEES = "GET /v1/predictions/amount-and-fees"
MTN = ProviderInfo(payment_method="MTN_MOMO_LBR", gateway_provider="PAWAPAY", currencies=["USD"])


def row(n: int, phone: str, amount: str, currency: str = "USD", **extra: str) -> PayoutRow:
    return PayoutRow(
        row=n,
        name=f"Person {n}",
        phone=phone,
        amount=Decimal(amount),
        currency=currency,
        country="LR",
        **extra,
    )


def predict(
    fake: FakeDollr,
    rows: list[PayoutRow],
    operators: MemoryOperatorCache | None = None,
    fees: MemoryFeeCache | None = None,
    concurrency: int = 8,
) -> list[RowPrediction]:
    async def go() -> list[RowPrediction]:
        async with make_client(fake) as api:
            return await predict_rows(
                api,
                rows,
                operators=operators if operators is not None else MemoryOperatorCache(),
                fees=fees if fees is not None else MemoryFeeCache(),
                concurrency=concurrency,
            )

    return asyncio.run(go())


def test_each_phone_and_each_fee_key_is_asked_once() -> None:
    fake = FakeDollr()
    rows = [
        row(2, "231770000001", "100.00"),
        row(3, "231770000002", "100"),  # same fee key as row 2 (10 == 10.00)
        row(4, "231880000003", "100.00"),  # other operator: other key
        row(5, "231770000001", "55.25"),  # phone seen on row 2
    ]
    result = predict(fake, rows)
    assert [p.row for p in result] == [2, 3, 4, 5]
    assert all(p.routable for p in result)
    assert [p.operator.payment_method for p in result if p.operator] == [
        "MTN_MOMO_LBR",
        "MTN_MOMO_LBR",
        "ORANGE_MONEY_LBR",
        "MTN_MOMO_LBR",
    ]
    assert len(fake.sent(MMO)) == 3
    assert len(fake.sent(FEES)) == 3
    assert result[0].fee == result[1].fee
    assert result[3].fee is not None and result[3].fee.platform_fee == Decimal("0.55")


def test_caches_make_the_second_run_silent() -> None:
    fake = FakeDollr()
    operators, fees = MemoryOperatorCache(), MemoryFeeCache()
    rows = [row(2, "231770000001", "10.00"), row(3, "231770000002", "20.00")]
    first = predict(fake, rows, operators, fees)
    calls = len(fake.requests)
    second = predict(fake, rows, operators, fees)
    assert second == first
    assert len(fake.requests) == calls + 0  # no token needed either: nothing to ask
    assert set(operators.operators) == {"231770000001", "231770000002"}


def test_operator_from_cache_skips_the_lookup() -> None:
    fake = FakeDollr()
    operators = MemoryOperatorCache()
    operators.put_operator("231770000001", MTN)
    predict(fake, [row(2, "231770000001", "10.00")], operators)
    assert not fake.sent(MMO) and len(fake.sent(FEES)) == 1


@pytest.mark.parametrize(
    "answer",
    [
        404,
        422,
        httpx.Response(200, json={"carrier": None, "payment_method": None}),
    ],
    ids=["404", "422", "no-method"],
)
def test_unroutable_phone_is_a_row_problem(answer: object) -> None:
    fake = FakeDollr()
    fake.script(MMO, answer)  # type: ignore[arg-type]
    rows = [row(2, "231990000001", "10.00"), row(3, "231770000002", "20.00")]
    result = predict(fake, rows, concurrency=1)
    assert result[0].problem is not None and "cannot route" in result[0].problem
    assert not result[0].routable and result[0].fee is None
    assert result[1].routable
    assert len(fake.sent(FEES)) == 1  # no quote for the unroutable row


def test_wrong_currency_or_method_is_a_row_problem() -> None:
    fake = FakeDollr()
    rows = [
        row(2, "231770000001", "1000", currency="RWF"),
        row(3, "231770000002", "10.00", method="ORANGE_MONEY_LBR"),
        row(4, "231770000003", "10.00", method="mtn_momo_lbr"),
    ]
    result = predict(fake, rows)
    assert result[0].problem == "MTN_MOMO_LBR does not pay out RWF (accepts USD, LRD)"
    assert result[1].problem is not None and "ORANGE_MONEY_LBR" in result[1].problem
    assert result[2].routable
    assert len(fake.sent(FEES)) == 1


def test_fee_quote_refused_is_a_row_problem() -> None:
    fake = FakeDollr()
    fake.script(FEES, 422)
    result = predict(fake, [row(2, "231770000001", "10.00")])
    assert result[0].operator is not None and result[0].fee is None
    assert result[0].problem is not None and result[0].problem.startswith("no fee quote")


def test_lookups_run_with_bounded_concurrency() -> None:
    fake = FakeDollr(latency=0.05, clock=VirtualClock())
    rows = [row(i, f"2317700{i:05d}", "10.00") for i in range(2, 42)]
    result = predict(fake, rows, concurrency=4)
    assert all(p.routable for p in result)
    assert fake.max_in_flight == 4


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ([401, 401], errors.AuthError),
        ([403], errors.ForbiddenError),
        ([503] * 5, errors.ServerError),
    ],
    ids=["auth", "forbidden", "outage"],
)
def test_batch_wide_failures_are_raised(answers: list[int], expected: type) -> None:
    fake = FakeDollr()
    fake.script(MMO, *answers)
    with pytest.raises(expected):
        predict(fake, [row(2, "231770000001", "10.00")], concurrency=1)


@pytest.mark.parametrize(
    ("amount", "currencies", "method", "problem"),
    [
        ("10.00", ["USD"], None, None),
        ("10.00", [], None, None),  # the API did not say: no objection
        ("10.00", ["LRD"], None, "MTN_MOMO_LBR does not pay out USD (accepts LRD)"),
        (
            "10.00",
            ["USD"],
            "ORANGE_MONEY_LBR",
            "the sheet asks for ORANGE_MONEY_LBR but this number belongs to MTN_MOMO_LBR",
        ),
    ],
)
def test_route_problem(
    amount: str, currencies: list[str], method: str | None, problem: str | None
) -> None:
    operator = MTN.model_copy(update={"currencies": currencies})
    extra = {"method": method} if method else {}
    assert route_problem(row(2, "231770000001", amount, **extra), operator) == problem


def test_fee_key_normalises_the_amount() -> None:
    assert fee_key(row(2, "231770000001", "10.00"), MTN) == fee_key(
        row(3, "231770000002", "10"), MTN
    )


def test_operators_found_are_kept_even_when_a_later_lookup_gives_up() -> None:
    """A run killed or stopped mid-planning must not redo the lookups it already made."""
    from batch.dollr.retry import MAX_ATTEMPTS

    fake = FakeDollr()
    operators = MemoryOperatorCache()
    rows = [row(2, "231770000001", "10.00"), row(3, "231770000002", "10.00")]
    rows.append(row(4, "231770000003", "10.00"))

    def answered(request: httpx.Request) -> httpx.Response:
        return fake._default(MMO, request)

    fake.script(MMO, answered, answered, *[503] * MAX_ATTEMPTS)
    with pytest.raises(errors.ServerError):
        predict(fake, rows, operators, concurrency=1)
    assert set(operators.operators) == {"231770000001", "231770000002"}
    predict(fake, rows, operators, concurrency=1)  # the next run asks only the third phone
    assert len(fake.sent(MMO)) == 2 + MAX_ATTEMPTS + 1
