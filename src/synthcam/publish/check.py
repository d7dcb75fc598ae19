"""`synthcam publish --check/--repair`, and the published counts for the status file.

A server can lose an object after it confirmed it (the old pipeline's 404s). `check` asks the
server again about every clip recorded as published; `repair` re-uploads what is missing from
local content by oid (`git lfs push --object-id`), because a plain push skips objects the
remote-tracking ref already references, even when the server has lost them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..store import JobStore
from .batch import prober_for
from .errors import RepositoryError
from .git import Git, GitCredentials
from .lfs import LfsObject, ensure_local_object
from .publish import ClipState, open_store
from .redact import mask_url
from .remote import Endpoint, resolve_endpoint

__all__ = ["CheckResult", "check", "published_counts"]


@dataclass
class CheckResult:
    clips: list[ClipState] = field(default_factory=list)  # the final word per clip
    repaired: list[ClipState] = field(default_factory=list)  # were missing, present after the repair
    endpoints: list[str] = field(default_factory=list)  # masked

    @property
    def missing(self) -> list[ClipState]:
        return [c for c in self.clips if not c.present]

    def to_json(self) -> dict[str, Any]:
        return {"endpoints": self.endpoints, "checked": len(self.clips), "present": len(self.clips) - len(self.missing),
                "missing": len(self.missing), "repaired": len(self.repaired),
                "clips": [c.to_json() for c in self.clips]}


def _repository(where: Path, required: bool) -> Git | None:
    """The work tree at `where`; checking alone works without one (the store knows the endpoints)."""
    try:
        return Git.find(where)
    except RepositoryError:
        if required:
            raise
        return None


def _endpoints(git: Git) -> dict[str, Endpoint]:
    """Each remote's endpoint in this repository, by store key (the URL may hold credentials)."""
    found: dict[str, Endpoint] = {}
    for name in git.remotes():
        endpoint = resolve_endpoint(git, name)
        found.setdefault(endpoint.key, endpoint)
    return found


def _probe(store: JobStore, rows: list[dict[str, Any]], endpoints: dict[str, Endpoint], cwd: Path) -> list[ClipState]:
    """Ask each row's server about its object and record the answer."""
    states = []
    for key in sorted({r["remote"] for r in rows}):
        endpoint = endpoints.get(key, Endpoint("", key))
        group = [r for r in rows if r["remote"] == key]
        found = prober_for(endpoint, GitCredentials(cwd)).probe(LfsObject(r["oid"], r["size"]) for r in group)
        for r in group:
            answer = found[r["oid"]]
            job = store.get(r["job_id"])
            states.append(ClipState(r["job_id"], job.name if job else Path(r["path"]).stem, r["path"], r["oid"],
                                    r["size"], answer.present, answer.detail))
            store.record_publication(r["job_id"], key, r["path"], r["oid"], r["size"], None, answer.present)
    return states


def check(workspace: Path, path: Path | None = None, remote: str | None = None, repair: bool = False,
          progress: Callable[[str], None] | None = None) -> CheckResult:
    """Ask the server again about every clip recorded as published; optionally re-upload the missing."""
    say = progress or (lambda _message: None)
    ws, store = open_store(workspace)
    with store:
        git = _repository(Path(path).resolve() if path else ws.root, required=repair or remote is not None)
        endpoints = _endpoints(git) if git else {}
        rows = store.publications()
        if remote and git:
            wanted = resolve_endpoint(git, remote).key
            rows = [r for r in rows if r["remote"] == wanted]
        result = CheckResult(endpoints=sorted({mask_url(r["remote"]) for r in rows}))
        say(f"asking {len(result.endpoints)} server(s) about {len(rows)} published clips")
        result.clips = _probe(store, rows, endpoints, git.top if git else ws.root)
        if repair and git and result.missing:
            _repair(git, store, ws.root, rows, result.missing, endpoints, say)
            lost = {(c.job_id, c.oid) for c in result.missing}
            again = _probe(store, [r for r in rows if (r["job_id"], r["oid"]) in lost], endpoints, git.top)
            by_key = {(c.job_id, c.oid): c for c in again}
            result.clips = [by_key.get((c.job_id, c.oid), c) for c in result.clips]
            result.repaired = [c for c in again if c.present]
    return result


def _repair(git: Git, store: JobStore, root: Path, rows: list[dict[str, Any]], missing: list[ClipState],
            endpoints: dict[str, Endpoint], say: Callable[[str], None]) -> None:
    """Put each missing object back in the local store if needed, then upload it by oid."""
    objects_dir = git.lfs_objects_dir()
    by_job = {(r["job_id"], r["oid"]): r for r in rows}
    for key in sorted({by_job[(c.job_id, c.oid)]["remote"] for c in missing}):
        endpoint = endpoints.get(key)
        if endpoint is None:
            say(f"cannot repair objects for {mask_url(key)}: no remote of {git.top} uploads there")
            continue
        todo = []
        for c in (c for c in missing if by_job[(c.job_id, c.oid)]["remote"] == key):
            job = store.get(c.job_id)
            sources = [git.top / c.path] + ([root / job.output] if job and job.output else [])
            if any(ensure_local_object(objects_dir, LfsObject(c.oid, c.size), s) for s in sources):
                todo.append(c)
            else:
                say(f"cannot repair {c.path}: no local copy of object {c.oid[:12]}")
        if todo:
            say(f"re-uploading {len(todo)} objects to {endpoint.shown}")
            git.lfs_push_objects(endpoint.remote, (c.oid for c in todo))


def published_counts(store: JobStore) -> dict[str, int]:
    """Verified clips of the current plan: published, missing on a server, or not published."""
    return store.published_counts()
