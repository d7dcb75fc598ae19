"""Spread files over worker processes, and survive workers that crash or hang.

libav can crash or stall on hostile input, and one bad file must not take the run with it.
Each worker is a process fed one task at a time over a pipe; the parent watches the pipes and
the process sentinels, kills a worker that exceeds its time budget, records a crash or a
timeout as that task's result, and starts a fresh worker. Workers come from a forkserver, so
they are forked from a clean process even when the caller runs threads (a progress bar).

A worker's exit is reported through the forkserver, so a dead forkserver looks like dead
workers. The pool tells the two apart (the worker's pid still runs): such a worker keeps its
task and is watched through its pipe alone, and the next worker comes from a fresh forkserver.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from ..fsutil import pid_alive

__all__ = ["TaskFailed", "TaskPool", "run_tasks"]

_POLL_S = 0.5


@dataclass(frozen=True)
class TaskFailed:
    """A task produced no result: its worker crashed, hung, or raised."""

    reason: str


def _worker_main(conn: Connection, fn: Callable[..., Any]) -> None:
    with contextlib.suppress(Exception):
        import cv2

        cv2.setNumThreads(1)
    while True:
        try:
            message = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if message is None:
            return
        index, args = message
        conn.send(("started", index))  # the task's clock starts now, not while this process booted
        try:
            result: Any = fn(*args)
        except Exception as exc:  # noqa: BLE001 - reported as the task's result
            result = TaskFailed(f"{type(exc).__name__}: {exc}")
        conn.send(("result", index, result))


_SERVER_RESTART_S = 10.0


class _Worker:
    def __init__(self, ctx: Any, fn: Callable[..., Any]):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, fn), daemon=True)
        deadline = time.monotonic() + _SERVER_RESTART_S
        while True:
            try:
                self.process.start()
                break
            except OSError:
                # The forkserver was just killed: multiprocessing starts a new one once the old
                # one's exit can be reaped, a moment later.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
                self.process = ctx.Process(target=_worker_main, args=(child, fn), daemon=True)
        child.close()
        self.task: Any = None
        self.given = 0.0
        self.started: float | None = None   # when the worker began the task (its acknowledgement)
        self.orphaned = False  # its forkserver died: its exit can no longer be reported by it

    def alive(self) -> bool:
        if self.orphaned:
            return pid_alive(self.process.pid)
        return self.process.is_alive()

    def notice_exit(self) -> bool:
        """The process sentinel fired: True if the worker really ended, False if only its
        forkserver did (the worker is then watched through its pipe and pid)."""
        self.process.join(0.2)
        if pid_alive(self.process.pid):
            self.orphaned = True
            return False
        return True

    def give(self, key: Any, args: tuple[Any, ...]) -> None:
        self.task, self.given, self.started = key, time.monotonic(), None
        self.conn.send((key, args))

    def overdue(self, now: float, timeout_s: float) -> bool:
        """A task's timeout counts from when the worker began it; a worker that never even
        begins (a stuck start-up) is given BOOT_GRACE_S more."""
        if self.started is not None:
            return now - self.started > timeout_s
        return now - self.given > timeout_s + BOOT_GRACE_S

    def stop(self, force: bool = False) -> None:
        if not force and self.alive():
            with contextlib.suppress(OSError, ValueError):
                self.conn.send(None)
            self.process.join(2)
        if self.orphaned:
            if pid_alive(self.process.pid):
                with contextlib.suppress(OSError):
                    os.kill(self.process.pid, signal.SIGKILL)
        elif self.process.is_alive():
            self.process.kill()
            self.process.join(2)
        self.conn.close()


BOOT_GRACE_S = 60.0  # a worker process that has not begun its task after this much more is stuck


def _context(preload: Sequence[str] = ("synthcam.verify.file",)) -> Any:
    methods = mp.get_all_start_methods()
    ctx = mp.get_context("forkserver" if "forkserver" in methods else "spawn")
    if "forkserver" in methods:
        # The server imports the caller's main script and the verifier once; workers fork from it
        # and skip both imports (without "__main__" every worker would re-run the main script).
        ctx.set_forkserver_preload(["__main__", *preload])
    return ctx


class TaskPool:
    """Processes that run fn(*args) for tasks submitted one by one; results are collected with
    `poll`. A task whose worker crashes, hangs past `timeout_s` (counted from when the worker
    began it) or raises gets a TaskFailed, and a fresh worker takes the next one."""

    def __init__(self, fn: Callable[..., Any], jobs: int, timeout_s: float,
                 preload: Sequence[str] = ("synthcam.verify.file",)) -> None:
        self.fn, self.size, self.timeout_s = fn, max(1, jobs), timeout_s
        self.ctx = _context(preload)
        self.pending: deque[tuple[Any, tuple[Any, ...]]] = deque()
        self.workers: list[_Worker] = []

    def submit(self, key: Any, args: tuple[Any, ...]) -> None:
        self.pending.append((key, args))
        self._dispatch()

    @property
    def busy(self) -> int:
        return len(self.pending) + sum(1 for w in self.workers if w.task is not None)

    def _dispatch(self) -> None:
        for w in self.workers:
            if w.task is None and self.pending:
                key, args = self.pending.popleft()
                w.give(key, args)
        while self.pending and len(self.workers) < self.size:
            w = _Worker(self.ctx, self.fn)
            self.workers.append(w)
            key, args = self.pending.popleft()
            w.give(key, args)

    def poll(self, timeout: float = 0.0) -> list[tuple[Any, Any]]:
        """Results ready within `timeout` seconds: (key, result or TaskFailed)."""
        self._dispatch()
        busy = [w for w in self.workers if w.task is not None]
        if not busy:
            return []
        out: list[tuple[Any, Any]] = []
        ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy if not w.orphaned],
                         timeout=timeout))
        now = time.monotonic()
        for n, w in enumerate(self.workers):
            if w.task is None:
                continue
            failure = None
            if w.conn in ready:
                try:
                    message = w.conn.recv()
                except (EOFError, OSError):
                    failure = _death(w)
                else:
                    if message[0] == "started":
                        w.started = now
                        continue
                    _, key, result = message
                    w.task = None
                    out.append((key, result))
                    continue
            elif (not w.orphaned and w.process.sentinel in ready and w.notice_exit()) or not w.alive():
                failure = _death(w)
            elif w.overdue(now, self.timeout_s):
                failure = f"no result after {self.timeout_s:g} s; the worker was stopped"
            if failure is not None:
                key = w.task
                w.task = None
                w.stop(force=True)
                self.workers[n] = _Worker(self.ctx, self.fn)
                out.append((key, TaskFailed(failure)))
        self._dispatch()
        return out

    def close(self) -> None:
        for w in self.workers:
            w.stop(force=w.task is not None)
        self.workers = []


def run_tasks(
    fn: Callable[..., Any],
    tasks: Sequence[tuple[Any, ...]],
    jobs: int,
    timeout_s: float,
    on_result: Callable[[int, Any], None],
    order: Sequence[int] | None = None,
) -> None:
    """Run fn(*task) for every task on `jobs` processes; on_result(index, result or TaskFailed).

    `order` is the dispatch order (default: as given); biggest first keeps the last worker
    from starting a long file while the others sit idle.
    """
    if not tasks:
        return
    pool = TaskPool(fn, min(jobs, len(tasks)), timeout_s)
    try:
        for i in (order if order is not None else range(len(tasks))):
            pool.pending.append((i, tasks[i]))
        while pool.busy:
            for index, result in pool.poll(_POLL_S):
                on_result(index, result)
    finally:
        pool.close()


def _death(w: _Worker) -> str:
    if w.orphaned:
        return "the worker process died (its exit status was lost with its forkserver)"
    w.process.join(1)
    code = w.process.exitcode
    if code is not None and code < 0:
        return f"the decoder crashed (signal {-code}) on this file"
    return f"the worker process died (exit code {code})"
