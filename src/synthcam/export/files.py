"""Regular files only: what export copies and publish stages.

A symlink planted in a ground-truth folder (`clips/P01_5s.gt/x -> /etc/passwd`) must never
make `export` copy its target nor `publish` push it. So every file we hand on is looked at
with lstat (the link itself, never what it points to), folders are walked without following
links, and files are opened with O_NOFOLLOW and checked again on the open descriptor, so a
link swapped in between the look and the open is still refused. Anything that is not a
regular file (or a folder of them) is refused by name: links, FIFOs, sockets, devices.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError

__all__ = ["Irregular", "SAFE_PART", "irregular", "open_regular", "read_regular", "walk_regular"]

# One part of a path we write under an output folder: a plain, visible file or folder name.
SAFE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")


@dataclass(frozen=True)
class Irregular:
    """Something where a regular file was expected, and what it is instead."""

    path: Path
    kind: str

    def __str__(self) -> str:
        return f"{self.path} is a {self.kind}, not a regular file: refused (export and publish copy regular files only)"


def _kind(path: Path, st: os.stat_result) -> str | None:
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        try:
            return f"symbolic link (to {os.readlink(path)!r})"
        except OSError:
            return "symbolic link"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "device"


def irregular(path: Path) -> Irregular | None:
    """None for a regular file; otherwise what `path` is (a missing path is the caller's business)."""
    kind = _kind(path, os.lstat(path))
    return Irregular(path, kind) if kind else None


def walk_regular(root: Path) -> tuple[list[Path], list[Irregular]]:
    """The regular files under `root` (sorted) and everything else found there; never follows a link.

    `root` may itself be a regular file. A link anywhere, the root included, is reported, not
    entered, and so are FIFOs, sockets and devices.
    """
    root = Path(root)
    st = os.lstat(root)
    if not stat.S_ISDIR(st.st_mode):
        kind = _kind(root, st)
        return ([], [Irregular(root, kind)]) if kind else ([root], [])
    files: list[Path] = []
    bad: list[Irregular] = []
    for top, dirs, names in os.walk(root, followlinks=False):
        base = Path(top)
        for name in sorted(dirs):
            path = base / name
            if os.path.islink(path):  # os.walk lists links to folders as folders; never enter them
                bad.append(Irregular(path, _kind(path, os.lstat(path)) or "symbolic link"))
        dirs[:] = sorted(d for d in dirs if not os.path.islink(base / d))
        for name in sorted(names):
            path = base / name
            kind = _kind(path, os.lstat(path))
            if kind:
                bad.append(Irregular(path, kind))
            else:
                files.append(path)
    return sorted(files), sorted(bad, key=lambda b: b.path)


def open_regular(path: Path) -> BinaryIO:
    """Open a regular file for reading, refusing a symlink (O_NOFOLLOW) or anything else (fstat)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(str(Irregular(Path(path), _kind(Path(path), os.lstat(path)) or "symbolic link"))) from None
        raise
    try:
        kind = _kind(Path(path), os.fstat(fd))
        if kind:
            raise InputError(str(Irregular(Path(path), kind)))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: Path) -> bytes:
    with open_regular(path) as fh:
        return fh.read()
