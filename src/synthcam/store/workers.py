"""Workers and the event log: who ran what, where, and every state change in order."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterable
from typing import Any

from .model import Worker


class WorkersMixin:
    conn: sqlite3.Connection

    def register_worker(self, worker: str, run_id: str, gpus: str = "", pid: int | None = None, host: str | None = None,
                        node: str = "", executor: str = "local", now: float | None = None) -> None:
        now = now or time.time()
        pid = os.getpid() if pid is None else pid
        host = host or socket.gethostname()
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO workers (worker, run_id, pid, host, gpus, state, started_at, heartbeat_at,"
                      " node, executor) VALUES (?,?,?,?,?,?,?,?,?,?)",
                      (worker, run_id, pid, host, gpus, "idle", now, now, node, executor))
            self._event(c, "worker_started", None, worker, f"pid {pid} on {host} gpus {gpus or '-'}", now=now)

    def heartbeat(self, worker: str, lease_s: float = 60.0, now: float | None = None) -> int:
        """The worker is alive: renew the leases of everything it holds."""
        now = now or time.time()
        with self.transaction() as c:
            c.execute("UPDATE workers SET heartbeat_at = ? WHERE worker = ?", (now, worker))
            return c.execute("UPDATE jobs SET lease_until = ? WHERE worker = ? AND state = 'running'",
                             (now + lease_s, worker)).rowcount

    def set_progress(self, worker: str, progress: dict[str, Any] | None) -> None:
        with self.transaction() as c:
            c.execute("UPDATE workers SET progress = ? WHERE worker = ?",
                      (json.dumps(progress) if progress else None, worker))

    def worker_loaded_model(self, worker: str) -> None:
        with self.transaction() as c:
            c.execute("UPDATE workers SET model_loads = model_loads + 1 WHERE worker = ?", (worker,))
            self._event(c, "model_load", None, worker)

    def worker_error(self, worker: str, message: str) -> None:
        with self.transaction() as c:
            self._event(c, "worker_error", None, worker, message[:2000])

    def worker_exited(self, worker: str) -> None:
        with self.transaction() as c:
            c.execute("UPDATE workers SET state = 'exited', job_id = NULL WHERE worker = ?", (worker,))

    def workers(self, live_only: bool = False) -> list[Worker]:
        sql = "SELECT * FROM workers" + (" WHERE state != 'exited'" if live_only else "") + " ORDER BY worker"
        return [Worker(**dict(r)) for r in self.conn.execute(sql).fetchall()]

    def events(self, job_id: str | None = None, kinds: Iterable[str] | None = None, limit: int = 50) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM events WHERE 1=1", []
        if job_id:
            sql += " AND job_id = ?"
            args.append(job_id)
        if kinds:
            k = list(kinds)
            sql += f" AND kind IN ({','.join('?' * len(k))})"
            args.extend(k)
        rows = self.conn.execute(sql + " ORDER BY id DESC LIMIT ?", [*args, limit]).fetchall()
        return [dict(r) for r in reversed(rows)]
