"""Atomic writes and path safety: a crash never leaves a half-written output."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import UnsafePathError

SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def check_id(value: str, what: str = "ID") -> str:
    """Accept short tokens of letters, digits, `_` and `-`, so IDs are safe file names."""
    if not isinstance(value, str) or not SAFE_ID.match(value):
        raise UnsafePathError(
            f"{what} {value!r} is not a safe token (letters, digits, '_' and '-', 1-64 chars, "
            "starting with a letter or digit)"
        )
    return value


def inside(root: Path, *parts: str) -> Path:
    """Join parts under root and refuse any result that escapes root."""
    root_resolved = Path(root).resolve()
    target = root_resolved.joinpath(*parts).resolve()
    if target != root_resolved and root_resolved not in target.parents:
        raise UnsafePathError(f"path {'/'.join(parts)!r} leaves {root}")
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _temp_prefix(final: Path) -> str:
    # The writer's pid is in the name, so a later run can tell a dead writer's leftovers from a
    # live writer's work in progress (see temp_owner).
    return f".{final.name}.p{os.getpid()}-"


_TEMP_OWNER = re.compile(r"^\..+\.(?:p(\d+)-[^/]*\.partial|old-(\d+))$")


def temp_owner(name: str) -> int | None:
    """The pid of the process that made a temporary name beside an output (`.X.p<pid>-….partial`
    or `.X.old-<pid>`), or None when the name is not one of ours or predates pids in names."""
    match = _TEMP_OWNER.match(name)
    if not match:
        return None
    return int(match.group(1) or match.group(2))


@contextlib.contextmanager
def atomic_path(final: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `final`; rename it into place only if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=_temp_prefix(final), suffix=suffix + ".partial", dir=final.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are ordinary shared files
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        _fsync_dir(final.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_text_atomic(final: Path, text: str) -> None:
    with atomic_path(final) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(final: Path, data: Any) -> None:
    write_text_atomic(final, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@contextlib.contextmanager
def atomic_dir(final: Path, scratch: Path | None = None) -> Iterator[Path]:
    """Build a folder's new contents in a temp folder, then swap it in whole.

    The temp folder (and the old contents while they are swapped out) live in `scratch`, beside
    `final` unless given: a folder whose every entry must be final (clips/) names a scratch
    folder on the same file system, so a kill -9 mid-build leaves nothing half-built in it."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    scratch = final.parent if scratch is None else Path(scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(final), suffix=".partial", dir=scratch))
    os.chmod(tmp, 0o777 & ~_umask())

    try:
        yield tmp
        old = None
        if final.exists():
            old = scratch / f".{final.name}.old-{os.getpid()}"
            os.replace(final, old)
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    """A process on this host that still runs: a zombie (killed, not yet reaped) counts as dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().split(b") ")[-1][:1] != b"Z"
    except OSError:
        return True
