"""The engine's promises, each pinned by a test that a planted bug fails (issue 18).

- A clip exists when it has been verified, and not before: checked on disk after every outcome.
- "In progress" means being generated now: claimed-but-not-started and lease-lapsed jobs are pending.
- Ctrl-C / SIGTERM blames nobody; per-job timeouts; --retry-failed; GPU groups; the ETA;
  status, status --watch, logs and adopt in-process; the README's main job.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import SIMPLE_BACKEND, assert_only_verified_on_disk, invoke
from synthcam.engine.runner import RunOptions, run
from synthcam.engine.status import derive_status, eta_seconds
from synthcam.store import JobSpec, JobStore

TESTS = Path(__file__).parent.parent
TINY = TESTS / "data" / "tiny.yaml"
BACKENDS = ",".join([SIMPLE_BACKEND, "simplegpu=fakes.simple_backend:SimpleGpuBackend",
                     "leaky=fakes.leaky_backend:LeakyBackend"])


@pytest.fixture(autouse=True)
def fake_backends(monkeypatch):
    monkeypatch.setenv("SYNTHCAM_BACKENDS", BACKENDS)


def _jobs(ws: Path) -> dict:
    store = JobStore(ws / "synthcam.db")
    try:
        return {j.name: j for j in store.jobs()}
    finally:
        store.close()


# --- 1. nothing that failed is on disk, whatever the way it failed ----------------------------------

def test_a_clip_that_fails_verification_never_reaches_clips(tmp_path, monkeypatch):
    monkeypatch.setenv("SIMPLE_BLACK", "1")
    ws = tmp_path / "ws"
    result = run(TINY, ws, RunOptions(backend="simple", workers=1, lease_s=5, only=["A01"], backoff_s=0.05))
    jobs = _jobs(ws)
    assert not result.ok and {jobs[n].state for n in ("A01_1s", "A01_2s")} == {"failed"}
    assert jobs["A01_2s"].error_kind == "verify:black" and jobs["A01_2s"].attempts == 1  # deterministic: not retried
    assert_only_verified_on_disk(ws, gone=("A01_1s", "A01_2s"))
    assert not list((ws / "staging").glob("*/*")) if (ws / "staging").exists() else True


@pytest.mark.parametrize("kind,state", [("error", "failed"), ("blocked", "blocked")])
def test_backend_failures_and_blocks_leave_nothing(tmp_path, monkeypatch, kind, state):
    monkeypatch.setenv("LEAKY_KIND", kind)
    ws = tmp_path / "ws"
    run(TINY, ws, RunOptions(backend="leaky", workers=1, lease_s=5, only=["B01"]))
    jobs = _jobs(ws)
    assert {jobs[n].state for n in ("B01_1s", "B01_2s")} == {state}
    assert_only_verified_on_disk(ws, gone=("B01_1s", "B01_2s"))


def test_per_job_timeout_for_a_cpu_backend(tmp_path, monkeypatch):
    monkeypatch.setenv("SIMPLE_DELAY_S", "0.5")  # 24 frames x 0.5 s = 12 s for a 1 s clip
    ws = tmp_path / "ws"
    result = run(TINY, ws, RunOptions(backend="simple", workers=1, lease_s=5, only=["A02"], durations=[1],
                                      job_timeout_s=1.5, max_attempts=1))
    job = _jobs(ws)["A02_1s"]
    assert not result.ok and job.state == "failed" and job.error_kind == "timeout" and job.attempts == 1
    assert "1.5 s" in job.error
    assert_only_verified_on_disk(ws, gone=("A02_1s",))


# --- 2. "in progress" means being generated now ------------------------------------------------------

def _spec(i: int, cost: float = 10.0) -> JobSpec:
    return JobSpec(job_id=f"job{i:02d}", name=f"X{i:02d}_5s", clip_id=f"X{i:02d}", series="X", duration_s=5,
                   backend="simple", model="simple", seed=i, spec={"frames": 120}, cost_s=cost)


def test_in_progress_counts_only_jobs_being_generated_now(tmp_path):
    store = JobStore(tmp_path / "synthcam.db")
    try:
        store.sync([_spec(i) for i in range(6)])
        store.register_worker("w1", "run")
        claimed = store.claim("w1", limit=3, lease_s=60)             # three claimed for a batch
        store.start(claimed[0].job_id, "w1")                          # one of them started: in progress
        store.register_worker("w2", "run")
        lapsed = store.claim("w2", limit=1, lease_s=60)[0]
        store.start(lapsed.job_id, "w2")                              # started, but its lease lapsed
        store.conn.execute("UPDATE jobs SET lease_until = ? WHERE job_id = ?", (time.time() - 1, lapsed.job_id))
        status = derive_status(store)
    finally:
        store.close()
    assert status["total"] == 6
    assert status["in_progress"] == 1                      # only the started job with a live lease
    assert status["pending"] == 5                          # 2 claimed-not-started + 1 lapsed + 2 unclaimed
    assert status["queued_in_workers"] == 2 and status["stale_leases"] == 1


# --- 4. Ctrl-C / SIGTERM blames nobody ---------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_blames_nobody(tmp_path, sig):
    ws = tmp_path / "ws"
    env = {**os.environ, "PYTHONPATH": str(TESTS), "SIMPLE_DELAY_S": "0.2"}
    p = subprocess.Popen([sys.executable, "-m", "synthcam", "run", "-m", str(TINY), "-w", str(ws), "--backend", "simple",
                          "--workers", "2", "-q"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until jobs are being generated
        if (ws / "synthcam.db").exists():
            store = JobStore(ws / "synthcam.db")
            try:
                if derive_status(store)["in_progress"]:
                    break
            finally:
                store.close()
        time.sleep(0.1)
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130 and "interrupted" in err
    jobs = _jobs(ws)
    assert all(j.attempts == 0 for j in jobs.values()), {n: j.attempts for n, j in jobs.items()}
    assert {j.state for j in jobs.values()} <= {"pending", "done"} and any(j.state == "pending" for j in jobs.values())
    assert_only_verified_on_disk(ws)
    result = run(TINY, ws, RunOptions(backend="simple", workers=2, lease_s=5))
    assert result.ok and result.plan.reclaimed == 0  # nothing was left running: the orchestrator released it


# --- 4. --retry-failed ------------------------------------------------------------------------------

def test_retry_failed_gives_failed_jobs_a_fresh_set_of_attempts(tmp_path, monkeypatch):
    ws = tmp_path / "ws"
    monkeypatch.setenv("SIMPLE_BLACK", "1")
    assert not run(TINY, ws, RunOptions(backend="simple", workers=1, lease_s=5, only=["B01"], durations=[1])).ok
    monkeypatch.delenv("SIMPLE_BLACK")
    again = run(TINY, ws, RunOptions(backend="simple", workers=1, lease_s=5, only=["B01"], durations=[1]))
    assert not again.ok and again.plan.failed == 1 and again.plan.to_do == 0  # failed stays failed...
    retried = run(TINY, ws, RunOptions(backend="simple", workers=1, lease_s=5, only=["B01"], durations=[1],
                                       retry_failed=True))
    assert retried.ok and _jobs(ws)["B01_1s"].state == "done"  # ...until the user asks
    assert_only_verified_on_disk(ws)


# --- 4. GPU groups -----------------------------------------------------------------------------------

def test_gpus_per_worker_splits_the_gpus_into_groups(tmp_path, monkeypatch):
    log = tmp_path / "gpus.log"
    monkeypatch.setenv("SIMPLE_GPU_LOG", str(log))
    ws = tmp_path / "ws"
    result = run(TINY, ws, RunOptions(backend="simplegpu", gpus=["0", "1", "2", "3"], gpus_per_worker=2, lease_s=5))
    assert result.ok and result.plan.workers == 2
    store = JobStore(ws / "synthcam.db")
    try:
        assert sorted(w.gpus for w in store.workers()) == ["0,1", "2,3"]
        gpu_seconds = {j.name: j.gpu_seconds for j in store.jobs()}
    finally:
        store.close()
    seen = {line.split()[1] for line in log.read_text().splitlines()}
    assert seen <= {"0,1", "2,3"} and seen  # each worker saw only its own group
    assert all(s > 0 for s in gpu_seconds.values())


def test_a_gpu_backend_without_gpus_is_refused(tmp_path):
    from synthcam.errors import InputError

    with pytest.raises(InputError, match="--gpus"):
        run(TINY, tmp_path / "ws", RunOptions(backend="simplegpu"))
    assert not (tmp_path / "ws").exists()


def test_gpus_that_do_not_split_into_groups_are_refused(tmp_path):
    from synthcam.errors import InputError

    with pytest.raises(InputError, match="groups of 2"):
        run(TINY, tmp_path / "ws", RunOptions(backend="simplegpu", gpus=["0", "1", "2"], gpus_per_worker=2))


# --- 4. the ETA --------------------------------------------------------------------------------------

def test_eta_uses_measured_compute_and_live_gpus(tmp_path):
    store = JobStore(tmp_path / "synthcam.db")
    try:
        store.sync([_spec(i, cost=10.0) for i in range(6)])
        for i in range(2):  # two verified, each took 5 s of compute for 10 s planned: half the estimate
            store.register_worker(f"done{i}", "run")
            job = store.claim(f"done{i}", job_ids=[f"job{i:02d}"])[0]
            store.start(job.job_id, f"done{i}")
            store.complete(job.job_id, f"clips/{job.name}.mp4", "0" * 64, {}, [], worker=f"done{i}", gpu_seconds=5.0)
            store.worker_exited(f"done{i}")
        store.register_worker("live", "run", gpus="0,1")
        store.register_worker("cpu", "run")
        status = derive_status(store)
    finally:
        store.close()
    assert status["compute_per_expected_s"] == 0.5 and status["remaining_expected_s"] == 40
    assert eta_seconds(status) == pytest.approx(40 * 0.5 / 3)  # two GPUs + one CPU worker
    assert eta_seconds({**status, "workers": []}) is None


# --- 4. status, status --watch, logs and adopt, in-process -------------------------------------------

def test_status_watch_refreshes_until_interrupted(tmp_path, monkeypatch):
    ws = tmp_path / "ws"
    assert run(TINY, ws, RunOptions(backend="simple", workers=1, lease_s=5, only=["A01"], durations=[1])).ok
    from synthcam.cli import engine as cli_engine

    calls = []

    def sleep(seconds):
        calls.append(seconds)
        if len(calls) >= 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(cli_engine.time, "sleep", sleep)
    result = invoke("status", "-w", ws, "--watch")
    assert result.exit_code == 130 and len(calls) == 3
    assert "verified" in result.stdout and "interrupted" in result.stderr


def test_logs_of_an_unknown_job_and_of_a_superseded_one(tmp_path):
    ws = tmp_path / "ws"
    assert run(TINY, ws, RunOptions(backend="simple", workers=1, lease_s=5, only=["A01"], durations=[1])).ok
    r = invoke("logs", "NOPE", "-w", ws)
    assert r.exit_code == 2 and "no job matches" in r.stderr
    data = json.loads(invoke("logs", "A01_1s", "-w", ws, "--json").stdout)
    assert data["state"] == "done" and data["generation_attempts"] == 1 and "verified A01_1s" in data["log"]
    kinds = [e["kind"] for e in data["events"]]
    assert kinds.index("claimed") < kinds.index("started") < kinds.index("done")
    changed = tmp_path / "changed.yaml"
    changed.write_text(TINY.read_text().replace("a person in a red jacket", "a person in a blue jacket"))
    assert run(changed, ws, RunOptions(backend="simple", workers=1, lease_s=5, only=["B01"], durations=[1])).ok
    old = json.loads(invoke("logs", data["job_id"], "-w", ws, "--json").stdout)
    assert old["current"] is False
    assert "superseded" in invoke("logs", data["job_id"], "-w", ws).stdout


def test_adopt_command_in_process(tmp_path):
    ws = tmp_path / "ws"
    assert run(TINY, ws, RunOptions(backend="simple", workers=1, lease_s=5, only=["A02"])).ok
    src = tmp_path / "made-elsewhere"
    src.mkdir()
    for name in ("A02_1s", "A02_2s"):
        (ws / "clips" / f"{name}.mp4").rename(src / f"{name}.mp4")
    (src / "A01_1s.mp4").write_bytes(b"version https://git-lfs.github.com/spec/v1\n")
    other = tmp_path / "ws2"
    result = invoke("adopt", src, "-m", TINY, "-w", other, "--backend", "simple", "--json")
    assert result.exit_code == 1  # one rejected
    data = json.loads(result.stdout)
    assert data["counts"] == {"adopted": 2, "rejected": 1, "skipped": 0}
    assert_only_verified_on_disk(other, gone=("A01_1s",))
    text = invoke("adopt", src, "-m", TINY, "-w", other, "--backend", "simple")
    assert "already verified" in text.stdout


# --- 4. the README's main job: a plain `synthcam run` on the embedded quickstart ----------------------

@pytest.mark.slow
def test_plain_run_on_the_embedded_quickstart(tmp_path, monkeypatch):
    """`make demo`'s run, as a user types it: no -m, no -w, the procedural backend."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SYNTHCAM_WORKSPACE")
    monkeypatch.delenv("SYNTHCAM_BACKENDS")
    result = invoke("run")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "10/10 clips verified" in result.stdout
    assert_only_verified_on_disk(tmp_path / "workspace")
    truth = sorted(p.name for p in (tmp_path / "workspace" / "clips").glob("*.gt"))
    assert len(truth) == 10
    assert invoke("verify", tmp_path / "workspace" / "clips").exit_code == 0
