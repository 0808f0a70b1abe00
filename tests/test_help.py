"""Every command reads well in --help and shows an example (STYLE.md 15)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from batch.cli import main

COMMANDS = sorted(main.commands)


def test_group_help_lists_commands_and_example() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and "paybatch" in result.output
    for name in COMMANDS:
        assert name in result.output


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_has_help_with_an_example(name: str) -> None:
    command = main.commands[name]
    assert isinstance(command, click.Command) and command.help
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0
    text = result.output
    assert "Example:" in text and f"paybatch {name}" in text


@pytest.mark.parametrize("name", ["status", "report"])
def test_every_option_of_the_reading_commands_is_explained(name: str) -> None:
    for param in main.commands[name].params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help, f"{name} {param.opts} has no help text"


def test_report_and_status_are_registered() -> None:
    assert {"status", "report"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_takes_a_log_file(name: str) -> None:
    assert any(p.name == "log_file" for p in main.commands[name].params)


def test_a_command_imports_only_its_own_module() -> None:
    """Commands load when used: `paybatch run` does not pay the import of `collect`'s or the
    sandbox's modules at start-up (issue 15: ~0.17 s of every command)."""
    import subprocess
    import sys

    probe = ("import sys; from batch.cli import main; main.commands['run']; "
             "print(sorted(m for m in sys.modules if m.startswith('batch.cli.')))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True).stdout
    assert "batch.cli.payouts" in loaded
    assert "batch.cli.collect" not in loaded and "batch.cli.sandbox" not in loaded
    for name in COMMANDS:
        assert main.commands[name].name == name  # every registered path names its command


def test_the_process_entry_keeps_the_exit_code_and_freezes_the_heap_as_it_ends(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`paybatch` (and `python -m batch`) run `entry`: the command's own exit code, and every
    object frozen out of the cyclic collector so the interpreter's teardown skips it."""
    import gc
    import sys

    from batch.cli import COMMAND_MODULES, entry

    monkeypatch.setattr(sys, "argv", ["paybatch", "validate", "/nonexistent/sheet.csv"])
    monkeypatch.setattr(COMMAND_MODULES, "after_import", None)  # entry's hook, undone after
    frozen_before = gc.get_freeze_count()
    try:
        with pytest.raises(SystemExit) as exited:
            entry()
        assert exited.value.code == 1  # a missing file: bad input, nothing sent
        assert gc.get_freeze_count() > frozen_before
    finally:
        gc.unfreeze()
        gc.enable()
    assert "/nonexistent/sheet.csv" in capsys.readouterr().err


def test_the_collector_starts_once_a_commands_module_is_imported() -> None:
    """`entry` keeps the cyclic collector off during start-up; the first import of a
    command's module calls the hook that freezes what start-up made and turns it on."""
    from batch.cli import COMMANDS, LazyCommands

    calls: list[str] = []
    commands = LazyCommands({"validate": COMMANDS["validate"]}, prepare=lambda c: None)
    commands.after_import = lambda: calls.append("imported")
    assert commands["validate"].name == "validate"
    assert commands["validate"] is commands["validate"]
    assert calls == ["imported"]  # once: the module is imported once
