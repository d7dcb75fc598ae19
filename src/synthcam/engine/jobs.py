"""Manifest variants -> job specs whose identity is a hash of everything that determines the output."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

from ..manifest import Manifest
from ..prompts import CompiledClip
from ..store import JobSpec

# Fields that decide a clip's pixels. Anything else (group, purpose, expected risk...) is
# metadata: changing it must not regenerate a clip.
IDENTITY_FIELDS = ("backend", "model", "name", "prompt", "negative_prompt", "seed", "fps", "frames",
                   "width", "height", "timing_policy", "guidance", "num_steps", "components")


def _components(manifest: Manifest, c: CompiledClip) -> dict[str, Any] | None:
    """For component-driven backends the components themselves decide the pixels."""
    clip = c.clip
    comps = manifest.components
    if clip.prompt is not None and clip.scene is None:
        return None
    return {
        "scene": comps.scenes[clip.scene].model_dump() if clip.scene in comps.scenes else None,
        "environment": comps.environments[clip.environment].model_dump() if clip.environment in comps.environments else None,
        "subjects": [comps.subjects[s].model_dump() for s in clip.subjects],
        "action": comps.actions[clip.action].model_dump(mode="json") if clip.action in comps.actions else None,
        "distance": clip.distance, "occlusion": clip.occlusion, "occluder": clip.occluder,
    }


def _expects_motion(manifest: Manifest, c: CompiledClip) -> bool | None:
    """Whether the clip's action moves (then a static picture is a finding); None when unknown."""
    action = manifest.components.actions.get(c.clip.action or "")
    return (action.motion != "none") if action else None


def job_spec(manifest: Manifest, c: CompiledClip, backend: str, model: str, cost_s: float,
             uses_components: bool, max_attempts: int = 3, device: str = "gpu") -> JobSpec:
    d = manifest.defaults
    v = c.variant
    spec: dict[str, Any] = {
        "backend": backend,
        "model": model,
        "name": v.name,
        "prompt": c.prompt,
        "negative_prompt": c.negative_prompt,
        "seed": c.seed,
        "fps": v.fps,
        "frames": v.frames,
        "width": d.resolution.width,
        "height": d.resolution.height,
        "timing_policy": c.timing.policy,
        "guidance": d.guidance,
        "num_steps": d.num_steps,
        "components": _components(manifest, c) if uses_components else None,
    }
    identity = {k: spec[k] for k in IDENTITY_FIELDS}
    job_id = hashlib.sha256(json.dumps(identity, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:24]
    clip = v.clip
    spec.update({
        "clip_id": v.clip_id,
        "duration_s": v.duration_s,
        "series": v.series,
        "group": clip.group,
        "scenario": clip.scenario,
        "purpose": clip.purpose,
        "description": clip.description,
        "expected_risk": clip.expected_risk,
        "timing": asdict(c.timing),
        "manifest": manifest.origin or manifest.path,
        "device": device,             # what its compute time is: GPU time or CPU time
        "expects_motion": _expects_motion(manifest, c),
    })
    return JobSpec(job_id=job_id, name=v.name, clip_id=v.clip_id, series=v.series, duration_s=v.duration_s,
                   backend=backend, model=model, seed=c.seed, spec=spec, cost_s=cost_s, max_attempts=max_attempts)
