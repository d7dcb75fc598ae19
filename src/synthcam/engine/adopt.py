"""`synthcam adopt DIR`: take in clips generated elsewhere, but only the ones that pass.

Two layouts are understood: a Cosmos output folder (`<name>.mp4` beside its `<name>.json`
sidecar: raw 16 fps model output, post-processed here) and the old `<ID>_<N>s.mp4` layout
(claims to be final, so verified as it is). A file is matched to its job by name, its
parameters are compared with the job's (a different seed or prompt is a different clip), and
it is recorded as done only if it passes verification. Pointer stubs and wrong clips are
reported, never adopted.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, SynthcamError
from ..manifest import Manifest, load_manifest
from ..verify import verify_file
from ..verify.expect import Expectation
from ..workspace import Workspace
from .integrity import check_verified
from .postprocess import Target, finalize
from .runner import RunOptions, plan_jobs
from .status import write_status


@dataclass(frozen=True)
class AdoptEntry:
    path: str
    name: str
    action: str        # adopted | rejected | skipped
    reason: str


# Sample fields whose difference means "not the clip this job would make".
COMPARED = ("prompt", "seed", "guidance", "resolution", "num_steps", "num_output_frames", "enable_autoregressive")


def _mismatch(sidecar: dict, wanted: dict) -> str | None:
    for key in COMPARED:
        if key in wanted and sidecar.get(key) != wanted[key]:
            shown = lambda v: (repr(v)[:40] + "...") if len(repr(v)) > 43 else repr(v)  # noqa: E731
            return f"{key} differs: file has {shown(sidecar.get(key))}, the job wants {shown(wanted[key])}"
    return None


def adopt(source: Path, workspace: Path, manifest: Manifest | str | None = None, backend: str = "cosmos",
          model: str | None = None, interpolation: str = "mci") -> list[AdoptEntry]:
    source = Path(source)
    if not source.is_dir():
        raise InputError(f"{source} is not a folder")
    if not isinstance(manifest, Manifest):
        manifest = load_manifest(manifest)
    opts = RunOptions(backend=backend, model=model)
    specs, _ = plan_jobs(manifest, opts)
    ws = Workspace.at(workspace)
    if source.resolve() == ws.clips_dir:
        raise InputError(f"{source} is this workspace's own clips folder; adopt from another folder "
                         "(move the clips aside first)")
    store = ws.store()
    # Per process, like a worker's: two adopts into one workspace never share a folder.
    staging = ws.staging(f"adopt-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    staging.mkdir(parents=True, exist_ok=True)
    entries: list[AdoptEntry] = []
    try:
        check_verified(ws, store, repair=True)  # a verified clip deleted by hand is adoptable again
        store.sync(specs)
        store.record_manifest(manifest.origin or manifest.path, manifest.text)
        by_name = {s.name: s for s in specs}
        samples = {}
        from ..prompts import Compiler

        compiler = Compiler(manifest)
        for v in manifest.variants():
            samples[v.name] = compiler.compile(v)
        for path in sorted(source.rglob("*.mp4")):
            name = path.stem
            rel = str(path.relative_to(source))
            spec = by_name.get(name)
            if spec is None:
                entries.append(AdoptEntry(rel, name, "skipped", "no clip of that name in the manifest"))
                continue
            job = store.get(spec.job_id)
            if job is not None and job.state == "done":
                entries.append(AdoptEntry(rel, name, "skipped", "already verified in this workspace"))
                continue
            if job is not None and job.state == "running":
                entries.append(AdoptEntry(rel, name, "skipped", "being generated right now"))
                continue
            s = spec.spec
            expect = Expectation(fps=s["fps"], width=s["width"], height=s["height"], duration_s=spec.duration_s,
                                 frames=s["frames"], id=spec.clip_id)
            sidecar_path = path.with_suffix(".json")
            candidate = path
            try:
                if sidecar_path.exists():
                    try:
                        sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
                    except (OSError, ValueError) as exc:
                        entries.append(AdoptEntry(rel, name, "rejected", f"unreadable sidecar {sidecar_path.name}: {exc}"))
                        continue
                    compiled = samples[name]
                    reason = _mismatch(sidecar, compiled.cosmos_sample(manifest).to_json()) if isinstance(sidecar, dict) else "sidecar is not an object"
                    if reason:
                        entries.append(AdoptEntry(rel, name, "rejected", reason))
                        continue
                    pre = verify_file(path, None)
                    if pre.status in ("lfs_pointer", "empty", "not_video", "unreadable"):
                        entries.append(AdoptEntry(rel, name, "rejected", f"{pre.status}: {pre.findings[0].detail if pre.findings else ''}"))
                        continue
                    candidate = staging / f"{name}.final.mp4"
                    t = compiled.timing
                    finalize(path, candidate, Target(s["fps"], s["frames"], s["width"], s["height"]), t.policy,
                             t.frames_needed, model_fps=t.model_fps, method=interpolation)
                report = verify_file(candidate, expect)
            except SynthcamError as exc:
                entries.append(AdoptEntry(rel, name, "rejected", str(exc)))
                continue
            if report.status != "ok":
                detail = report.findings[0].detail if report.findings else ""
                entries.append(AdoptEntry(rel, name, "rejected", f"{report.status}: {detail}"))
                continue
            final = ws.clip_path(name)
            final.parent.mkdir(parents=True, exist_ok=True)
            if candidate == path:
                tmp = staging / f"{name}.copy.mp4"
                shutil.copyfile(path, tmp)
                candidate = tmp
            os.replace(candidate, final)
            probe = {k: getattr(report, k) for k in ("frames", "fps", "width", "height", "codec", "pix_fmt", "size")}
            probe["mtime_ns"] = final.stat().st_mtime_ns
            if store.adopt(spec.job_id, ws.relative(final), report.sha256 or "", probe,
                           [f.model_dump() for f in report.findings], f"adopted from {path}"):
                entries.append(AdoptEntry(rel, name, "adopted", "verified"))
            else:
                entries.append(AdoptEntry(rel, name, "skipped", "job changed state meanwhile"))
        write_status(ws, store)
    finally:
        store.close()
        shutil.rmtree(staging, ignore_errors=True)
    return entries
