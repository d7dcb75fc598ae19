"""The staged engine (issue 11): generation and finishing apart, raw outputs durable, the store
migrated from the first release, and kill -9 trials during finishing."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import process_group_members, SIMPLE_BACKEND, assert_only_verified_on_disk
from synthcam.engine.finishing import RAW_RECORD
from synthcam.engine.runner import RunOptions, run
from synthcam.engine.status import derive_status
from synthcam.store import SCHEMA_VERSION, JobStore

TESTS = Path(__file__).parent.parent
TINY = TESTS / "data" / "tiny.yaml"
V1 = TESTS / "data" / "store-v1"


@pytest.fixture(autouse=True)
def simple_backend(monkeypatch):
    monkeypatch.setenv("SYNTHCAM_BACKENDS", SIMPLE_BACKEND)


def _store(ws: Path) -> JobStore:
    return JobStore(ws / "synthcam.db")


def _events(ws: Path, kinds: list[str]) -> list[dict]:
    store = _store(ws)
    try:
        return store.events(kinds=kinds, limit=100_000)
    finally:
        store.close()


def sleep_opts(**kw) -> RunOptions:
    return RunOptions(backend="sleep", gpus=["0", "1"], lease_s=5, interpolation="blend",
                      backend_options={"gen_s": 0.2}, **kw)


# --- a store made by the first release opens, migrates and resumes --------------------------------

def test_a_first_release_workspace_migrates_and_resumes(tmp_path):
    shutil.copytree(V1, tmp_path / "v1")
    ws = tmp_path / "v1" / "workspace"
    before = {p.name: p.stat().st_mtime_ns for p in (ws / "clips").glob("*.mp4")}
    result = run(tmp_path / "v1" / "tiny.yaml", ws, RunOptions(backend="simple", workers=2, lease_s=5))
    store = _store(ws)
    try:
        assert store.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
        assert [e["detail"] for e in store.events(kinds=["migrated"])] == ["store schema 1 -> 2"]
        jobs = {j.name: j for j in store.jobs()}
    finally:
        store.close()
    # the four verified clips are kept as they were (not generated again)
    assert {p.name: p.stat().st_mtime_ns for p in (ws / "clips").glob("*.mp4") if p.name in before} == before
    assert all(jobs[n].state == "done" and jobs[n].starts == 1 for n in ("A01_1s", "A01_2s", "A02_1s", "A02_2s"))
    # the job a dead worker held is made now; the one that failed for good stays failed
    assert jobs["B01_2s"].state == "done" and jobs["B01_1s"].state == "failed"
    assert result.plan.reclaimed == 1 and result.done == 5 and not result.ok
    assert_only_verified_on_disk(ws, gone=("B01_1s",))
    again = run(tmp_path / "v1" / "tiny.yaml", ws, RunOptions(backend="simple", workers=1, lease_s=5, retry_failed=True))
    assert again.ok


def test_a_read_only_open_of_an_old_store_says_to_migrate(tmp_path):
    from synthcam.errors import WorkspaceError

    shutil.copytree(V1, tmp_path / "v1")
    with pytest.raises(WorkspaceError, match="schema 1"):
        JobStore(tmp_path / "v1" / "workspace" / "synthcam.db", readonly=True)


# --- raw outputs are durable once handed over -------------------------------------------------------

def _rewind_to_generated(ws: Path, name: str) -> None:
    """As if the orchestrator died after a worker handed `name` over but before it was finished."""
    store = _store(ws)
    try:
        job = store.find(name)[0]
        raw_dir = ws / "raw" / job.job_id
        raw_dir.mkdir(parents=True)
        shutil.move(ws / "clips" / f"{name}.mp4", raw_dir / f"{name}.mp4")
        raw = {"job_id": job.job_id, "dir": f"raw/{job.job_id}", "video": f"{name}.mp4", "fps": 24.0,
               "frames": job.clip.target.frames, "at_target": True}
        (raw_dir / RAW_RECORD).write_text(json.dumps(raw))
        store.conn.execute("UPDATE jobs SET state = 'generated', raw = ?, output = NULL, sha256 = NULL WHERE job_id = ?",
                           (json.dumps(raw), job.job_id))
    finally:
        store.close()


def test_a_generated_job_is_finished_on_resume_not_generated_again(tmp_path):
    ws = tmp_path / "ws"
    assert run(TINY, ws, RunOptions(backend="simple", workers=1, lease_s=5, only=["A01"])).ok
    _rewind_to_generated(ws, "A01_2s")
    result = run(TINY, ws, RunOptions(backend="simple", workers=1, lease_s=5, only=["A01"]))
    assert result.ok and result.plan.to_do == 1
    store = _store(ws)
    try:
        job = store.find("A01_2s")[0]
        assert job.state == "done" and job.starts == 1  # finished from its raw output
    finally:
        store.close()
    assert not (ws / "raw" / job.job_id).exists()
    assert_only_verified_on_disk(ws)


def test_a_raw_output_kept_but_never_recorded_is_finished_on_resume(tmp_path):
    ws = tmp_path / "ws"
    assert run(TINY, ws, RunOptions(backend="simple", workers=1, lease_s=5, only=["A02"])).ok
    _rewind_to_generated(ws, "A02_1s")
    store = _store(ws)
    try:  # the orchestrator died before `generated` was recorded: the job is still claimed
        store.conn.execute("UPDATE jobs SET state = 'pending', raw = NULL WHERE name = 'A02_1s'")
    finally:
        store.close()
    assert run(TINY, ws, RunOptions(backend="simple", workers=1, lease_s=5, only=["A02"])).ok
    assert [e for e in _events(ws, ["started"]) if e["job_id"] and "A02_1s"] and \
        sum(1 for e in _events(ws, ["generated"]) if "found on resume" in e["detail"]) == 1


def test_a_worker_that_dies_loses_none_of_the_raw_clips_it_handed_over(tmp_path, monkeypatch):
    manifest = tmp_path / "m.yaml"
    manifest.write_text(TINY.read_text())
    ws = tmp_path / "ws"
    order = []
    result = run(manifest, ws, RunOptions(backend="sleep", gpus=["0"], lease_s=5, interpolation="blend", max_attempts=2,
                                          backend_options={"gen_s": 0.1, "crash_on": "B01_1s"}, finish_workers=1),
                 on_tick=lambda p: order.append(p.verified))
    store = _store(ws)
    try:
        jobs = {j.name: j for j in store.jobs()}
    finally:
        store.close()
    crashed = jobs["B01_1s"]
    assert crashed.state == "failed" and crashed.error_kind == "worker_died" and crashed.attempts == 2
    others = [j for n, j in jobs.items() if n != "B01_1s"]
    assert all(j.state == "done" and j.starts == 1 for j in others), {j.name: (j.state, j.starts) for j in others}
    assert not result.ok and result.done == 5
    assert_only_verified_on_disk(ws, gone=("B01_1s",))


def test_inline_and_staged_finishing_make_the_same_clips(tmp_path):
    a = run(TINY, tmp_path / "staged", sleep_opts(finish_workers=2))
    b = run(TINY, tmp_path / "inline", sleep_opts(finish_workers=0))
    assert a.ok and b.ok
    for name in ("A01_1s", "B01_2s"):
        assert (tmp_path / "staged" / "clips" / f"{name}.mp4").read_bytes() == \
            (tmp_path / "inline" / "clips" / f"{name}.mp4").read_bytes()


def test_finishing_rejections_are_recorded_and_leave_nothing(tmp_path, monkeypatch):
    """A raw clip too short for its target (the old 93-frame bug) fails in finishing, not retried."""
    long = tmp_path / "long.yaml"
    long.write_text(TINY.read_text().replace("durations: [1, 2]", "durations: [1, 7]"))
    ws = tmp_path / "ws"
    result = run(long, ws, sleep_opts(only=["A01"], force=True))  # force: the 7 s pacing text is a lint error
    store = _store(ws)
    try:
        jobs = {j.name: j for j in store.jobs() if j.clip_id == "A01"}
    finally:
        store.close()
    assert jobs["A01_1s"].state == "done"
    assert jobs["A01_7s"].state == "failed" and jobs["A01_7s"].error_kind == "verify:wrong_frames"
    assert jobs["A01_7s"].attempts == 1 and not (ws / "raw" / jobs["A01_7s"].job_id).exists()
    assert not result.ok
    assert_only_verified_on_disk(ws, gone=("A01_7s",))


def test_status_counts_finishing_apart(tmp_path):
    ws = tmp_path / "ws"
    assert run(TINY, ws, RunOptions(backend="simple", workers=1, lease_s=5, only=["B01"])).ok
    _rewind_to_generated(ws, "B01_1s")
    store = _store(ws)
    try:
        status = derive_status(store)
    finally:
        store.close()
    assert status["finishing"] == 1 and status["in_progress"] == 0 and status["completed"] == 1


# --- kill -9 during finishing and between generation and finishing ----------------------------------

TRIALS = 30


@pytest.mark.slow
def test_kill9_during_finishing_never_generates_twice(tmp_path):
    """Raw clips at 16 fps need interpolation: a kill at a random moment often lands while clips
    are generated but not yet finished. Nothing generated is generated again, every job ends
    done exactly once, no final path holds an unverified file, the status file equals the store."""
    manifest = tmp_path / "m.yaml"
    extra = "".join(f"  - {{id: K{i:02d}, group: g, scenario: k{i}, purpose: test, scene: yard, environment: day,"
                     f" subjects: [walker], action: cross, expected_risk: low}}\n" for i in range(5))
    manifest.write_text(TINY.read_text() + extra)
    env = {**os.environ, "PYTHONPATH": str(TESTS) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "SLEEP_GEN_S": "0.15"}
    rng = random.Random(202612051)
    counted = attempted = 0
    caught_generated = 0
    ws_n = 0
    while counted < TRIALS:
        ws_n += 1
        ws = tmp_path / f"ws{ws_n:02d}"
        cmd = [sys.executable, "-m", "synthcam", "run", "-m", str(manifest), "-w", str(ws), "--backend", "sleep",
               "--gpus", "2", "--finish-workers", "1", "--interpolation", "mci", "-q"]
        for _ in range(3):
            if counted >= TRIALS:
                break
            attempted += 1
            assert attempted <= 2 * TRIALS
            p = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(1.0, 4.0))
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            end = time.time() + 10
            while process_group_members(p.pid) and time.time() < end:
                time.sleep(0.05)
            assert not process_group_members(p.pid)
            if not (ws / "synthcam.db").exists():
                continue
            assert_only_verified_on_disk(ws)
            store = _store(ws)
            try:
                states = [j.state for j in store.jobs()]
            finally:
                store.close()
            if all(s == "done" for s in states):
                break
            counted += 1
            caught_generated += "generated" in states
        final = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert final.returncode == 0, final.stdout[-3000:] + final.stderr[-2000:]
        assert_only_verified_on_disk(ws)
        store = _store(ws)
        try:
            jobs = store.jobs()
            assert all(j.state == "done" for j in jobs) and len(jobs) == 16
            events = store.events(limit=100_000)
            done = {}
            for e in events:
                if e["kind"] in ("done", "adopted"):
                    done[e["job_id"]] = done.get(e["job_id"], 0) + 1
            assert done == {j.job_id: 1 for j in jobs}
            generated_at: dict[str, int] = {}
            for e in events:  # once generated, never started again
                if e["kind"] == "generated":
                    generated_at.setdefault(e["job_id"], e["id"])
                if e["kind"] == "started" and e["job_id"] in generated_at:
                    raise AssertionError(f"{e['job_id']} was generated, then generated again")
            status = json.loads((ws / "generation_status.json").read_text())
            live = derive_status(store)
            keys = ("total", "completed", "pending", "in_progress", "finishing", "failed")
            assert {k: status[k] for k in keys} == {k: live[k] for k in keys}
        finally:
            store.close()
    print(f"{counted} kills interrupted unfinished work, {caught_generated} of them with clips generated "
          f"but not finished ({attempted} attempted, {ws_n} workspaces)")
    assert caught_generated >= 5


def test_ground_truth_appears_only_beside_a_recorded_clip_and_a_crash_loses_none(tmp_path, monkeypatch):
    """Ground truth is installed after the clip is recorded; a crash between the record and the
    install (the raw output still holds the truth) is completed on resume, nothing regenerated."""
    from synthcam.engine import finishing
    from synthcam.verify.policy import load_policy

    (tmp_path / "policy.yaml").write_text("checks: {cut_short: off}\n")  # a 2 s clip is too short to cross
    policy = load_policy(tmp_path / "policy.yaml")
    clean = tmp_path / "clean"
    run(TINY, clean, RunOptions(backend="procedural", workers=1, finish_workers=0, only=["A01"], durations=[2], force=True, policy=policy))
    expected = sorted(p.relative_to(clean / "clips").as_posix() for p in (clean / "clips").rglob("*.gt/*"))
    assert expected, "the procedural backend makes ground truth"

    ws = tmp_path / "ws"
    seen = []

    def crash_after_record(ws_, base, extras, name):  # the record exists; the truth is not in place yet
        seen.append(name)
        assert_only_verified_on_disk(ws_.root)
        assert not (ws_.clips_dir / f"{name}.gt").exists()
        raise _Crash

    class _Crash(Exception):
        pass

    monkeypatch.setattr(finishing, "install_truth", crash_after_record)
    with pytest.raises(_Crash):
        run(TINY, ws, RunOptions(backend="procedural", workers=1, finish_workers=0, only=["A01"], durations=[2], force=True, policy=policy))
    monkeypatch.undo()
    monkeypatch.setenv("SYNTHCAM_BACKENDS", SIMPLE_BACKEND)
    assert seen and list((ws / "raw").iterdir()), "the raw output (with the truth) survives the crash"
    # the crashed process's claim looks like a dead process's: make it one
    for claim in (ws / "raw").glob(".*.truth-*"):
        claim.rename(claim.with_name(claim.name.rpartition("-")[0] + "-999999999"))
    assert_only_verified_on_disk(ws)
    starts = {e["job_id"] for e in _events(ws, ["started"])}

    run(TINY, ws, RunOptions(backend="procedural", workers=1, finish_workers=0, only=["A01"], durations=[2], force=True, policy=policy))
    assert_only_verified_on_disk(ws)
    assert {e["job_id"] for e in _events(ws, ["started"])} == starts, "nothing generated again"
    got = sorted(p.relative_to(ws / "clips").as_posix() for p in (ws / "clips").rglob("*.gt/*"))
    assert got == expected
    assert not list((ws / "raw").iterdir())


def test_a_kill_while_a_truth_claim_is_removed_never_empties_the_installed_truth(tmp_path, monkeypatch):
    """After the truth is installed, its claim in raw/ is removed. A kill part-way through that
    removal must not let the resume install the claim's remains over the whole truth: the
    claim's record goes first, so what is left is only cleared."""
    from synthcam.engine import finishing
    from synthcam.verify.policy import load_policy

    (tmp_path / "policy.yaml").write_text("checks: {cut_short: off}\n")
    policy = load_policy(tmp_path / "policy.yaml")
    opts = RunOptions(backend="procedural", workers=1, finish_workers=0, only=["A01"], durations=[2], force=True,
                      policy=policy)
    ws = tmp_path / "ws"

    class _Killed(BaseException):
        pass

    real_rmtree = shutil.rmtree

    def killed_mid_removal(path, *a, **k):
        path = Path(path)
        if finishing._CLAIM in path.name:  # remove the truth files only, then "die"
            for item in sorted(path.rglob("*"), reverse=True):
                if item.is_file() and item.name != finishing.RAW_RECORD:
                    item.unlink()
            raise _Killed
        return real_rmtree(path, *a, **k)

    monkeypatch.setattr(finishing.shutil, "rmtree", killed_mid_removal)
    with pytest.raises(_Killed):
        run(TINY, ws, opts)
    monkeypatch.undo()
    truth = sorted(p.relative_to(ws / "clips").as_posix() for p in (ws / "clips").rglob("*.gt/*") if p.is_file())
    assert truth, "the truth was installed before the kill"
    for claim in (ws / "raw").glob(".*.truth-*"):  # the killed process's claim: make it a dead one's
        claim.rename(claim.with_name(claim.name.rpartition("-")[0] + "-999999999"))
    run(TINY, ws, opts)
    assert_only_verified_on_disk(ws)
    after = sorted(p.relative_to(ws / "clips").as_posix() for p in (ws / "clips").rglob("*.gt/*") if p.is_file())
    assert after == truth, "the resume replaced the whole truth with a claim's remains"
    assert not list((ws / "raw").iterdir())


def test_leftovers_of_a_dead_writer_go_even_while_a_killed_runs_workers_look_live(tmp_path):
    """A run killed mid-landing leaves a half-built folder in clips/. Its workers can still look
    live when the next run starts a moment later (they have not yet noticed their parent died), yet
    the leftover must not survive that run: its writer, named in it, is dead. A live writer's work
    in progress is left alone."""
    from synthcam.engine.runner import cleanup_orphans
    from synthcam.fsutil import atomic_dir, atomic_path, temp_owner
    from synthcam.workspace import Workspace

    ws = Workspace.at(tmp_path / "ws")
    ws.clips_dir.mkdir(parents=True, exist_ok=True)
    with atomic_dir(ws.clips_dir / "A01_5s.gt") as tmp:
        assert temp_owner(tmp.name) == os.getpid()
    with atomic_path(ws.clips_dir / "A01_5s.mp4") as tmp:
        assert temp_owner(tmp.name) == os.getpid()
    assert temp_owner(".A01_5s.gt.old-4242") == 4242 and temp_owner("A01_5s.mp4") is None

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        store = ws.store()
        try:
            store.register_worker("killed-w0", "killed", pid=alive.pid)  # still looks live
            leftovers = [ws.clips_dir / f".A01_5s.gt.p{dead.pid}-x1y2.partial", ws.clips_dir / f".A01_5s.gt.old-{dead.pid}"]
            for folder in leftovers:
                folder.mkdir()
                (folder / "boxes.json").write_text("{}")
            (ws.clips_dir / f".A02_5s.mp4.p{dead.pid}-z3.partial").write_bytes(b"half")
            leftovers.append(ws.clips_dir / f".A02_5s.mp4.p{dead.pid}-z3.partial")
            in_progress = ws.clips_dir / f".A03_5s.gt.p{alive.pid}-w4.partial"
            in_progress.mkdir()
            unknown = ws.clips_dir / ".A04_5s.mp4.abc.partial"  # no pid: kept while a run may be live
            unknown.write_bytes(b"?")
            assert cleanup_orphans(ws, store) == 3
            assert not any(p.exists() for p in leftovers)
            assert in_progress.is_dir() and unknown.exists()
            store.worker_exited("killed-w0")
            assert cleanup_orphans(ws, store) == 2  # no live run at all: everything temporary goes
            assert not in_progress.exists() and not unknown.exists()
        finally:
            store.close()
    finally:
        alive.kill()
        alive.wait()


def test_a_kill_while_ground_truth_is_built_leaves_nothing_in_clips(tmp_path):
    """clips/ holds only final things, even right after a kill -9: the truth folder is built in
    raw/ and renamed into place, and the next run removes what the dead builder left there."""
    from synthcam.engine.runner import cleanup_orphans
    from synthcam.workspace import Workspace

    ws_root = tmp_path / "ws"
    script = f"""
import os, signal
from pathlib import Path
from synthcam.engine import finishing
from synthcam.workspace import Workspace
ws = Workspace.at({str(ws_root)!r})
base = ws.root / "raw" / "job1"
(base / "gt").mkdir(parents=True)
for i in range(3):
    (base / "gt" / f"f{{i}}.json").write_text("{{}}")
ws.clips_dir.mkdir(parents=True, exist_ok=True)
calls = []
real = finishing._link_or_copy
def link_then_die(src, dst):
    calls.append(src)
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    real(src, dst)
finishing._link_or_copy = link_then_die
finishing.install_truth(ws, base, {{"truth": "gt"}}, "A01_5s")
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not list((ws_root / "clips").iterdir()), "a kill mid-build left something in clips/"
    leftovers = [p for p in (ws_root / "raw").iterdir() if p.name.startswith(".")]
    assert len(leftovers) == 1 and leftovers[0].name.endswith(".partial")
    ws = Workspace.at(ws_root)
    store = ws.store()
    try:
        assert cleanup_orphans(ws, store) == 1
    finally:
        store.close()
    assert sorted(p.name for p in (ws_root / "raw").iterdir()) == ["job1"]
