"""Where everything lives in a workspace; one place so no module invents its own paths."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
        staging/<worker>/           backend outputs before post-processing and verification
        logs/jobs/<job_id>.log      per-job log
        logs/workers/<worker>.log   per-worker log (backend stdout/stderr)
    """

    root: Path

    @classmethod
    def at(cls, root: str | Path) -> Workspace:
        ws = cls(Path(root).resolve())
        ws.root.mkdir(parents=True, exist_ok=True)
        return ws

    @classmethod
    def existing(cls, root: str | Path) -> Workspace:
        """Open a workspace that must already exist; never creates anything."""
        from .errors import InputError

        ws = cls(Path(root).resolve())
        if not ws.db_path.is_file():
            raise InputError(f"{root} is not a synthcam workspace (no {DB_NAME}); run `synthcam run -w {root}` first")
        return ws

    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    def store(self) -> JobStore:
        return JobStore(self.db_path)

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

    def job_log(self, job_id: str) -> Path:
        return inside(self.root / "logs" / "jobs", f"{check_id(job_id, 'job id')}.log")

    def worker_log(self, worker: str) -> Path:
        return inside(self.root / "logs" / "workers", f"{check_id(worker, 'worker name')}.log")

    def relative(self, path: Path) -> str:
        return str(Path(path).resolve().relative_to(self.root))
