"""Publishing a big clip: `synthcam publish` against a plain `git lfs push` of the same content.

Both sides push the same generated file (random bytes wrapped as a clip) to a fresh giftless on
loopback (storage on local disk). Each command runs under a fresh runner process, so the peak
RSS reported is the largest process of that command's own tree (python, git, git-lfs), read
from getrusage(RUSAGE_CHILDREN); for synthcam the Python process's own peak is shown too.

  plain: git add   the LFS clean filter hashes the file and copies it into .git/lfs/objects
  plain: commit
  plain: git lfs push origin main   the upload alone (the baseline the issue names)
  plain: git push origin main       hooks run; nothing left to upload
  plain: git lfs fetch origin main  the local object store emptied first: git-lfs downloads the object
                                    to disk and checks its hash (the baseline for reading it back)
  synthcam publish                  all of the above, plus re-hashing against the store and three
                                    Batch API probes (before, to choose uploads, and the proof after)
  synthcam publish --check          presence only: one Batch API probe
  synthcam publish --deep           downloads every object through the Batch API and re-hashes it as
                                    it streams (1 MiB reads, nothing written): memory must stay flat

Run: python bench/bench_publish.py [--sizes-mb 64,1024] [--tmp DIR]
Needs the dev extra (giftless). Not a test: it takes about two minutes per GB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from synthcam.publish.lfs import object_of
from synthcam.publish.testserver import LfsTestServer
from synthcam.store import JobSpec, JobStore

RUNNER = textwrap.dedent("""
    import json, resource, subprocess, sys, time
    t = time.perf_counter()
    rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode
    wall = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"rc": rc, "wall_s": wall, "peak_kb": peak}))
""")

SELF_PEAK = textwrap.dedent("""
    import os, resource, sys
    from synthcam.cli import app
    try:
        app(sys.argv[1:], standalone_mode=False)
    finally:
        with open(os.environ["BENCH_SELF_PEAK"], "w") as fh:
            fh.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
""")


def measure(argv: list[str], cwd: Path, env: dict[str, str]) -> dict:
    os.sync()  # no step pays for the previous one's dirty pages
    out = subprocess.run([sys.executable, "-c", RUNNER, *argv], cwd=cwd, env=env, capture_output=True, text=True,
                         check=True).stdout
    result = json.loads(out)
    if result["rc"] != 0:
        raise SystemExit(f"{' '.join(argv)} failed with exit {result['rc']}")
    return result


def git(cwd: Path, *args: str, env: dict[str, str]) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def make_content(path: Path, size_mb: int) -> None:
    """Random bytes (incompressible, like video), written in 4 MiB blocks."""
    with open(path, "wb") as fh:
        for _ in range(size_mb // 4):
            fh.write(os.urandom(4 << 20))
        fh.write(os.urandom((size_mb % 4) << 20))


def repo(root: Path, server: LfsTestServer, name: str, env: dict[str, str]) -> Path:
    work, bare = root / name, root / f"{name}.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True, env=env)
    work.mkdir(parents=True, exist_ok=True)
    git(work, "init", "-q", "-b", "main", env=env)
    git(work, "remote", "add", "origin", str(bare), env=env)
    git(work, "config", "lfs.url", server.url("bench", name), env=env)
    return work


def server_peak_kb(server: LfsTestServer) -> int:
    assert server.proc is not None
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def bench_size(tmp: Path, size_mb: int, env: dict[str, str]) -> list[dict]:
    root = tmp / f"{size_mb}mb"
    root.mkdir()
    content = root / "content.bin"
    make_content(content, size_mb)
    obj = object_of(content)
    rows = []

    # plain git + git-lfs
    with LfsTestServer(root / "lfs-plain") as server:
        work = repo(root, server, "plain", env)
        os.link(content, work / "clip.mp4")
        git(work, "lfs", "install", "--local", env=env)
        git(work, "lfs", "track", "*.mp4", env=env)
        for label, argv in [("plain: git add", ["git", "add", ".gitattributes", "clip.mp4"]),
                            ("plain: git commit", ["git", "commit", "-q", "-m", "clip"]),
                            ("plain: git lfs push origin main", ["git", "lfs", "push", "origin", "main"]),
                            ("plain: git push origin main", ["git", "push", "-q", "origin", "main"])]:
            rows.append({"size_mb": size_mb, "step": label, **measure(argv, work, env)})
        rows[-1]["server_peak_kb"] = server_peak_kb(server)
        shutil.rmtree(work / ".git" / "lfs" / "objects")
        rows.append({"size_mb": size_mb, "step": "plain: git lfs fetch origin main",
                     **measure(["git", "lfs", "fetch", "origin", "main"], work, env)})
        rows[-1]["server_peak_kb"] = server_peak_kb(server)
        assert server.object_path("bench", "plain", obj.oid).stat().st_size == obj.size

    # synthcam publish: a workspace whose one done job is this clip
    with LfsTestServer(root / "lfs-synthcam") as server:
        ws = repo(root, server, "synthcam", env)
        (ws / "clips").mkdir()
        os.link(content, ws / "clips" / "B01_30s.mp4")
        with JobStore(ws / "synthcam.db") as store:
            store.sync([JobSpec(job_id="b01", name="B01_30s", clip_id="B01", series="B", duration_s=30,
                                backend="procedural", model="bench", seed=1, spec={}, cost_s=1.0)])
            store.claim("bench")
            store.start("b01", "bench")
            store.complete("b01", "clips/B01_30s.mp4", obj.oid, {}, [], worker="bench")
        (ws / ".gitignore").write_text("synthcam.db*\n")
        peak_file = root / "self_peak"
        run_env = {**env, "BENCH_SELF_PEAK": str(peak_file)}
        for label, args in [("synthcam publish", ["publish", "-w", str(ws), "--json"]),
                            ("synthcam publish --check", ["publish", "-w", str(ws), "--check", "--json"]),
                            ("synthcam publish --deep", ["publish", "-w", str(ws), "--deep", "--json"])]:
            row = measure([sys.executable, "-c", SELF_PEAK, *args], ws, run_env)
            rows.append({"size_mb": size_mb, "step": label, **row, "python_peak_kb": int(peak_file.read_text())})
            if label != "synthcam publish --check":
                rows[-1]["server_peak_kb"] = server_peak_kb(server)  # a high-water mark: grows, never falls
        assert server.object_path("bench", "synthcam", obj.oid).stat().st_size == obj.size
    shutil.rmtree(root)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", default="64,1024", help="clip sizes to run, in MiB")
    parser.add_argument("--tmp", default=tempfile.gettempdir(), help="where to work (needs about 5x the size free)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes_mb.split(",")]
    free = shutil.disk_usage(args.tmp).free
    if free < 5 * max(sizes) * (1 << 20) + (1 << 30):
        raise SystemExit(f"{args.tmp} has {free >> 20} MiB free; the run needs about {5 * max(sizes) + 1024} MiB")
    with tempfile.TemporaryDirectory(dir=args.tmp, prefix="bench-publish-") as d:
        home = Path(d) / "home"
        home.mkdir()
        (home / ".gitconfig").write_text("[user]\n\tname = bench\n\temail = bench@synthcam.invalid\n")
        env = {**os.environ, "HOME": str(home), "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
               "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"}
        rows = [row for size in sizes for row in bench_size(Path(d), size, env)]
    print("| size | step | wall s | peak RSS, process tree | synthcam's Python | giftless |")
    print("|---:|---|---:|---:|---:|---:|")
    for r in rows:
        py = f"{r['python_peak_kb'] / 1024:.0f} MiB" if "python_peak_kb" in r else ""
        srv = f"{r['server_peak_kb'] / 1024:.0f} MiB" if "server_peak_kb" in r else ""
        tree = f"{r['peak_kb'] / 1024:.0f} MiB"
        print(f"| {r['size_mb']} MiB | {r['step']} | {r['wall_s']:.2f} | {tree} | {py} | {srv} |")


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"\n(total {time.perf_counter() - start:.0f} s)")
