"""A stand-in GPU backend for engine benchmarks: "generates" by holding its GPU for a set time
and returns a real 93-frame 16 fps clip, like one Cosmos chunk in standard mode.

Registered with SYNTHCAM_BACKENDS="sleep=support.sleep_backend:SleepBackend" (bench/ on the path).
SLEEP_GEN_S sets the generation time per clip; SLEEP_LOG gets one line per clip:
"<name> <start> <end>" (time.time()), so a benchmark can measure how busy each GPU was.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from synthcam.backends.base import Backend, GenerationRequest, RawClip
from synthcam.media.encode import VideoWriter

FRAMES = 93
FPS = 16


class SleepBackend(Backend):
    name = "sleep"
    device = "gpu"

    @classmethod
    def job_cost_s(cls, compiled, model: str) -> float:  # type: ignore[override]
        return float(os.environ.get("SLEEP_GEN_S", "2"))

    def generate(self, request: GenerationRequest, staging: Path) -> RawClip:
        t0 = time.time()
        gen_s = float(os.environ.get("SLEEP_GEN_S", "2"))
        res = request.manifest.defaults.resolution
        w, h = res.width, res.height
        rng = np.random.default_rng(request.compiled.seed)
        base = rng.integers(30, 220, size=(h, w, 3), dtype=np.uint8)
        out = Path(staging) / f"{request.name}.raw.mp4"
        size = max(8, h // 6)
        with VideoWriter(out, w, h, FPS, preset="ultrafast", threads=1) as writer:
            for i in range(FRAMES):
                frame = base.copy()
                x = int((w - size) * (0.5 + 0.45 * np.sin(i / 11 + request.compiled.seed % 5)))
                y = int((h - size) * (0.5 + 0.4 * np.cos(i / 17)))
                frame[y:y + size, x:x + size] = (240, 40, 40)
                writer.write(frame)
        time.sleep(max(0.0, gen_s - (time.time() - t0)))  # the rest of the "GPU" time
        log = os.environ.get("SLEEP_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as fh:
                fh.write(f"{request.name} {t0:.6f} {time.time():.6f}\n")
        return RawClip(request, out, float(FPS), FRAMES, at_target=False)
