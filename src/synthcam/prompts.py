"""Prompt compiler: manifest variants -> prompts, seeds, timing and Cosmos Predict 2.5 samples.

Frames and timing are explicit here because the system we replace asked Cosmos for 120/240/720
frames and got 93 frames at 16 fps three times over: Predict 2.5 makes 93-frame chunks at
16 fps, and only autoregressive mode honours `num_output_frames`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field

from .errors import ManifestError
from .fsutil import atomic_dir, check_id
from .manifest import Clip, Manifest, Variant, sampling_for
from .templating import TemplateLimit, bounded_environment, render_bounded

MODEL_FPS = 16            # Predict 2.5 writes every mp4 at 16 fps (checkpoint metadata: 720p, 16 fps)
CHUNK_FRAMES = 93         # (state_t 24 - 1) x 4 + 1 latent-to-pixel frames per diffusion run
CHUNK_OVERLAP = 1         # reused upstream as the latent conditioning count: keep 1
SEED_LIMIT = 2**32        # upstream seeds numpy's RandomState, which takes 0 .. 2**32-1
PLAN_FILE = "synthcam-plan/plan.json"  # in a subfolder so `-i DIR/*.json` never picks it up


class CosmosSample(BaseModel):
    """One text2world sample in the flat per-sample schema of cosmos-predict2.5 v1.3.2+.

    Upstream parses with extra="forbid", so we never add a key it does not know.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    inference_type: Literal["text2world"] = "text2world"
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    prompt: str = Field(min_length=1)
    negative_prompt: str
    seed: int = Field(ge=0, lt=SEED_LIMIT)
    guidance: int = Field(ge=0, le=7)
    resolution: str = Field(pattern=r"^\d+,\d+$")
    num_steps: int = Field(gt=0)
    enable_autoregressive: bool = False
    num_output_frames: int | None = Field(default=None, gt=0)
    chunk_size: int | None = Field(default=None, gt=0, le=CHUNK_FRAMES)
    chunk_overlap: int | None = Field(default=None, ge=0)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


@dataclass(frozen=True)
class Timing:
    """How a variant's target frames are obtained from the model."""

    policy: str              # interpolate | retime
    target_fps: int
    target_frames: int
    model_fps: int           # fps the model's output is declared at (16)
    frames_needed: int       # frames we need from the model before post-processing
    model_frames: int        # frames the model will actually write
    chunks: int              # full 93-frame diffusion runs
    autoregressive: bool
    play_fps: float          # fps the model frames are played at before conversion

    @property
    def seconds_from_model(self) -> float:
        return self.frames_needed / self.play_fps


def chunk_count(frames: int, chunk_size: int = CHUNK_FRAMES, overlap: int = CHUNK_OVERLAP) -> int:
    """Chunks upstream runs for N frames: 1 + ceil((N - chunk) / (chunk - overlap))."""
    if frames <= chunk_size:
        return 1
    return 1 + math.ceil((frames - chunk_size) / (chunk_size - overlap))


def timing_for(policy: str, seconds: int, fps: int) -> Timing:
    target = fps * seconds
    if policy == "interpolate":
        needed = math.ceil(MODEL_FPS * seconds)
        play = float(MODEL_FPS)
    elif policy == "retime":
        needed = target
        play = float(fps)
    else:  # pragma: no cover - the manifest validates the policy
        raise ValueError(policy)
    autoregressive = needed > CHUNK_FRAMES
    model_frames = needed if autoregressive else CHUNK_FRAMES
    return Timing(policy, fps, target, MODEL_FPS, needed, model_frames, chunk_count(needed), autoregressive, play)


def derive_seed(dataset_seed: int, clip_id: str, duration_s: int, salt: int = 0, headroom: int = 16) -> int:
    """A per-variant seed from the dataset seed, ID and duration; stable across runs and machines.

    Kept below 2**32 - headroom so that seed + chunk index stays a valid RandomState seed.
    """
    text = f"synthcam-seed:{dataset_seed}:{clip_id}:{duration_s}:{salt}".encode()
    value = int.from_bytes(hashlib.sha256(text).digest()[:8], "big")
    return value % (SEED_LIMIT - headroom)


@dataclass(frozen=True)
class CompiledClip:
    variant: Variant
    prompt: str
    negative_prompt: str
    seed: int
    timing: Timing
    action_pacing_s: int | None     # which pacing text was used (None for explicit prompts)
    prompt_source: str              # "template:<name>" or "explicit"

    @property
    def name(self) -> str:
        return self.variant.name

    @property
    def clip(self) -> Clip:
        return self.variant.clip

    def cosmos_sample(self, manifest: Manifest, model: str | None = None) -> CosmosSample:
        """The sample for `model` (default: the manifest's); the distilled model gets its real steps/guidance."""
        d = manifest.defaults
        t = self.timing
        num_steps, guidance = sampling_for(model or d.model, d.num_steps, d.guidance)
        fields: dict[str, Any] = dict(
            name=self.name,
            prompt=self.prompt,
            negative_prompt=self.negative_prompt,
            seed=self.seed,
            guidance=guidance,
            resolution=f"{d.resolution.height},{d.resolution.width}",
            num_steps=num_steps,
        )
        if t.autoregressive:
            fields.update(enable_autoregressive=True, num_output_frames=t.frames_needed,
                          chunk_size=CHUNK_FRAMES, chunk_overlap=CHUNK_OVERLAP)
        return CosmosSample(**fields)

    def plan_record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id": self.variant.clip_id,
            "series": self.variant.series,
            "duration_s": self.variant.duration_s,
            "seed": self.seed,
            "prompt_source": self.prompt_source,
            "action_pacing_s": self.action_pacing_s,
            "timing": asdict(self.timing),
        }


# --- rendering ---------------------------------------------------------------------------

_WS = re.compile(r"\s+")
DISTANCE_TEXT = {
    "near": "close to the viewpoint, large in the frame",
    "mid": "",
    "far": "far from the viewpoint, small in the frame",
}
OCCLUSION_TEXT = {
    "none": "",
    "partial": "partly hidden behind {occluder}",
    "heavy": "mostly hidden behind {occluder}, only glimpses visible",
}


def builtin_template(name: str) -> str:
    path = resources.files("synthcam").joinpath(f"data/templates/{name}.j2")
    return path.read_text(encoding="utf-8")


def _sentence(s: str) -> str:
    return (s[:1].upper() + s[1:]).rstrip(" .") if s else ""


def _environment() -> SandboxedEnvironment:
    return bounded_environment({"sentence": _sentence})


def _join_subjects(descriptions: list[str]) -> str:
    if len(descriptions) <= 1:
        return "".join(descriptions)
    return ", ".join(descriptions[:-1]) + " and " + descriptions[-1]


class Compiler:
    """Renders prompts for one manifest; templates are compiled once."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self._env = _environment()
        self._templates: dict[str, jinja2.Template] = {}
        self._seeds: dict[str, int] = {}

    def template(self, name: str) -> jinja2.Template:
        if name not in self._templates:
            source = self.manifest.model.templates.get(name)
            line = self.manifest.line_of("templates", name)
            try:
                if source is None:
                    source = builtin_template(name)
                    line = self.manifest.line_of("defaults", "template")
                self._templates[name] = self._env.from_string(source)
            except jinja2.TemplateSyntaxError as exc:
                raise ManifestError(self.manifest.path, line, f"template {name!r}: {exc.message} (template line {exc.lineno})") from None
            except FileNotFoundError:
                raise ManifestError(self.manifest.path, line, f"unknown template {name!r}") from None
        return self._templates[name]

    def render(self, variant: Variant) -> tuple[str, int | None, str]:
        clip = variant.clip
        explicit = clip.prompt
        if explicit is not None:
            if isinstance(explicit, dict):
                seconds = next((s for s in explicit if s >= variant.duration_s), max(explicit))
                return _WS.sub(" ", explicit[seconds]).strip(), None, "explicit"
            return _WS.sub(" ", explicit).strip(), None, "explicit"
        comps = self.manifest.components
        scene = comps.scenes[clip.scene]  # type: ignore[index]
        environment = comps.environments[clip.environment]  # type: ignore[index]
        action = comps.actions[clip.action]  # type: ignore[index]
        subjects = [comps.subjects[s] for s in clip.subjects]
        pacing_s, action_text = action.text_for(variant.duration_s)
        occlusion = OCCLUSION_TEXT[clip.occlusion].format(occluder=clip.occluder or "")
        name = self.manifest.defaults.template
        context = dict(
            clip=clip, scene=scene, environment=environment, action=action, subjects=subjects,
            subject=subjects[0], subjects_text=_join_subjects([s.description for s in subjects]),
            action_text=action_text, duration_s=variant.duration_s, distance_text=DISTANCE_TEXT[clip.distance],
            occlusion_text=occlusion,
        )
        try:
            text = render_bounded(self.template(name), context)
        except TemplateLimit as exc:
            line = self.manifest.line_of("templates", name) or self.manifest.line_of("clips")
            raise ManifestError(self.manifest.path, line, f"template {name!r} for {variant.name}: {exc}") from None
        return _WS.sub(" ", text).strip(), pacing_s, f"template:{name}"

    def seed_for(self, variant: Variant) -> int:
        if not self._seeds:
            self._assign_seeds()
        return self._seeds[variant.name]

    def _assign_seeds(self) -> None:
        """Derive every variant's seed; on the (rare) collision, re-derive with a salt."""
        taken: set[int] = set()
        for v in self.manifest.variants():
            salt = 0
            while (seed := derive_seed(self.manifest.defaults.seed, v.clip_id, v.duration_s, salt)) in taken:
                salt += 1
            taken.add(seed)
            self._seeds[v.name] = seed

    def compile(self, variant: Variant) -> CompiledClip:
        prompt, pacing_s, source = self.render(variant)
        d = self.manifest.defaults
        return CompiledClip(
            variant=variant, prompt=prompt, negative_prompt=_WS.sub(" ", d.negative_prompt).strip(),
            seed=self.seed_for(variant), timing=timing_for(d.timing, variant.duration_s, d.fps),
            action_pacing_s=pacing_s, prompt_source=source,
        )


def compile_manifest(manifest: Manifest, only: list[str] | None = None, durations: list[int] | None = None) -> list[CompiledClip]:
    """Compile every variant (optionally filtered by ID glob patterns and durations)."""
    compiler = Compiler(manifest)
    out = []
    for v in select_variants(manifest, only, durations):
        out.append(compiler.compile(v))
    return out


def select_variants(manifest: Manifest, only: list[str] | None = None, durations: list[int] | None = None) -> list[Variant]:
    import fnmatch

    from .errors import InputError

    variants = manifest.variants()
    if only:
        pats = [p.strip() for p in only if p.strip()]
        variants = [v for v in variants if any(fnmatch.fnmatchcase(v.clip_id, p) for p in pats)]
        if not variants:
            raise InputError(f"--only {','.join(pats)} matches no clip ID in {manifest.path}")
    if durations:
        variants = [v for v in variants if v.duration_s in durations]
        if not variants:
            raise InputError(f"--durations {','.join(map(str, durations))} matches no variant in {manifest.path}")
    return variants


@dataclass(frozen=True)
class PromptsResult:
    out_dir: Path
    files: int
    batch: Path
    plan: Path


def write_prompts(manifest: Manifest, out_dir: Path, only: list[str] | None = None,
                  durations: list[int] | None = None) -> PromptsResult:
    """Write `<ID>_<N>s.json` per variant, `batch.jsonl` and the timing plan, all or nothing."""
    clips = compile_manifest(manifest, only, durations)
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or (any(out_dir.iterdir()) and not (out_dir / PLAN_FILE).exists())):
        from .errors import InputError

        raise InputError(f"{out_dir} exists and is not a synthcam prompts folder; choose an empty or new folder")
    for c in clips:
        check_id(c.name, "clip name")
    with atomic_dir(out_dir) as tmp:
        lines = []
        for c in clips:
            sample = c.cosmos_sample(manifest).to_json()
            (tmp / f"{c.name}.json").write_text(json.dumps(sample, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            lines.append(json.dumps(sample, ensure_ascii=False))
        (tmp / "batch.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        plan_path = tmp / PLAN_FILE
        plan_path.parent.mkdir(parents=True)
        d = manifest.defaults
        plan = {
            "manifest": manifest.path,
            "model": d.model,
            "timing_policy": d.timing,
            "fps": d.fps,
            "resolution": str(d.resolution),
            "model_fps": MODEL_FPS,
            "chunk_frames": CHUNK_FRAMES,
            "clips": [c.plan_record() for c in clips],
        }
        plan_path.write_text(json.dumps(plan, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return PromptsResult(out_dir, len(clips), out_dir / "batch.jsonl", out_dir / PLAN_FILE)
