"""Reference ids derived, not random (issue 11): the same payment has the same id everywhere.

A row's reference_id is a UUID in the version 4 layout (as the API asks) computed from the
merchant's client id, the batch's pay period and purpose, a repeat number (`--allow-repeat`),
the row's stable key and the attempt number. The batch and file names are not part of it, so
the same sheet paid for the same period from another ledger or machine sends the same ids,
and the API's one-execution-per-reference_id rule (REFERENCE §4.1 rule 4) refuses a second
payment.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

SCHEME = "paybatch-ref-v1"


@dataclass(frozen=True)
class KeyParts:
    """What every reference_id of a batch shares."""

    client_id: str
    period: str  # YYYY-MM
    purpose: str
    repeat_no: int = 0


def row_key(*, external_id: str | None, phone: str, currency: str, occurrence: int) -> str:
    """A row's stable key: its external id when present, else phone + currency + occurrence.

    `occurrence` counts rows with the same phone and currency so far (1 for the first), so a
    sheet with deliberate duplicates (--allow-duplicates) still gives each row its own key.
    """
    if external_id and external_id.strip():
        return "ext:" + " ".join(external_id.split()).casefold()
    return f"tel:{phone}:{currency.upper()}:{occurrence}"


def row_keys(rows: Iterable[tuple[str | None, str, str]]) -> Iterator[str]:
    """Stable keys of (external_id, phone, currency) rows in sheet order."""
    seen: Counter[tuple[str, str]] = Counter()
    for external_id, phone, currency in rows:
        seen[(phone, currency)] += 1
        yield row_key(
            external_id=external_id, phone=phone, currency=currency,
            occurrence=seen[(phone, currency)],
        )


def seed(parts: KeyParts, key: str) -> str:
    """The per-row seed stored in the ledger (a digest: no client id or phone in clear)."""
    text = "\x1f".join(
        (SCHEME, parts.client_id, parts.period, parts.purpose.casefold(),
         str(parts.repeat_no), key)
    )
    return hashlib.sha256(text.encode()).hexdigest()


def reference_id(row_seed: str, attempt: int) -> str:
    """Attempt `attempt` (1, 2, ...) of a row: a UUID with the version 4 and variant bits."""
    digest = hashlib.sha256(f"{row_seed}:{attempt}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))
