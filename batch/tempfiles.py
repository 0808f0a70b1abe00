"""Temporary files written beside their target and moved over it when complete, named after
the process that writes them, so a later run removes what a killed one left (issue 12)."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

# A leftover without a process id in its name (an older paybatch's) is removed once it is
# this old: no write of a report or a backup takes that long.
_LEGACY_AGE = 3600.0


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def temp_path(target: Path) -> Path:
    """A hidden, unused name beside `target` for this process: `.NAME.PID.RANDOM.tmpSUFFIX`
    (the suffix kept, as writers choose the format by it)."""
    return target.with_name(
        f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp{target.suffix}"
    )


def remove_stale(target: Path) -> list[Path]:
    """Remove the temporary files of `target` whose writer is gone; the ones removed."""
    removed: list[Path] = []
    try:
        candidates = list(target.parent.glob(f".{target.name}.*"))
    except OSError:
        return removed
    for path in candidates:
        parts = path.name[len(target.name) + 2 :].split(".")
        if parts and parts[0].isdigit():
            stale = not pid_alive(int(parts[0])) or int(parts[0]) == os.getpid()
        else:  # written by an older paybatch, whose names held no process id
            try:
                stale = time.time() - path.stat().st_mtime > _LEGACY_AGE
            except OSError:
                continue
        if stale:
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                continue
    return removed
