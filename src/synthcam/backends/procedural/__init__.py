"""The procedural backend: believable fixed-camera security footage rendered on a CPU from
the manifest's components, with exact per-frame labels.

    render_clip(manifest, "T01", 5, Path("clip.mp4"))     # what `synthcam render` calls
    ProceduralBackend().generate(request, staging)         # what the engine calls

Output is H.264 yuv420p at the manifest's resolution and fps with exactly fps x seconds
frames, plus `<clip>.gt/` (see truth.py). The same manifest, ID, duration and seed give
byte-identical files; see docs/procedural.md for what is drawn and how.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np

from ...errors import BackendError, InputError, SynthcamError
from ...fsutil import atomic_dir, check_id, inside
from ...manifest import Manifest, load_manifest
from ...media.encode import VideoWriter
from ...prompts import CompiledClip, Compiler
from ...verify.report import Finding
from ..base import Backend, Failure, GenerationRequest, RawClip
from .audit import Auditor, Thresholds
from .plan import ClipPlan
from .render import Renderer, make_renderer
from .truth import Truth, class_table, mask_colour

__all__ = ["AuditResult", "ProceduralBackend", "RenderOptions", "RenderResult", "audit_renderer", "audit_variant", "render_clip",
           "render_variant", "truth_dir_for"]


@dataclass(frozen=True)
class RenderOptions:
    """Encoder and ground-truth settings; the defaults are what the benchmark measures."""

    all_frames: bool = False        # COCO for every frame instead of one per second
    masks: bool = False             # also write masks.mkv (flat colour per track, lossless)
    crf: int = 23                   # CCTV-like 1-3 Mbit/s at 1280x704
    preset: str = "veryfast"
    threads: int = 2                # fixed, so output is byte-identical on any machine
    thread_type: str = "FRAME"      # x264 frame threads: the encoder works while the next frame is drawn


@dataclass(frozen=True)
class RenderResult:
    video: Path
    truth_dir: Path
    files: dict[str, Path]
    frames: int
    fps: int
    width: int
    height: int
    seed: int
    counts: dict[str, int]
    plan: ClipPlan = field(repr=False)
    audit: list[Finding] = field(default_factory=list)   # fidelity findings (audit.py); empty when it shows its manifest


@dataclass(frozen=True)
class AuditResult:
    """The fidelity audit of one variant, from its ground truth alone (no video written)."""

    name: str
    plan: ClipPlan = field(repr=False)
    findings: list[Finding]
    metrics: dict[str, Any]


def truth_dir_for(video: Path) -> Path:
    """Where a clip's ground truth goes: `clip.mp4` -> `clip.gt/`."""
    return video.with_name(video.stem + ".gt")


def render_variant(manifest: Manifest, compiled: CompiledClip, video: Path, *, seed: int | None = None,
                   options: RenderOptions = RenderOptions(), truth_dir: Path | None = None) -> RenderResult:
    """Render one compiled variant to `video` and its ground truth; nothing appears unless all of it succeeds."""
    video = Path(video)
    truth_dir = truth_dir or truth_dir_for(video)
    r = make_renderer(manifest, compiled, seed)
    p = r.plan
    palette = np.zeros((256, 3), np.uint8)
    for actor in r.cast.actors:
        if actor.track:
            palette[actor.track] = mask_colour(actor.track)
    with contextlib.ExitStack() as stack:
        gt_tmp = stack.enter_context(atomic_dir(truth_dir))
        writer = stack.enter_context(VideoWriter(video, p.width, p.height, p.fps, crf=options.crf, preset=options.preset,
                                                 threads=options.threads, thread_type=options.thread_type))
        masks = None
        if options.masks:
            masks = stack.enter_context(VideoWriter(gt_tmp / "masks.mkv", p.width, p.height, p.fps, codec="ffv1",
                                                    pix_fmt="bgr0", threads=1, options={"level": "3", "slices": "4"}))
        truth = Truth(gt_tmp, p.name, p.width, p.height, p.fps, p.frames, class_table(manifest), options.all_frames)
        stack.callback(truth.release)
        auditor = Auditor(r)
        for index in range(p.frames):
            instances = r.render(index)
            _measure(r, index, instances, truth, auditor)
            writer.write(r.yuv(index), "yuv420p")
            if masks is not None:
                masks.write(palette[r.ids], "rgb24")
        findings = auditor.findings()
        meta = _meta(manifest, compiled, p)
        meta["audit"] = {"findings": [f.model_dump() for f in findings], **auditor.metrics()}
        files = truth.close(meta)
        if masks is not None:
            files["masks"] = truth_dir / "masks.mkv"
    files = {k: truth_dir / v.name for k, v in files.items()}
    return RenderResult(video, truth_dir, files, p.frames, p.fps, p.width, p.height, p.seed, truth.counts(), p, findings)


def audit_variant(manifest: Manifest, compiled: CompiledClip, *, seed: int | None = None, stride: int = 1) -> AuditResult:
    """Render a variant's frames for their ground truth only (no encoding, no files) and audit it.

    `stride` > 1 draws every stride-th frame: several times faster, for sweeping a dataset
    while developing; the numbers are then estimates from the sampled frames.
    """
    return audit_renderer(make_renderer(manifest, compiled, seed), stride=stride)


def audit_renderer(r: Renderer, *, stride: int = 1, thresholds: Thresholds = Thresholds()) -> AuditResult:
    """Draw a prepared renderer's frames (every `stride`-th) for their ground truth and audit them."""
    auditor = Auditor(r, thresholds)
    for index in range(0, r.plan.frames, max(1, stride)):
        _measure(r, index, r.render(index), None, auditor)
    return AuditResult(r.plan.name, r.plan, auditor.findings(), auditor.metrics())


def _measure(r: Renderer, index: int, instances: list, truth: Truth | None, auditor: Auditor) -> None:
    w, h = r.plan.width, r.plan.height
    for inst in instances:
        ras = inst.raster
        bx, by, bw, bh = cv2.boundingRect(ras.parts)          # the non-zero pixels: the full figure
        x0, x1 = max(0, ras.x0 + bx), min(w, ras.x0 + bx + bw)
        y0, y1 = max(0, ras.y0 + by), min(h, ras.y0 + by + bh)
        if x1 <= x0 or y1 <= y0:
            continue
        fx0, fy0 = max(ras.x0, 0), max(ras.y0, 0)
        visible = cv2.compare(r.ids[fy0:min(ras.y1, h), fx0:min(ras.x1, w)], inst.actor.track, cv2.CMP_EQ)
        seen = cv2.countNonZero(visible)
        full = ras.area
        if truth is not None:
            truth.add(index, inst.actor.track, inst.actor.label, inst.actor.role, full, (x0, y0, x1, y1), visible, (fx0, fy0),
                      seen=seen)
        auditor.observe(index, inst.actor, seen, seen / full if full else 0.0, (x0, y0, x1, y1))
    if truth is not None:
        truth.frame_done(index)
    auditor.frame_done(index)


def _meta(manifest: Manifest, compiled: CompiledClip, p: ClipPlan) -> dict[str, Any]:
    clip = compiled.variant.clip
    declared = clip.expected_objects
    if declared is None:
        declared = {}
        for s in clip.subjects:
            for name, n in manifest.components.subjects[s].classes.items():
                declared[name] = declared.get(name, 0) + n
    return {"id": p.clip_id, "duration_s": p.duration_s, "seed": p.seed, "declared": declared,
            "plan": {"layout": p.layout, "time_of_day": p.time_of_day, "weather": p.weather, "effects": list(p.effects),
                     "path": p.path, "motion": p.motion, "distance": p.distance, "occlusion": p.occlusion,
                     "inferred": list(p.inferred)}}


def render_clip(manifest: Manifest | str | Path | None, clip_id: str, duration: int, out: str | Path, *,
                seed: int | None = None, options: RenderOptions = RenderOptions()) -> RenderResult:
    """Render `clip_id` at `duration` seconds to `out` (an .mp4) with ground truth beside it.

    `manifest` is a loaded Manifest, a path, or None for the built-in dataset. Raises
    InputError (exit 2) for an unknown ID, a duration the clip does not have, or a bad path.
    """
    if not isinstance(manifest, Manifest):
        manifest = load_manifest(manifest)
    check_id(clip_id, "clip ID")
    try:
        clip = manifest.clip(clip_id)
    except KeyError:
        known = ", ".join(c.id for c in manifest.clips[:12]) + (" ..." if len(manifest.clips) > 12 else "")
        raise InputError(f"no clip {clip_id!r} in {manifest.path} (known: {known})") from None
    durations = manifest.durations_for(clip)
    if duration not in durations:
        raise InputError(f"clip {clip_id} has durations {', '.join(f'{d} s' for d in durations)}; got {duration} s")
    if seed is not None and not 0 <= seed < 2**64:
        raise InputError(f"--seed must be between 0 and 2**64-1, got {seed}")
    out = _check_out(Path(out))
    variant = next(v for v in manifest.variants() if v.clip_id == clip_id and v.duration_s == duration)
    compiled = Compiler(manifest).compile(variant)
    return render_variant(manifest, compiled, out, seed=seed, options=options)


def _check_out(out: Path) -> Path:
    if out.suffix.lower() != ".mp4":
        raise InputError(f"--out {out}: the output must be an .mp4 file")
    if out.is_dir():
        raise InputError(f"--out {out}: is a directory; give a file name like {out / 'clip.mp4'}")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"--out {out}: {parent} is a file, not a folder")
            break
    gt = truth_dir_for(out)
    if gt.exists() and not gt.is_dir():
        raise InputError(f"--out {out}: {gt} exists and is not a folder (it would hold the ground truth)")
    return out


class ProceduralBackend(Backend):
    """CPU backend: clips already at target, with ground truth in `RawClip.extras`."""

    name: ClassVar[str] = "procedural"
    has_ground_truth: ClassVar[bool] = True
    uses_components: ClassVar[bool] = True
    export_source: ClassVar[str] = "synthcam-procedural"

    def __init__(self, options: RenderOptions = RenderOptions()) -> None:
        self.options = options

    def generate(self, request: GenerationRequest, staging: Path) -> RawClip | Failure:
        try:
            video = inside(Path(staging), f"{check_id(request.name, 'clip name')}.mp4")
            result = render_variant(request.manifest, request.compiled, video, options=self.options)
        except SynthcamError as exc:
            return Failure(request, "error", str(exc), retryable=False)
        except OSError as exc:
            return Failure(request, "error", f"cannot write {request.name}: {exc.strerror or exc}", retryable=True)
        except Exception as exc:  # a renderer bug must fail one job, not the whole run
            error = BackendError(f"procedural render of {request.name} failed: {type(exc).__name__}: {exc}")
            return Failure(request, "error", str(error), retryable=False)
        extras = dict(result.files)
        extras["truth_dir"] = result.truth_dir
        return RawClip(request, result.video, float(result.fps), result.frames, at_target=True, extras=extras,
                       audit=list(result.audit))
