"""The Dollr v1 API client: the requestor with one service per API area.

`ApiClient` is what paybatch holds: every endpoint it uses, as one async method each, every
failure as a batch.errors class. A new area (collections, invoices) is a new service module.
"""

from __future__ import annotations

from batch.dollr.collections import Collections
from batch.dollr.fees import Fees
from batch.dollr.payouts import Payouts
from batch.dollr.predictions import Predictions
from batch.dollr.recipients import Recipients
from batch.dollr.requestor import Requestor, check_base_url, translate_transport_errors

__all__ = ["ApiClient", "Requestor", "check_base_url", "translate_transport_errors"]


class ApiClient(Recipients, Predictions, Payouts, Fees, Collections):
    """Async client of the Dollr v1 endpoints paybatch uses; use as `async with`."""
