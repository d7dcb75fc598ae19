"""`synthcam publish`: commit verified clips to Git LFS, push, and prove the server holds them.

The old pipeline pushed with `--no-verify` and committed 496 pointers whose objects never
reached the server. Here a clip counts as published only when the server itself says it holds
the clip's object (oid and size), asked through the Batch API after the push.

A refusal stops the whole publish before any side effect: a clip that is not a `done` job, whose
file no longer has the verified sha256, or whose working-tree file is a pointer stub (as is any
other pointer stub that would be staged). In an export folder every `*.mp4` must be a verified
clip (found by its sha256), except ground truth under a `ground_truth/` or `<clip>.gt/` folder.
Only regular files are staged: a symlink, FIFO or device anywhere among them (a link planted in
`<clip>.gt/` to /etc/passwd) is refused by name, and no link is followed (export.files).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..export.files import Irregular, irregular, walk_regular
from ..store import Job, JobStore
from ..workspace import Workspace
from .batch import Presence, prober_for
from .errors import GitError, PublishError, PublishRefused, Refusal, RepositoryError
from .git import Git, GitCredentials
from .lfs import LfsObject, ensure_local_object, object_of, pointer_in, read_pointer
from .remote import resolve_endpoint

__all__ = ["Clip", "ClipState", "PublishResult", "open_store", "publish"]

SIDECAR_SUFFIX = ".gt"  # the workspace: clips/<name>.gt/
SIDECAR_DIR = "ground_truth"  # an export: <scenario>/media/001.mp4 + <scenario>/ground_truth/
ATTRIBUTES = ".gitattributes"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Clip:
    """A verified clip about to be published, and the ground truth that goes with it."""

    job_id: str
    name: str
    series: str
    duration_s: int
    path: Path
    obj: LfsObject  # the content the store verified, re-hashed just now
    sidecars: tuple[Path, ...] = ()


@dataclass(frozen=True)
class ClipState:
    """One clip after a publish or a check: is its object (and its ground truth's) on the server?"""

    job_id: str
    name: str
    path: str  # in the repository
    oid: str
    size: int
    present: bool
    detail: str = ""
    corrupt: bool = False  # the server's bytes were read back and are not the object

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PublishResult:
    remote: str
    endpoint: str  # masked: never carries credentials
    branch: str
    commit: str | None
    committed: bool
    uploaded: int  # objects the server lacked and were sent
    uploaded_bytes: int
    clips: list[ClipState] = field(default_factory=list)
    others: list[ClipState] = field(default_factory=list)  # LFS objects that belong to no one clip

    @property
    def missing(self) -> list[ClipState]:
        return [c for c in self.clips + self.others if not c.present]

    @property
    def published(self) -> int:
        return sum(c.present for c in self.clips)

    def to_json(self) -> dict[str, Any]:
        return {"remote": self.remote, "endpoint": self.endpoint, "branch": self.branch, "commit": self.commit,
                "committed": self.committed, "uploaded": self.uploaded, "uploaded_bytes": self.uploaded_bytes,
                "clips": len(self.clips), "published": self.published, "missing": len(self.missing),
                "objects": [c.to_json() for c in self.clips + self.others]}


def open_store(workspace: Path) -> tuple[Workspace, JobStore]:
    """The workspace's store, refusing to create one where none exists."""
    ws = Workspace(Path(workspace).resolve())
    if not ws.db_path.is_file():
        raise InputError(f"no job store at {ws.db_path}: pass --workspace, the folder `synthcam run` works in")
    return ws, JobStore(ws.db_path)


# --- which clips, and may they be published -------------------------------------------------


def _short(oid: str) -> str:
    return oid[:12]


def _pointer_reason(path: Path) -> str | None:
    pointer = read_pointer(path)
    if pointer is None:
        return None
    what = f"oid {_short(pointer.oid)}, {pointer.size} bytes" if pointer.oid else "malformed"
    return (f"the working tree holds a Git LFS pointer stub ({what}), not the content: "
            "run `git lfs pull` to fetch it, or regenerate the clip")


def _verified(job: Job, path: Path, rel: str, sidecars: tuple[Path, ...], obj: LfsObject | None = None,
              ) -> Clip | Refusal:
    if not path.is_file():
        return Refusal(job.name, rel, "the verified file is not in the working tree")
    if reason := _pointer_reason(path):
        return Refusal(job.name, rel, reason)
    obj = obj or object_of(path)
    if obj.oid != job.sha256:
        return Refusal(job.name, rel, f"changed since verification: sha256 {_short(obj.oid)}, the store verified "
                                      f"{_short(job.sha256 or '-')}; re-run verification or regenerate it")
    return Clip(job.job_id, job.name, job.series, job.duration_s, path, obj, sidecars)


def _sidecars(path: Path, folder: Path | None = None) -> tuple[Path, ...]:
    """Ground truth that goes with a clip: `<name>.gt/` beside it, or in an export folder a
    `ground_truth/` folder beside it or beside its parent. A link there counts (and is refused)."""
    found = [path.with_name(path.stem + SIDECAR_SUFFIX)]
    if folder is not None:
        found += [p / SIDECAR_DIR for p in (path.parent, path.parent.parent) if p == folder or folder in p.parents]
    return tuple(p for p in found if p.is_dir() or p.is_symlink())


def _link_refusal(bad: Irregular, top: Path, name: str | None = None) -> Refusal:
    try:
        rel = Path(os.path.abspath(bad.path)).relative_to(top).as_posix()  # the link itself, not its target
    except ValueError:
        rel = str(bad.path)
    return Refusal(name or bad.path.name, rel, f"a {bad.kind}, not a regular file: publish stages regular files "
                                               "only and never follows a link")


def _workspace_clips(ws: Workspace, jobs: list[Job], top: Path) -> list[Clip | Refusal]:
    out: list[Clip | Refusal] = []
    for job in jobs:
        path = ws.root / job.output if job.output else ws.clip_path(job.name)
        if os.path.lexists(path) and (bad := irregular(path)):
            out.append(_link_refusal(bad, top, job.name))
            continue
        out.append(_verified(job, path, _rel(path, top), _sidecars(path)))
    return out


def _in_sidecar(path: Path, folder: Path) -> bool:
    return any(p.name.endswith(SIDECAR_SUFFIX) or p.name == SIDECAR_DIR for p in path.relative_to(folder).parents)


def _folder_clips(folder: Path, files: list[Path], jobs: list[Job], top: Path) -> list[Clip | Refusal]:
    by_sha = {j.sha256: j for j in jobs if j.sha256}
    by_name = {j.name: j for j in jobs}
    out: list[Clip | Refusal] = []
    for path in files:
        if path.suffix.lower() != ".mp4" or _in_sidecar(path, folder):
            continue
        rel = _rel(path, top)
        if reason := _pointer_reason(path):
            out.append(Refusal(path.stem, rel, reason))
            continue
        obj = object_of(path)
        job = by_sha.get(obj.oid) or by_name.get(path.stem)
        if job is None:
            out.append(Refusal(path.stem, rel, "not verified: no done job has this content or this name"))
            continue
        out.append(_verified(job, path, rel, _sidecars(path, folder), obj))
    return out


def _walk(roots: Iterable[Path], top: Path) -> tuple[list[Path], list[Refusal]]:
    """Every regular file under the roots, and a refusal for anything else found there."""
    files: list[Path] = []
    refusals: list[Refusal] = []
    for root in roots:
        found, bad = walk_regular(root)
        files += found
        refusals += [_link_refusal(b, top) for b in bad]
    return sorted(set(files)), refusals


def _stub_refusals(files: Iterable[Path], clips: set[Path], top: Path) -> list[Refusal]:
    """Any other file that would be staged as a pointer stub is the old bug too."""
    return [Refusal(f.name, _rel(f, top), reason) for f in files
            if f not in clips and f.stat().st_size < 1024 and (reason := _pointer_reason(f))]


def _rel(path: Path, top: Path) -> str:
    try:
        return path.resolve().relative_to(top).as_posix()
    except ValueError:
        raise RepositoryError(f"{path} is outside the git work tree {top}") from None


# --- git and LFS ------------------------------------------------------------------------------


def _ensure_lfs(git: Git, files: list[str]) -> list[str]:
    """Filter and hooks installed, every mp4 tracked by LFS; returns `.gitattributes` if it needs staging."""
    if not git.lfs_available():
        raise GitError("git-lfs is not installed: apt-get install git-lfs")
    if not git.config("filter.lfs.process") or not git.hook_path("pre-push").is_file():
        try:
            git.lfs("install", "--local")
        except GitError:
            # A pre-push hook of the user's own stays; we upload by oid anyway. Without the
            # filter, though, clips would be committed as plain blobs.
            if not git.config("filter.lfs.process"):
                raise
    mp4s = [f for f in files if f.lower().endswith(".mp4")]
    if any(v != "lfs" for v in git.attributes("filter", mp4s).values()):
        git.lfs("track", "*.mp4")
    return [ATTRIBUTES] if (git.top / ATTRIBUTES).is_file() and git.status_porcelain(ATTRIBUTES) else []


def _staged_objects(git: Git, paths: list[str], clips: dict[str, Clip]) -> dict[str, LfsObject]:
    """The LFS object of every staged pointer; each clip must be its verified content's pointer."""
    entries = git.ls_staged(paths)
    blobs = git.small_blobs(e.blob for e in entries)
    objects: dict[str, LfsObject] = {}
    bad = []
    for e in entries:
        data = blobs.get(e.blob)
        pointer = pointer_in(data) if data is not None else None
        if pointer is not None and pointer.oid:
            objects[e.path] = LfsObject(pointer.oid, pointer.size)
        elif e.path.lower().endswith(".mp4"):
            bad.append(f"{e.path} was staged as a plain git blob, not an LFS pointer")
    for rel, clip in clips.items():
        if objects.get(rel) != clip.obj:
            bad.append(f"{rel} was staged as something other than its verified content (it changed meanwhile?)")
    if bad:
        git.unstage(paths)
        raise PublishError(f"nothing was committed: {'; '.join(bad[:3])}")
    return objects


def _message(clips: list[Clip], objects: dict[str, LfsObject], changes: int) -> str:
    series = Counter(c.series for c in clips)
    durations = Counter(c.duration_s for c in clips)
    truth = sum(bool(c.sidecars) for c in clips)
    size = sum(o.size for o in set(objects.values()))
    return "\n".join([
        f"synthcam: publish {len(clips)} verified clips",
        "",
        "clips by series: " + ", ".join(f"{k} {v}" for k, v in sorted(series.items())),
        "clips by duration: " + ", ".join(f"{k}s {v}" for k, v in sorted(durations.items())),
        f"ground truth folders: {truth}",
        f"LFS objects: {len(set(objects.values()))} ({size} bytes)",
        f"paths changed in this commit: {changes}",
    ]) + "\n"


def _attribute(clips: dict[str, Clip], objects: dict[str, LfsObject], found: dict[str, Presence],
               top: Path) -> tuple[list[ClipState], list[ClipState]]:
    """Join the server's answers to clips: a clip is present when it and its ground truth are."""
    owner: dict[str, str] = {}
    for rel, clip in clips.items():
        owner[rel] = rel
        for side in clip.sidecars:
            prefix = _rel(side, top) + "/"
            owner.update({p: rel for p in objects if p.startswith(prefix)})
    lacking: dict[str, list[str]] = {}
    for path, obj in objects.items():
        if not found[obj.oid].present:
            lacking.setdefault(owner.get(path, path), []).append(f"{path}: {found[obj.oid].detail}")
    states = [ClipState(c.job_id, c.name, rel, c.obj.oid, c.obj.size, rel not in lacking,
                        "; ".join(lacking.get(rel, []))) for rel, c in clips.items()]
    others = [ClipState("", Path(p).name, p, o.oid, o.size, p not in lacking, "; ".join(lacking.get(p, [])))
              for p, o in objects.items() if p not in owner]
    return states, others


# --- the flow ---------------------------------------------------------------------------------


def publish(workspace: Path, path: Path | None = None, remote: str = "origin", branch: str | None = None,
            progress: Progress | None = None) -> PublishResult:
    """Publish the workspace's verified clips (or the folder `path`) to `remote`, with proof.

    Example:
        result = publish(Path("ws"), remote="origin")
        assert not result.missing   # the server confirmed every object
    """
    say = progress or (lambda _message: None)
    ws, store = open_store(workspace)
    with store:
        # 1. Repository, branch and LFS endpoint: usage errors before any work
        folder = Path(path).resolve() if path is not None else None
        if folder is not None and not folder.is_dir():
            raise InputError(f"--path {path} is not a folder")
        git = Git.find(folder or ws.root)
        branch = branch or git.branch()
        if not branch:
            raise RepositoryError(f"HEAD is detached in {git.top}: pass --branch")
        endpoint = resolve_endpoint(git, remote)
        prober = prober_for(endpoint, GitCredentials(git.top))

        # 2. The clips: verified (done, same sha256 now), content present (no pointer stubs)
        jobs = store.done_jobs()
        say(f"checking {len(jobs)} verified clips")
        if folder:
            files, refusals = _walk([folder], git.top)
            found = _folder_clips(folder, files, jobs, git.top)
        else:
            found = _workspace_clips(ws, jobs, git.top)
        clips = {_rel(c.path, git.top): c for c in found if isinstance(c, Clip)}
        roots = [folder] if folder else [p for c in clips.values() for p in (c.path, *c.sidecars)]
        if not folder:
            files, refusals = _walk(roots, git.top)
        refusals = [r for r in found if isinstance(r, Refusal)] + refusals
        refusals += _stub_refusals(files, {c.path for c in clips.values()}, git.top)
        if refusals:
            raise PublishRefused(refusals)
        if not clips:
            raise PublishError(f"no verified clips to publish in {folder or ws.clips_dir}")
        paths = [_rel(p, git.top) for p in roots]
        foreign = [p for p in git.staged_paths() if p != ATTRIBUTES and not any(
            p == q or p.startswith(q.rstrip("/") + "/") for q in paths)]
        if foreign:
            raise RepositoryError(f"the index has staged changes outside the clips ({', '.join(foreign[:3])}): "
                                  "commit or unstage them first (git restore --staged)")

        # 3. Ask the server before touching anything: reachable, and the credentials work
        say(f"asking {endpoint.shown} about {len(clips)} clips")
        prober.probe(c.obj for c in clips.values())

        # 4. LFS set-up, then stage; prove each clip went in as its verified content's pointer
        paths += _ensure_lfs(git, [_rel(f, git.top) for f in files])
        say(f"staging {len(clips)} clips")
        git.add(paths)
        objects = _staged_objects(git, paths, clips)

        # 5. Commit when something changed (hooks run)
        changes = len(git.staged_paths())
        committed = git.has_staged_changes()
        commit = git.commit(_message(list(clips.values()), objects, changes)) if committed else git.head()

        # 6. Upload what the server lacks, by oid (no hook or remote-tracking ref can skip it), then push
        lacking = sorted({p.obj for p in prober.probe(objects.values()).values() if not p.present})
        if lacking:
            say(f"uploading {len(lacking)} objects ({sum(o.size for o in lacking)} bytes) to {endpoint.shown}")
            _upload(git, remote, lacking, objects, commit)
        say(f"pushing {branch} to {remote}")
        try:
            git.push(remote, f"HEAD:refs/heads/{branch}")
        except GitError as exc:
            raise GitError(f"the objects are on the server but the push of {branch} failed (if the remote branch "
                           f"moved, pull and publish again): {exc}") from exc

        # 7. Prove presence; a clip is recorded as published only on the server's word
        say(f"asking {endpoint.shown} about {len(set(objects.values()))} objects")
        states, others = _attribute(clips, objects, prober.probe(objects.values()), git.top)
        for s in states:
            store.record_publication(s.job_id, endpoint.key, s.path, s.oid, s.size, commit, s.present)
    return PublishResult(remote, endpoint.shown, branch, commit, committed, len(lacking),
                         sum(o.size for o in lacking), states, others)


def _upload(git: Git, remote: str, lacking: list[LfsObject], objects: dict[str, LfsObject], commit: str | None) -> None:
    store = git.lfs_objects_dir()
    sources = {o: git.top / p for p, o in objects.items()}
    for obj in lacking:
        if not ensure_local_object(store, obj, sources[obj]):
            raise PublishError(f"no local copy of object {_short(obj.oid)} ({sources[obj].name}) to upload")
    try:
        git.lfs_push_objects(remote, (o.oid for o in lacking))
    except GitError as exc:
        raise GitError(f"uploading {len(lacking)} objects failed, nothing was pushed or recorded (commit "
                       f"{(commit or '')[:12]} is local; run `synthcam publish` again to finish): {exc}") from exc
