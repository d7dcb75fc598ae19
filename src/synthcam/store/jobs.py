"""Jobs: the plan, claims and leases, results, and the queries every view derives from.

States: pending -> running (leased to a worker; in flight once started) -> generated (raw output
kept, waiting for finishing) -> done (verified) | failed | blocked. Only the orchestrator calls
these; workers send messages.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from collections.abc import Iterable
from typing import Any

from ..fsutil import pid_alive
from ..redact import mask_secrets
from .model import Job, JobSpec
from .schema import STATES


class JobsMixin:
    conn: sqlite3.Connection

    def record_manifest(self, origin: str, text: str) -> None:
        """Keep the manifest the current plan comes from (where it was, and its exact text), so
        commands that read the workspace later never depend on a file that moved or changed."""
        with self.transaction() as c:
            c.executemany("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                          [("manifest_origin", origin), ("manifest_text", text)])

    def planned_manifest(self) -> tuple[str, str] | None:
        """(origin, text) of the manifest the current plan was synced from; None before any plan."""
        rows = dict(self.conn.execute("SELECT key, value FROM meta WHERE key IN ('manifest_origin', 'manifest_text')").fetchall())
        if "manifest_text" not in rows:
            return None
        return rows.get("manifest_origin", ""), rows["manifest_text"]

    def sync(self, specs: Iterable[JobSpec], now: float | None = None) -> dict[str, int]:
        """Insert new jobs, mark exactly these as the current plan. Returns counts."""
        now = now or time.time()
        specs = list(specs)
        with self.transaction() as c:
            before = c.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
            c.executemany(
                "INSERT OR IGNORE INTO jobs (job_id, name, clip_id, series, duration_s, backend, model, seed, spec,"
                " cost_s, max_attempts, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(s.job_id, s.name, s.clip_id, s.series, s.duration_s, s.backend, s.model, s.seed,
                  json.dumps(s.spec, sort_keys=True), s.cost_s, s.max_attempts, now) for s in specs],
            )
            after = c.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
            c.execute("UPDATE jobs SET current = 0")
            c.execute("CREATE TEMP TABLE IF NOT EXISTS cur (job_id TEXT PRIMARY KEY)")
            c.execute("DELETE FROM cur")
            c.executemany("INSERT OR IGNORE INTO cur VALUES (?)", [(s.job_id,) for s in specs])
            c.execute("UPDATE jobs SET current = 1 WHERE job_id IN (SELECT job_id FROM cur)")
            c.executemany("UPDATE jobs SET max_attempts = ? WHERE job_id = ? AND max_attempts != ?",
                          [(s.max_attempts, s.job_id, s.max_attempts) for s in specs])
            superseded = c.execute("SELECT COUNT(*) FROM jobs WHERE current = 0").fetchone()[0]
        return {"new": after - before, "existing": len(specs) - (after - before), "superseded": superseded}

    def assign(self, queues: list[str], job_ids: Iterable[str] | None = None) -> dict[str, float]:
        """Longest job first onto the least-loaded queue, so 30 s clips don't form the tail."""
        if not queues:
            return {}
        with self.transaction() as c:
            rows = c.execute("SELECT job_id, cost_s FROM jobs WHERE current = 1 AND state = 'pending'"
                             " ORDER BY cost_s DESC, job_id").fetchall()
            wanted = set(job_ids) if job_ids is not None else None
            load = {q: 0.0 for q in queues}
            updates = []
            for row in rows:
                if wanted is not None and row["job_id"] not in wanted:
                    continue
                q = min(queues, key=lambda k: (load[k], k))
                load[q] += row["cost_s"]
                updates.append((q, row["job_id"]))
            c.executemany("UPDATE jobs SET queue = ? WHERE job_id = ? AND state = 'pending'", updates)
        return load

    def claim(self, worker: str, queue: str | None = None, limit: int = 1, lease_s: float = 60.0,
              job_ids: Iterable[str] | None = None, queue_prefix: str | None = None,
              now: float | None = None) -> list[Job]:
        """Atomically lease up to `limit` pending jobs (longest first) to `worker`."""
        now = now or time.time()
        where = ["current = 1", "state = 'pending'", "next_attempt_at <= ?"]
        args: list[Any] = [now]
        if queue is not None:
            where.append("queue = ?")
            args.append(queue)
        if queue_prefix is not None:
            where.append("substr(queue, 1, ?) = ?")
            args.extend([len(queue_prefix), queue_prefix])
        if job_ids is not None:
            ids = list(job_ids)
            if not ids:
                return []
            where.append(f"job_id IN ({','.join('?' * len(ids))})")
            args.extend(ids)
        sql = (f"UPDATE jobs SET state = 'running', worker = ?, lease_until = ?, in_flight = 0, started_at = ?"
               f" WHERE job_id IN (SELECT job_id FROM jobs WHERE {' AND '.join(where)}"
               f" ORDER BY cost_s DESC, job_id LIMIT ?) RETURNING *")
        with self.transaction() as c:
            rows = c.execute(sql, [worker, now + lease_s, now, *args, limit]).fetchall()
            for r in rows:
                self._event(c, "claimed", r["job_id"], worker, now=now)
        jobs = [Job.from_row(r) for r in rows]
        jobs.sort(key=lambda j: (-j.cost_s, j.job_id))
        return jobs

    def start(self, job_id: str, worker: str, now: float | None = None) -> None:
        """Mark the job the worker is generating now: the one blamed if the worker dies."""
        now = now or time.time()
        with self.transaction() as c:
            c.execute("UPDATE jobs SET in_flight = 1, started_at = ?, starts = starts + 1"
                      " WHERE job_id = ? AND worker = ? AND state = 'running'", (now, job_id, worker))
            c.execute("UPDATE workers SET job_id = ?, job_started_at = ?, state = 'busy' WHERE worker = ?",
                      (job_id, now, worker))
            self._event(c, "started", job_id, worker, now=now)

    def _owned(self, c: sqlite3.Connection, job_id: str, worker: str) -> bool:
        row = c.execute("SELECT worker, state FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return bool(row and row["worker"] == worker and row["state"] == "running")

    def generated(self, job_id: str, worker: str, raw: dict[str, Any], gpu_seconds: float = 0.0,
                  now: float | None = None) -> bool:
        """The worker handed its raw output over (kept in raw/<job_id>/): durable from here, it is
        finished on resume, never generated again. False if the lease was lost."""
        now = now or time.time()
        with self.transaction() as c:
            if not self._owned(c, job_id, worker):
                self._event(c, "generated_rejected", job_id, worker, "lease lost", now=now)
                return False
            c.execute("UPDATE jobs SET state = 'generated', raw = ?, worker = NULL, lease_until = NULL, in_flight = 0,"
                      " gpu_seconds = gpu_seconds + ? WHERE job_id = ?", (json.dumps(raw), gpu_seconds, job_id))
            c.execute("UPDATE workers SET job_id = NULL, state = 'idle' WHERE worker = ?", (worker,))
            self._event(c, "generated", job_id, worker, raw.get("dir", ""), now=now)
        return True

    def generated_jobs(self) -> list[Job]:
        """Jobs of the current plan whose raw output waits for (or is in) finishing."""
        return self.jobs("generated")

    def regenerate(self, job_id: str, kind: str, detail: str, now: float | None = None) -> bool:
        """A generated job whose raw output is gone or unusable goes back to the queue (no attempt counted)."""
        now = now or time.time()
        with self.transaction() as c:
            n = c.execute("UPDATE jobs SET state = 'pending', raw = NULL, next_attempt_at = 0 WHERE job_id = ?"
                          " AND state = 'generated'", (job_id,)).rowcount
            if n:
                self._event(c, kind, job_id, None, detail, now=now)
        return bool(n)

    def complete(self, job_id: str, output: str, sha256: str, probe: dict[str, Any], findings: list[dict[str, Any]],
                 worker: str | None = None, gpu_seconds: float = 0.0, now: float | None = None) -> bool:
        """Record a verified clip: a generated job (finished by the orchestrator), or a running one
        of `worker` (finished inline). False if it is no longer ours to record."""
        now = now or time.time()
        with self.transaction() as c:
            row = c.execute("SELECT state, worker FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            ours = row and (row["state"] == "generated" or (worker and row["state"] == "running" and row["worker"] == worker))
            if not ours:
                self._event(c, "complete_rejected", job_id, worker, "not generated, or the lease was lost", now=now)
                return False
            c.execute("UPDATE jobs SET state = 'done', finished_at = ?, output = ?, sha256 = ?, probe = ?, findings = ?,"
                      " in_flight = 0, worker = NULL, lease_until = NULL, error_kind = NULL, error = NULL, landing_sha = NULL,"
                      " raw = NULL, gpu_seconds = gpu_seconds + ? WHERE job_id = ?",
                      (now, output, sha256, json.dumps(probe), json.dumps(findings), gpu_seconds, job_id))
            if worker:
                c.execute("UPDATE workers SET jobs_done = jobs_done + 1, job_id = NULL, state = 'idle' WHERE worker = ?",
                          (worker,))
            self._event(c, "done", job_id, worker, sha256, now=now)
        return True

    def landing(self, job_id: str, sha256: str) -> bool:
        """Note the sha256 of a verified clip just before it is moved to its final path, so a
        crash between the move and `complete` can be finished on resume, not regenerated."""
        with self.transaction() as c:
            return bool(c.execute("UPDATE jobs SET landing_sha = ? WHERE job_id = ? AND state IN ('generated', 'running')",
                                  (sha256, job_id)).rowcount)

    def invalidate(self, job_id: str, kind: str, detail: str, now: float | None = None) -> bool:
        """A verified clip whose file is gone or changed returns to pending (a fresh set of attempts),
        with the reason in its events; nothing else about the plan changes."""
        now = now or time.time()
        with self.transaction() as c:
            n = c.execute("UPDATE jobs SET state = 'pending', output = NULL, sha256 = NULL, probe = NULL, findings = NULL,"
                          " attempts = 0, next_attempt_at = 0, finished_at = NULL, worker = NULL, lease_until = NULL,"
                          " in_flight = 0, error_kind = NULL, error = NULL, landing_sha = NULL"
                          " WHERE job_id = ? AND state = 'done'", (job_id,)).rowcount
            if n:
                self._event(c, kind, job_id, None, detail, now=now)
        return bool(n)

    def note_file_stat(self, job_id: str, mtime_ns: int) -> None:
        """The verified file was touched but its bytes are the same: remember the new mtime."""
        with self.transaction() as c:
            c.execute("UPDATE jobs SET probe = json_set(COALESCE(probe, '{}'), '$.mtime_ns', ?) WHERE job_id = ?",
                      (mtime_ns, job_id))

    def landed(self) -> list[tuple[Job, str]]:
        """Jobs that had a verified clip on its way to the final path when a crash hit."""
        rows = self.conn.execute("SELECT * FROM jobs WHERE current = 1 AND state IN ('pending', 'running', 'generated')"
                                 " AND landing_sha IS NOT NULL").fetchall()
        return [(Job.from_row(r), r["landing_sha"]) for r in rows]

    def adopt(self, job_id: str, output: str, sha256: str, probe: dict[str, Any], findings: list[dict[str, Any]],
              source: str, now: float | None = None) -> bool:
        """Record a clip made elsewhere as done; only pending/failed jobs can be adopted."""
        now = now or time.time()
        with self.transaction() as c:
            n = c.execute("UPDATE jobs SET state = 'done', finished_at = ?, output = ?, sha256 = ?, probe = ?,"
                          " findings = ?, worker = NULL, lease_until = NULL, in_flight = 0, error_kind = NULL, error = NULL, landing_sha = NULL,"
                          " raw = NULL WHERE job_id = ? AND state IN ('pending', 'failed', 'generated')",
                          (now, output, sha256, json.dumps(probe), json.dumps(findings), job_id)).rowcount
            if n:
                self._event(c, "adopted", job_id, None, source, now=now)
        return bool(n)

    def fail(self, job_id: str, worker: str | None, kind: str, message: str, retryable: bool = True,
             backoff_s: float = 5.0, gpu_seconds: float = 0.0, now: float | None = None) -> str:
        """Count an attempt; back to pending with backoff, or failed for good. Returns the new state."""
        now = now or time.time()
        with self.transaction() as c:
            if worker is not None and not self._owned(c, job_id, worker):
                return "lost"
            if c.execute("SELECT state FROM jobs WHERE job_id = ?", (job_id,)).fetchone()["state"] in ("done", "blocked"):
                return "lost"
            row = c.execute("SELECT attempts, max_attempts FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            attempts = row["attempts"] + 1
            final = not retryable or attempts >= row["max_attempts"]
            state = "failed" if final else "pending"
            delay = min(backoff_s * (2 ** (attempts - 1)), 300.0)
            c.execute("UPDATE jobs SET state = ?, attempts = ?, error_kind = ?, error = ?, worker = NULL, lease_until = NULL,"
                      " in_flight = 0, raw = NULL, next_attempt_at = ?, finished_at = ?, gpu_seconds = gpu_seconds + ?"
                      " WHERE job_id = ?",
                      (state, attempts, kind, mask_secrets(message)[:2000], now + (0 if final else delay), now if final else None,
                       gpu_seconds, job_id))
            if worker:
                c.execute("UPDATE workers SET job_id = NULL, state = 'idle' WHERE worker = ?", (worker,))
            self._event(c, "failed" if final else "retry", job_id, worker, f"{kind}: {message}"[:2000], now=now)
        return state

    def block(self, job_id: str, worker: str | None, message: str, gpu_seconds: float = 0.0,
              now: float | None = None) -> None:
        """Refused by the model's guardrails: not retried, reported; a block after generation still cost GPU time."""
        now = now or time.time()
        with self.transaction() as c:
            c.execute("UPDATE jobs SET state = 'blocked', error_kind = 'blocked', error = ?, worker = NULL,"
                      " lease_until = NULL, in_flight = 0, finished_at = ?, attempts = attempts + 1, raw = NULL,"
                      " gpu_seconds = gpu_seconds + ? WHERE job_id = ?",
                      (mask_secrets(message)[:2000], now, gpu_seconds, job_id))
            if worker:
                c.execute("UPDATE workers SET job_id = NULL, state = 'idle' WHERE worker = ?", (worker,))
            self._event(c, "blocked", job_id, worker, message[:2000], now=now)

    def release(self, worker: str, job_ids: Iterable[str] | None = None, now: float | None = None) -> int:
        """Return claimed jobs that never started to the queue, without counting an attempt."""
        now = now or time.time()
        with self.transaction() as c:
            sql = "UPDATE jobs SET state = 'pending', worker = NULL, lease_until = NULL, in_flight = 0 WHERE worker = ? AND state = 'running'"
            args: list[Any] = [worker]
            if job_ids is not None:
                ids = list(job_ids)
                if not ids:
                    return 0
                sql += f" AND job_id IN ({','.join('?' * len(ids))})"
                args.extend(ids)
            return c.execute(sql, args).rowcount

    def reclaim_stale(self, now: float | None = None, blame: bool = True) -> list[str]:
        """Jobs of dead workers (expired lease, or a dead pid on this host) go back to pending.

        Only the job a worker had in flight is blamed (one attempt counted); jobs it had merely
        claimed return untouched. With blame=False (a whole run was interrupted from outside:
        Ctrl-C, kill, reboot) nobody is blamed. Returns the reclaimed job IDs.
        """
        now = now or time.time()
        host = socket.gethostname()
        with self.transaction() as c:
            dead = set()
            for w in c.execute("SELECT worker, pid, host FROM workers WHERE state != 'exited'").fetchall():
                if w["host"] == host and not pid_alive(w["pid"]):
                    dead.add(w["worker"])
            rows = c.execute("SELECT job_id, worker, in_flight, lease_until, attempts, max_attempts FROM jobs"
                             " WHERE state = 'running'").fetchall()
            live = {w["worker"] for w in c.execute("SELECT worker FROM workers WHERE state != 'exited'").fetchall()}
            out = []
            for r in rows:
                # a dead pid on this host, a lapsed lease, or a worker that never registered or has exited
                if r["worker"] in dead or r["worker"] not in live or (r["lease_until"] or 0) < now:
                    out.append(r["job_id"])
                    if r["in_flight"] and blame:
                        attempts = r["attempts"] + 1
                        state = "failed" if attempts >= r["max_attempts"] else "pending"
                        c.execute("UPDATE jobs SET state = ?, attempts = ?, error_kind = 'worker_died',"
                                  " error = 'the worker died while generating this job', worker = NULL, lease_until = NULL,"
                                  " in_flight = 0 WHERE job_id = ?", (state, attempts, r["job_id"]))
                    else:
                        c.execute("UPDATE jobs SET state = 'pending', worker = NULL, lease_until = NULL, in_flight = 0"
                                  " WHERE job_id = ?", (r["job_id"],))
                    self._event(c, "reclaimed", r["job_id"], r["worker"], "in flight" if r["in_flight"] else "claimed", now=now)
            for w in dead:
                c.execute("UPDATE workers SET state = 'exited', job_id = NULL WHERE worker = ?", (w,))
        return out

    def reclaim_worker(self, worker: str, blame: bool = True, detail: str = "the worker died while generating this job",
                       now: float | None = None) -> list[str]:
        """A worker is gone: its jobs go back to pending; the one it had in flight counts an attempt."""
        now = now or time.time()
        out = []
        with self.transaction() as c:
            rows = c.execute("SELECT job_id, in_flight, attempts, max_attempts FROM jobs WHERE state = 'running'"
                             " AND worker = ?", (worker,)).fetchall()
            for r in rows:
                out.append(r["job_id"])
                if r["in_flight"] and blame:
                    attempts = r["attempts"] + 1
                    state = "failed" if attempts >= r["max_attempts"] else "pending"
                    c.execute("UPDATE jobs SET state = ?, attempts = ?, error_kind = 'worker_died', error = ?,"
                              " worker = NULL, lease_until = NULL, in_flight = 0, finished_at = ? WHERE job_id = ?",
                              (state, attempts, mask_secrets(detail), now if state == "failed" else None, r["job_id"]))
                else:
                    c.execute("UPDATE jobs SET state = 'pending', worker = NULL, lease_until = NULL, in_flight = 0"
                              " WHERE job_id = ?", (r["job_id"],))
                self._event(c, "reclaimed", r["job_id"], worker, "in flight" if r["in_flight"] else "claimed", now=now)
            c.execute("UPDATE workers SET state = 'exited', job_id = NULL WHERE worker = ?", (worker,))
        return out

    def raw_kept(self, job_id: str, raw: dict[str, Any], now: float | None = None) -> bool:
        """A pending job whose complete raw output survived a crash (the worker kept it, the
        orchestrator died before recording it) becomes generated: finished, not made again."""
        now = now or time.time()
        with self.transaction() as c:
            n = c.execute("UPDATE jobs SET state = 'generated', raw = ? WHERE job_id = ? AND state = 'pending'",
                          (json.dumps(raw), job_id)).rowcount
            if n:
                self._event(c, "generated", job_id, None, f"{raw.get('dir', '')} (found on resume)", now=now)
        return bool(n)

    def verified_files(self) -> list[tuple[str, str, str | None, str | None, int | None, int | None]]:
        """(job_id, name, output, sha256, size, mtime_ns) of every verified clip of the plan: what the
        integrity check compares with the disk, without parsing whole job records."""
        rows = self.conn.execute("SELECT job_id, name, output, sha256, json_extract(probe, '$.size') AS size,"
                                 " json_extract(probe, '$.mtime_ns') AS mtime FROM jobs"
                                 " WHERE current = 1 AND state = 'done'").fetchall()
        return [(r["job_id"], r["name"], r["output"], r["sha256"], r["size"], r["mtime"]) for r in rows]

    def ready(self, now: float | None = None) -> list[tuple[str, str, float]]:
        """(job_id, name, cost_s) of pending jobs that may be claimed now, longest first."""
        now = now or time.time()
        rows = self.conn.execute("SELECT job_id, name, cost_s FROM jobs WHERE current = 1 AND state = 'pending'"
                                 " AND next_attempt_at <= ? ORDER BY cost_s DESC, job_id", (now,)).fetchall()
        return [(r["job_id"], r["name"], r["cost_s"]) for r in rows]

    def next_retry_at(self, queue_prefix: str) -> float | None:
        """When the earliest pending job of a run may next be claimed; None if none is pending."""
        row = self.conn.execute("SELECT MIN(next_attempt_at) FROM jobs WHERE current = 1 AND state = 'pending'"
                                " AND substr(queue, 1, ?) = ?", (len(queue_prefix), queue_prefix)).fetchone()
        return row[0]

    def requeue_failed(self, job_ids: Iterable[str] | None = None) -> int:
        """Give failed jobs a fresh set of attempts (an explicit user decision: `run --retry-failed`)."""
        with self.transaction() as c:
            sql = "UPDATE jobs SET state = 'pending', attempts = 0, next_attempt_at = 0 WHERE state = 'failed' AND current = 1"
            if job_ids is None:
                return c.execute(sql).rowcount
            ids = list(job_ids)
            return c.execute(sql + f" AND job_id IN ({','.join('?' * len(ids))})", ids).rowcount if ids else 0

    def get(self, job_id: str) -> Job | None:
        row = self.conn.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return Job.from_row(row) if row else None

    def find(self, key: str) -> list[Job]:
        """Jobs whose ID starts with key, or whose name equals key (current first)."""
        rows = self.conn.execute("SELECT * FROM jobs WHERE job_id LIKE ? OR name = ? ORDER BY current DESC, created_at DESC",
                                 (key.replace("%", "") + "%", key)).fetchall()
        return [Job.from_row(r) for r in rows]

    def jobs(self, state: str | None = None, current: bool = True) -> list[Job]:
        sql, args = "SELECT * FROM jobs WHERE 1=1", []
        if current:
            sql += " AND current = 1"
        if state:
            sql += " AND state = ?"
            args.append(state)
        return [Job.from_row(r) for r in self.conn.execute(sql + " ORDER BY clip_id, duration_s", args).fetchall()]

    def done_jobs(self) -> list[Job]:
        """Verified clips of the current plan: what the gallery, export and publish may use."""
        return self.jobs("done")

    def counts(self) -> dict[str, Any]:
        """The one definition of the plan's counts that status, gallery and export show: jobs per
        state, per series and per duration, and compute time as GPU or CPU seconds."""
        rows = self.conn.execute("SELECT state, series, duration_s, COUNT(*) AS n, SUM(gpu_seconds) AS g,"
                                 " SUM(CASE WHEN json_extract(spec, '$.device') = 'cpu' THEN gpu_seconds ELSE 0 END)"
                                 " AS cpu FROM jobs WHERE current = 1 GROUP BY state, series, duration_s").fetchall()
        total = {s: 0 for s in STATES}
        by_series: dict[str, dict[str, int]] = {}
        by_duration: dict[str, dict[str, int]] = {}
        gpu_seconds = cpu_seconds = 0.0
        for r in rows:
            total[r["state"]] += r["n"]
            cpu_seconds += r["cpu"] or 0.0
            gpu_seconds += (r["g"] or 0.0) - (r["cpu"] or 0.0)
            for key, table in ((r["series"], by_series), (str(r["duration_s"]), by_duration)):
                bucket = table.setdefault(key, {"total": 0, **{s: 0 for s in STATES}})
                bucket["total"] += r["n"]
                bucket[r["state"]] += r["n"]
        return {"total": sum(total.values()), **total, "by_series": by_series, "by_duration": by_duration,
                "gpu_seconds": gpu_seconds, "cpu_seconds": cpu_seconds}

    def selection_counts(self, job_ids: Iterable[str], now: float | None = None) -> dict[str, int]:
        """States of these jobs (a run's selection): done, failed, blocked, pending, running (claimed
        or in flight) and in_flight (being generated now, with a live lease)."""
        now = now or time.time()
        ids = list(job_ids)
        out = dict.fromkeys(("done", "failed", "blocked", "pending", "running", "generated", "in_flight"), 0)
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            rows = self.conn.execute(
                f"SELECT state, in_flight, lease_until FROM jobs WHERE job_id IN ({','.join('?' * len(part))})", part)
            for r in rows.fetchall():
                out[r["state"]] += 1
                if r["state"] == "running" and r["in_flight"] and (r["lease_until"] or 0) >= now:
                    out["in_flight"] += 1
        return out

    def starts(self, job_id: str) -> int:
        """How many times generation of this job began (its real attempt count)."""
        row = self.conn.execute("SELECT starts FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return row["starts"] if row else 0
