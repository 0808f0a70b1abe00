"""The ledger's health (issue 12): the file is checked when opened, values are checked as they
are read, and after each run a backup is kept next to it, a few generations deep.

A damaged ledger (a few flipped bytes) becomes one LedgerDamagedError naming where, never a
traceback, and nothing is sent from it. Restoring: README "Restoring the ledger".
"""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from batch.errors import LedgerDamagedError
from batch.tempfiles import remove_stale, temp_path

BACKUP_GENERATIONS = 3  # PATH.backup-1 (newest) … PATH.backup-3
_QUICK_CHECK_LINES = 3  # problems PRAGMA quick_check reports at most (the first is shown)
# What SQLite says when the file, not the query, is wrong.
_DAMAGE_WORDS = ("malformed", "not a database", "decode", "corrupt", "disk image")

F = TypeVar("F", bound=Callable[..., Any])


def backup_paths(path: Path) -> list[Path]:
    """The backup generations of the ledger at `path`, newest first."""
    return [path.with_name(f"{path.name}.backup-{n}") for n in range(1, BACKUP_GENERATIONS + 1)]


def newest_backup(path: Path) -> Path | None:
    """The newest backup of the ledger at `path` that exists, if any."""
    return next((p for p in backup_paths(path) if p.is_file()), None)


def damaged(path: Path, where: str, detail: str) -> LedgerDamagedError:
    """The error for a ledger found damaged at `where`, pointing at its newest backup."""
    backup = newest_backup(path)
    return LedgerDamagedError(
        where, detail, path=str(path), backup=str(backup) if backup else None
    )


def is_damage(exc: sqlite3.Error) -> bool:
    """Whether SQLite's error means the file is damaged (not a busy lock or a bad query)."""
    return isinstance(exc, sqlite3.DatabaseError) and any(
        word in str(exc).lower() for word in _DAMAGE_WORDS
    )


def unwritable_hint(path: Path) -> str:
    """A hint when the ledger's folder cannot be written (read-only disk): SQLite's own words
    ("disk I/O error", "unable to open database file") do not say so."""
    folder = path.resolve().parent
    if folder.is_dir() and not os.access(folder, os.W_OK):
        return f"; {folder} cannot be written (a read-only file system?)"
    return ""


def check_file(conn: sqlite3.Connection, path: Path) -> None:
    """Raise LedgerDamagedError unless SQLite's quick check finds the file's structure sound
    (pages, b-trees, records; it reads every page once, without checking index contents)."""
    try:
        found = [r[0] for r in conn.execute(f"PRAGMA quick_check({_QUICK_CHECK_LINES})")]
    except sqlite3.DatabaseError as exc:
        raise damaged(path, "its file structure", str(exc)) from None
    if found != ["ok"]:
        raise damaged(path, "its file structure", "; ".join(map(str, found)))


def read_values(
    table: str, check: Callable[[Any], str | None] | None = None
) -> Callable[[F], F]:
    """Decorate a record's `from_row(cls, r, …)`: a stored value that cannot be what it must
    be (a decimal, a time, a state, JSON; or what `check(record)` finds wrong, as text)
    raises LedgerDamagedError naming the table and row."""

    def wrap(func: F) -> F:
        @functools.wraps(func)
        def checked(cls: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                record = func(cls, *args, **kwargs)
                problem = check(record) if check is not None else None
            except (ArithmeticError, ValueError, TypeError, KeyError, AssertionError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if problem is not None:
                row = args[0] if args else None
                raise LedgerDamagedError(
                    f"{table} {_key(row)}", f"a stored value cannot be read: {problem}"[:300]
                )
            return record

        return cast(F, checked)

    return wrap


# A decimal as the ledger writes it ("12.50", "-0.30"): SQL GLOB, checked in SQLite itself.
_NOT_DECIMAL = "({c} IS NOT NULL AND ({c} NOT GLOB '[0-9]*' AND {c} NOT GLOB '-[0-9]*' " \
    "OR {c} GLOB '*[^0-9.eE+-]*' OR {c} GLOB '*.*.*'))"
_NOT_TIME = "({c} IS NOT NULL AND {c} NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*')"


def _rows_checks(states: list[str], currencies: list[str]) -> list[tuple[str, str]]:
    listed = ", ".join(f"'{s}'" for s in states)
    money = ", ".join(f"'{c}'" for c in currencies)
    return [
        ("state", f"r.state NOT IN ({listed})"),
        ("amount_minor", "typeof(r.amount_minor) NOT IN ('integer', 'null')"),
        ("currency", f"r.amount_minor IS NOT NULL AND r.currency NOT IN ({money})"),
        ("predicted_fee", _NOT_DECIMAL.format(c="r.predicted_fee")),
        ("problems_json", "r.problems_json IS NOT NULL AND NOT json_valid(r.problems_json)"),
        ("updated_at", _NOT_TIME.format(c="r.updated_at")),
    ]


_ATTEMPT_CHECKS = [
    *((c, _NOT_DECIMAL.format(c=f"a.{c}")) for c in ("payer_amount", "payee_amount", "fee")),
    *((c, _NOT_TIME.format(c=f"a.{c}")) for c in ("created_at", "submitted_at", "settled_at")),
]


def find_bad_value(
    conn: sqlite3.Connection, batch_id: int, states: list[str], currencies: list[str],
    outcomes: list[str],
) -> tuple[str, str] | None:
    """(where, what) of the first value of a batch that no ledger write makes, or None.

    Reads every row and attempt once in SQLite (text that is not UTF-8 fails as it is
    fetched) and tests the values the records convert (decimals, times, states, JSON) with
    SQL: about half of what building every record costs (one table pass each, then one
    query per test on the first bad row only).
    """
    cursor = conn.cursor()
    cursor.row_factory = None  # plain tuples: decoding is all that is wanted here
    for query in (
        "SELECT * FROM rows WHERE batch_id = ?",
        "SELECT a.* FROM attempts a JOIN rows r ON r.id = a.row_id WHERE r.batch_id = ?",
    ):
        for _ in cursor.execute(query, (batch_id,)):
            pass
    listed = ", ".join(f"'{o}'" for o in outcomes)
    attempt_checks = [
        ("outcome", f"a.outcome IS NOT NULL AND a.outcome NOT IN ({listed})"), *_ATTEMPT_CHECKS
    ]
    for table, key, source, checks in (
        ("rows", "id", "rows r WHERE r.batch_id = ?", _rows_checks(states, currencies)),
        (
            "attempts", "reference_id",
            "attempts a JOIN rows r ON r.id = a.row_id WHERE r.batch_id = ?", attempt_checks,
        ),
    ):
        # One pass over the table for every test; then which test, on that one row.
        alias = "r" if table == "rows" else "a"
        any_test = " OR ".join(f"({test})" for _, test in checks)
        found = cursor.execute(
            f"SELECT {alias}.{key} FROM {source} AND ({any_test}) LIMIT 1", (batch_id,)
        ).fetchone()
        if found is None:
            continue
        for column, test in checks:
            bad = cursor.execute(
                f"SELECT {alias}.{column} FROM {source} AND {alias}.{key} = ? AND ({test})",
                (batch_id, found[0]),
            ).fetchone()
            if bad is not None:
                return f"{table} {key} {found[0]}", f"{column} {bad[0]!r} cannot be read"
    return None


def _key(row: Any) -> str:
    for column in ("id", "reference_id"):
        try:
            return f"{column} {row[column]}"
        except (KeyError, IndexError, TypeError):
            continue
    return "(a row)"


def write_backup(conn: sqlite3.Connection, path: Path) -> Path:
    """Copy the open ledger (SQLite's online backup: a consistent snapshot while it is in
    use) to PATH.backup-1, the older generations moved down one; returns the new backup."""
    newest = backup_paths(path)[0]
    remove_stale(newest)  # what a backup killed halfway left
    tmp = temp_path(newest)
    try:
        target = sqlite3.connect(tmp)
        try:
            conn.backup(target)
        finally:
            target.close()
        os.chmod(tmp, 0o600)  # names, phones, amounts: owner-only, like the ledger
        generations = backup_paths(path)
        for older, newer in zip(generations[:0:-1], generations[-2::-1], strict=True):
            if newer.exists():
                os.replace(newer, older)
        os.replace(tmp, newest)
    finally:
        tmp.unlink(missing_ok=True)
    return newest
