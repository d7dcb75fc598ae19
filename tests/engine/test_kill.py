"""Kill -9 the orchestrator and the workers at random points; resume; every job completes once.

Each trial starts `python -m synthcam run` in its own session, kills the orchestrator, the
workers or everything at a seeded random moment, then checks that no final path holds an
unverified or partial file. After the trials a last run completes the plan, and every job
must have been recorded done exactly once, with the status file matching the store.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import fake_cosmos_checkout

from synthcam.engine.status import derive_status
from synthcam.verify import verify_file
from synthcam.verify.expect import Expectation
from synthcam.workspace import Workspace

TESTS = Path(__file__).parent.parent
TRIALS = 30


def _manifest(tmp_path: Path, base: str) -> Path:
    text = (TESTS / "data" / base).read_text()
    extra = "".join(
        f"  - {{id: K{i:02d}, group: g, scenario: k{i}, purpose: test, scene: yard, environment: day,"
        f" subjects: [walker], action: cross, expected_risk: low}}\n" for i in range(7))
    path = tmp_path / "kill.yaml"
    path.write_text(text + extra)
    return path


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def _group_gone(pgid: int, timeout: float) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _check_final_paths(ws: Workspace) -> None:
    store = ws.store()
    try:
        by_name = {j.name: j for j in store.jobs()}
        for path in ws.clips_dir.glob("*"):
            assert not path.name.endswith(".partial"), f"partial file in final folder: {path}"
            if path.suffix != ".mp4":
                continue
            job = by_name[path.stem]
            report = verify_file(path, Expectation(fps=24, width=160, height=96, duration_s=job.duration_s))
            assert report.status == "ok", (path, report.status, report.findings)
    finally:
        store.close()


BACKENDS = {
    # name: (manifest, extra CLI args, extra env, clips in the plan)
    "procedural": ("tiny.yaml", ["--backend", "procedural", "--workers", "2"], {}, 20),
    "cosmos": ("cosmos_tiny.yaml", ["--backend", "cosmos", "--gpus", "2", "--interpolation", "blend"],
               {"FAKE_COSMOS_FAULTS": '{"sample_sleep_s": 0.2}'}, 17),
}


@pytest.mark.slow
@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_kill9_at_random_points_then_resume(tmp_path, backend):
    base, args, extra_env, clips = BACKENDS[backend]
    manifest = _manifest(tmp_path, base)
    ws_path = tmp_path / "ws"
    if backend == "cosmos":
        args = args + ["--cosmos-checkout", str(fake_cosmos_checkout(tmp_path / "checkout"))]
    env = {**os.environ, "PYTHONPATH": str(TESTS) + os.pathsep + os.environ.get("PYTHONPATH", ""), **extra_env}
    cmd = [sys.executable, "-m", "synthcam", "run", "-m", str(manifest), "-w", str(ws_path), "--max-attempts", "10",
           "-q", *args]
    rng = random.Random(20261125)
    for trial in range(TRIALS):
        p = subprocess.Popen(cmd, env=env, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 2.2))
        target = rng.choice(["all", "orchestrator", "workers"])
        if target == "workers":
            for child in _children(p.pid):
                os.kill(child, signal.SIGKILL)
            time.sleep(rng.uniform(0.0, 1.0))  # the orchestrator may restart them: kill again below
        if target == "orchestrator":
            os.kill(p.pid, signal.SIGKILL)
        else:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        if not _group_gone(p.pid, 15):  # orphaned workers notice and exit; never leave strays
            os.killpg(p.pid, signal.SIGKILL)
            _group_gone(p.pid, 5)
        if (ws_path / "synthcam.db").exists():
            _check_final_paths(Workspace.at(ws_path))
    final = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr[-2000:]
    ws = Workspace.at(ws_path)
    _check_final_paths(ws)
    store = ws.store()
    try:
        jobs = store.jobs()
        assert jobs and all(j.state == "done" for j in jobs)
        recorded: dict[str, int] = {}
        for e in store.events(kinds=["done", "adopted"], limit=100_000):
            recorded[e["job_id"]] = recorded.get(e["job_id"], 0) + 1
        assert recorded == {j.job_id: 1 for j in jobs}, "every job must be recorded done exactly once"
        import json

        status = json.loads((ws_path / "generation_status.json").read_text())
        live = derive_status(store)
        assert {k: status[k] for k in ("total", "completed", "pending", "in_progress", "failed")} == \
               {k: live[k] for k in ("total", "completed", "pending", "in_progress", "failed")}
        assert status["completed"] == len(jobs) == clips
    finally:
        store.close()
