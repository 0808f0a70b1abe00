"""Shared fixtures: sample files and temporary ledgers."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture
def samples() -> Path:
    """The repository's samples/ folder."""
    return SAMPLES
