"""Rows that share a key (phone, external id) within one sheet: found cheaply, listed exactly."""

from __future__ import annotations

import polars as pl

from batch.intake.load import ROW


def _other_rows(key: pl.Expr) -> pl.Expr:
    """For each row, the other rows sharing `key`, as text ("5, 9")."""
    rows = pl.col(ROW).implode().over(key)
    others = rows.list.set_difference(pl.concat_list(pl.col(ROW)))
    return others.list.sort().cast(pl.List(pl.String)).list.join(", ")


def find_duplicates(
    rows: pl.DataFrame, keys: dict[str, pl.Expr | tuple[pl.Expr, pl.Expr]]
) -> list[pl.Expr]:
    """For each `out: key`, an expression giving the other rows that share the row's key. A key
    may be (coarse, exact): rows sharing the coarse key (a phone) are the candidates, and only
    they are compared on the exact one (phone and currency), which is dearer to build."""
    # Hashes find the few candidates cheaply (all keys in one parallel pass); the exact
    # comparison runs on those candidates alone.
    pairs = {out: key if isinstance(key, tuple) else (key, key) for out, key in keys.items()}
    flags = rows.lazy().select(
        pl.col(ROW),
        *[
            (coarse.is_not_null() & coarse.hash().is_duplicated()).alias(out)
            for out, (coarse, _) in pairs.items()
        ],
    )
    flagged = flags.filter(pl.any_horizontal(list(keys))).collect()
    exprs = []
    for out, (_, key) in pairs.items():
        candidates = (
            rows.filter(pl.col(ROW).is_in(flagged.filter(pl.col(out)).get_column(ROW).implode()))
            .select(ROW, key.alias("_key"))
            .filter(pl.col("_key").is_duplicated())
        )
        if candidates.height == 0:
            exprs.append(pl.lit(None, pl.String).alias(out))
            continue
        others = candidates.select(ROW, _other_rows(pl.col("_key")).alias(out))
        exprs.append(
            pl.col(ROW)
            .replace_strict(
                others.get_column(ROW), others.get_column(out), default=None, return_dtype=pl.String
            )
            .alias(out)
        )
    return exprs
