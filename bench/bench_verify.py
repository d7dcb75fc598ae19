"""Benchmark `synthcam verify` against the decode floor and a hand-written ffprobe loop.

    python bench/bench_verify.py [--dir DIR] [--ids 2] [--jobs N] [--repeats 3]

Generates (once, cached in DIR) CCTV-like 1280x704 24 fps x264 clips of 5, 10 and 30 s: a
static textured background, two moving shapes and temporal grain, ~4 Mbit/s. Then runs, with
the same number of files in flight (`--jobs`), alternating and repeated:

  (a) ffmpeg -v error -xerror -i F -f null -        per file: the decode floor
  (b) ffprobe -count_frames ...                     per file: what people write by hand
  (c) synthcam verify DIR --jobs N --json R         every check, one process for the run

and reports median wall times and ratios, plus the peak RSS of one verify worker (a process
that imports synthcam and verifies the 30 s clip) next to ffmpeg's. Not a test: it takes
minutes and its numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

DURATIONS = (5, 10, 30)
FPS, W, H = 24, 1280, 704


def _background(seed: int, path: Path) -> None:
    rng = np.random.default_rng(seed)
    coarse = rng.normal(110, 30, (H // 8, W // 8)).astype(np.float32)
    img = cv2.GaussianBlur(cv2.resize(coarse, (W, H), interpolation=cv2.INTER_CUBIC), (0, 0), 1.5)
    img += rng.normal(0, 5, (H, W)).astype(np.float32)
    cv2.rectangle(img, (0, 3 * H // 4), (W, H), 70, -1)
    cv2.rectangle(img, (W // 3, H // 5), (W // 3 + 120, H // 2), 45, -1)
    cv2.imwrite(str(path), np.clip(img, 0, 255).astype(np.uint8))


def make_corpus(folder: Path, ids: int) -> list[Path]:
    """Encode the clips with ffmpeg (skipped when they exist)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(ids):
        bg = folder / f".bg{i}.png"
        if not bg.exists():
            _background(i, bg)
        for d in DURATIONS:
            clip = folder / f"B{i:02d}_{d}s.mp4"
            out.append(clip)
            if clip.exists():
                continue
            # every clip moves its own way (start, speed, height), so none is a near duplicate
            x0, speed, y = (97 * i + 331 * d) % W, 30 + 17 * ((i + d) % 5), 250 + (53 * d + 31 * i) % 200
            graph = (f"[0][1]overlay=x='mod({x0}+t*{speed},{W})':y='{y}+10*sin(t*3)'[a];"
                     f"[a][2]overlay=x='{W - 80}-mod({x0}+t*{speed + 35},{W + 200})':y={y + 150},"
                     "noise=alls=6:allf=t,format=yuv420p")
            cmd = ["ffmpeg", "-v", "error", "-y", "-loop", "1", "-framerate", str(FPS), "-i", str(bg),
                   "-f", "lavfi", "-i", f"color=c=0xd0d0d0:s=60x150:r={FPS}",
                   "-f", "lavfi", "-i", f"color=c=0x303030:s=220x110:r={FPS}",
                   "-filter_complex", graph, "-frames:v", str(FPS * d), "-c:v", "libx264",
                   "-preset", "veryfast", "-crf", "21", "-f", "mp4", str(clip) + ".partial"]
            subprocess.run(cmd, check=True)
            os.replace(str(clip) + ".partial", clip)
    return out


def _each(cmd_for, files: list[Path], jobs: int) -> float:
    """Wall time to run one command per file, `jobs` at a time (like xargs -P)."""
    def run(f: Path) -> None:
        subprocess.run(cmd_for(f), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(run, files))
    return time.perf_counter() - t0


def ffmpeg_floor(files: list[Path], jobs: int) -> float:
    return _each(lambda f: ["ffmpeg", "-v", "error", "-xerror", "-i", str(f), "-f", "null", "-"], files, jobs)


def ffprobe_loop(files: list[Path], jobs: int) -> float:
    return _each(lambda f: ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                            "stream=nb_read_frames,avg_frame_rate,width,height,codec_name", "-of", "csv=p=0", str(f)],
                 files, jobs)


def synthcam_verify(target: Path, jobs: int, report: Path) -> float:
    cmd = [sys.executable, "-m", "synthcam", "verify", str(target), "--jobs", str(jobs), "--json", str(report)]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"synthcam verify failed on the benchmark corpus (rc {done.returncode}); see {report}")
    return wall


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def cpu_seconds(clip: Path, repeats: int) -> dict[str, float]:
    """Median CPU seconds (user + sys, all threads) to process one clip: robust to a busy machine.

    ffmpeg and ffprobe run as children; verify_file runs in this process (imports already done),
    which is what each worker of `synthcam verify` does per file.
    """
    from synthcam.verify import verify_file

    out: dict[str, list[float]] = {"floor": [], "ffprobe": [], "verify": []}
    for _ in range(repeats):
        for name, cmd in (("floor", ["ffmpeg", "-v", "error", "-xerror", "-i", str(clip), "-f", "null", "-"]),
                          ("ffprobe", ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                                       "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(clip)])):
            before = _cpu_children()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            out[name].append(_cpu_children() - before)
        before = time.process_time()
        verify_file(clip)
        out["verify"].append(time.process_time() - before)
    return {k: statistics.median(v) for k, v in out.items()}


def peak_rss_mb(cmd: list[str]) -> float:
    """Peak resident memory of one child process, from wait4()'s rusage (Linux: KiB)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed with rc {proc.returncode}")
    return usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "synthcam-bench")
    ap.add_argument("--ids", type=int, default=2, help="clip IDs, each with 5, 10 and 30 s variants")
    ap.add_argument("--jobs", type=int, nargs="+", default=[os.cpu_count() or 1])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not on PATH")

    files = make_corpus(args.dir / "clips", args.ids)
    mbytes = sum(f.stat().st_size for f in files) / 1e6
    seconds = args.ids * sum(DURATIONS)
    print(f"corpus: {len(files)} clips, {seconds} s of {W}x{H} {FPS} fps video, {mbytes:.0f} MB "
          f"({mbytes * 8 / seconds:.1f} Mbit/s); {os.cpu_count()} CPUs")
    report = args.dir / "report.json"
    rows = []
    for jobs in args.jobs:
        times: dict[str, list[float]] = {"floor": [], "ffprobe": [], "verify": []}
        for _ in range(args.repeats):
            times["floor"].append(ffmpeg_floor(files, jobs))
            times["ffprobe"].append(ffprobe_loop(files, jobs))
            times["verify"].append(synthcam_verify(args.dir / "clips", jobs, report))
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append((jobs, med, times))

    clip30 = next(f for f in files if f.name.endswith("_30s.mp4"))
    code = "import sys; from synthcam.verify import verify_file; sys.exit(verify_file(sys.argv[1]).status != 'ok')"
    worker = [sys.executable, "-c", code, str(clip30)]
    rss_verify = peak_rss_mb(worker)
    rss_ffmpeg = peak_rss_mb(["ffmpeg", "-v", "error", "-xerror", "-i", str(clip30), "-f", "null", "-"])
    cpu = cpu_seconds(clip30, args.repeats)
    clip5 = next(f for f in files if f.name.endswith("_5s.mp4"))
    one = {"floor": statistics.median(ffmpeg_floor([clip5], 1) for _ in range(args.repeats)),
           "verify": statistics.median(synthcam_verify(clip5, 1, args.dir / "one.json") for _ in range(args.repeats))}

    print()
    print("| jobs | ffmpeg -xerror (floor) | ffprobe -count_frames | synthcam verify | verify / floor | ffprobe / verify |")
    print("|---:|---:|---:|---:|---:|---:|")
    for jobs, med, _ in rows:
        print(f"| {jobs} | {med['floor']:.2f} s | {med['ffprobe']:.2f} s | {med['verify']:.2f} s "
              f"| {med['verify'] / med['floor']:.2f}x | {med['ffprobe'] / med['verify']:.2f}x |")
    print()
    print(f"CPU seconds for {clip30.name} (user+sys, all threads): ffmpeg -xerror {cpu['floor']:.2f}, "
          f"ffprobe -count_frames {cpu['ffprobe']:.2f}, verify_file {cpu['verify']:.2f} "
          f"({cpu['verify'] / cpu['floor']:.2f}x the floor)")
    print(f"peak RSS on {clip30.name} (one process, imports included): synthcam verify worker "
          f"{rss_verify:.0f} MB, ffmpeg {rss_ffmpeg:.0f} MB")
    print(f"one 5 s clip, start-up included: ffmpeg -xerror {one['floor']:.2f} s, synthcam verify {one['verify']:.2f} s "
          f"(the difference is the fixed cost of a run: CLI import, forkserver, one worker)")
    print("all runs (s):", {jobs: {k: [round(x, 2) for x in v] for k, v in t.items()} for jobs, _, t in rows})


if __name__ == "__main__":
    main()
