"""A bench-only GPU backend for replaying a plan on simulated GPUs (bench/bench_ray.py replay).

Each job holds its "GPU" for its cost-table time times REPLAY_SCALE (a scaled clock), after one
model load per worker (the table's load time, scaled), and returns a tiny stand-in file; the
bench's finishing accepts it, so the driver's dispatch, claims, collection and records are the
real ones and only the pixels are missing. REPLAY_LOG gets "<worker pid> <name> <start> <end>".
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from synthcam.backends.base import Backend, GenerationRequest, RawClip
from synthcam.plan import load_cost_table

MODEL = os.environ.get("REPLAY_MODEL", "2B/post-trained")
GPU = os.environ.get("REPLAY_GPU", "h100")


class ReplayBackend(Backend):
    name = "replay"
    device = "gpu"

    def __init__(self) -> None:
        self.scale = float(os.environ.get("REPLAY_SCALE", "0.01"))
        self.loaded = False

    @classmethod
    def job_cost_s(cls, compiled, model: str) -> float:  # type: ignore[override]
        return compiled.timing.chunks * load_cost_table().chunk(MODEL, GPU).seconds

    def generate(self, request: GenerationRequest, staging: Path) -> RawClip:
        raise NotImplementedError  # generate_many is the only way in

    def generate_many(self, requests, staging, hooks=None):
        table = load_cost_table()
        for request in requests:
            if not self.loaded:
                hooks.on_model_load()
                time.sleep(table.model(MODEL).load_s * self.scale)
                self.loaded = True
            hooks.on_start(request)
            t0 = time.time()
            time.sleep(self.job_cost_s(request.compiled, MODEL) * self.scale)
            out = Path(staging) / f"{request.name}.mp4"
            out.write_bytes(request.job_id.encode())
            with open(os.environ["REPLAY_LOG"], "a", encoding="utf-8") as fh:
                fh.write(f"{os.getpid()} {request.name} {t0:.6f} {time.time():.6f}\n")
            yield RawClip(request, out, 24.0, request.compiled.variant.frames, at_target=True)
