"""Damaged ledgers, backups, exit codes after sending, leftovers (issue 12, items 10-12).

Real SQLite files damaged byte by byte, the real CLI, the real sandbox over loopback; the
sandbox's own record says whether anything was sent.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from _report_ledger import BATCH, build
from click.testing import CliRunner

from batch.cli import main
from batch.errors import LedgerDamagedError
from batch.ledger import Ledger, NewRow
from batch.ledger.integrity import BACKUP_GENERATIONS, backup_paths
from batch.report.files import report_path
from tests.engine_helpers import QUICK_PAYOUTS, cli, env, nonzero, write_sheet

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def quick(sandbox):  # type: ignore[no-untyped-def]
    sandbox.set_faults(**QUICK_PAYOUTS)
    return sandbox


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env())
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exc_info
    )
    return result.exit_code, result.stdout, result.stderr


def _replace(path: Path, old: bytes, new: bytes) -> None:
    """Change bytes of the ledger file in place (same length: only values, not layout)."""
    assert len(old) == len(new)
    data = path.read_bytes()
    assert data.count(old) >= 1, old
    path.write_bytes(data.replace(old, new))


def _small_ledger(path: Path) -> int:
    with Ledger(path) as ledger:
        batch_id = ledger.create_batch(
            name="nov", source_file="nov.csv", content_hash="c" * 64, payout_set_hash="p" * 64,
            rows=[NewRow(sheet_row=2, name="Zuwena Kpoto", phone="231770000102",
                         amount_minor=1500, currency="USD", country="LR",
                         reference_id=str(uuid.uuid4()))],
        )
        row = ledger.rows(batch_id)[0]
        ledger.set_row_prediction(row.id, operator="MTN", method="MTN_MOMO_LBR",
                                  provider="PAWAPAY", predicted_fee=Decimal("7.77"),
                                  fee_currency="USD")
    return batch_id


def _one_line(err: str, *fragments: str) -> None:
    """stderr holds one error line (progress lines may come before it), no traceback."""
    errors = [line for line in err.splitlines() if line.startswith("paybatch: error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in errors[0], err


NOT_UTF8 = (b"Zuwena Kpoto", b"Zuwena Kp\xff\xfeo", "a stored value")
NO_DECIMAL = (b"7.77", b"7.7x", "rows")


@pytest.mark.parametrize(
    ("old", "new", "where", "command"),
    [
        (*NOT_UTF8, "report"),
        (*NOT_UTF8, "status nov"),
        (*NO_DECIMAL, "report"),
        (*NO_DECIMAL, "status nov"),
        (*NO_DECIMAL, "status"),  # the list reads every batch's fees, not the names
    ],
)
def test_a_damaged_value_is_one_clear_message(
    tmp_path: Path, old: bytes, new: bytes, where: str, command: str
) -> None:
    ledger = tmp_path / "paybatch.db"
    _small_ledger(ledger)
    _replace(ledger, old, new)
    args = command.split() + (["nov"] if command == "report" else [])
    code, _, err = _invoke(*args, "--ledger", str(ledger))
    assert code == 1
    _one_line(err, f"ledger {ledger} is damaged at {where}", "restore a backup", "README")


def test_a_damaged_page_is_found_on_opening(tmp_path: Path) -> None:
    ledger = build(tmp_path / "paybatch.db").path
    data = bytearray(ledger.read_bytes())
    page = 4096
    for offset in range(2 * page, len(data), page):  # every page's header after the schema
        data[offset : offset + 8] = b"\x55" * 8
    ledger.write_bytes(bytes(data))
    with pytest.raises(LedgerDamagedError, match="damaged at its file (header|structure)"):
        Ledger(ledger)
    code, _, err = _invoke("status", BATCH, "--ledger", str(ledger))
    assert code == 1
    _one_line(err, "is damaged at its file")


def test_a_file_that_is_no_database_is_damaged(tmp_path: Path) -> None:
    ledger = build(tmp_path / "paybatch.db").path
    data = bytearray(ledger.read_bytes())
    data[0:16] = b"not a database!!"
    ledger.write_bytes(bytes(data))
    code, _, err = _invoke("status", "--ledger", str(ledger))
    assert code == 1
    _one_line(err, "is damaged at its file header")


def test_run_sends_nothing_from_a_damaged_ledger(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 3)
    code, _, _ = cli(["plan", str(sheet)], quick.base_url, ledger)
    assert code == 0
    _replace(ledger, b"Person 1", b"Pers\xffn 1")
    code, out, err = cli(["run", "nov", "--yes"], quick.base_url, ledger)
    assert code == 1 and out["error_type"] == "LedgerDamagedError"
    _one_line(err, "is damaged at")
    assert quick.executions() == []  # the sandbox's own record: nothing was sent


def test_each_run_keeps_a_backup_and_a_backup_restores(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 2)
    for _ in range(BACKUP_GENERATIONS + 1):
        code, out, _ = cli(["run", str(sheet), "--yes"], quick.base_url, ledger)
        assert code == 0 and nonzero(out["counts"]) == {"COMPLETED": 2}
    backups = backup_paths(ledger)
    assert all(p.is_file() for p in backups)
    assert not ledger.with_name(f"{ledger.name}.backup-{BACKUP_GENERATIONS + 1}").exists()
    assert oct(backups[0].stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    with Ledger(backups[0], migrate=False) as copy:
        assert copy.counts(out["batch_id"]) == {"COMPLETED": 2}

    # Damage, then restore as README "Restoring the ledger" says.
    _replace(ledger, b"Person 1", b"Pers\xffn 1")
    code, _, err = _invoke("status", "nov", "--ledger", str(ledger))
    assert code == 1 and f"{backups[0]} is the newest" in err
    for side in ("-wal", "-shm"):
        Path(f"{ledger}{side}").unlink(missing_ok=True)
    shutil.copy2(backups[0], ledger)
    code, out, _ = cli(["run", "nov", "--yes"], quick.base_url, ledger)
    assert code == 0 and nonzero(out["counts"]) == {"COMPLETED": 2}
    assert len(quick.executions(status="COMPLETED")) == 2  # nobody paid twice


def test_a_ledger_failure_after_a_payout_left_exits_4(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 3)
    code, _, _ = cli(["plan", str(sheet)], quick.base_url, ledger)
    assert code == 0
    # A real SQLite failure on the first write after an execute has left (as a full disk
    # makes one): the row's answer cannot be recorded.
    conn = sqlite3.connect(ledger)
    conn.execute(
        "CREATE TRIGGER disk_full BEFORE UPDATE OF state ON rows "
        "WHEN NEW.state IN ('SUBMITTED', 'COMPLETED', 'UNKNOWN', 'FAILED') "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )
    conn.close()
    code, out, err = cli(["run", "nov", "--yes", "--concurrency", "1"], quick.base_url, ledger)
    assert len(quick.executions()) >= 1  # money moved
    assert code == 4 and out["exit_code"] == 4 and out["error_type"] == "StoppedAfterSendingError"
    _one_line(err, "stopped after payouts were sent", "database or disk is full", "run the same")


def test_a_failure_before_any_send_still_exits_1(quick, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sheet, ledger = tmp_path / "nov.csv", tmp_path / "l.db"
    write_sheet(sheet, 2)
    code, _, _ = cli(["plan", str(sheet)], quick.base_url, ledger)
    conn = sqlite3.connect(ledger)
    conn.execute(
        "CREATE TRIGGER disk_full BEFORE UPDATE OF state ON rows "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )
    conn.close()
    code, out, err = cli(["run", "nov", "--yes"], quick.base_url, ledger)
    assert quick.executions() == []
    assert code == 1 and out["error_type"] == "LedgerError"
    _one_line(err, "database or disk is full")


# -- leftovers and report names ---------------------------------------------------------------


def test_report_removes_temp_files_of_writers_that_are_gone(tmp_path: Path) -> None:
    built = build(tmp_path / "paybatch.db")
    target = report_path(built.path, BATCH)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    leftover = target.with_name(f".{target.name}.{dead}.0a1b2c3d.tmp.xlsx")
    old_style = target.with_name(f".{target.name}.k2j4h5g6.xlsx")  # before issue 12
    alive = target.with_name(f".{target.name}.1.0a1b2c3d.tmp.xlsx")  # pid 1 runs
    for path in (leftover, old_style, alive):
        path.write_bytes(b"half a workbook")
    hour_ago = time.time() - 7200
    os.utime(old_style, (hour_ago, hour_ago))
    code, out, _ = _invoke("report", BATCH, "--ledger", str(built.path))
    assert code == 0 and out.strip() == str(target)
    assert not leftover.exists() and not old_style.exists()
    assert alive.exists()  # its writer may still be writing


def test_two_ledgers_in_one_folder_keep_their_own_reports(tmp_path: Path) -> None:
    first, second = build(tmp_path / "a.db"), build(tmp_path / "a.sqlite")
    written = []
    for built in (first, second):
        code, out, _ = _invoke("report", BATCH, "--ledger", str(built.path))
        assert code == 0
        written.append(Path(out.strip()))
    assert written[0] != written[1] and all(p.is_file() for p in written)
    assert written[0].name.startswith(f"{BATCH}.a-") and written[0].name.endswith(".report.xlsx")
    # Two batch names that make the same file name: two files.
    assert report_path(first.path, "nov 1") != report_path(first.path, "nov_1")
    assert report_path(first.path, "nov 1") == report_path(first.path, "nov 1")


def test_damaged_ledger_as_a_cron_subprocess(tmp_path: Path) -> None:
    ledger = tmp_path / "paybatch.db"
    _small_ledger(ledger)
    _replace(ledger, b"7.77", b"7.7x")
    done = subprocess.run(
        [sys.executable, "-m", "batch", "report", "nov", "--ledger", str(ledger)],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert done.returncode == 1
    _one_line(done.stderr, "is damaged at rows")


# -- a read-only file system under the embedded sandbox ---------------------------------------


@pytest.fixture
def read_only_folder(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A real tmpfs that the test remounts read-only (needs root and mount rights)."""
    folder = tmp_path / "mnt"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(folder)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root and mount rights)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def _paybatch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    run_env = {k: v for k, v in os.environ.items() if not k.startswith(("DOLLR_", "PAYBATCH_"))}
    run_env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "batch", *args], capture_output=True, text=True,
                          cwd=cwd, env=run_env, timeout=300)


def test_read_only_file_system_under_the_embedded_sandbox(read_only_folder: Path) -> None:
    sheet = read_only_folder / "nov.csv"
    write_sheet(sheet, 2)
    ledger = read_only_folder / "l.db"
    done = _paybatch("plan", str(sheet), "--ledger", str(ledger), cwd=read_only_folder)
    assert done.returncode == 0, done.stderr
    subprocess.run(["mount", "-o", "remount,ro", str(read_only_folder)], check=True)
    for args in (["run", str(sheet), "--yes"], ["status"], ["report", "nov"]):
        done = _paybatch(*args, "--ledger", str(ledger), cwd=read_only_folder)
        assert done.returncode == 1, done.stderr
        _one_line(done.stderr, "a read-only file system?")
