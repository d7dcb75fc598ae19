"""`metadata.json` and `scenario_spec.json`: what the file is and what it was asked to show.

The old metadata named `media/R01_5s.mp4` while the file was `media/001.mp4`, and claimed
fps and durations nobody measured. Here file facts come from the exported file's own header
and the store's sha256, so they describe the bytes next to them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .. import __version__
from ..store import Job
from ..verify.policy import policy_view
from .clips import VerifiedClip
from .labels import Category

SCHEMA = "synthcam.export/1"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Generation(_Model):
    backend: str
    model: str
    seed: int
    guidance: int | None = None
    num_steps: int | None = None
    timing_policy: str | None = None


class Verification(_Model):
    """The verification policy a clip passed under (docs/verify.md). `default` ran every check;
    anything else names the content checks that did not run or the thresholds that moved, so a
    clip verified for a smoke run never passes for a fully checked one."""

    policy: str                       # "default", a profile ("container-only"), or "custom: ..."
    policy_name: str                  # default, container-only, low-motion, custom (or unknown)
    policy_digest: str | None = None  # sha256 of what the policy did
    content_checks_off: list[str] = []


def verification_of(job: Job) -> Verification:
    """From the job's record (probe["policy"]); none is the default policy of older records."""
    view = policy_view((job.probe or {}).get("policy"))
    return Verification(policy=view.summary, policy_name=view.name, policy_digest=view.digest,
                        content_checks_off=list(view.content_checks_off))


class Metadata(_Model):
    """One exported clip: identity, the real file name and its measured properties."""

    schema_: str = Field(SCHEMA, alias="schema")
    run_id: str                  # the job ID: a hash of everything that decided the pixels
    source: str
    video_id: str                # the manifest ID, e.g. R01
    clip: str                    # the workspace clip name, e.g. R01_5s
    scenario: str
    category: Category
    format: str = "video"
    file: str
    files: list[str]
    original_file: str
    duration_sec: float
    fps: float
    frames: int | None
    resolution: str
    codec: str
    sha256: str
    size_bytes: int
    generated_at: str
    generation: Generation
    verification: Verification
    generator: str
    cosmos_metadata: dict[str, Any] | None = None


class SceneSpec(_Model):
    location: str | None
    camera_type: str = "security_camera"
    resolution: str


class EnvironmentSpec(_Model):
    time_of_day: str | None
    weather: str | None


class GenerationSpec(_Model):
    format: str = "video"
    duration_sec: float
    fps: float
    frames: int | None
    cosmos_prompt: str
    negative_prompt: str
    seed: int
    backend: str
    model: str


class ScenarioSpec(_Model):
    """What the clip was asked to show, in the 2026-01-25 data/synthetic design's shape."""

    id: str
    category: Category
    name: str
    description: str
    source: str
    group: str | None
    series: str
    purpose: str | None
    expected_risk: str
    scene: SceneSpec
    environment: EnvironmentSpec
    generation: GenerationSpec


def _backend_class(backend: str):
    """The class of a recorded backend, or None when this installation cannot load it."""
    from ..backends.registry import backend_class
    from ..errors import SynthcamError

    try:
        return backend_class(backend)
    except SynthcamError:
        return None


def source_name(backend: str) -> str:
    """What made the clip, as the backend names itself ('cosmos' for Cosmos clips, as the evaluation
    expects); a backend this installation cannot load says `synthcam-<name>`."""
    cls = _backend_class(backend)
    return (cls.export_source if cls is not None else "") or f"synthcam-{backend}"


def measured(clip: VerifiedClip) -> tuple[float, float, int | None]:
    info = clip.info
    fps = float(info.fps) if info.fps else float(clip.job.spec.get("fps") or 0)
    frames = info.frames
    duration = info.duration_s if info.duration_s is not None else (frames / fps if frames and fps else 0.0)
    return round(duration, 6), round(fps, 6), frames


def metadata(clip: VerifiedClip, media_file: str) -> Metadata:
    job, spec = clip.job, clip.job.spec
    duration, fps, frames = measured(clip)
    generation = Generation(backend=job.backend, model=job.model, seed=job.seed, guidance=spec.get("guidance"),
                            num_steps=spec.get("num_steps"), timing_policy=spec.get("timing_policy"))
    cosmos = {"model": job.model, "seed": job.seed, "guidance": spec.get("guidance")} \
        if getattr(_backend_class(job.backend), "exports_cosmos_settings", False) else None
    return Metadata(
        run_id=job.job_id, source=source_name(job.backend), video_id=job.clip_id, clip=job.name,
        scenario=str(spec.get("scenario") or ""), category=clip.category,  # type: ignore[arg-type]
        file=media_file, files=[media_file], original_file=clip.path.name,
        duration_sec=duration, fps=fps, frames=frames, resolution=f"{clip.info.width}x{clip.info.height}",
        codec=clip.info.codec, sha256=clip.stat.sha256, size_bytes=clip.stat.size,
        generated_at=clip.generated_at.isoformat(), generation=generation, verification=verification_of(job),
        generator=f"synthcam {__version__}",
        cosmos_metadata=cosmos,
    )


def scenario_spec(clip: VerifiedClip, scenario_id: str) -> ScenarioSpec:
    job, spec, facts = clip.job, clip.job.spec, clip.facts
    duration, fps, frames = measured(clip)
    scenario = str(spec.get("scenario") or "")
    prompt = str(spec.get("prompt") or "")
    return ScenarioSpec(
        id=scenario_id, category=clip.category, name=scenario.replace("_", " ").title(),  # type: ignore[arg-type]
        description=prompt, source=source_name(job.backend), group=spec.get("group"), series=job.series,
        purpose=spec.get("purpose"), expected_risk=facts.expected_risk,
        scene=SceneSpec(location=facts.scene.layout if facts.scene else None,
                        resolution=f"{clip.info.width}x{clip.info.height}"),
        environment=EnvironmentSpec(time_of_day=facts.environment.time_of_day if facts.environment else None,
                                    weather=facts.environment.weather if facts.environment else None),
        generation=GenerationSpec(duration_sec=duration, fps=fps, frames=frames, cosmos_prompt=prompt,
                                  negative_prompt=str(spec.get("negative_prompt") or ""), seed=job.seed,
                                  backend=job.backend, model=job.model),
    )


def to_json_bytes(model: BaseModel) -> bytes:
    """Stable bytes (sorted keys are not used: field order is the documented order)."""
    return (model.model_dump_json(by_alias=True, indent=2) + "\n").encode()
