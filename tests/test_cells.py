"""Column helpers of intake: per-distinct cleaning gives the same answer as per-cell."""

from __future__ import annotations

import polars as pl
import pytest

from batch.intake import cells
from batch.intake.cells import collapse_whitespace, per_distinct


def upper(cell: pl.Expr) -> pl.Expr:
    return cell.str.strip_chars().str.to_uppercase()


@pytest.mark.parametrize("limit", [0, 4096])
def test_per_distinct_matches_per_cell(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    monkeypatch.setattr(cells, "_DISTINCT_LIMIT", limit)  # 0: every column takes the cell path
    column = pl.Series("c", [" usd", "USD", None, "", "lrd ", "usd"] * 3)
    assert (
        per_distinct(upper)(column).to_list()
        == pl.select(upper(pl.lit(column))).to_series().to_list()
    )


def test_collapse_whitespace_rewrites_only_messy_cells() -> None:
    column = pl.Series(["Jo  Doe", "Jo\tDoe", "Jo\nDoe", "Jo Doe", None, "Jo\u00a0Doe", "Jo"])
    assert collapse_whitespace(column).to_list() == [
        "Jo Doe",
        "Jo Doe",
        "Jo Doe",
        "Jo Doe",
        None,
        "Jo Doe",
        "Jo",
    ]
    tidy = pl.Series(["Jo Doe", "Ann"])
    assert collapse_whitespace(tidy) is tidy  # nothing to rewrite: no copy
