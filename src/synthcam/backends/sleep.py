"""A stand-in GPU backend, shipped like httpx's mock transport: for tests and benchmarks of the
engine, never for datasets.

It "generates" by holding its GPU for a set time and returns a real 93-frame 16 fps clip, like
one Cosmos chunk in standard mode, so finishing (interpolation to 24 fps, verification) does
real work. Options: `gen_s` (seconds per clip), `log` (a file that gets "<name> <start> <end>"
per clip, so a benchmark can measure how busy each GPU was), `crash_on` (a clip name: the
worker process dies there, as a real CUDA crash would), `grain` (per-frame noise, so clips have
a real camera's size: benchmarks of moving artifacts), `frames` (raw frames, default 93).
Environment variables SLEEP_GEN_S, SLEEP_LOG, SLEEP_CRASH_ON, SLEEP_GRAIN and SLEEP_FRAMES set the
same for runs started from the command line.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import InputError
from ..media.encode import VideoWriter
from .base import Backend, GenerationRequest, RawClip

FRAMES = 93
FPS = 16


class SleepOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    gen_s: float = Field(default_factory=lambda: float(os.environ.get("SLEEP_GEN_S", "1.0")), ge=0)
    log: str | None = Field(default_factory=lambda: os.environ.get("SLEEP_LOG"))
    crash_on: str | None = Field(default_factory=lambda: os.environ.get("SLEEP_CRASH_ON"))
    grain: float = Field(default_factory=lambda: float(os.environ.get("SLEEP_GRAIN", "0")), ge=0, le=64)
    frames: int = Field(default_factory=lambda: int(os.environ.get("SLEEP_FRAMES", str(FRAMES))), ge=2, le=2000)


class SleepBackend(Backend):
    name = "sleep"
    device = "gpu"
    export_source = "synthcam-sleep"

    def __init__(self, options: SleepOptions) -> None:
        self.opts = options

    @classmethod
    def from_options(cls, options: dict, gpus: list[str]) -> SleepBackend:
        try:
            return cls(SleepOptions.model_validate(options or {}))
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            raise InputError(f"sleep option {'.'.join(map(str, err['loc']))}: {err['msg']}") from None

    @classmethod
    def option_names(cls) -> frozenset[str]:
        return frozenset(SleepOptions.model_fields)

    @classmethod
    def job_cost_s(cls, compiled, model: str) -> float:  # type: ignore[override]
        return float(os.environ.get("SLEEP_GEN_S", "1.0"))

    def generate(self, request: GenerationRequest, staging: Path) -> RawClip:
        t0 = time.time()
        if self.opts.crash_on and request.name == self.opts.crash_on:
            os._exit(9)
        res = request.manifest.defaults.resolution
        w, h = res.width, res.height
        seed = request.compiled.seed
        rng = np.random.default_rng(seed)
        base = rng.integers(30, 220, size=(h, w, 3), dtype=np.uint8)
        out = Path(staging) / f"{request.name}.raw.mp4"
        size = max(8, h // 6)
        grain = rng.normal(0, self.opts.grain, size=(4, h, w, 1)).astype(np.int16) if self.opts.grain else None
        with VideoWriter(out, w, h, FPS, preset="ultrafast", threads=1) as writer:
            for i in range(self.opts.frames):
                frame = base.copy()
                if grain is not None:  # sensor noise: the clip's size grows like a real camera's
                    frame = np.clip(frame + np.roll(grain[i % 4], i * 7, axis=1), 0, 255).astype(np.uint8)
                x = int((w - size) * (0.5 + 0.45 * np.sin(i / 11 + seed % 5)))
                y = int((h - size) * (0.5 + 0.4 * np.cos(i / 17)))
                frame[y:y + size, x:x + size] = (240, 40, 40)
                writer.write(frame)
        time.sleep(max(0.0, self.opts.gen_s - (time.time() - t0)))  # the rest of the "GPU" time
        if self.opts.log:
            with open(self.opts.log, "a", encoding="utf-8") as fh:
                fh.write(f"{request.name} {t0:.6f} {time.time():.6f}\n")
        return RawClip(request, out, float(FPS), self.opts.frames, at_target=False)
