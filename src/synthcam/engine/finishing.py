"""Finishing: a backend's raw output in, a verdict out (post-process to target, verify, twin check).

One pure function, `finish`, used by every path that makes a clip final: a run (in a CPU pool of
its own, so a GPU worker hands its raw clip over and takes the next job at once), the resume of
a job that was generated before a crash, the resume of a clip that landed before a crash, and
`adopt`. It reads the raw output and writes only inside the job's raw folder; it never touches a
final path and never opens the store. Landing (moving a verified clip into place and recording
it) is the orchestrator's: `land` below, in the one process that owns the store.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SynthcamError
from ..fsutil import atomic_dir
from ..store import ClipSpec, JobStore
from ..verify import FileReport, Signature, mark_duplicates, verify_file
from ..verify.expect import Expectation
from ..verify.policy import VerifyPolicy
from ..workspace import Workspace
from .postprocess import Target, TooFewFrames, finalize

# Verification failures that a second attempt can fix (I/O glitches); the rest are deterministic
# for a given seed, so retrying them would only burn GPU time.
TRANSIENT_VERIFY = {"empty", "unreadable", "corrupt", "not_video"}
RAW_RECORD = "raw.json"      # written last into raw/<job_id>/: its presence makes the folder complete
FINAL_NAME = "final.mp4"     # post-processed clip, inside the raw folder, until it lands


@dataclass(frozen=True)
class RawOutput:
    """A backend's raw output, kept in `raw/<job_id>/` of the workspace (names relative to it)."""

    job_id: str
    dir: str                               # relative to the workspace root
    video: str                             # file name in dir
    fps: float
    frames: int
    at_target: bool
    extras: dict[str, str] = field(default_factory=dict)   # sidecar name -> file or folder in dir
    audit: list[dict[str, str]] = field(default_factory=list)  # the backend's own fidelity findings
    gpu_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RawOutput:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def path(self, root: Path) -> Path:
        return Path(root) / self.dir


@dataclass(frozen=True)
class Sibling:
    """A verified clip of the same ID, for the twin check (the old 5/10/30 s bug)."""

    path: str
    sha256: str | None
    codec: str | None
    signature: dict[str, list] | None


@dataclass(frozen=True)
class FinishTask:
    workspace: str
    job_id: str
    clip: ClipSpec
    raw: RawOutput
    interpolation: str = "mci"
    siblings: tuple[Sibling, ...] = ()
    policy: dict[str, Any] | None = None   # VerifyPolicy record; None: the default policy


@dataclass(frozen=True)
class Verdict:
    job_id: str
    ok: bool
    kind: str = ""                         # "verify:<kind>" when rejected
    detail: str = ""
    retryable: bool = False
    staged: str | None = None              # the verified file, absolute, not yet in place
    sha256: str | None = None
    probe: dict[str, Any] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)


def expectation(clip: ClipSpec, job_id: str | None = None) -> Expectation:
    t = clip.target
    return Expectation(fps=t.fps, width=t.width, height=t.height, duration_s=clip.duration_s, frames=t.frames,
                       expects_motion=clip.expects_motion, id=clip.clip_id)


def probe_record(report: FileReport, policy: VerifyPolicy | None) -> dict[str, Any]:
    """What the store keeps of a verified clip's verification (its 'probe')."""
    probe = {k: getattr(report, k) for k in ("frames", "fps", "width", "height", "codec", "pix_fmt", "size")}
    probe["metrics"] = report.metrics
    probe["signature"] = signature_to_json(report.signature)
    probe["policy"] = (policy or VerifyPolicy()).to_record()
    return probe


def signature_to_json(sig: Signature | None) -> dict[str, list] | None:
    if sig is None:
        return None
    return {"frame": [f"{h:016x}" for h in sig.frame_hashes], "motion": [f"{h:016x}" for h in sig.motion_hashes],
            "active": list(sig.motion_active)}


def signature_from_json(data: dict[str, list] | None) -> Signature | None:
    if not data:
        return None
    return Signature(tuple(int(h, 16) for h in data["frame"]), tuple(int(h, 16) for h in data["motion"]),
                     tuple(bool(a) for a in data["active"]))


def twin_of(report: FileReport, siblings: tuple[Sibling, ...] | list[Sibling],
            policy: VerifyPolicy | None) -> tuple[str, str] | None:
    """("duplicate" | "near_duplicate", detail) when the clip repeats a verified sibling."""
    if not siblings:
        return None
    others = [FileReport(path=s.path, sha256=s.sha256, codec=s.codec, signature=signature_from_json(s.signature))
              for s in siblings]
    candidate = report.model_copy(deep=True)
    mark_duplicates([candidate, *others], policy=policy)
    for f in candidate.findings:
        if f.kind in ("duplicate", "near_duplicate"):
            return f.kind, f.detail
    return None


def _rejected(job_id: str, kind: str, detail: str, retryable: bool, findings: list[dict] | None = None) -> Verdict:
    return Verdict(job_id, False, f"verify:{kind}", detail, retryable, findings=findings or [])


def finish(task: FinishTask) -> Verdict:
    """Post-process the raw output to the exact target, verify it under the policy, add the
    backend's audit, compare with verified siblings. Never raises on bad media: a verdict says why."""
    root = Path(task.workspace)
    raw_dir = task.raw.path(root)
    video = raw_dir / task.raw.video
    clip = task.clip
    policy = VerifyPolicy.from_record(task.policy) if task.policy else VerifyPolicy()
    staged = video
    try:
        if not task.raw.at_target:
            # Classify broken model output (stub, garbage, truncated) before trying to convert it.
            pre = verify_file(video, None, policy=policy)
            if pre.status in TRANSIENT_VERIFY | {"lfs_pointer"}:
                detail = pre.findings[0].detail if pre.findings else pre.status
                return _rejected(task.job_id, pre.status, f"backend output: {detail}", True)
            staged = raw_dir / FINAL_NAME
            t = clip.target
            try:
                finalize(video, staged, Target(t.fps, t.frames, t.width, t.height), clip.timing.policy,
                         clip.timing.frames_needed, model_fps=clip.timing.model_fps, method=task.interpolation)
            except TooFewFrames as exc:  # deterministic for a given seed: retrying only burns GPU time
                return _rejected(task.job_id, "wrong_frames", str(exc), False)
        report = verify_file(staged, expectation(clip), policy=policy)
    except SynthcamError as exc:
        return Verdict(task.job_id, False, "error", str(exc), True)
    for finding in task.raw.audit:  # the backend's fidelity audit: a clip that does not show its manifest fails
        if policy.allows(finding["kind"]):
            report.add(finding["kind"], finding["detail"])
    findings = [f.model_dump() for f in report.findings]
    if report.status != "ok":
        first, *others = report.findings
        detail = first.detail
        if others:  # the store keeps one reason per job: name the rest, so none is lost from view
            detail += " (also " + "; ".join(f"{f.kind}: {f.detail}" for f in others) + ")"
        return _rejected(task.job_id, report.status, detail, report.status in TRANSIENT_VERIFY, findings)
    twin = twin_of(report, task.siblings, policy)
    if twin:
        return _rejected(task.job_id, twin[0], twin[1], False, findings)
    return Verdict(task.job_id, True, staged=str(staged), sha256=report.sha256, probe=probe_record(report, policy),
                   findings=findings)


def siblings_of(store: JobStore, clip_id: str, job_id: str) -> tuple[Sibling, ...]:
    return tuple(Sibling(j.output or j.name, j.sha256, (j.probe or {}).get("codec"), (j.probe or {}).get("signature"))
                 for j in store.jobs("done") if j.clip_id == clip_id and j.job_id != job_id)


def land(ws: Workspace, store: JobStore, verdict: Verdict, raw: RawOutput | None, name: str,
         has_ground_truth: bool, *, adopted_from: str | None = None, worker: str | None = None,
         gpu_seconds: float = 0.0) -> bool:
    """Move a verified clip into place and record it, then its ground truth, in that order: the
    sha256 is noted first so a crash before the record is finished on resume, never regenerated,
    and ground truth appears only beside a clip that is already recorded (the raw output keeps it
    until then, so a crash in between is completed on resume by `finish_truth`)."""
    assert verdict.ok and verdict.staged and verdict.sha256
    final = ws.clip_path(name)
    staged = Path(verdict.staged)
    final.parent.mkdir(parents=True, exist_ok=True)
    job_id = verdict.job_id
    if adopted_from is None and not store.landing(job_id, verdict.sha256):
        return False
    if staged != final:
        os.replace(staged, final)
    probe = dict(verdict.probe)
    probe["mtime_ns"] = final.stat().st_mtime_ns  # with size: the cheap "still the verified file?" check
    if adopted_from is not None:
        ok = store.adopt(job_id, ws.relative(final), verdict.sha256, probe, verdict.findings, adopted_from)
    else:
        ok = store.complete(job_id, ws.relative(final), verdict.sha256, probe, verdict.findings, worker=worker,
                            gpu_seconds=gpu_seconds)
    if ok and raw is not None:
        if has_ground_truth:
            claimed = _claim_raw(ws, raw.job_id)
            if claimed is not None:
                _install_claimed(ws, claimed, name)
        remove_raw(ws, raw.job_id)
    return ok


_CLAIM = ".truth-"


def _claim_raw(ws: Workspace, job_id: str, source: Path | None = None) -> Path | None:
    """Take a recorded job's raw output for installing its truth by renaming it (atomic: of two
    runs on one workspace, exactly one wins); a claim left by a dead process can be taken over."""
    src = source or ws.raw_dir(job_id)
    dst = src.with_name(f".{job_id}{_CLAIM}{os.getpid()}")
    try:
        os.rename(src, dst)
    except FileNotFoundError:
        return None
    return dst


def _install_claimed(ws: Workspace, claimed: Path, name: str) -> None:
    try:
        raw = RawOutput.from_json(json.loads((claimed / RAW_RECORD).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        raw = None
    if raw is not None:
        install_truth(ws, claimed, raw.extras, name)
    # The record goes first: a kill while the truth files are removed must leave a claim that
    # is only cleared on resume, never one that installs a half-emptied truth over the whole one.
    with contextlib.suppress(OSError):
        (claimed / RAW_RECORD).unlink()
    shutil.rmtree(claimed, ignore_errors=True)


def install_truth(ws: Workspace, base: Path, extras: dict[str, str], name: str) -> bool:
    """Put a recorded clip's ground truth beside it, whole or not at all. Files are linked (or
    copied) from the raw output, which is removed only afterwards, so a crash here loses nothing.
    The folder is built in raw/ and renamed into clips/, where nothing half-built may ever be."""
    truth = [base / p for p in extras.values() if (base / p).exists()]
    if not truth:
        return False
    with atomic_dir(ws.truth_dir(name), scratch=ws.root / "raw") as tmp:
        for path in truth:
            for item in (sorted(path.iterdir()) if path.is_dir() else [path]):
                if item.is_dir():
                    shutil.copytree(item, tmp / item.name, copy_function=_link_or_copy)
                else:
                    _link_or_copy(item, tmp / item.name)
    return True


def _link_or_copy(src, dst) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def finish_truth(ws: Workspace, store: JobStore, has_ground_truth: bool) -> int:
    """Complete what a crash between recording a clip and removing its raw output left: install
    the ground truth the raw output still holds (when the backend makes any), then remove it.
    Claims by rename, so another run landing the same clips at the same time is never disturbed."""
    from ..fsutil import pid_alive

    root = ws.root / "raw"
    if not root.is_dir():
        return 0
    done = {j.job_id: j for j in store.jobs("done", current=False)}
    n = 0
    for folder in sorted(root.iterdir()):
        if folder.is_symlink() or not folder.is_dir():
            continue
        job_id, claim = folder.name, None
        if folder.name.startswith(".") and _CLAIM in folder.name:
            job_id, _, pid = folder.name[1:].rpartition(_CLAIM)
            if not pid.isdigit() or pid_alive(int(pid)):
                continue  # a live process is installing it now
            claim = folder
        job = done.get(job_id)
        if job is None:
            continue
        claimed = _claim_raw(ws, job_id, claim)
        if claimed is None:
            continue
        if has_ground_truth and ws.clip_path(job.name).exists():
            _install_claimed(ws, claimed, job.name)
            n += 1
        shutil.rmtree(claimed, ignore_errors=True)
    return n


def raw_dir(ws: Workspace, job_id: str) -> Path:
    return ws.raw_dir(job_id)


def read_raw(ws: Workspace, job_id: str) -> RawOutput | None:
    """The complete raw output of a job, or None (missing, partial, or another job's)."""
    record = ws.raw_dir(job_id) / RAW_RECORD
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
        raw = RawOutput.from_json(data)
    except (OSError, ValueError, TypeError):
        return None
    if raw.job_id != job_id or not (raw.path(ws.root) / raw.video).is_file():
        return None
    return raw


def keep_raw(ws: Workspace, job_id: str, video: Path, fps: float, frames: int, at_target: bool,
             extras: dict[str, Path], audit: list[dict[str, str]], gpu_seconds: float) -> RawOutput:
    """Move a backend's output into raw/<job_id>/ whole (an atomic folder swap; the record goes in
    last), so a raw output either exists complete or not at all."""
    final = ws.raw_dir(job_id)
    with atomic_dir(final) as tmp:
        shutil.move(str(video), tmp / video.name)
        names = {}
        for key, path in extras.items():
            path = Path(path)
            if path.exists():
                shutil.move(str(path), tmp / path.name)
                names[key] = path.name
        raw = RawOutput(job_id, ws.relative(final), video.name, fps, frames, at_target, names, audit, gpu_seconds)
        (tmp / RAW_RECORD).write_text(json.dumps(raw.to_json()), encoding="utf-8")
    return raw


def remove_raw(ws: Workspace, job_id: str) -> None:
    with contextlib.suppress(OSError):
        shutil.rmtree(ws.raw_dir(job_id))
