"""The public surface of `batch` is short, documented and importable."""

from __future__ import annotations

import subprocess
import sys

import pytest

import batch


def test_all_is_sorted_and_unique() -> None:
    assert list(batch.__all__) == sorted(set(batch.__all__))


@pytest.mark.parametrize("name", batch.__all__)
def test_every_public_name_resolves(name: str) -> None:
    obj = getattr(batch, name)
    assert obj.__doc__, f"batch.{name} has no docstring"


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        batch.no_such_thing  # noqa: B018


def test_import_batch_does_not_load_the_http_stack() -> None:
    code = "import sys, batch; print('httpx' in sys.modules, 'polars' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
