"""`synthcam publish --check/--repair`, and the published counts for the status file.

A server can lose an object after it confirmed it (the old pipeline's 404s). `check` asks the
server again about every clip recorded as published; `repair` re-uploads what is missing from
local content by oid (`git lfs push --object-id`), because a plain push skips objects the
remote-tracking ref already references, even when the server has lost them.

Presence is only the server's word. With `sample=N` (a seeded random sample of the objects)
or `deep` (all of them), each object is also downloaded through the Batch API and re-hashed
as it streams (batch.py: memory stays flat). Bytes that do not hash to the oid are `corrupt`:
the clip is recorded as not published, and `repair` replaces them from the verified local file
when the server lets it. A server asks for an upload only of objects it does not hold (the
Batch API omits the action for an oid it has at that size), so a server that keeps corrupt
bytes of the right size cannot be repaired through the LFS API: we say so, and what to do.
A `file://` remote's object folder is ours to write, so its corrupt objects are replaced in
place (atomically).
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..store import JobStore
from .batch import FileStoreProbe, Integrity, prober_for
from .errors import RepositoryError
from .git import Git, GitCredentials
from .lfs import LfsObject, ensure_local_object, object_of, object_path
from .publish import ClipState, open_store
from .redact import mask_url
from .remote import Endpoint, resolve_endpoint

__all__ = ["CheckResult", "ReadBack", "check", "published_counts"]

Key = tuple[str, str]  # (store key of the endpoint, oid)


@dataclass
class ReadBack:
    """Which objects were downloaded and re-hashed, so a sample can be drawn again."""

    mode: str  # "sample" or "deep"
    sample: int | None
    seed: int | None
    objects: int = 0
    bytes: int = 0
    of: int = 0  # present objects it was drawn from

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "sample": self.sample, "seed": self.seed, "objects": self.objects,
                "bytes": self.bytes, "of": self.of}


@dataclass
class CheckResult:
    clips: list[ClipState] = field(default_factory=list)  # the final word per clip
    repaired: list[ClipState] = field(default_factory=list)  # were missing or corrupt, good after the repair
    endpoints: list[str] = field(default_factory=list)  # masked
    read: ReadBack | None = None

    @property
    def missing(self) -> list[ClipState]:
        return [c for c in self.clips if not c.present and not c.corrupt]

    @property
    def corrupt(self) -> list[ClipState]:
        return [c for c in self.clips if c.corrupt]

    @property
    def failed(self) -> bool:
        return any(not c.present for c in self.clips)

    def to_json(self) -> dict[str, Any]:
        present = sum(c.present for c in self.clips)
        return {"endpoints": self.endpoints, "checked": len(self.clips), "present": present,
                "missing": len(self.missing), "corrupt": len(self.corrupt), "repaired": len(self.repaired),
                "read": self.read.to_json() if self.read else None, "clips": [c.to_json() for c in self.clips]}


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


def _record(store: JobStore, key: str, state: ClipState) -> None:
    store.record_publication(state.job_id, key, state.path, state.oid, state.size, None, state.present)


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
            state = ClipState(r["job_id"], job.name if job else Path(r["path"]).stem, r["path"], r["oid"],
                              r["size"], answer.present, answer.detail)
            states.append(state)
            _record(store, key, state)
    return states


def _choose(states: list[ClipState], rows: list[dict[str, Any]], sample: int | None, seed: int | None,
            ) -> tuple[list[tuple[str, LfsObject]], int]:
    """The objects to read back: all present ones, or a sample of them drawn with `seed`."""
    remote = {(r["job_id"], r["oid"]): r["remote"] for r in rows}
    present = sorted({(remote[(s.job_id, s.oid)], LfsObject(s.oid, s.size)) for s in states if s.present})
    if sample is None or sample >= len(present):
        return present, len(present)
    return sorted(random.Random(seed).sample(present, sample)), len(present)


def _read_back(chosen: list[tuple[str, LfsObject]], endpoints: dict[str, Endpoint], cwd: Path,
               say: Callable[[str], None]) -> dict[Key, Integrity]:
    found: dict[Key, Integrity] = {}
    for key in sorted({k for k, _ in chosen}):
        endpoint = endpoints.get(key, Endpoint("", key))
        objects = [o for k, o in chosen if k == key]
        say(f"reading {len(objects)} objects ({sum(o.size for o in objects)} bytes) back from {endpoint.shown}")
        reader = prober_for(endpoint, GitCredentials(cwd))
        found.update({(key, oid): i for oid, i in reader.read_back(objects).items()})
    return found


def _judge(store: JobStore, rows: list[dict[str, Any]], states: list[ClipState],
           read: dict[Key, Integrity]) -> list[ClipState]:
    """Each clip after its object was read back: corrupt or missing ones are recorded as not published."""
    remote = {(r["job_id"], r["oid"]): r["remote"] for r in rows}
    out = []
    for state in states:
        key = remote[(state.job_id, state.oid)]
        result = read.get((key, state.oid))
        if result is not None and not result.ok:
            state = replace(state, present=False, corrupt=result.status == "corrupt", detail=result.detail)
            _record(store, key, state)
        out.append(state)
    return out


def _check_args(sample: int | None, deep: bool, seed: int | None) -> None:
    if sample is not None and deep:
        raise InputError("--sample and --deep both choose what to read back: --deep reads every object")
    if sample is not None and sample < 1:
        raise InputError(f"--sample takes how many objects to read back (at least 1), got {sample}")
    if seed is not None and sample is None:
        raise InputError("--seed draws the --sample: pass --sample N with it")


def check(workspace: Path, path: Path | None = None, remote: str | None = None, repair: bool = False,
          progress: Callable[[str], None] | None = None, sample: int | None = None, deep: bool = False,
          seed: int | None = None) -> CheckResult:
    """Ask the server again about every clip recorded as published; optionally read objects back
    (`sample` of them, drawn with `seed`, or all with `deep`) and re-upload what is missing or corrupt."""
    _check_args(sample, deep, seed)
    say = progress or (lambda _message: None)
    ws, store = open_store(workspace)
    with store:
        git = _repository(Path(path).resolve() if path else ws.root, required=repair or remote is not None)
        endpoints = _endpoints(git) if git else {}
        cwd = git.top if git else ws.root
        rows = store.publications()
        if remote and git:
            wanted = resolve_endpoint(git, remote).key
            rows = [r for r in rows if r["remote"] == wanted]
        result = CheckResult(endpoints=sorted({mask_url(r["remote"]) for r in rows}))
        say(f"asking {len(result.endpoints)} server(s) about {len(rows)} published clips")
        result.clips = _probe(store, rows, endpoints, cwd)
        if deep or sample is not None:
            if sample is not None and seed is None:
                seed = secrets.randbelow(1 << 32)
            chosen, of = _choose(result.clips, rows, sample, seed)
            read = _read_back(chosen, endpoints, cwd, say)
            result.clips = _judge(store, rows, result.clips, read)
            result.read = ReadBack("deep" if deep else "sample", sample, seed, len(read),
                                   sum(i.read for i in read.values()), of)
        broken = [c for c in result.clips if not c.present]
        if repair and git and broken:
            notes = _repair(git, store, ws.root, rows, broken, endpoints, say)
            keys = {(c.job_id, c.oid) for c in broken}
            again_rows = [r for r in rows if (r["job_id"], r["oid"]) in keys]
            again = _probe(store, again_rows, endpoints, git.top)
            if result.read is not None or any(c.corrupt for c in broken):  # prove the new bytes too
                chosen, _ = _choose(again, again_rows, None, None)
                again = _judge(store, again_rows, again, _read_back(chosen, endpoints, git.top, say))
            remote_of = {(r["job_id"], r["oid"]): r["remote"] for r in rows}
            again = [replace(c, detail=notes.get((remote_of[(c.job_id, c.oid)], c.oid), c.detail))
                     if not c.present else c for c in again]
            by_key = {(c.job_id, c.oid): c for c in again}
            result.clips = [by_key.get((c.job_id, c.oid), c) for c in result.clips]
            result.repaired = [c for c in again if c.present]
    return result


def _repair(git: Git, store: JobStore, root: Path, rows: list[dict[str, Any]], broken: list[ClipState],
            endpoints: dict[str, Endpoint], say: Callable[[str], None]) -> dict[Key, str]:
    """Put each broken object back in the local store if needed, then upload it by oid.

    A corrupt object goes up only where the server asks for it again (see the module docstring);
    in a file remote's folder it is replaced in place. Returns why objects could not be repaired.
    """
    notes: dict[Key, str] = {}

    def cannot(key: str, oid: str, why: str) -> None:
        notes[(key, oid)] = f"cannot repair: {why}"
        say(f"cannot repair object {oid[:12]}: {why}")

    objects_dir = git.lfs_objects_dir()
    by_job = {(r["job_id"], r["oid"]): r for r in rows}
    for key in sorted({by_job[(c.job_id, c.oid)]["remote"] for c in broken}):
        endpoint = endpoints.get(key)
        if endpoint is None:
            for c in broken:
                if by_job[(c.job_id, c.oid)]["remote"] == key:
                    cannot(key, c.oid, f"no remote of {git.top} uploads to {mask_url(key)}")
            continue
        todo: dict[LfsObject, ClipState] = {}
        for c in (c for c in broken if by_job[(c.job_id, c.oid)]["remote"] == key):
            job = store.get(c.job_id)
            sources = [git.top / c.path] + ([root / job.output] if job and job.output else [])
            obj = LfsObject(c.oid, c.size)
            local = object_path(objects_dir, obj.oid)  # re-hashed: a repair must not upload a bad local copy
            if (local.is_file() and object_of(local) == obj) or any(
                    ensure_local_object(objects_dir, obj, s, replace=True) for s in sources):
                todo.setdefault(obj, c)
            else:
                cannot(key, c.oid, f"no local copy of the object ({c.path} is not its verified content)")
        corrupt = [o for o, c in todo.items() if c.corrupt]
        if corrupt and endpoint.is_file:
            store_probe = FileStoreProbe(endpoint)
            for obj in corrupt:
                store_probe.replace(obj, object_path(objects_dir, obj.oid))
            say(f"replaced {len(corrupt)} corrupt objects in {endpoint.shown}")
            todo = {o: c for o, c in todo.items() if not c.corrupt}
        elif corrupt:
            claimed = prober_for(endpoint, GitCredentials(git.top)).probe(corrupt)
            for obj in (o for o in corrupt if claimed[o.oid].present):
                cannot(key, obj.oid, f"the server at {endpoint.shown} serves wrong bytes for it yet says it holds "
                       "it, so it offers no upload (the LFS API cannot replace an object a server holds): remove "
                       "the object from the server's storage, then run --repair again")
                del todo[obj]
        if todo:
            say(f"re-uploading {len(todo)} objects to {endpoint.shown}")
            git.lfs_push_objects(endpoint.remote, (o.oid for o in todo))
    return notes


def published_counts(store: JobStore) -> dict[str, int]:
    """Verified clips of the current plan: published, missing on a server, or not published."""
    return store.published_counts()
