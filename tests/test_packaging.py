"""The wheel holds every package: pyproject.toml lists them, and the list is complete."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_directory_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"])
    batch = ROOT / "batch"
    on_disk = {"batch"} | {
        f"batch.{d.name}" for d in batch.iterdir()
        if d.is_dir() and d.name != "__pycache__"
        and (any(d.glob("*.py")) or any(d.glob("*.sql")))
    }
    assert listed == on_disk
