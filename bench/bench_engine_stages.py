"""GPU busy fraction and makespan of `synthcam run` with a GPU backend that keeps its GPU busy
for a set time per clip and hands over a real 93-frame 16 fps clip, which then needs real
finishing (interpolate 16 -> 24 fps, verify) on the CPU.

Inline (the first engine, and `--finish-workers 0`): each GPU worker finishes its own clip before
generating the next, so the GPU idles during finishing. Staged: the worker hands the raw clip to
a CPU pool and generates the next at once. Busy = generation time / (GPUs x the generation
window, first start to last end); the makespan adds the last clip's finishing (the tail).

Run: python bench/bench_engine_stages.py [--clips 12] [--gen-s 3] [--gpus 2] [--res 640x352] [--repeats 3]
It measures whatever engine is installed; docs/benchmarks.md records the inline numbers taken
before the change next to the staged ones.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


MANIFEST = """version: 1
name: {name}
description: Engine benchmark
defaults:
  fps: 24
  resolution: {res}
  durations: [{durations}]
  negative_prompt: visible camera, camera housing, camera lens, slow motion, time lapse
  seed: 7
  prompt_words: [5, 200]
components:
  scenes:
    yard: {{layout: backyard, setting: a small fenced backyard with a lawn, view: seen from high under the eaves}}
  environments:
    day: {{time_of_day: day, lighting: soft daylight, look: a clear image with mild grain}}
  subjects:
    walker: {{kind: person, description: a person in a red jacket, classes: {{person: 1}}}}
  actions:
    cross:
      path: cross
      pacing:
        5: they walk across the lawn from left to right and leave on the far side
        30: they walk slowly across the lawn from left to right, stop, look around and leave on the far side
clips:
{clips}
"""


def manifest_text(clips: int, res: str = "1280x704", durations: str = "5", name: str = "stages") -> str:
    """A bench manifest of `clips` alike clips (bench_ray.py uses it too)."""
    rows = "\n".join(f"  - {{id: S{i:03d}, group: g, scenario: s{i}, purpose: bench, scene: yard, environment: day,"
                     f" subjects: [walker], action: cross, expected_risk: low}}" for i in range(clips))
    return MANIFEST.format(name=name, res=res, durations=durations, clips=rows)


def run_once(clips: int, gen_s: float, gpus: int, res: str, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        (d / "m.yaml").write_text(manifest_text(clips, res))
        log = d / "gen.log"
        env = {**os.environ, "SLEEP_GEN_S": str(gen_s), "SLEEP_LOG": str(log)}
        t0 = time.time()
        p = subprocess.run([sys.executable, "-m", "synthcam", "run", "-m", str(d / "m.yaml"), "-w", str(d / "ws"),
                            "--backend", "sleep", "--gpus", str(gpus), "--json", *extra],
                           env=env, capture_output=True, text=True)
        wall = time.time() - t0
        if p.returncode != 0:
            raise SystemExit(f"run failed: {p.stderr[-2000:]}\n{p.stdout[-2000:]}")
        spans = [tuple(map(float, line.split()[1:3])) for line in log.read_text().splitlines()]
        import sqlite3

        conn = sqlite3.connect(d / "ws" / "synthcam.db")
        last_done = conn.execute("SELECT MAX(finished_at) FROM jobs WHERE state = 'done'").fetchone()[0]
        n_done = conn.execute("SELECT COUNT(*) FROM jobs WHERE state = 'done'").fetchone()[0]
        conn.close()
        first = min(s for s, _ in spans)
        makespan = last_done - first
        gen_end = max(e for _, e in spans)
        # busy: how much of the generation window the GPUs spent generating (idle = waiting for finishing)
        busy = sum(e - s for s, e in spans) / (gpus * (gen_end - first))
        return {"makespan_s": makespan, "busy": busy, "wall_s": wall, "done": n_done,
                "tail_s": last_done - gen_end, "lower_bound_s": clips * gen_s / gpus}


def finishing_time(res: str) -> float:
    """Seconds of CPU one clip's finishing takes here (post-process + verify), measured alone."""
    from synthcam.engine.postprocess import Target, finalize
    from synthcam.media.encode import VideoWriter
    from synthcam.verify import verify_file
    from synthcam.verify.expect import Expectation
    import numpy as np

    w, h = map(int, res.split("x"))
    with tempfile.TemporaryDirectory() as d:
        raw = Path(d) / "raw.mp4"
        rng = np.random.default_rng(1)
        base = rng.integers(30, 220, size=(h, w, 3), dtype=np.uint8)
        with VideoWriter(raw, w, h, 16, preset="ultrafast", threads=1) as wr:
            for i in range(93):
                f = base.copy()
                f[(i * 3) % (h - 40):(i * 3) % (h - 40) + 40, (i * 5) % (w - 40):(i * 5) % (w - 40) + 40] = 250
                wr.write(f)
        t0 = time.time()
        out = Path(d) / "S_5s.mp4"
        finalize(raw, out, Target(24, 120, w, h), "interpolate", 80, model_fps=16, method="mci")
        verify_file(out, Expectation(fps=24, width=w, height=h, duration_s=5))
        return time.time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=12)
    ap.add_argument("--gen-s", type=float, default=3.0)
    ap.add_argument("--gpus", type=int, default=2)
    ap.add_argument("--res", default="640x352")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--label", default="")
    ap.add_argument("--extra", default="", help="extra `synthcam run` arguments, e.g. '--finish-workers 2'")
    args = ap.parse_args()
    fin = statistics.median(finishing_time(args.res) for _ in range(3))
    runs = [run_once(args.clips, args.gen_s, args.gpus, args.res, args.extra.split()) for _ in range(args.repeats)]
    med = {k: statistics.median(r[k] for r in runs) for k in ("makespan_s", "busy", "tail_s", "lower_bound_s")}
    print(json.dumps({"label": args.label, "clips": args.clips, "gen_s": args.gen_s, "gpus": args.gpus, "res": args.res,
                      "finish_s_alone": round(fin, 2), "runs": runs,
                      "median": {k: round(v, 3) for k, v in med.items()}}, indent=2))
    print(f"| {args.label or 'engine'} | {args.clips} | {args.gen_s:g} | {fin:.2f} | {med['busy']:.3f} | "
          f"{med['makespan_s']:.1f} | {med['lower_bound_s']:.1f} | {med['makespan_s'] / med['lower_bound_s']:.2f} | "
          f"{med['tail_s']:.1f} |")


if __name__ == "__main__":
    main()
