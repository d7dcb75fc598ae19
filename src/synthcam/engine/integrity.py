"""Every verified clip is still on disk, unchanged: checked at the start of `run` and by `status`.

The store says a clip is verified; the file system can disagree (a clip deleted by hand, bytes
swapped, a link planted in its place). A verified job whose file is gone or changed can never be
made again unless the store learns of it, so this pass compares each final file with its record
cheaply (a stat: size and mtime) and re-hashes only those whose stat changed. A clip that is
missing or changed returns to pending with an event in its log; a changed file is moved to
`quarantine/` (never deleted: it is the user's), so no final path holds an unverified file.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..store import JobStore
from ..workspace import Workspace


@dataclass
class Integrity:
    checked: int = 0
    hashed: int = 0
    missing: list[str] = field(default_factory=list)     # clip names
    changed: list[str] = field(default_factory=list)
    requeued: int = 0

    @property
    def ok(self) -> bool:
        return not self.missing and not self.changed

    def summary(self) -> str:
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} missing ({', '.join(self.missing[:5])}{' ...' if len(self.missing) > 5 else ''})")
        if self.changed:
            parts.append(f"{len(self.changed)} changed ({', '.join(self.changed[:5])}{' ...' if len(self.changed) > 5 else ''})")
        return "verified clips " + " and ".join(parts) if parts else f"{self.checked} verified clips intact"


def _state_of(path: Path) -> tuple[str, os.stat_result | None]:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return "missing", None
    except OSError:
        return "changed", None
    if not stat.S_ISREG(st.st_mode):
        return "changed", st  # a link or a folder where a verified file was
    return "present", st


def check_verified(ws: Workspace, store: JobStore, *, repair: bool) -> Integrity:
    """Compare every verified file with its record; with `repair`, requeue the ones that differ."""
    report = Integrity()
    for job_id, name, output, sha256, size, mtime_ns in store.verified_files():
        report.checked += 1
        path = ws.root / (output or f"clips/{name}.mp4")
        state, st = _state_of(path)
        if state == "present" and st is not None:
            if st.st_size == size and st.st_mtime_ns == mtime_ns:
                continue
            report.hashed += 1
            from ..verify.file import sha256_file  # only when a stat changed: the verifier's stack is heavy

            if st.st_size == size and sha256_file(path)[0] == sha256:
                if repair:  # same bytes, touched: remember the new stat so the next check is cheap
                    store.note_file_stat(job_id, st.st_mtime_ns)
                continue
            state = "changed"
        (report.missing if state == "missing" else report.changed).append(name)
        if repair:
            if state == "changed":
                _quarantine(ws, name, path)
            detail = ("its verified file is gone" if state == "missing"
                      else "its file no longer matches the verified sha256 (moved to quarantine/)")
            if store.invalidate(job_id, f"file_{state}", f"{path.relative_to(ws.root)}: {detail}; regenerating"):
                report.requeued += 1
    return report


def _quarantine(ws: Workspace, name: str, path: Path) -> None:
    stamp = time.strftime("%Y%m%dT%H%M%S")
    target = ws.root / "quarantine"
    target.mkdir(parents=True, exist_ok=True)
    for src in (path, ws.truth_dir(name)):
        if src.exists() or src.is_symlink():
            shutil.move(str(src), str(target / f"{src.name}.{stamp}"))
