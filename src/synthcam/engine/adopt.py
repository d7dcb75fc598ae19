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

from ..errors import InputError
from ..manifest import Manifest, load_manifest
from ..verify.policy import VerifyPolicy, resolve_policy
from ..workspace import Workspace
from .integrity import check_verified
from .finishing import FinishTask, RawOutput, finish, land, siblings_of
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
          model: str | None = None, interpolation: str = "mci", policy: VerifyPolicy | None = None) -> list[AdoptEntry]:
    source = Path(source)
    if not source.is_dir():
        raise InputError(f"{source} is not a folder")
    if not isinstance(manifest, Manifest):
        manifest = load_manifest(manifest)
    opts = RunOptions(backend=backend, model=model)
    policy = resolve_policy(policy, manifest=manifest)
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
            if job is not None and job.state in ("running", "generated"):
                entries.append(AdoptEntry(rel, name, "skipped", "being generated right now"))
                continue
            sidecar_path = path.with_suffix(".json")
            raw_output = not sidecar_path.exists()  # the old <ID>_<N>s.mp4 layout claims to be final
            if not raw_output:
                try:
                    sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    entries.append(AdoptEntry(rel, name, "rejected", f"unreadable sidecar {sidecar_path.name}: {exc}"))
                    continue
                reason = _mismatch(sidecar, samples[name].cosmos_sample(manifest).to_json()) \
                    if isinstance(sidecar, dict) else "sidecar is not an object"
                if reason:
                    entries.append(AdoptEntry(rel, name, "rejected", reason))
                    continue
            # the same finishing as a run: a copy in staging, post-processed, verified, compared with siblings
            folder = staging / spec.job_id
            folder.mkdir(parents=True, exist_ok=True)
            copy = folder / path.name
            try:
                shutil.copyfile(path, copy)
            except OSError as exc:
                entries.append(AdoptEntry(rel, name, "rejected", f"cannot read: {exc.strerror or exc}"))
                continue
            clip = job.clip if job is not None else store.get(spec.job_id).clip
            raw = RawOutput(spec.job_id, ws.relative(folder), copy.name, 0.0, 0, at_target=raw_output)
            verdict = finish(FinishTask(str(ws.root), spec.job_id, clip, raw, interpolation,
                                        siblings_of(store, spec.clip_id, spec.job_id), policy.to_record()))
            if not verdict.ok:
                entries.append(AdoptEntry(rel, name, "rejected", f"{verdict.kind.removeprefix('verify:')}: {verdict.detail}"))
                continue
            if land(ws, store, verdict, None, name, False, adopted_from=f"adopted from {path}"):
                entries.append(AdoptEntry(rel, name, "adopted", "verified"))
            else:
                entries.append(AdoptEntry(rel, name, "skipped", "job changed state meanwhile"))
        write_status(ws, store)
    finally:
        store.close()
        shutil.rmtree(staging, ignore_errors=True)
    return entries
