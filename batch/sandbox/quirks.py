"""Reshape a sandbox answer the way another Dollr implementation might (Faults' quirk switches).

Pure: a response model and the switches in, the JSON to send out (or the model untouched).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from batch.sandbox.config import Faults

AMOUNT_KEYS = frozenset({"amount", "payer_amount", "payee_amount"})
ID_KEYS = frozenset({"id", "wallet_id", "payout_account_id", "party_id"})
SESSION_OPTIONAL = ("status", "wallet_id", "updated_at")


def any_quirk(faults: Faults) -> bool:
    """Whether some answer-shaping switch is on."""
    return bool(
        faults.status_names or faults.amounts_as_strings or faults.ids_as_strings
        or faults.sparse_answers or faults.clock_skew_seconds
    )


def reshape(data: dict[str, Any], faults: Faults, *, session: bool = False) -> dict[str, Any]:
    """The JSON body `data` as the quirks want it."""
    out: dict[str, Any] = {}
    skew = timedelta(seconds=faults.clock_skew_seconds)
    for key, value in data.items():
        if value is None and faults.sparse_answers:
            continue
        if session and faults.sparse_answers and key in SESSION_OPTIONAL:
            continue
        if key == "status" and not session and isinstance(value, str):
            value = faults.status_names.get(value, value)
        elif key in AMOUNT_KEYS and faults.amounts_as_strings and value is not None:
            value = str(value)
        elif key in ID_KEYS and faults.ids_as_strings and isinstance(value, int):
            value = str(value)
        elif key.endswith("_at") and isinstance(value, str) and skew:
            value = (datetime.fromisoformat(value) + skew).isoformat()
        out[key] = value
    return out


def answer(model: BaseModel, faults: Faults, *, session: bool = False) -> Any:
    """The model itself, or a JSONResponse of it reshaped when a quirk is on."""
    if not any_quirk(faults):
        return model
    return JSONResponse(reshape(model.model_dump(mode="json"), faults, session=session))
