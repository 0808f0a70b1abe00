"""The package reads as the pipeline: stages import only earlier stages, and nothing cycles.

Read from the source (ast), not by importing: imports inside functions count too, since a
lazy import still ties one stage to another; imports under `if TYPE_CHECKING:` do not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "batch"

# Lowest first. A module may import its own layer and the layers before it.
LAYERS: list[tuple[str, ...]] = [
    # Shared: text.py (what may be printed), tempfiles.py (files written beside a target),
    # refids.py (reference_ids derived from what a payment is, for the ledger and planning),
    # options.py (each stage's options, nested in config.Settings).
    ("batch.errors", "batch.markets", "batch.models", "batch.config", "batch.options",
     "batch.text", "batch.refids", "batch.tempfiles"),
    ("batch.intake",),
    ("batch.engine.states",),  # the state vocabulary the ledger stores
    ("batch.ledger",),
    ("batch.dollr",),
    ("batch.engine",),
    ("batch.planning",),
    ("batch.operations",),
    ("batch.report",),
    # The flows the CLI calls, their checks, and the API they talk to.
    ("batch.pipeline", "batch.runs", "batch.endpoint"),
    ("batch.cli", "batch.__main__"),
]
SANDBOX = "batch.sandbox"  # the embedded API: shared modules only; started by pipeline/cli


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path) -> set[str]:
    """The batch modules this file imports at run time (module-level or lazily)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("batch"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("batch"):
            submodules = {f"{node.module}.{a.name}" for a in node.names} & MODULE_NAMES
            found.update(submodules or {node.module})
    # The package root is imported by every module anyway; it loads its exports lazily.
    return found - {"batch"}


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
MODULE_NAMES = set(MODULES)
GRAPH = {name: {m for m in _imports(path) if m in MODULES and m != name}
         for name, path in MODULES.items()}


def _layer(module: str) -> int:
    best, index = -1, -1
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, index = len(prefix), i
    assert index >= 0, f"{module} is in no layer"
    return index


@pytest.mark.parametrize("module", sorted(
    m for m in MODULES if not m.startswith(SANDBOX) and m != "batch"))
def test_a_stage_imports_only_earlier_stages(module: str) -> None:
    later = sorted(m for m in GRAPH[module]
                   if not m.startswith(SANDBOX) and _layer(m) > _layer(module))
    assert not later, f"{module} (layer {_layer(module)}) imports later stages: {later}"


def test_the_sandbox_imports_only_shared_modules() -> None:
    outside = {m for s in MODULES if s.startswith(SANDBOX) for m in GRAPH[s]
               if not m.startswith(SANDBOX) and _layer(m) > 0}
    assert not outside


def test_no_import_cycles() -> None:
    done: set[str] = set()
    stack: list[str] = []

    def visit(module: str) -> None:
        if module in stack:
            cycle = stack[stack.index(module):] + [module]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        stack.append(module)
        for other in sorted(GRAPH[module]):
            if other.rsplit(".", 1)[0] == module:
                continue  # a package importing its own submodule (re-exports)
            visit(other)
        stack.pop()
        done.add(module)

    for module in sorted(GRAPH):
        visit(module)


@pytest.mark.parametrize("package", sorted(
    n for n, p in MODULES.items() if p.name == "__init__.py" and n != "batch"))
def test_every_stage_says_its_job(package: str) -> None:
    doc = ast.get_docstring(ast.parse(MODULES[package].read_text(encoding="utf-8")))
    assert doc and doc.strip(), f"{package}/__init__.py has no docstring"
