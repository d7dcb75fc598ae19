"""The job store: identity, claims as leases, blame only the job in flight, derived counts."""

from __future__ import annotations

import multiprocessing as mp

import pytest

from synthcam.store import JobSpec, JobStore


def spec(i: int, cost: float = 1.0, name: str | None = None) -> JobSpec:
    return JobSpec(job_id=f"job{i:05d}", name=name or f"C{i:03d}_5s", clip_id=f"C{i:03d}", series="C", duration_s=5,
                   backend="procedural", model="m", seed=i, spec={"i": i}, cost_s=cost)


@pytest.fixture
def store(tmp_path):
    s = JobStore(tmp_path / "synthcam.db")
    yield s
    s.close()


def test_sync_is_idempotent_and_tracks_the_current_plan(store):
    assert store.sync([spec(1), spec(2)]) == {"new": 2, "existing": 0, "superseded": 0}
    assert store.sync([spec(1), spec(2)]) == {"new": 0, "existing": 2, "superseded": 0}
    # a changed prompt is a new job id: the old one is superseded, not counted
    assert store.sync([spec(1), spec(3, name="C002_5s")]) == {"new": 1, "existing": 1, "superseded": 1}
    assert store.counts()["total"] == 2


def test_assign_longest_first(store):
    store.sync([spec(i, cost) for i, cost in enumerate([30, 30, 10, 10, 5, 5, 5, 5])])
    load = store.assign(["a", "b"])
    assert load == {"a": 50.0, "b": 50.0}
    jobs = store.claim("w", queue="a", limit=100)
    assert [j.cost_s for j in jobs] == sorted([j.cost_s for j in jobs], reverse=True)


def test_claim_is_exclusive(store):
    store.sync([spec(i) for i in range(5)])
    a = store.claim("a", limit=3)
    b = store.claim("b", limit=3)
    assert len(a) == 3 and len(b) == 2 and not {j.job_id for j in a} & {j.job_id for j in b}
    assert store.claim("c", limit=3) == []


def test_complete_requires_the_lease(store):
    store.sync([spec(1)])
    (job,) = store.claim("a", lease_s=10)
    assert not store.complete(job.job_id, "clips/x.mp4", "ab", {}, [], worker="intruder")
    assert store.complete(job.job_id, "clips/x.mp4", "ab", {"frames": 120}, [], worker="a")
    done = store.get(job.job_id)
    assert done.state == "done" and done.sha256 == "ab" and done.probe == {"frames": 120}


def test_retry_backoff_then_fail_for_good(store):
    store.sync([spec(1)])
    now = 1000.0
    (job,) = store.claim("a", now=now)
    assert store.fail(job.job_id, "a", "error", "boom", backoff_s=10, now=now) == "pending"
    assert store.claim("a", now=now + 5) == []          # still backing off
    (job,) = store.claim("a", now=now + 11)
    assert store.fail(job.job_id, "a", "error", "boom", now=now + 11) == "pending"
    (job,) = store.claim("a", now=now + 100)
    assert store.fail(job.job_id, "a", "error", "boom", now=now + 100) == "failed"
    assert store.get(job.job_id).attempts == 3


def test_not_retryable_and_blocked(store):
    store.sync([spec(1), spec(2)])
    j1, j2 = store.claim("a", limit=2)
    assert store.fail(j1.job_id, "a", "auth", "licence", retryable=False) == "failed"
    store.block(j2.job_id, "a", "guardrail")
    c = store.counts()
    assert c["failed"] == 1 and c["blocked"] == 1


def test_reclaim_blames_only_the_job_in_flight(store):
    store.sync([spec(i) for i in range(3)])
    store.register_worker("w", "run")
    jobs = store.claim("w", limit=3, lease_s=5, now=100.0)
    store.start(jobs[0].job_id, "w", now=100.0)
    reclaimed = store.reclaim_stale(now=200.0)
    assert sorted(reclaimed) == sorted(j.job_id for j in jobs)
    attempts = {j.job_id: store.get(j.job_id).attempts for j in jobs}
    assert attempts[jobs[0].job_id] == 1 and attempts[jobs[1].job_id] == 0 == attempts[jobs[2].job_id]
    assert store.counts()["pending"] == 3


def _dead_worker(path: str) -> None:
    s = JobStore(path)
    s.register_worker("dead", "run")
    s.claim("dead", limit=2, lease_s=3600)


def test_dead_pid_is_reclaimed_without_waiting_for_the_lease(store):
    store.sync([spec(i) for i in range(2)])
    p = mp.get_context("spawn").Process(target=_dead_worker, args=(str(store.path),))
    p.start()
    p.join()
    assert store.counts()["running"] == 2
    assert len(store.reclaim_stale()) == 2 and store.counts()["pending"] == 2


def _claimer(path: str, worker: str, out) -> None:
    s = JobStore(path)
    got = []
    while True:
        jobs = s.claim(worker, limit=1)
        if not jobs:
            break
        got.append(jobs[0].job_id)
        s.complete(jobs[0].job_id, "o", "h", {}, [], worker=worker)
    out.put(got)


def test_concurrent_processes_never_share_a_job(store):
    store.sync([spec(i) for i in range(200)])
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_claimer, args=(str(store.path), f"w{i}", q)) for i in range(3)]
    for p in procs:
        p.start()
    results = [q.get(timeout=60) for _ in procs]
    for p in procs:
        p.join()
    flat = [j for r in results for j in r]
    assert len(flat) == len(set(flat)) == 200


def test_release_does_not_count_an_attempt(store):
    store.sync([spec(1)])
    store.claim("a")
    assert store.release("a") == 1
    assert store.get("job00001").attempts == 0 and store.get("job00001").state == "pending"
