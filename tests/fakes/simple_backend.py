"""A fast test double backend: a textured background with a moving block, exactly at target.

Registered for spawned workers through SYNTHCAM_BACKENDS="simple=fakes.simple_backend:SimpleBackend"
(the tests folder is on sys.path). SIMPLE_DELAY_S slows each frame, for kill tests.
SIMPLE_AUDIT='{"A01_1s": [["out_of_frame", "..."]]}' attaches fidelity findings to those clips, as
the procedural backend does when a clip does not show its manifest.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from synthcam.backends.base import Backend, GenerationRequest, RawClip
from synthcam.media.encode import VideoWriter
from synthcam.verify.report import Finding


class SimpleBackend(Backend):
    name = "simple"

    def generate(self, request: GenerationRequest, staging: Path) -> RawClip:
        spec_w = request.manifest.defaults.resolution.width
        spec_h = request.manifest.defaults.resolution.height
        v = request.variant
        # SIMPLE_IGNORE_SEED=1 makes every variant of an ID the same picture (the old 5/10/30 s bug)
        seed = sum(map(ord, v.clip_id)) if os.environ.get("SIMPLE_IGNORE_SEED") else request.compiled.seed
        rng = np.random.default_rng(seed)
        base = rng.integers(40, 200, size=(spec_h, spec_w, 3), dtype=np.uint8)
        delay = float(os.environ.get("SIMPLE_DELAY_S", "0"))
        out = staging / f"{request.name}.mp4"
        size = max(8, spec_h // 5)
        with VideoWriter(out, spec_w, spec_h, v.fps, preset="ultrafast", threads=1) as w:
            for i in range(v.frames):
                frame = base.copy() if not os.environ.get("SIMPLE_BLACK") else np.zeros_like(base)
                x = int((spec_w - size) * (0.5 + 0.45 * np.sin(i / 9 + seed % 7)))
                y = int((spec_h - size) * (0.5 + 0.4 * np.cos(i / 13)))
                if not os.environ.get("SIMPLE_BLACK"):
                    frame[y:y + size, x:x + size] = (255, 30, 30)
                w.write(frame)
                if delay:
                    time.sleep(delay)
        audit = json.loads(os.environ.get("SIMPLE_AUDIT", "{}")).get(request.name, [])
        return RawClip(request, out, float(v.fps), v.frames, at_target=True,
                       audit=[Finding(kind=k, detail=d) for k, d in audit])


class SimpleGpuBackend(SimpleBackend):
    """The same clips, scheduled as a GPU backend: one worker per GPU group, each GPU group noted."""

    name = "simplegpu"
    device = "gpu"

    def generate(self, request: GenerationRequest, staging: Path) -> RawClip:
        marker = os.environ.get("SIMPLE_GPU_LOG")
        if marker:
            with open(marker, "a", encoding="utf-8") as fh:
                fh.write(f"{request.name} {os.environ.get('CUDA_VISIBLE_DEVICES', '')}\n")
        return super().generate(request, staging)
