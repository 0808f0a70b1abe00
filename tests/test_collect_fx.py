"""Collections in the payer's currency (REFERENCE §3.5.3, §3.7.2): an invoice in USD collected
from a wallet that holds only LRD is executed in LRD, and the plan, the ledger, the report and
`status --json` agree with the sandbox's own record of what each payer was debited."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from batch.cli import main
from batch.dollr.client import ApiClient
from batch.ledger import Ledger
from batch.pipeline import SANDBOX_CREDENTIALS
from batch.sandbox.fees import convert
from tests.collect_helpers import QUICK_PAYERS, collection_disagreements
from tests.engine_helpers import cli

LRD_WALLET = "231770000195"  # a sandbox test number: approves from an LRD-only wallet
SCRIPTED_LRD = "231880000310"  # an ordinary number given an LRD wallet by the faults


def _sheet(path: Path) -> Path:
    path.write_text(
        "payer,phone,invoice,item,quantity,unit price,currency,country\n"
        "Musu Kollie,231770000102,A1,Term fees,1,40.00,USD,LR\n"
        f"Jallah Doe,{LRD_WALLET},B1,Term fees,1,25.00,USD,LR\n"
        f"Jallah Doe,{LRD_WALLET},B1,Books,2,2.50,USD,LR\n"
        f"Korto Sirleaf,{SCRIPTED_LRD},C1,Dues,1,10.00,USD,LR\n"
        "Kebbeh Flomo,231770000120,D1,Dues,1,1900.00,LRD,LR\n",
        encoding="utf-8",
    )
    return path


def test_an_invoice_is_collected_in_the_payers_wallet_currency(
    sandbox: Any, tmp_path: Path
) -> None:
    sandbox.set_faults(**QUICK_PAYERS, payer_currencies={SCRIPTED_LRD: "LRD"})
    ledger = tmp_path / "l.db"
    code, out, err = cli(["collect", str(_sheet(tmp_path / "fx.csv")), "--yes", "--wait", "30"],
                         sandbox.base_url, ledger)
    assert code == 0, (out, err)
    # The plan: two USD invoices are paid from LRD wallets; what those payers pay, predicted.
    usd = out["totals"]["USD"]
    assert usd["fx_invoices"] == 2 and set(usd["payer_debits"]) == {"USD", "LRD"}
    debits = {c.phone: c for c in sandbox.collections(status="COMPLETED")}
    assert len(debits) == 4
    jallah, korto = debits[LRD_WALLET], debits[SCRIPTED_LRD]
    for c, total in ((jallah, Decimal("30.00")), (korto, Decimal("10.00"))):
        # Executed in the payer's currency: the invoice stays in USD, the debit is in LRD.
        assert (c.currency, c.amount, c.payer_currency) == ("USD", total, "LRD")
        assert c.payer_amount == convert(total + c.fee, "USD", "LRD")
    assert Decimal(usd["payer_debits"]["LRD"]) == jallah.payer_amount + korto.payer_amount
    assert debits["231770000102"].payer_currency == "USD"
    # The ledger's attempts hold what the API said the payers were debited.
    with Ledger(ledger) as db:
        batch = db.batch_by_name("fx")
        assert batch is not None
        rows = {r.phone: r for r in db.rows(batch.id)}
    attempt = rows[LRD_WALLET].current_attempt
    assert attempt is not None
    assert (attempt.payer_amount, attempt.payer_currency) == (jallah.payer_amount, "LRD")
    assert not any(collection_disagreements(sandbox, ledger, "fx").values())
    # The report: requested in the invoice's currency, paid in the payer's, the FX rate.
    result = CliRunner().invoke(
        main, ["report", "fx", "--out", str(tmp_path / "r.json"), "--ledger", str(ledger)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    data = json.loads((tmp_path / "r.json").read_text())
    line = next(i for i in data["invoices"] if i["phone"] == LRD_WALLET)
    assert (line["amount"], line["currency"]) == ("30.00", "USD")
    assert (Decimal(line["payer_amount"]), line["payer_currency"]) == (jallah.payer_amount, "LRD")
    assert Decimal(line["fx_rate"]) == Decimal(190)
    # Totals per currency reconcile with the sandbox's record, FX or not.
    by_currency = {t["currency"]: t for t in data["collection"]}
    for currency in ("USD", "LRD"):
        mine = [c for c in debits.values() if c.currency == currency]
        assert Decimal(by_currency[currency]["collected"]) == sum(c.amount for c in mine)
        assert Decimal(by_currency[currency]["fees"]) == sum(c.fee for c in mine)
    result = CliRunner().invoke(main, ["status", "fx", "--json", "--ledger", str(ledger)],
                                catch_exceptions=False)
    assert json.loads(result.stdout)["collection"] == data["collection"]


def test_the_payers_wallet_currency_is_what_the_collection_prediction_says(
    sandbox: Any,
) -> None:
    async def ask(operation_type: str) -> list[str]:
        async with ApiClient(sandbox.base_url, SANDBOX_CREDENTIALS, rate=500) as api:
            info = await api.mmo_provider_info(LRD_WALLET, operation_type)
            return info.currencies

    assert asyncio.run(ask("COLLECTION")) == ["LRD"]
    assert asyncio.run(ask("PAYOUT")) == ["LRD", "USD"]  # the country's, for a payout
