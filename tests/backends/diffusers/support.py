"""Shared pieces of the diffusers backend tests: a tiny manifest, requests, a recording Hooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from synthcam.backends.base import GenerationRequest, Hooks
from synthcam.manifest import Manifest, load_manifest_text
from synthcam.prompts import compile_manifest

# 32x32, 2 steps: a 5 s clip is one 93-frame chunk, a 10 s clip two chained chunks (160 frames).
MANIFEST = """\
version: 1
name: tiny-diffusers
description: Tiny manifest for the diffusers backend tests.
defaults:
  fps: 24
  resolution: 32x32
  durations: [5, 10]
  negative_prompt: blurry, distorted, visible camera housing
  seed: {seed}
  num_steps: 2
  guidance: {guidance}
clips:
  - id: A01
    group: g
    scenario: porch
    purpose: tests
    prompt: a quiet front porch at night, a courier walks up the steps with a parcel
    expected_risk: low
  - id: A02
    group: g
    scenario: driveway
    purpose: tests
    prompt: a wet driveway in the rain, a car pulls in and stops
    expected_risk: low
  - id: A03
    group: g
    scenario: yard
    purpose: tests
    prompt: a backyard gate in the fog, a dog trots along the fence
    expected_risk: low
"""


def manifest(seed: int = 3, guidance: int = 7) -> Manifest:
    return load_manifest_text(MANIFEST.format(seed=seed, guidance=guidance), "tiny-diffusers.yaml")


def requests(m: Manifest, names: list[str], work: Path | None, job_prefix: str = "job") -> list[GenerationRequest]:
    """Requests for the named variants; each gets work/<name> as its work folder (None: no work_dir)."""
    compiled = {c.name: c for c in compile_manifest(m)}
    return [GenerationRequest(f"{job_prefix}-{n}", compiled[n], m, work_dir=(work / n) if work else None)
            for n in names]


@dataclass
class Recorder:
    """Hooks that remember everything the backend reported."""

    started: list[str] = field(default_factory=list)
    loads: int = 0
    lines: list[str] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)

    def hooks(self) -> Hooks:
        def load() -> None:
            self.loads += 1

        return Hooks(on_start=lambda r: self.started.append(r.name), on_model_load=load,
                     log=self.lines.append, progress=self.events.append)

    def chunks_made(self, name: str) -> list[int]:
        """The chunks (1-based) denoised for a clip, from the progress events."""
        return sorted({e["chunk"] for e in self.events if name in e["names"]})


def frames_of(path: Path) -> np.ndarray:
    from synthcam.backends.diffusers.chunks import read_video

    return read_video(path)
