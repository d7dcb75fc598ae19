"""Job store throughput: claim-and-complete cycles per second on a 10,000-job plan, and the
time to derive the status (what `synthcam status` does). Run: python bench/bench_store.py"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from synthcam.engine.status import derive_status
from synthcam.store import JobSpec, JobStore


def make_specs(n: int) -> list[JobSpec]:
    return [JobSpec(job_id=f"{i:024x}", name=f"C{i:05d}_{(5, 10, 30)[i % 3]}s", clip_id=f"C{i:05d}", series="PTC"[i % 3],
                    duration_s=(5, 10, 30)[i % 3], backend="cosmos", model="2B/post-trained", seed=i,
                    spec={"prompt": "x" * 600, "seed": i}, cost_s=float((1, 2, 6)[i % 3] * 238)) for i in range(n)]


def one_run(n_jobs: int, cycles: int) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as d:
        store = JobStore(Path(d) / "synthcam.db")
        t = time.perf_counter()
        store.sync(make_specs(n_jobs))
        store.assign([f"q{i}" for i in range(8)])
        sync_s = time.perf_counter() - t
        store.register_worker("w", "bench")
        t = time.perf_counter()
        for _ in range(cycles):
            (job,) = store.claim("w", limit=1)
            store.complete(job.job_id, f"clips/{job.name}.mp4", "0" * 64, {"frames": 120}, [], worker="w")
        rate = cycles / (time.perf_counter() - t)
        t = time.perf_counter()
        derive_status(store)
        status_s = time.perf_counter() - t
        store.close()
        return sync_s, rate, status_s


def status_command_seconds(n_jobs: int, repeat: int) -> float:
    """Wall time of the real `synthcam status --json` process on a workspace with n_jobs jobs."""
    import subprocess
    import sys

    with tempfile.TemporaryDirectory() as d:
        store = JobStore(Path(d) / "synthcam.db")
        store.sync(make_specs(n_jobs))
        store.register_worker("w", "bench")
        clips = Path(d) / "clips"
        clips.mkdir()
        for job in store.claim("w", limit=n_jobs // 2):
            # a real (tiny) file per verified job, so status's integrity check stats what a workspace has
            path = clips / f"{job.name}.mp4"
            path.write_bytes(job.job_id.encode())
            st = path.stat()
            store.complete(job.job_id, f"clips/{job.name}.mp4", "0" * 64,
                           {"frames": 120, "size": st.st_size, "mtime_ns": st.st_mtime_ns}, [], worker="w")
        store.close()
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "synthcam", "status", "-w", d, "--json"], check=True,
                           stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - t)
        return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--cycles", type=int, default=3_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    runs = [one_run(a.jobs, a.cycles) for _ in range(a.repeat)]
    sync_s, rate, status_s = (statistics.median(x) for x in zip(*runs))
    print(f"| jobs in plan | {a.jobs:,} |")
    print(f"| sync + assign (s) | {sync_s:.2f} |")
    print(f"| claim+complete cycles/s (median of {a.repeat}) | {rate:,.0f} |")
    print(f"| derive status (s) | {status_s:.3f} |")
    print(f"| `synthcam status --json` process, {a.jobs:,} jobs (s, median of 5) | {status_command_seconds(a.jobs, 5):.3f} |")


if __name__ == "__main__":
    main()
