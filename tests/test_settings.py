"""One Settings object (issue 10, item 5): nested, validated, frozen options built once in the
CLI; a value they refuse is one usage line naming the flag, never a pydantic traceback."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from batch.cli import main
from batch.config import Settings
from batch.operations.collection import COLLECTION_TIMINGS
from batch.options import (
    CampaignPolicy,
    CollectPlanOptions,
    MonitorOptions,
    PlanOptions,
    RunOptions,
    ValidationOptions,
)


def _invoke(tmp_path: Path, samples: Path, *args: str, **env: str) -> tuple[int, str, Path]:
    ledger = tmp_path / "l.db"
    result = CliRunner().invoke(
        main, ["run", str(samples / "payroll_liberia.csv"), "--yes", "--ledger", str(ledger),
               *args], env=env,
    )
    return result.exit_code, result.stderr, ledger


@pytest.mark.parametrize(("args", "env", "flag", "says"), [
    (["--poll-first", "-1"], {}, "--poll-first", "greater than or equal to 0"),
    (["--poll-max", "0"], {}, "--poll-max", "greater than 0"),
    ([], {"PAYBATCH_NOT_FOUND_GRACE": "-5"}, "--not-found-grace", "greater than or equal to 0"),
    ([], {"PAYBATCH_INTERRUPT_SETTLE": "-1"}, "--interrupt-settle", "greater than or equal"),
    (["--concurrency", "0"], {}, "--concurrency", "0 is not in the range"),
])
def test_a_refused_value_is_one_usage_line_naming_the_flag(
    tmp_path: Path, samples: Path, args: list[str], env: dict[str, str], flag: str, says: str
) -> None:
    code, err, ledger = _invoke(tmp_path, samples, *args, **env)
    assert code == 2, err
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert errors == [errors[0]] and f"'{flag}'" in errors[0] and says in errors[0], err
    assert "Traceback" not in err and "ValidationError" not in err and "pydantic" not in err
    assert not ledger.exists()  # refused before anything was opened


def test_collect_refuses_a_bad_timing_the_same_way(tmp_path: Path, samples: Path) -> None:
    result = CliRunner().invoke(main, [
        "collect", str(samples / "collections_liberia.csv"), "--yes",
        "--ledger", str(tmp_path / "l.db"), "--poll-first", "-2",
    ])
    assert result.exit_code == 2
    assert "Error: Invalid value for '--poll-first'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_models_refuse_out_of_range_values() -> None:
    for bad in (
        lambda: RunOptions(concurrency=0),
        lambda: RunOptions(wait=-1),
        lambda: RunOptions(commit_window=0),
        lambda: MonitorOptions(not_found_grace=-0.5),
        lambda: MonitorOptions(max_rejected_attempts=0),
        lambda: PlanOptions(repeat_window_days=-1),
        lambda: PlanOptions(period="2026-13"),
        lambda: PlanOptions(purpose="Bonus pay"),
        lambda: CampaignPolicy(max_requests=21),
        lambda: CampaignPolicy(re_request_after=timedelta(seconds=-1)),
        lambda: CollectPlanOptions(fee_bearer="NOBODY"),
        lambda: ValidationOptions(default_currency="EUR"),
        lambda: Settings(rate=0),
        lambda: Settings(unknown=1),  # extra="forbid": a misspelt field is refused
    ):
        with pytest.raises(ValidationError):
            bad()


def test_settings_are_frozen_all_the_way_down() -> None:
    settings = Settings(run=RunOptions(monitor=MonitorOptions(first_poll=1.0)))
    with pytest.raises(ValidationError):
        settings.run.concurrency = 3  # type: ignore[misc]
    with pytest.raises(ValidationError):
        settings.run.monitor.first_poll = 2.0  # type: ignore[misc,union-attr]


def test_given_timings_override_the_operations_own_field_by_field() -> None:
    given = Settings.model_validate({"run": {"monitor": {"first_poll": 1.5}}}).run.monitor
    assert given is not None and given.model_fields_set == {"first_poll"}
    timed = given.over(COLLECTION_TIMINGS)
    # The collection keeps its own 30 s poll ceiling (the payout default is 60 s).
    assert timed.first_poll == 1.5 and timed.max_poll_interval == 30.0
    assert MonitorOptions().over(COLLECTION_TIMINGS) == COLLECTION_TIMINGS


def test_cancel_of_a_collection_in_the_default_ledger_builds_its_settings(
    samples: Path,
) -> None:
    # No --ledger: the user's default ledger (a private data dir here) and the embedded
    # sandbox. Settings once got ledger=None there: a pydantic traceback instead of a cancel.
    sheet = str(samples / "collections_liberia.csv")
    first = CliRunner().invoke(main, ["collect", sheet, "--yes", "--wait", "0", "--quiet"])
    assert first.exit_code == 4, first.output
    result = CliRunner().invoke(main, ["cancel", "collections_liberia", "--json"])
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (0, 3), result.output
    assert '"batch": "collections_liberia"' in result.stdout
