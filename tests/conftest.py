"""Shared fixtures: sample files and temporary ledgers."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


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
