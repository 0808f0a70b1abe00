"""An embedded imitation of the Dollr v1 payout API for tests, demos and dry runs.

In memory by default; `SandboxConfig(state_path=...)` keeps its state in a SQLite file.

    with running_sandbox(SandboxConfig(seed=7)) as sb:
        sb.set_faults(drop_rate=0.2, drop_endpoints=["executions.payout"])
        ... point an ApiClient at sb.base_url ...
        assert sb.completed_count("231770000001") == 1
"""

from batch.sandbox.app import create_app
from batch.sandbox.config import (
    DEFAULT_BALANCES,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_PASSCODE,
    DEFAULT_PASSCODE_PHONE,
    Faults,
    SandboxConfig,
)
from batch.sandbox.control import ExecutionRecord
from batch.sandbox.endpoints import ENDPOINTS
from batch.sandbox.persist import StateInUseError, state_path_for
from batch.sandbox.runtime import ManualClock
from batch.sandbox.server import BANNER, SandboxHandle, running_sandbox, serve

__all__ = [
    "BANNER",
    "DEFAULT_BALANCES",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_PASSCODE",
    "DEFAULT_PASSCODE_PHONE",
    "ENDPOINTS",
    "ExecutionRecord",
    "Faults",
    "ManualClock",
    "SandboxConfig",
    "SandboxHandle",
    "StateInUseError",
    "create_app",
    "running_sandbox",
    "serve",
    "state_path_for",
]
