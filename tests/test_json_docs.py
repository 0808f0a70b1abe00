"""docs/json.md documents every command's --json output; this checks the real output
against it (issue 13): every key, every type, no key left undocumented."""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from batch.cli import main
from tests.engine_helpers import QUICK_PAYOUTS, env, write_sheet

DOC = Path(__file__).resolve().parent.parent / "docs" / "json.md"
COLLECTIONS = Path(__file__).resolve().parent.parent / "samples" / "collections_liberia.csv"
BLOCK = re.compile(r"```json (\S+)\n(.*?)```", re.S)


def shapes() -> dict[str, Any]:
    """The named JSON shapes of docs/json.md."""
    return {name: json.loads(body) for name, body in BLOCK.findall(DOC.read_text())}


def _is(value: Any, kind: str) -> bool:
    if kind == "any":
        return True
    if kind == "null":
        return value is None
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "decimal":
        try:
            return isinstance(value, str) and Decimal(value).is_finite() and "E" not in value
        except InvalidOperation:
            return False
    if kind == "time":
        try:
            return isinstance(value, str) and datetime.fromisoformat(value).tzinfo is not None
        except ValueError:
            return False
    raise AssertionError(f"docs/json.md: unknown type <{kind}>")


def check(value: Any, shape: Any, known: dict[str, Any], where: str = "$") -> list[str]:
    """Where `value` departs from `shape` (empty when it matches)."""
    if isinstance(shape, str):
        name = shape[1:-1]
        if name in known:
            return check(value, known[name], known, where)
        for kind in name.split("|"):  # a type, or a named shape, e.g. <approval-state|null>
            if kind in known:
                fits = not check(value, known[kind], known, where)
            else:
                fits = _is(value, kind)
            if fits:
                return []
        return [f"{where}: {value!r} is not {shape}"]
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [f"{where}: not an array"]
        return [p for i, v in enumerate(value) for p in check(v, shape[0], known, f"{where}[{i}]")]
    if not isinstance(value, dict):
        return [f"{where}: not an object"]
    wild = [k for k in shape if k.startswith("<")]
    if wild:
        inner = shape[wild[0]]
        return [p for k, v in value.items() for p in check(v, inner, known, f"{where}.{k}")]
    required = {k for k in shape if not k.endswith("?")}
    allowed = required | {k.rstrip("?") for k in shape}
    problems = [f"{where}.{k}: missing" for k in sorted(required - set(value))]
    problems += [f"{where}.{k}: not documented" for k in sorted(set(value) - allowed)]
    for key, sub in shape.items():
        if key.rstrip("?") in value:
            problems += check(value[key.rstrip("?")], sub, known, f"{where}.{key.rstrip('?')}")
    return problems


def test_the_doc_covers_every_command() -> None:
    assert set(shapes()) == {
        "error", "money", "validate", "plan", "run", "status-list", "status-line",
        "status-batch", "report", "cancel", "approval-state", "approval", "review", "approve", "collect",
    }
    from batch.cli import main as group

    for command in group.commands:  # every command but the foreground sandbox has --json
        if command != "sandbox":
            assert f"`paybatch {command}" in DOC.read_text(), command


def test_the_checker_catches_a_departure() -> None:
    known = shapes()
    assert check({"error": "x", "error_type": "Y"}, known["error"], known) == [
        "$.exit_code: missing"
    ]
    assert check({"USD": {"paid": 3}}, {"<CUR>": {"paid": "<decimal>"}}, known)


def _invoke(args: list[str], **extra: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(main, [*args, "--json"], env=env(**extra))
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture
def failing(sandbox):  # type: ignore[no-untyped-def]
    sandbox.set_faults(**QUICK_PAYOUTS, payout_failure_rate=0.4)
    return sandbox


def test_every_commands_json_matches_the_doc(failing, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    known = shapes()
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 8)
    sheet.write_text(sheet.read_text() + "Bad Number,12345,10.00,USD,LR\n")
    api = ["--base-url", failing.base_url, "--ledger", str(ledger), "--rate", "500"]
    outputs: list[tuple[str, tuple[int, dict[str, Any]]]] = [
        ("validate", _invoke(["validate", str(sheet)])),
        ("error", _invoke(["run", str(sheet), "--yes", *api])),  # invalid rows: exit 1
        ("error", _invoke(["run", "--country", "XX", str(sheet)])),  # usage: exit 2
        ("plan", _invoke(["plan", str(sheet), "--skip-invalid", *api])),
        ("run", _invoke(["run", "nov", "--yes", *api])),
        ("run", _invoke(["reconcile", "nov", *api])),
        ("status-list", _invoke(["status", "--ledger", str(ledger)])),
        ("status-batch", _invoke(["status", "nov", "--ledger", str(ledger)])),
        ("report", _invoke(["report", "nov", "--ledger", str(ledger),
                            "--out", str(tmp_path / "r.csv")])),
        ("review", _invoke(["review", "nov", "--ledger", str(ledger)])),
        ("approve", _invoke(["approve", "nov", "--as", "checker", "--ledger", str(ledger)])),
        ("status-batch", _invoke(["status", "nov", "--ledger", str(ledger)])),  # approved
        ("cancel", _invoke(["cancel", "nov", "--ledger", str(ledger)])),
        ("collect", _invoke(["collect", str(COLLECTIONS), "--yes", "--ledger",
                             str(tmp_path / "c.db"), "--base-url", failing.base_url])),
    ]
    for name, (code, out) in outputs:
        assert check(out, known[name], known) == [], (name, out)
        assert out["exit_code"] == code, name
    codes = [code for _, (code, _) in outputs]
    assert codes[1:3] == [1, 2]
