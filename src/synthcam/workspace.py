"""Where everything lives in a workspace; one place so no module invents its own paths."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, WorkspaceError
from .fsutil import check_id, inside
from .store import DB_NAME, JobStore

STATUS_FILE = "generation_status.json"


@dataclass(frozen=True)
class Workspace:
    """A workspace folder: the job store, verified clips, staging, logs and the status file.

    Layout:
        synthcam.db                 the job store (SQLite, WAL)
        generation_status.json      derived from the store after every state change
        clips/<name>.mp4            verified clips only (name = <ID>_<N>s)
        clips/<name>.gt/            ground truth beside a clip, when the backend has it
        staging/<worker>/           a worker's scratch space while its backend works
        raw/<job_id>/               a job's raw output (and chunks), from generation until it lands
        logs/jobs/<job_id>.log      per-job log
        logs/workers/<worker>.log   per-worker log (backend stdout/stderr)
    """

    root: Path

    # Folders a workspace writes into: each must be a real folder inside it, never a link out.
    FOLDERS = ("clips", "staging", "logs", "gallery", "raw", "quarantine")

    @classmethod
    def at(cls, root: str | Path) -> Workspace:
        """Open a workspace to write into, creating it when new.

        A folder that already holds clips but no usable store is refused rather than treated as
        new: a new store would know nothing of those clips and the run would overwrite them.
        """
        ws = cls(Path(root).resolve())
        ws.root.mkdir(parents=True, exist_ok=True)
        ws.check_layout()
        if (not ws.db_path.is_file() or ws.db_path.stat().st_size == 0) and ws.has_clips():
            state = "is empty" if ws.db_path.is_file() else "is missing"
            raise WorkspaceError(f"{ws.db_path} {state} but {ws.clips_dir} holds clips; refusing to start a new store over "
                                 f"them. Rebuild it from the clips: move {ws.clips_dir} aside, then "
                                 f"`synthcam adopt MOVED_CLIPS -w {root}`")
        return ws

    @classmethod
    def existing(cls, root: str | Path) -> Workspace:
        """Open a workspace that must already exist; never creates anything."""
        ws = cls(Path(root).resolve())
        if not ws.root.is_dir():
            raise InputError(f"workspace {root} does not exist; run `synthcam run -w {root}` to make one")
        ws.check_layout()
        if not ws.db_path.is_file() or ws.db_path.stat().st_size == 0:
            if ws.has_clips():
                raise WorkspaceError(f"{ws.db_path} is missing or empty but {ws.clips_dir} holds clips; rebuild the "
                                     f"store with `synthcam adopt` of those clips into a fresh workspace")
            raise InputError(f"{root} is not a synthcam workspace (no {DB_NAME}); run `synthcam run -w {root}` first")
        return ws

    def check_layout(self) -> None:
        """Refuse a workspace whose own folders (or store) are links: writes would land elsewhere."""
        for name in (*self.FOLDERS, DB_NAME):
            path = self.root / name
            if path.is_symlink():
                target = os.path.realpath(path)
                raise WorkspaceError(f"{path} is a symbolic link (to {target}); a workspace's folders must be real "
                                     "folders inside it. Replace the link with a folder (or point -w at the real place)")

    def has_clips(self) -> bool:
        try:
            return any(p.suffix == ".mp4" for p in self.clips_dir.iterdir())
        except OSError:
            return False

    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    def store(self) -> JobStore:
        return JobStore(self.db_path)

    def reader(self) -> JobStore:
        """The store opened for reading only (status, logs, gallery): works on a read-only disk."""
        return JobStore(self.db_path, readonly=True)

    @property
    def status_file(self) -> Path:
        return self.root / STATUS_FILE

    @property
    def clips_dir(self) -> Path:
        return self.root / "clips"

    def clip_path(self, name: str) -> Path:
        return inside(self.clips_dir, f"{check_id(name, 'clip name')}.mp4")

    def truth_dir(self, name: str) -> Path:
        return inside(self.clips_dir, f"{check_id(name, 'clip name')}.gt")

    def staging(self, worker: str) -> Path:
        return inside(self.root / "staging", check_id(worker, "worker name"))

    def raw_dir(self, job_id: str) -> Path:
        """A job's raw backend output (and its chunks), kept from generation until it lands."""
        return inside(self.root / "raw", check_id(job_id, "job id"))

    def job_log(self, job_id: str) -> Path:
        return inside(self.root / "logs" / "jobs", f"{check_id(job_id, 'job id')}.log")

    def worker_log(self, worker: str) -> Path:
        return inside(self.root / "logs" / "workers", f"{check_id(worker, 'worker name')}.log")

    def relative(self, path: Path) -> str:
        return str(Path(path).resolve().relative_to(self.root))


def recorded_manifest(root: str | Path) -> tuple[str, str] | None:
    """(origin, text) of the manifest an existing workspace was planned from, or None.

    Never creates anything: a folder without a store has no recorded manifest.
    """
    ws = Workspace(Path(root).resolve())
    if not ws.db_path.is_file() or ws.db_path.stat().st_size == 0:
        return None
    store = ws.reader()
    try:
        return store.planned_manifest()
    finally:
        store.close()


def default_manifest(manifest: str | None, workspace: str | Path, *, replan: bool = False):
    """The manifest a command uses: the one given (-m), else the one its workspace was planned
    from, else the embedded quickstart. This is the single rule every command follows.

    With `replan` (run, adopt: commands that sync the plan) a recorded file is read again, so
    edits take effect, and one that has moved is an error that says so. Without it (commands that
    read what was planned: export, gallery, verify) the text kept in the store is used as it was.
    """
    from .errors import InputError
    from .manifest import DEFAULT_MANIFEST, EMBEDDED, load_manifest, load_manifest_text

    if manifest is not None:
        return load_manifest(manifest)
    recorded = recorded_manifest(workspace)
    if recorded is None:
        return load_manifest(DEFAULT_MANIFEST)
    origin, text = recorded
    if origin in EMBEDDED:
        return load_manifest(origin)
    if not replan:
        return load_manifest_text(text, f"{origin} (as planned in {workspace})", origin=origin)
    if not Path(origin).is_file():
        raise InputError(f"the manifest {workspace} was planned from, {origin}, has moved or been deleted; "
                         "pass -m with its new path")
    return load_manifest(origin)
