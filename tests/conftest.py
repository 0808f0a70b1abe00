"""Shared fixtures: sample files and temporary ledgers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from batch.sandbox import ManualClock, SandboxHandle

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

# Compiled modules are cached (in the git-ignored __pycache__) even when the shell sets
# PYTHONDONTWRITEBYTECODE: otherwise every pytest worker rewrites every test module's asserts
# again (~5 s of CPU each) and every `python -m batch` subprocess the tests start compiles the
# package again (~0.4 s each, ~70 of them): a quarter of the suite's CPU time. Modules this
# process imports are written here; the subprocesses then read them.
sys.dont_write_bytecode = False


@pytest.fixture(autouse=True)
def _private_data_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default ledgers (issue 11: the user's data directory) go to a temporary folder."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg")))


@pytest.fixture(params=["csv", "xlsx"])
def kind(request: pytest.FixtureRequest) -> str:
    """Each sheet test runs on a CSV and on an XLSX file."""
    return str(request.param)


@pytest.fixture
def samples() -> Path:
    """The repository's samples/ folder."""
    return SAMPLES


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Long adversarial tests (`@pytest.mark.slow`) run only with PAYBATCH_SLOW=1."""
    import os

    if os.environ.get("PAYBATCH_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: set PAYBATCH_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


# -- the embedded Dollr sandbox (issue 3) ----------------------------------------------------


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxHandle]:
    """One sandbox on a free loopback port for the whole session (real clock)."""
    from batch.sandbox import running_sandbox

    with running_sandbox() as handle:
        yield handle


@pytest.fixture
def sandbox(sandbox_server: SandboxHandle) -> SandboxHandle:
    """The session's sandbox, reset: no data, default faults and balances, zeroed counters."""
    sandbox_server.reset()
    return sandbox_server


@pytest.fixture(scope="session")
def _clocked_sandbox() -> Iterator[tuple[SandboxHandle, ManualClock]]:
    from batch.sandbox import ManualClock, running_sandbox

    clock = ManualClock()
    with running_sandbox(clock=clock) as handle:
        yield handle, clock


@pytest.fixture
def clocked_sandbox(
    _clocked_sandbox: tuple[SandboxHandle, ManualClock],
) -> tuple[SandboxHandle, ManualClock]:
    """A reset sandbox whose time moves only by `clock.advance(seconds)`: no sleeping."""
    handle, clock = _clocked_sandbox
    handle.reset()
    return handle, clock
