"""Rows that share a key (phone, external id) within one sheet: found cheaply, listed briefly.

Every row of a group is told which other rows share its key, but at most SHOWN_ROWS of them
("same phone as 9,999 other rows: 2, 3, 4, … and 9,990 more"): the messages grow with the
number of rows, not with its square (issue 12: 10,000 copies of one phone made 592 MB).
"""

from __future__ import annotations

import polars as pl

from batch.intake.load import ROW

SHOWN_ROWS = 10  # other rows named in one row's message


def _others_text(candidates: pl.DataFrame) -> pl.DataFrame:
    """`ROW` and the text naming the other rows of its group ("row(s) 5, 9", or "12 other
    rows: 2, 3, … and 2 more"), for `candidates` (`ROW`, `_key`; every key at least twice)."""
    groups = candidates.group_by("_key").agg(
        # One more than shown: a row's own number may be among the first ones.
        pl.col(ROW).sort().head(SHOWN_ROWS + 1).alias("_first"),
        pl.len().alias("_size"),
    )
    rows = candidates.join(groups, on="_key", how="left")
    # "9,999": thousands separated, once per distinct group size.
    others = {size - 1 for size in rows.get_column("_size").unique().to_list()}
    counted = {n: f"{n:,}" for n in others | {n - SHOWN_ROWS for n in others if n > SHOWN_ROWS}}
    shown = (
        pl.col("_first")
        .list.set_difference(pl.concat_list(pl.col(ROW)))
        .list.sort()
        .list.head(SHOWN_ROWS)
    )
    rows = rows.with_columns(shown.alias("_shown"), (pl.col("_size") - 1).alias("_others"))
    listed = pl.col("_shown").cast(pl.List(pl.String)).list.join(", ")
    more = pl.col("_others") - pl.col("_shown").list.len()
    text = (
        pl.when(more > 0)
        .then(
            pl.col("_others").replace_strict(counted, return_dtype=pl.String)
            + " other rows: "
            + listed
            + ", … and "
            + more.replace_strict(counted, return_dtype=pl.String)
            + " more"
        )
        .otherwise(pl.lit("row(s) ") + listed)
    )
    return rows.select(ROW, text.alias("_text"))


def find_duplicates(
    rows: pl.DataFrame, keys: dict[str, pl.Expr | tuple[pl.Expr, pl.Expr]]
) -> list[pl.Expr]:
    """For each `out: key`, an expression giving the text naming the other rows that share the
    row's key (null when none does). A key may be (coarse, exact): rows sharing the coarse key
    (a phone) are the candidates, and only they are compared on the exact one (phone and
    currency), which is dearer to build."""
    # Hashes find the few candidates cheaply (all keys in one parallel pass); the exact
    # comparison runs on those candidates alone.
    pairs = {out: key if isinstance(key, tuple) else (key, key) for out, key in keys.items()}
    # Usually no key repeats at all: a count of distinct hashes per key says so (~6x cheaper
    # than flagging each row), and a key that cannot repeat is not flagged.
    repeats = rows.lazy().select(
        (coarse.drop_nulls().hash().n_unique() < coarse.drop_nulls().len()).alias(out)
        for out, (coarse, _) in pairs.items()
    ).collect().row(0, named=True)
    flags = rows.lazy().select(
        pl.col(ROW),
        *[
            (coarse.is_not_null() & coarse.hash().is_duplicated()).alias(out)
            for out, (coarse, _) in pairs.items() if repeats[out]
        ],
    )
    flagged = (
        flags.filter(pl.any_horizontal([out for out in keys if repeats[out]])).collect()
        if any(repeats.values()) else None
    )
    exprs = []
    for out, (_, key) in pairs.items():
        if flagged is None or not repeats[out]:
            exprs.append(pl.lit(None, pl.String).alias(out))
            continue
        candidates = (
            rows.filter(pl.col(ROW).is_in(flagged.filter(pl.col(out)).get_column(ROW).implode()))
            .select(ROW, key.alias("_key"))
            .filter(pl.col("_key").is_duplicated())
        )
        if candidates.height == 0:
            exprs.append(pl.lit(None, pl.String).alias(out))
            continue
        others = _others_text(candidates)
        exprs.append(
            pl.col(ROW)
            .replace_strict(
                others.get_column(ROW),
                others.get_column("_text"),
                default=None,
                return_dtype=pl.String,
            )
            .alias(out)
        )
    return exprs
