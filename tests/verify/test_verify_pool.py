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
    tasks = [(1,), ("segv",), (2,), ("hang",), ("raise",), ("exit",), (3,)]
    results = {}
    t0 = time.monotonic()
    run_tasks(behave, tasks, jobs=2, timeout_s=2.0, on_result=lambda i, r: results.__setitem__(i, r))
    assert time.monotonic() - t0 < 30
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
