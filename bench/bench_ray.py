"""The Ray executor, measured (issue 13). Three parts, each run once; tables go to docs/benchmarks.md.

  overhead   per-job cost of the Ray executor against the local one on this machine: the same
             sleep backend making real ~10 MB clips (1280x704, sensor grain), one GPU worker.
             Per job: the gap the worker leaves between two generations (handing an output over)
             and the handover (generation ends -> the output is in the driver's raw/ and recorded
             as generated: artifact return + record). Local and Ray runs interleaved in one go, one
             table side by side: medians (p90), ray / local ratios and differences.
  replay     the built-in plan replayed on 64 simulated GPUs over 8 Ray nodes (a Cluster on this
             machine, 8 `synthcam_gpu` per node): cost-table job times on a scaled clock, real
             dispatch, claims, collection and records; bench finishing accepts the stand-in files.
             Makespan / lower bound, model loads per actor.
  memory     the driver's peak memory while one 5 s and one 30 s clip come home through the object
             store (8 MiB chunks, and one chunk of the whole file for contrast), a fresh driver each.

Run: python bench/bench_ray.py                 (overhead, then memory)
     python bench/bench_ray.py overhead [--jobs 10 --gen-s 2 --repeats 2]
     python bench/bench_ray.py replay [--scale 0.01 --nodes 8 --gpus-per-node 8]
     python bench/bench_ray.py memory
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
BENCH = Path(__file__).parent

sys.path.insert(0, str(BENCH))
from bench_engine_stages import manifest_text as stages_manifest  # noqa: E402


def manifest_text(clips: int, durations: str = "5") -> str:
    return stages_manifest(clips, "1280x704", durations, name="raybench")


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


# --- overhead -------------------------------------------------------------------------------------

def overhead_run(d: Path, executor: str, jobs: int, gen_s: float, n: int) -> dict:
    ws, log = d / f"ws-{executor}-{n}", d / f"gen-{executor}-{n}.log"
    env = {**os.environ, "SLEEP_GEN_S": str(gen_s), "SLEEP_LOG": str(log), "SLEEP_GRAIN": "3"}
    cmd = [sys.executable, "-m", "synthcam", "run", "-m", str(d / "m.yaml"), "-w", str(ws), "--backend", "sleep",
           "--gpus", "1", "--finish-workers", "1", "--interpolation", "dup", "--executor", executor, "--json"]
    t0 = time.time()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.time() - t0
    if p.returncode not in (0, 1):
        raise SystemExit(f"{executor} run failed: {p.stderr[-2000:]}")
    gens = {}
    for line in log.read_text().splitlines():
        name, start, end = line.split()
        gens[name] = (float(start), float(end))
    conn = sqlite3.connect(ws / "synthcam.db")
    names = dict(conn.execute("SELECT job_id, name FROM jobs").fetchall())
    generated = {names[j]: at for j, at in conn.execute("SELECT job_id, MIN(at) FROM events WHERE kind = 'generated'"
                                                         " GROUP BY job_id")}
    done = conn.execute("SELECT COUNT(*) FROM jobs WHERE state = 'done'").fetchone()[0]
    sizes = [s for (s,) in conn.execute("SELECT json_extract(probe, '$.size') FROM jobs WHERE state = 'done'")]
    conn.close()
    order = sorted(gens.values())
    gaps = [b[0] - a[1] for a, b in zip(order, order[1:])]
    handover = [generated[n] - gens[n][1] for n in gens if n in generated]
    return {"executor": executor, "jobs": len(gens), "done": done, "wall_s": wall, "gap_ms": [g * 1000 for g in gaps],
            "handover_ms": [h * 1000 for h in handover], "final_mb": statistics.median(sizes) / 1e6 if sizes else 0}


def raw_size_mb(d: Path) -> float:
    """The size of one raw clip as the benchmark's sleep backend makes it."""
    from synthcam.backends.base import GenerationRequest
    from synthcam.backends.sleep import SleepBackend
    from synthcam.manifest import load_manifest_text
    from synthcam.prompts import compile_manifest

    m = load_manifest_text(manifest_text(1), "m.yaml")
    c = compile_manifest(m)[0]
    clip = SleepBackend.from_options({"gen_s": 0, "grain": 3}, ["0"]).generate(GenerationRequest("j", c, m, work_dir=d), d)
    return os.path.getsize(clip.video) / 1e6


def _side_by_side(rows: list[tuple[str, list[float], list[float], str]]) -> None:
    """One table, local and Ray in adjacent columns: median (p90), their ratio and difference."""
    print("| measure | local | ray | ray / local | ray - local |")
    print("|---|---|---|---|---|")
    for label, local, ray_, unit in rows:
        lo, ra = statistics.median(local), statistics.median(ray_)
        ratio = f"{ra / lo:.2f}x" if lo > 0 else "-"
        spread = len(local) > 2 and len(ray_) > 2
        cell = (lambda xs, m: f"{m:.1f} {unit} (p90 {pct(xs, .9):.1f})" if spread else f"{m:.1f} {unit}")
        print(f"| {label} | {cell(local, lo)} | {cell(ray_, ra)} | {ratio} | {ra - lo:+.1f} {unit} |")


def overhead(a: argparse.Namespace) -> None:
    """Local and Ray runs interleaved (local, ray, local, ray...) in one go on the same machine,
    so load from elsewhere hits both; every per-job sample of an executor's runs is pooled."""
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        (d / "m.yaml").write_text(manifest_text(a.jobs))
        size = raw_size_mb(d)
        runs = [overhead_run(d, ex, a.jobs, a.gen_s, n)
                for n, ex in enumerate(("local", "ray") * a.repeats)]
    by = {ex: [r for r in runs if r["executor"] == ex] for ex in ("local", "ray")}
    pooled = {ex: {k: [x for r in rs for x in r[k]] for k in ("gap_ms", "handover_ms")} for ex, rs in by.items()}
    per_job = {ex: [statistics.median(r["gap_ms"]) + statistics.median(r["handover_ms"]) for r in rs]
               for ex, rs in by.items()}
    walls = {ex: [r["wall_s"] for r in rs] for ex, rs in by.items()}
    done = {ex: sum(r["done"] for r in rs) for ex, rs in by.items()}
    print(f"{a.jobs} jobs of {a.gen_s:g} s per run, {a.repeats} run(s) per executor interleaved, one GPU worker,"
          f" 1280x704 sleep clips with grain: raw {size:.1f} MB, final {runs[0]['final_mb']:.1f} MB;"
          f" verified local {done['local']}, ray {done['ray']} of {a.jobs * a.repeats} each")
    _side_by_side([
        ("per-job gap the worker leaves between two generations", pooled["local"]["gap_ms"],
         pooled["ray"]["gap_ms"], "ms"),
        ("per-job handover: generation ends -> output in raw/ and recorded generated", pooled["local"]["handover_ms"],
         pooled["ray"]["handover_ms"], "ms"),
        ("per-job overhead (median gap + median handover, per run)", per_job["local"], per_job["ray"], "ms"),
        ("run wall (start-up, all jobs, finishing)", walls["local"], walls["ray"], "s"),
    ])
    extra = statistics.median(per_job["ray"]) - statistics.median(per_job["local"])
    print(f"\nRay per-job overhead against local: {extra:+.1f} ms (target: within 50 ms) -> "
          f"{'met' if extra <= 50 else 'NOT met'}")


# --- replay ---------------------------------------------------------------------------------------

def replay(a: argparse.Namespace) -> None:
    import ray
    from ray.cluster_utils import Cluster

    from synthcam.engine import executors
    from synthcam.engine.finishing import Verdict
    from synthcam.engine.runner import RunOptions, run
    from synthcam.plan import load_cost_table
    from synthcam.verify.file import sha256_file

    sys.path.insert(0, str(BENCH))
    os.environ["PYTHONPATH"] = str(BENCH) + os.pathsep + os.environ.get("PYTHONPATH", "")
    os.environ["SYNTHCAM_BACKENDS"] = "replay=replay_backend:ReplayBackend"
    os.environ["REPLAY_SCALE"] = str(a.scale)
    import replay_backend

    class AcceptPool:
        """Bench finishing: the stand-in file is accepted as it is (no pixels to verify)."""

        def __init__(self) -> None:
            self.done: list = []

        def submit(self, key, args):
            task = args[0]
            path = Path(task.workspace) / task.raw.dir / task.raw.video
            self.done.append((key, Verdict(task.job_id, True, staged=str(path), sha256=sha256_file(path)[0])))

        def busy(self):
            return 0

        def poll(self, timeout=0.0):
            out, self.done = self.done, []
            return out

        def close(self):
            pass

    from synthcam.engine.executors.ray import RayExecutor

    class ReplayExecutor(RayExecutor):
        def finish_pool(self, workers, timeout_s):
            return AcceptPool()

    sys.modules["replay_executor"] = type(sys)("replay_executor")
    sys.modules["replay_executor"].ReplayExecutor = ReplayExecutor
    executors.EXECUTORS["replay-ray"] = ("replay_executor", "ReplayExecutor")

    gpus = a.nodes * a.gpus_per_node
    node = dict(num_cpus=1, resources={"synthcam_gpu": a.gpus_per_node}, object_store_memory=80 << 20,
                node_ip_address="127.0.0.1")
    temp = tempfile.mkdtemp(prefix="rb-", dir="/tmp")
    d = Path(tempfile.mkdtemp(prefix="rb-run-"))
    os.environ["REPLAY_LOG"] = str(d / "replay.log")   # before the nodes start: actors inherit their env
    t0 = time.time()
    cluster = Cluster(initialize_head=True, head_node_args=dict(node, include_dashboard=False, temp_dir=temp))
    for _ in range(a.nodes - 1):
        cluster.add_node(**node)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
    print(f"cluster of {a.nodes} nodes up in {time.time() - t0:.1f} s", file=sys.stderr)
    try:
        if True:
            table = load_cost_table()
            load_s = table.model(replay_backend.MODEL).load_s
            opts = RunOptions(backend="replay", gpus=[str(i) for i in range(gpus)], lease_s=120, finish_workers=1,
                              executor="replay-ray", max_worker_restarts=0,
                              executor_options={"address": cluster.address, "resource": "synthcam_gpu",
                                                "scratch": str(d / "scratch")})
            t1 = time.time()
            result = run("builtin", d / "ws", opts)
            wall = time.time() - t1
            conn = sqlite3.connect(d / "ws" / "synthcam.db")
            costs = [c for (c,) in conn.execute("SELECT cost_s FROM jobs WHERE current = 1")]
            loads = [n for (n,) in conn.execute("SELECT model_loads FROM workers")]
            per_worker = dict(conn.execute("SELECT worker, jobs_done FROM workers").fetchall())
            last_record = conn.execute("SELECT MAX(at) FROM events WHERE kind = 'done'").fetchone()[0]
            conn.close()
            spans: dict[str, list[float]] = {}
            for line in (d / "replay.log").read_text().splitlines():
                pid, _, start, end = line.split()
                spans.setdefault(pid, []).extend([float(start), float(end)])
        lower = (load_s + max(sum(costs) / gpus, max(costs))) * a.scale
        # each actor's clock starts at its first job minus its model load: actors come up one by one
        # on this 2-core box (on a cluster they start in parallel), so wall time also holds start-up
        aligned = max(max(s) - min(s) + load_s * a.scale for s in spans.values())
        first = min(min(s) for s in spans.values()) - load_s * a.scale
        print(f"{len(costs)} jobs ({sum(costs) / 3600:.1f} GPU-hours on {replay_backend.MODEL} {replay_backend.GPU}), "
              f"{gpus} simulated GPUs on {a.nodes} nodes, clock x{a.scale:g}; verified {result.done}/{result.selected};"
              f" {len(spans)} actors ran jobs")
        print("| measure | value |")
        print("|---|---|")
        print(f"| lower bound (load + max(total / GPUs, longest job)), scaled | {lower:.1f} s |")
        print(f"| makespan, each actor from its own start | {aligned:.1f} s |")
        print(f"| **makespan / lower bound** | **{aligned / lower:.3f}** |")
        print(f"| makespan from the first actor's start to the last record (incl. actor start-up skew) | "
              f"{last_record - first:.1f} s ({(last_record - first) / lower:.3f} x) |")
        print(f"| model loads per actor | min {min(loads)}, max {max(loads)} ({len(loads)} actors) |")
        print(f"| jobs per actor | {min(per_worker.values())}-{max(per_worker.values())} |")
        print(f"| whole run (plan, start 64 actors, generate, record) | {wall:.1f} s |")
    finally:
        ray.shutdown()
        cluster.shutdown()
        import shutil

        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(temp, ignore_errors=True)   # the cluster's session logs


# --- memory ---------------------------------------------------------------------------------------

def _rss() -> tuple[int, int]:
    vals = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "RssAnon:")):
                k, v = line.split(":")
                vals[k] = int(v.split()[0]) * 1024
    return vals["VmRSS"], vals["RssAnon"]


def memory_one(duration: int, chunk_mb: float) -> dict:
    """One fresh driver: a Ray actor makes one raw clip of `duration` s; the driver collects it."""
    from synthcam.engine.executors import WorkerConfig
    from synthcam.engine.executors.ray import RayExecutor
    from synthcam.engine.messages import Assign, Generated, Hello, Stop
    from synthcam.engine.runner import RunOptions, plan_jobs
    from synthcam.manifest import load_manifest_text

    with tempfile.TemporaryDirectory() as d:
        ws = Path(d) / "ws"
        (ws / "raw").mkdir(parents=True)
        text = manifest_text(1, str(duration))
        manifest = load_manifest_text(text, "mem.yaml")
        specs, _ = plan_jobs(manifest, RunOptions(backend="sleep", gpus=["0"]))
        job = specs[0]
        ex = RayExecutor(chunk_mb=chunk_mb, scratch=str(Path(d) / "scratch"))
        cfg = WorkerConfig(workspace=str(ws), worker="mem-w0", run_id="mem", backend="sleep", manifest_text=text,
                           manifest_source="mem.yaml", model=job.model, gpus=("0",), heartbeat_s=0.5,
                           options={"gen_s": 0, "grain": 3, "frames": 16 * duration + 13})
        ex.start(cfg)
        while not any(isinstance(m, Hello) for m in ex.poll(0.5)):
            pass
        time.sleep(1.0)
        base_rss, base_anon = _rss()
        peak = [base_rss, base_anon]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                r, an = _rss()
                peak[0], peak[1] = max(peak[0], r), max(peak[1], an)
                time.sleep(0.002)

        t = threading.Thread(target=sample, daemon=True)
        t.start()
        ex.send(cfg.worker, Assign(((job.job_id, job.name),)))
        got = None
        t0 = time.time()
        while got is None and time.time() - t0 < 600:
            got = next((m for m in ex.poll(0.2) if isinstance(m, Generated)), None)
        stop.set()
        t.join()
        size = sum(p.stat().st_size for p in (ws / "raw" / job.job_id).rglob("*") if p.is_file())
        ex.send(cfg.worker, Stop())
        ex.close()
    return {"duration": duration, "chunk_mb": chunk_mb, "size_mb": size / 1e6,
            "rss_mb": (peak[0] - base_rss) / 1e6, "anon_mb": (peak[1] - base_anon) / 1e6, "base_mb": base_rss / 1e6}


def memory(a: argparse.Namespace) -> None:
    rows = []
    for duration, chunk in ((5, 8), (30, 8), (5, 512), (30, 512)):
        p = subprocess.run([sys.executable, __file__, "memory-one", str(duration), str(chunk)],
                           capture_output=True, text=True)
        if p.returncode:
            raise SystemExit(p.stderr[-3000:])
        rows.append(json.loads(p.stdout.strip().splitlines()[-1]))
    print("| clip | raw output | chunks | driver peak RSS above idle | of which private (RssAnon) | driver RSS idle |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        chunks = f"{r['chunk_mb']:g} MiB" if r["chunk_mb"] < 512 else "one (whole file)"
        print(f"| {r['duration']} s | {r['size_mb']:.1f} MB | {chunks} | +{r['rss_mb']:.1f} MB | +{r['anon_mb']:.1f} MB |"
              f" {r['base_mb']:.0f} MB |")


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="what")   # none: overhead, then memory (replay starts 8 nodes: on its own)
    o = sub.add_parser("overhead")
    o.add_argument("--jobs", type=int, default=10)
    o.add_argument("--gen-s", type=float, default=2.0)
    o.add_argument("--repeats", type=int, default=2, help="runs per executor, interleaved")
    r = sub.add_parser("replay")
    r.add_argument("--scale", type=float, default=0.01)
    r.add_argument("--nodes", type=int, default=8)
    r.add_argument("--gpus-per-node", type=int, default=8)
    sub.add_parser("memory")
    m = sub.add_parser("memory-one")
    m.add_argument("duration", type=int)
    m.add_argument("chunk_mb", type=float)
    a = ap.parse_args()
    if a.what is None:
        a = ap.parse_args(["overhead"])
        overhead(a)
        print()
        memory(a)
    elif a.what == "memory-one":
        print(json.dumps(memory_one(a.duration, a.chunk_mb)))
    else:
        {"overhead": overhead, "replay": replay, "memory": memory}[a.what](a)


if __name__ == "__main__":
    main()
