"""Verified clips ready to export: store record, file on disk, manifest facts, ground truth.

Only `done` jobs of the current plan are considered, and each file is checked against the
sha256 the verifier stored before anything is copied: a clip edited, re-encoded or replaced
after verification is refused, never exported. Hashing every file on every export would
read gigabytes, so a file whose size and mtime match the last hash we took is trusted.

Clips and ground truth must be regular files: a symlink (anywhere in `<name>.gt/`, or the
clip itself) refuses the clip by name, so no export copies what a link points to (files.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, SynthcamError
from ..fsutil import check_id, inside
from ..manifest import EMBEDDED, Manifest, load_manifest
from ..media.probe import VideoInfo, probe
from ..store import Job
from ..workspace import Workspace
from .files import SAFE_PART, irregular, open_regular, read_regular, walk_regular
from .labels import ClipFacts, category_of

HASH_CHUNK = 1 << 20
COUNTS_FILE = "counts.json"


@dataclass(frozen=True)
class SourceStat:
    """A file's size, mtime and the sha256 we computed when it had them."""

    size: int
    mtime_ns: int
    sha256: str

    def to_json(self) -> dict:
        return {"size": self.size, "mtime_ns": self.mtime_ns, "sha256": self.sha256}

    @classmethod
    def from_json(cls, data: object) -> SourceStat | None:
        try:
            return cls(int(data["size"]), int(data["mtime_ns"]), str(data["sha256"]))  # type: ignore[index]
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class VerifiedClip:
    job: Job
    path: Path
    stat: SourceStat
    info: VideoInfo
    facts: ClipFacts
    truth: dict[str, int] | None = None
    truth_files: dict[str, Path] = field(default_factory=dict)  # path under the truth folder -> file

    @property
    def name(self) -> str:
        return self.job.name

    @property
    def generated_at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.job.finished_at or 0, tz=dt.timezone.utc)

    @property
    def date(self) -> str:
        """The generation date, YYYYMMDD (UTC): fixed per clip, so re-exports keep their folder names."""
        return self.generated_at.strftime("%Y%m%d")

    @property
    def category(self) -> str:
        return category_of(self.facts.expected_risk)


@dataclass(frozen=True)
class Refusal:
    """A verified job that cannot be exported now; whatever was exported for it stays as it was."""

    name: str
    reason: str


def open_workspace(root: str | Path) -> Workspace:
    """An existing workspace, without creating anything (Workspace.at would make the folder and store)."""
    path = Path(root)
    if not path.is_dir():
        raise InputError(f"workspace {path} does not exist; run `synthcam run` to make one")
    ws = Workspace(path.resolve())
    if not ws.db_path.is_file():
        raise InputError(f"{path} is not a synthcam workspace (no {ws.db_path.name}); run `synthcam run` first")
    return ws


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open_regular(path) as fh:
        while chunk := fh.read(HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def check_source(path: Path, expected: str, cached: SourceStat | None) -> SourceStat:
    """The file's stat and sha256, which must equal the store's; raises InputError otherwise."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        raise InputError(f"the verified clip file is missing: {path}") from None
    if bad := irregular(path):
        raise InputError(str(bad))
    if cached and (cached.size, cached.mtime_ns, cached.sha256) == (st.st_size, st.st_mtime_ns, expected):
        return cached
    actual = sha256_of(path)
    if actual != expected:
        raise InputError(f"{path.name} changed after verification (sha256 {actual[:12]}, "
                         f"the store has {expected[:12]}); re-verify it with `synthcam verify`")
    return SourceStat(st.st_size, st.st_mtime_ns, actual)


def truth_counts(truth_dir: Path) -> dict[str, int] | None:
    """Exact visible objects per class from a ground-truth backend's `counts.json`, if it wrote one.

    The procedural backend writes {"counts": {class: n}, "tracks": [...], ...}; a track counts
    when it is visible in enough frames (its `count_rule`).
    """
    path = truth_dir / COUNTS_FILE
    if not os.path.lexists(path):
        return None
    try:
        data = json.loads(read_regular(path).decode("utf-8"))
    except ValueError as exc:
        raise InputError(f"{path}: not JSON ({exc})") from None
    counts = data.get("counts") if isinstance(data, dict) else None
    if not isinstance(counts, dict) or not all(isinstance(v, int) and v >= 0 for v in counts.values()):
        raise InputError(f"{path}: 'counts' must map class names to counts")
    return {str(k): v for k, v in counts.items()}


class ManifestCache:
    """Manifests by the path a job recorded; `override` replaces them all (`--manifest`)."""

    def __init__(self, override: Manifest | str | Path | None = None) -> None:
        if override is not None and not isinstance(override, Manifest):
            override = load_manifest(override)
        self.override = override
        self._loaded: dict[str, Manifest] = {}

    def get(self, path: str) -> Manifest:
        if self.override is not None:
            return self.override
        if path not in self._loaded:
            try:
                # Jobs of older stores record embedded manifests as "quickstart:synthcam/data/..."
                embedded = path.split(":", 1)[0]
                self._loaded[path] = load_manifest(embedded if embedded in EMBEDDED else path)
            except SynthcamError as exc:
                raise InputError(f"cannot read the manifest the clips were planned from ({exc}); "
                                 "pass --manifest PATH") from None
        return self._loaded[path]

    def facts(self, job: Job) -> ClipFacts:
        manifest = self.get(str(job.spec.get("manifest") or ""))
        try:
            clip = manifest.clip(job.clip_id)
        except KeyError:
            raise InputError(f"{job.name}: clip {job.clip_id} is not in {manifest.path}; "
                             "run `synthcam run` (or `plan`) so the store matches the manifest") from None
        return ClipFacts.from_manifest(manifest, clip)


def truth_files(truth_dir: Path) -> dict[str, Path]:
    """The ground truth beside a clip: regular files only, under plain names; raises InputError otherwise."""
    if not os.path.lexists(truth_dir):
        return {}
    files, bad = walk_regular(truth_dir)
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise InputError(f"ground truth: {bad[0]}{more}")
    found = {}
    for path in files:
        rel = path.relative_to(truth_dir).as_posix()
        if not all(SAFE_PART.match(part) for part in rel.split("/")):
            raise InputError(f"ground truth: {path} has a name export does not copy (letters, digits, '.', '_', "
                             "'+', '-'; no leading dot)")
        found[rel] = path
    return found


def verified_clips(ws: Workspace, jobs: list[Job], manifests: ManifestCache,
                   cached: dict[str, SourceStat]) -> tuple[list[VerifiedClip], list[Refusal]]:
    """Check each done job's file and gather what its labels and metadata need."""
    clips: list[VerifiedClip] = []
    refused: list[Refusal] = []
    for job in jobs:
        if job.state != "done":
            continue
        facts = manifests.facts(job)
        try:
            if not job.output or not job.sha256:
                raise InputError(f"{job.name}: the store has no file or sha256 for this verified job")
            path = ws.root / job.output  # not resolved: a link is refused by name (check_source), never followed
            if os.path.lexists(path) and (bad := irregular(path)):
                raise InputError(str(bad))
            inside(ws.root, job.output)  # and nothing outside the workspace
            stat = check_source(path, job.sha256, cached.get(job.name))
            info = probe(path)
            truth_dir = ws.clips_dir / f"{check_id(job.name, 'clip name')}.gt"
            files = truth_files(truth_dir)
            ws.truth_dir(job.name)
            truth = truth_counts(truth_dir) if COUNTS_FILE in files else None
        except SynthcamError as exc:
            refused.append(Refusal(job.name, str(exc)))
            continue
        clips.append(VerifiedClip(job, path, stat, info, facts, truth, files))
    return clips, refused
