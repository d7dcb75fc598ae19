"""Workers that crash, hang or raise cost one file's result, never the run."""

from __future__ import annotations

import os
import signal
import time

from synthcam.verify.pool import TaskFailed, run_tasks


def behave(what):
    """Runs in a worker process."""
    if what == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    if what == "hang":
        time.sleep(600)
    if what == "raise":
        raise ValueError("bad input")
    if what == "exit":
        os._exit(3)
    return (what, os.getpid())


def test_failures_are_isolated():
    """The 2 s timeout counts from when a worker begins a task, so a slow worker start-up on a
    loaded machine cannot time out a healthy task (pytest-timeout bounds the whole test)."""
    tasks = [(1,), ("segv",), (2,), ("hang",), ("raise",), ("exit",), (3,)]
    results = {}
    run_tasks(behave, tasks, jobs=2, timeout_s=2.0, on_result=lambda i, r: results.__setitem__(i, r))
    assert sorted(results) == list(range(len(tasks)))
    assert [results[i][0] for i in (0, 2, 6)] == [1, 2, 3]
    assert all(results[i][1] != os.getpid() for i in (0, 2, 6))  # ran in workers
    assert results[1] == TaskFailed("the decoder crashed (signal 11) on this file")
    assert results[3] == TaskFailed("no result after 2 s; the worker was stopped")
    assert results[4] == TaskFailed("ValueError: bad input")
    assert results[5] == TaskFailed("the worker process died (exit code 3)")


def test_no_tasks_starts_nothing():
    run_tasks(behave, [], jobs=4, timeout_s=1, on_result=lambda i, r: (_ for _ in ()).throw(AssertionError))


def test_workers_are_reaped():
    """No worker outlives the call (and none of them is this process)."""
    pids = set()
    run_tasks(behave, [(i,) for i in range(6)], jobs=3, timeout_s=30, on_result=lambda i, r: pids.add(r[1]))
    assert 1 <= len(pids) <= 3 and os.getpid() not in pids
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmdline = fh.read()
            with open(f"/proc/{pid}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            continue
        assert b"multiprocessing" not in cmdline or state == "Z", f"worker {pid} still running"


def test_the_timeout_does_not_count_worker_start_up(monkeypatch):
    """A task that takes 0.5 s with a 1 s timeout passes even when its worker took longer to boot."""
    import synthcam.verify.pool as pool

    real = pool._Worker.__init__

    def slow_boot(self, ctx, fn):
        real(self, ctx, fn)
        time.sleep(1.5)  # the process is up but the clock would have run for 1.5 s already

    monkeypatch.setattr(pool._Worker, "__init__", slow_boot)
    results = {}
    run_tasks(sleepy, [(0.5,), (0.5,)], jobs=2, timeout_s=1.0, on_result=lambda i, r: results.__setitem__(i, r))
    assert results == {0: 0.5, 1: 0.5}


def sleepy(seconds):
    time.sleep(seconds)
    return seconds


def slow_echo(value, seconds):
    """Runs in a worker process."""
    time.sleep(seconds)
    return value, os.getpid()


def test_a_dead_forkserver_is_not_taken_for_dead_workers():
    """Workers are forked by the forkserver, and their exit is reported through it: when the
    forkserver alone dies (a kill of the run's direct children, the OOM killer), the workers
    live on and their tasks' results must still count, not become "the worker process died"
    (which blamed healthy clips and threw away their raw output). A worker that then really
    dies is still seen as dead, and the pool goes on with fresh workers."""
    import multiprocessing.forkserver as fs

    from synthcam.verify.pool import TaskPool

    pool = TaskPool(slow_echo, jobs=2, timeout_s=60)
    try:
        pool.submit("warm", ("warm", 0.0))
        deadline = time.monotonic() + 60
        got = []
        while not got and time.monotonic() < deadline:
            got = pool.poll(0.2)
        assert got[0][0] == "warm" and not isinstance(got[0][1], TaskFailed)
        pool.submit("a", ("a", 1.5))
        pool.submit("b", ("b", 1.5))
        server = fs._forkserver._forkserver_pid
        assert server and server != os.getpid()
        time.sleep(0.3)
        os.kill(server, signal.SIGKILL)
        results = {}
        while len(results) < 2 and time.monotonic() < deadline:
            results.update(pool.poll(0.2))
        assert {k: v[0] for k, v in results.items()} == {"a": "a", "b": "b"}, results
        # a worker that really dies now (no forkserver to report it) is still noticed
        pool.submit("c", ("c", 30))
        victim = None
        while victim is None and time.monotonic() < deadline:
            pool.poll(0.1)
            victim = next((w.process.pid for w in pool.workers if w.task == "c" and w.started), None)
        os.kill(victim, signal.SIGKILL)
        results = {}
        while "c" not in results and time.monotonic() < deadline:
            results.update(pool.poll(0.2))
        assert isinstance(results["c"], TaskFailed) and "died" in results["c"].reason
        pool.submit("d", ("d", 0.0))  # a fresh worker, from a fresh forkserver
        results = {}
        while "d" not in results and time.monotonic() < deadline:
            results.update(pool.poll(0.2))
        assert results["d"][0] == "d"
    finally:
        pool.close()
