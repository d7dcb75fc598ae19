"""Workers as processes on this machine, one per GPU group, talking over pipes."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
from multiprocessing.connection import Connection, wait
from typing import Any

from ..messages import Died, Stop
from .base import Executor, WorkerConfig


class LocalExecutor(Executor):
    name = "local"

    def __init__(self) -> None:
        self.ctx = mp.get_context("spawn")  # a clean interpreter per worker: no inherited threads or CUDA state
        self.procs: dict[str, mp.process.BaseProcess] = {}
        self.conns: dict[str, Connection] = {}

    def start(self, cfg: WorkerConfig) -> None:
        from ..worker import worker_main

        ours, theirs = self.ctx.Pipe(duplex=True)
        p = self.ctx.Process(target=worker_main, args=(cfg, theirs), name=cfg.worker, daemon=False)
        p.start()
        theirs.close()
        self.procs[cfg.worker] = p
        self.conns[cfg.worker] = ours

    def send(self, worker: str, message: Any) -> None:
        conn = self.conns.get(worker)
        if conn is not None:
            with contextlib.suppress(OSError, ValueError):
                conn.send(message)

    def poll(self, timeout: float) -> list[Any]:
        if not self.procs:
            return []
        by_handle: dict[Any, str] = {}
        for name, p in self.procs.items():
            by_handle[self.conns[name]] = name
            by_handle[p.sentinel] = name
        ready = wait(list(by_handle), timeout=timeout)
        out: list[Any] = []
        gone: set[str] = set()
        for handle in ready:
            name = by_handle[handle]
            if name in gone:
                continue
            conn = self.conns[name]
            if handle is conn:
                try:
                    while conn.poll():
                        out.append(conn.recv())
                except (EOFError, OSError):
                    gone.add(name)
            else:
                # drain what it said before dying, then report the death
                with contextlib.suppress(EOFError, OSError):
                    while conn.poll():
                        out.append(conn.recv())
                gone.add(name)
        for name in gone:
            p = self.procs.pop(name)
            p.join(5)
            self.conns.pop(name).close()
            code = p.exitcode
            out.append(Died(name, f"exit code {code}" if code is None or code >= 0 else f"signal {-code}"))
        return out

    def kill(self, worker: str) -> None:
        p = self.procs.get(worker)
        if p is not None and p.is_alive():
            p.kill()

    def stop(self, grace_s: float = 10.0) -> None:
        for name in list(self.procs):
            self.send(name, Stop())
        self._reap(grace_s)

    def terminate(self) -> None:
        """Ctrl-C: stop workers now (they release nothing; the orchestrator releases their jobs)."""
        for p in self.procs.values():
            if p.is_alive():
                p.terminate()
        self._reap(10.0)

    def _reap(self, grace_s: float) -> None:
        """Wait up to `grace_s` for every worker, kill the rest, close the pipes."""
        for p in self.procs.values():
            p.join(grace_s)
            if p.is_alive():
                p.kill()
                p.join(5)
        for conn in self.conns.values():
            conn.close()
        self.procs.clear()
        self.conns.clear()
