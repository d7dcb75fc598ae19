"""Replay a plan on simulated GPUs: synthcam's scheduler (real store, real LPT assignment and
claims, a virtual clock) against the two strategies of the old scripts.

  synthcam       one long-lived worker per GPU, model loaded once, queue assigned longest-first
  contiguous     the sorted file list cut into N contiguous slices, one load per GPU (batch_generate.sh v1)
  per-video      one process (and one model load) per video, next video to the first free GPU
                 (parallel_generate.py / batch_generate.sh "fixed")

Run: python bench/bench_scheduler.py [--manifest builtin] [--gpus 8] [--model 2B/post-trained] [--gpu h100]
"""

from __future__ import annotations

import argparse
import heapq
import tempfile
from pathlib import Path

from synthcam.engine.jobs import job_spec
from synthcam.manifest import load_manifest
from synthcam.plan import load_cost_table
from synthcam.prompts import compile_manifest
from synthcam.store import JobStore


def simulate_synthcam(specs, gpus: int, load_s: float) -> dict:
    with tempfile.TemporaryDirectory() as d:
        store = JobStore(Path(d) / "synthcam.db")
        store.sync(specs)
        queues = [f"run:w{i}" for i in range(gpus)]
        store.assign(queues)
        clocks, loads, busy = [], [], 0.0
        for i, q in enumerate(queues):
            t = load_s  # the worker loads the model once, then runs its whole queue as one batch
            jobs = store.claim(f"w{i}", queue=q, limit=100_000, now=0.0, lease_s=1e12)
            for job in jobs:
                store.start(job.job_id, f"w{i}", now=t)
                t += job.cost_s
                busy += job.cost_s
                store.complete(job.job_id, "clips/x.mp4", "0" * 64, {}, [], worker=f"w{i}", now=t)
            clocks.append(t)
            loads.append(1)
        assert store.counts()["done"] == len(specs)
        store.close()
    return {"makespan": max(clocks), "loads_per_gpu": max(loads), "busy": busy / (gpus * max(clocks))}


def simulate_contiguous(specs, gpus: int, load_s: float) -> dict:
    ordered = sorted(specs, key=lambda s: s.name)  # `ls prompts/generated/*.json | sort`
    size = -(-len(ordered) // gpus)
    slices = [ordered[i:i + size] for i in range(0, len(ordered), size)]
    clocks = [load_s + sum(s.cost_s for s in sl) for sl in slices]
    busy = sum(s.cost_s for s in specs)
    return {"makespan": max(clocks), "loads_per_gpu": 1, "busy": busy / (gpus * max(clocks))}


def simulate_per_video(specs, gpus: int, load_s: float) -> dict:
    heap = [(0.0, g) for g in range(gpus)]
    loads = [0] * gpus
    for s in sorted(specs, key=lambda s: s.name):
        t, g = heapq.heappop(heap)
        loads[g] += 1
        heapq.heappush(heap, (t + load_s + s.cost_s, g))
    makespan = max(t for t, _ in heap)
    busy = sum(s.cost_s for s in specs)
    return {"makespan": makespan, "loads_per_gpu": max(loads), "busy": busy / (gpus * makespan)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest", default="builtin")
    ap.add_argument("--gpus", type=int, default=8)
    ap.add_argument("--model", default="2B/post-trained")
    ap.add_argument("--gpu", default="h100")
    a = ap.parse_args()
    manifest = load_manifest(a.manifest)
    table = load_cost_table()
    chunk_s = table.chunk(a.model, a.gpu).seconds
    load_s = table.model(a.model).load_s
    specs = [job_spec(manifest, c, "cosmos", a.model, c.timing.chunks * chunk_s, False) for c in compile_manifest(manifest)]
    total = sum(s.cost_s for s in specs)
    lower = load_s + max(total / a.gpus, max(s.cost_s for s in specs))
    print(f"{len(specs)} clips, {a.gpus}x {a.gpu.upper()}, {a.model}: {chunk_s:g} s/chunk, load {load_s:g} s; "
          f"lower bound {lower / 3600:.2f} h")
    print("| strategy | makespan (h) | makespan / lower bound | model loads per GPU | GPU busy fraction |")
    print("|---|---|---|---|---|")
    for name, fn in (("synthcam (LPT queues, one load)", simulate_synthcam),
                     ("old: contiguous split, one load", simulate_contiguous),
                     ("old: one process per video", simulate_per_video)):
        r = fn(specs, a.gpus, load_s)
        print(f"| {name} | {r['makespan'] / 3600:.2f} | {r['makespan'] / lower:.3f} | {r['loads_per_gpu']} | {r['busy']:.3f} |")


if __name__ == "__main__":
    main()
