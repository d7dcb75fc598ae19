"""The job store: SQLite (WAL) in the workspace, the single source of truth for status.

A job's identity is a hash of everything that determines its output, so a changed prompt
makes a new job and an unchanged one is never generated twice. Claims are leases: a worker
holds a job while it heartbeats; a dead worker's jobs return to the queue, and only the job it
had in flight is blamed. "done" means verified: sha256, probe and findings are stored with it.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .errors import StorageError, SynthcamError, WorkspaceError
from .redact import mask_secrets

DB_NAME = "synthcam.db"
SCHEMA_VERSION = 1
STATES = ("pending", "running", "done", "failed", "blocked")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    clip_id TEXT NOT NULL,
    series TEXT NOT NULL,
    duration_s INTEGER NOT NULL,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    seed INTEGER NOT NULL,
    spec TEXT NOT NULL,
    cost_s REAL NOT NULL,
    current INTEGER NOT NULL DEFAULT 1,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','running','done','failed','blocked')),
    queue TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    worker TEXT,
    lease_until REAL,
    in_flight INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    output TEXT,
    sha256 TEXT,
    probe TEXT,
    findings TEXT,
    error_kind TEXT,
    error TEXT,
    gpu_seconds REAL NOT NULL DEFAULT 0,
    landing_sha TEXT
);
CREATE INDEX IF NOT EXISTS jobs_pending ON jobs (cost_s DESC, job_id) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS jobs_pending_queue ON jobs (queue, cost_s DESC, job_id) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS jobs_name ON jobs (name);
CREATE TABLE IF NOT EXISTS workers (
    worker TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    gpus TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    job_id TEXT,
    job_started_at REAL,
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    model_loads INTEGER NOT NULL DEFAULT 0,
    jobs_done INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    job_id TEXT,
    worker TEXT,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS events_job ON events (job_id);
CREATE TABLE IF NOT EXISTS publications (
    job_id TEXT NOT NULL,
    remote TEXT NOT NULL,
    path TEXT NOT NULL,
    oid TEXT NOT NULL,
    size INTEGER NOT NULL,
    commit_sha TEXT,
    confirmed_at REAL,
    missing_since REAL,
    PRIMARY KEY (job_id, remote)
);
"""


@dataclass(frozen=True, kw_only=True)
class JobSpec:
    """A job to be: identity fields hashed into job_id, plus scheduling hints."""

    job_id: str
    name: str
    clip_id: str
    series: str
    duration_s: int
    backend: str
    model: str
    seed: int
    spec: dict[str, Any]
    cost_s: float
    max_attempts: int = 3


@dataclass(frozen=True, kw_only=True)
class Job(JobSpec):
    """A job as the store holds it now: its spec plus state and result (a snapshot)."""

    state: str
    attempts: int
    worker: str | None = None
    lease_until: float | None = None
    in_flight: bool = False
    started_at: float | None = None
    finished_at: float | None = None
    output: str | None = None
    sha256: str | None = None
    probe: dict[str, Any] | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    error_kind: str | None = None
    error: str | None = None
    gpu_seconds: float = 0.0
    queue: str | None = None
    current: bool = True

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        d = dict(row)
        return cls(
            job_id=d["job_id"], name=d["name"], clip_id=d["clip_id"], series=d["series"],
            duration_s=d["duration_s"], backend=d["backend"], model=d["model"], seed=d["seed"],
            spec=json.loads(d["spec"]), cost_s=d["cost_s"], state=d["state"], attempts=d["attempts"],
            max_attempts=d["max_attempts"], worker=d["worker"], lease_until=d["lease_until"],
            in_flight=bool(d["in_flight"]), started_at=d["started_at"], finished_at=d["finished_at"],
            output=d["output"], sha256=d["sha256"], probe=json.loads(d["probe"]) if d["probe"] else None,
            findings=json.loads(d["findings"]) if d["findings"] else [], error_kind=d["error_kind"],
            error=d["error"], gpu_seconds=d["gpu_seconds"], queue=d["queue"], current=bool(d["current"]),
        )


@dataclass(frozen=True)
class Worker:
    worker: str
    run_id: str
    pid: int
    host: str
    gpus: str
    state: str
    job_id: str | None
    job_started_at: float | None
    started_at: float
    heartbeat_at: float
    model_loads: int
    jobs_done: int


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed but not yet reaped) is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().split(b") ")[-1][:1] != b"Z"
    except OSError:
        return True


def storage_error(exc: BaseException, path: Path | str) -> SynthcamError:
    """A one-line, typed error for what SQLite or the OS said about the store at `path`."""
    text = str(exc)
    low = text.lower()
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC or "disk is full" in low:
        return StorageError(f"{path}: the disk is full; free some space and run the command again "
                            "(nothing verified was lost; the run resumes where it stopped)")
    if (isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM)) or "readonly" in low \
            or "read-only" in low:
        return StorageError(f"{path}: cannot write here ({text}); make the workspace writable "
                            "(or use a copy) and run the command again")
    if "not a database" in low or "malformed" in low or "disk i/o error" in low or "no such table" in low:
        return WorkspaceError(f"{path} is damaged ({text}); move it aside and rebuild the store from the verified "
                              "clips with `synthcam adopt WORKSPACE/clips -w NEW_WORKSPACE`")
    if "unable to open" in low:
        return StorageError(f"{path}: cannot open the job store ({text}); check the folder exists and is writable")
    return StorageError(f"{path}: {text}")


class _Connection(sqlite3.Connection):
    """Turns SQLite's errors into synthcam's typed ones, naming the store's path."""

    store_path = ""

    def execute(self, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        try:
            return super().execute(*args)
        except sqlite3.Error as exc:
            raise storage_error(exc, self.store_path) from None

    def executemany(self, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        try:
            return super().executemany(*args)
        except sqlite3.Error as exc:
            raise storage_error(exc, self.store_path) from None


class JobStore:
    """One SQLite database per workspace; safe to open from many processes at once.

    `readonly` opens without writing anything (not even the WAL's shared-memory file when the
    folder is read-only), for commands that only report.
    """

    def __init__(self, path: Path, timeout: float = 30.0, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        try:
            self.conn = self._connect(timeout)
            self._check_header()
            if not readonly:
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=NORMAL")
                with self.transaction() as c:
                    for stmt in SCHEMA.split(";"):
                        if stmt.strip():
                            c.execute(stmt)
                    c.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        except sqlite3.Error as exc:
            raise storage_error(exc, self.path) from None

    def _connect(self, timeout: float) -> sqlite3.Connection:
        if self.readonly:
            uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
            conn = None
            for suffix in ("", "&immutable=1"):  # a read-only folder cannot hold the WAL's -shm file
                try:
                    conn = sqlite3.connect(uri + suffix, uri=True, timeout=timeout, isolation_level=None,
                                           check_same_thread=False, factory=_Connection)
                    # the plain method: a failure here must stay sqlite3's, to try immutable next
                    sqlite3.Connection.execute(conn, "SELECT COUNT(*) FROM sqlite_master").fetchone()
                    break
                except sqlite3.OperationalError as exc:
                    if conn is not None:
                        conn.close()
                    conn = None
                    if suffix or "not a database" in str(exc):
                        raise
            assert conn is not None
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False,
                                   factory=_Connection)
        conn.store_path = str(self.path)  # type: ignore[attr-defined]
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        return conn

    def _check_header(self) -> None:
        """A file that is not SQLite, or SQLite that is not ours, is refused before anything is written."""
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()}
        if tables and "jobs" not in tables:
            raise WorkspaceError(f"{self.path} is an SQLite database but not a synthcam job store "
                                 f"(tables: {', '.join(sorted(tables))[:80]}); refusing to touch it")
        if self.readonly and "jobs" not in tables:
            raise WorkspaceError(f"{self.path} holds no job store yet; run `synthcam run` first")

    @classmethod
    def open(cls, workspace: Path) -> JobStore:
        return cls(Path(workspace) / DB_NAME)

    @classmethod
    def open_existing(cls, path: Path) -> JobStore:
        """Open a store that must exist, for reading only."""
        return cls(path, readonly=True)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> JobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE .. COMMIT; rolls back on any exception."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            with suppress(sqlite3.Error, SynthcamError):
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A consistent read (BEGIN DEFERRED): works on a read-only store, takes no write lock."""
        self.conn.execute("BEGIN")
        try:
            yield self.conn
        finally:
            with suppress(sqlite3.Error, SynthcamError):
                self.conn.execute("COMMIT")

    def _event(self, c: sqlite3.Connection, kind: str, job_id: str | None = None, worker: str | None = None,
               detail: str = "", now: float | None = None) -> None:
        c.execute("INSERT INTO events (at, job_id, worker, kind, detail) VALUES (?,?,?,?,?)",
                  (now or time.time(), job_id, worker, kind, mask_secrets(detail)[:4000]))

    # --- plan -----------------------------------------------------------------------------

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

    # --- claims and results ---------------------------------------------------------------

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

    def heartbeat(self, worker: str, lease_s: float = 60.0, now: float | None = None) -> int:
        now = now or time.time()
        with self.transaction() as c:
            c.execute("UPDATE workers SET heartbeat_at = ? WHERE worker = ?", (now, worker))
            return c.execute("UPDATE jobs SET lease_until = ? WHERE worker = ? AND state = 'running'",
                             (now + lease_s, worker)).rowcount

    def start(self, job_id: str, worker: str, now: float | None = None) -> None:
        """Mark the job the worker is generating now: the one blamed if the worker dies."""
        now = now or time.time()
        with self.transaction() as c:
            c.execute("UPDATE jobs SET in_flight = 1, started_at = ? WHERE job_id = ? AND worker = ? AND state = 'running'",
                      (now, job_id, worker))
            c.execute("UPDATE workers SET job_id = ?, job_started_at = ?, state = 'busy' WHERE worker = ?",
                      (job_id, now, worker))
            self._event(c, "started", job_id, worker, now=now)

    def _owned(self, c: sqlite3.Connection, job_id: str, worker: str) -> bool:
        row = c.execute("SELECT worker, state FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return bool(row and row["worker"] == worker and row["state"] == "running")

    def complete(self, job_id: str, worker: str, output: str, sha256: str, probe: dict[str, Any],
                 findings: list[dict[str, Any]], gpu_seconds: float = 0.0, now: float | None = None) -> bool:
        """Record a verified clip. False if the lease was lost (another worker owns it now)."""
        now = now or time.time()
        with self.transaction() as c:
            if not self._owned(c, job_id, worker):
                self._event(c, "complete_rejected", job_id, worker, "lease lost", now=now)
                return False
            c.execute("UPDATE jobs SET state = 'done', finished_at = ?, output = ?, sha256 = ?, probe = ?, findings = ?,"
                      " in_flight = 0, lease_until = NULL, error_kind = NULL, error = NULL, landing_sha = NULL,"
                      " gpu_seconds = gpu_seconds + ? WHERE job_id = ?",
                      (now, output, sha256, json.dumps(probe), json.dumps(findings), gpu_seconds, job_id))
            c.execute("UPDATE workers SET jobs_done = jobs_done + 1, job_id = NULL, state = 'idle' WHERE worker = ?", (worker,))
            self._event(c, "done", job_id, worker, sha256, now=now)
        return True

    def landing(self, job_id: str, worker: str, sha256: str) -> bool:
        """Note the sha256 of a verified clip just before it is moved to its final path, so a
        crash between the move and `complete` can be finished on resume, not regenerated."""
        with self.transaction() as c:
            if not self._owned(c, job_id, worker):
                return False
            c.execute("UPDATE jobs SET landing_sha = ? WHERE job_id = ?", (sha256, job_id))
        return True

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
        """Pending jobs that had a verified clip on its way to the final path when a crash hit."""
        rows = self.conn.execute("SELECT * FROM jobs WHERE current = 1 AND state = 'pending' AND landing_sha IS NOT NULL").fetchall()
        return [(Job.from_row(r), r["landing_sha"]) for r in rows]

    def adopt(self, job_id: str, output: str, sha256: str, probe: dict[str, Any], findings: list[dict[str, Any]],
              source: str, now: float | None = None) -> bool:
        """Record a clip made elsewhere as done; only pending/failed jobs can be adopted."""
        now = now or time.time()
        with self.transaction() as c:
            n = c.execute("UPDATE jobs SET state = 'done', finished_at = ?, output = ?, sha256 = ?, probe = ?,"
                          " findings = ?, worker = NULL, lease_until = NULL, in_flight = 0, error_kind = NULL, error = NULL, landing_sha = NULL"
                          " WHERE job_id = ? AND state IN ('pending', 'failed')",
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
            row = c.execute("SELECT attempts, max_attempts FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            attempts = row["attempts"] + 1
            final = not retryable or attempts >= row["max_attempts"]
            state = "failed" if final else "pending"
            delay = min(backoff_s * (2 ** (attempts - 1)), 300.0)
            c.execute("UPDATE jobs SET state = ?, attempts = ?, error_kind = ?, error = ?, worker = NULL, lease_until = NULL,"
                      " in_flight = 0, next_attempt_at = ?, finished_at = ?, gpu_seconds = gpu_seconds + ?"
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
                      " lease_until = NULL, in_flight = 0, finished_at = ?, attempts = attempts + 1,"
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
                if w["host"] == host and not _pid_alive(w["pid"]):
                    dead.add(w["worker"])
            rows = c.execute("SELECT job_id, worker, in_flight, lease_until, attempts, max_attempts FROM jobs"
                             " WHERE state = 'running'").fetchall()
            out = []
            for r in rows:
                if r["worker"] in dead or (r["lease_until"] or 0) < now:
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

    # --- workers --------------------------------------------------------------------------

    def register_worker(self, worker: str, run_id: str, gpus: str = "", now: float | None = None) -> None:
        now = now or time.time()
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO workers (worker, run_id, pid, host, gpus, state, started_at, heartbeat_at)"
                      " VALUES (?,?,?,?,?,?,?,?)", (worker, run_id, os.getpid(), socket.gethostname(), gpus, "idle", now, now))
            self._event(c, "worker_started", None, worker, f"pid {os.getpid()} gpus {gpus or '-'}", now=now)

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

    # --- queries --------------------------------------------------------------------------

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
        rows = self.conn.execute("SELECT state, series, duration_s, COUNT(*) AS n, SUM(gpu_seconds) AS g FROM jobs"
                                 " WHERE current = 1 GROUP BY state, series, duration_s").fetchall()
        total = {s: 0 for s in STATES}
        by_series: dict[str, dict[str, int]] = {}
        by_duration: dict[str, dict[str, int]] = {}
        gpu_seconds = 0.0
        for r in rows:
            total[r["state"]] += r["n"]
            gpu_seconds += r["g"] or 0.0
            for key, table in ((r["series"], by_series), (str(r["duration_s"]), by_duration)):
                bucket = table.setdefault(key, {"total": 0, **{s: 0 for s in STATES}})
                bucket["total"] += r["n"]
                bucket[r["state"]] += r["n"]
        return {"total": sum(total.values()), **total, "by_series": by_series, "by_duration": by_duration,
                "gpu_seconds": gpu_seconds}

    def selection_counts(self, job_ids: Iterable[str], now: float | None = None) -> dict[str, int]:
        """States of these jobs (a run's selection): done, failed, blocked, pending, running (claimed
        or in flight) and in_flight (being generated now, with a live lease)."""
        now = now or time.time()
        ids = list(job_ids)
        out = dict.fromkeys(("done", "failed", "blocked", "pending", "running", "in_flight"), 0)
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
        return self.conn.execute("SELECT COUNT(*) FROM events WHERE job_id = ? AND kind = 'started'",
                                 (job_id,)).fetchone()[0]

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

    # --- publications (Git LFS) -----------------------------------------------------------

    def record_publication(self, job_id: str, remote: str, path: str, oid: str, size: int,
                           commit_sha: str | None, confirmed: bool, now: float | None = None) -> None:
        now = now or time.time()
        with self.transaction() as c:
            c.execute("INSERT INTO publications (job_id, remote, path, oid, size, commit_sha, confirmed_at, missing_since)"
                      " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (job_id, remote) DO UPDATE SET path = excluded.path,"
                      " oid = excluded.oid, size = excluded.size, commit_sha = COALESCE(excluded.commit_sha, commit_sha),"
                      " confirmed_at = excluded.confirmed_at,"
                      " missing_since = CASE WHEN excluded.missing_since IS NULL THEN NULL"
                      " ELSE COALESCE(publications.missing_since, excluded.missing_since) END",
                      (job_id, remote, path, oid, size, commit_sha, now if confirmed else None, None if confirmed else now))
            self._event(c, "published" if confirmed else "publish_missing", job_id, None, f"{remote} {oid}", now=now)

    def published_counts(self) -> dict[str, int]:
        """Verified clips of the current plan: published (confirmed), missing on a server, or not published.

        A clip counts as published only when a server confirmed the object of its current content;
        one that any server has lost counts as missing until `synthcam publish --repair` fixes it.
        """
        rows = self.conn.execute(
            "SELECT j.job_id, MAX(p.confirmed_at IS NULL AND p.oid = j.sha256) AS lost,"
            " MAX(p.confirmed_at IS NOT NULL AND p.oid = j.sha256) AS confirmed"
            " FROM jobs j LEFT JOIN publications p ON p.job_id = j.job_id"
            " WHERE j.current = 1 AND j.state = 'done' GROUP BY j.job_id").fetchall()
        missing = sum(1 for r in rows if r["lost"])
        published = sum(1 for r in rows if r["confirmed"] and not r["lost"])
        return {"published": published, "missing": missing, "unpublished_verified": len(rows) - published - missing}

    def publications(self, remote: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM publications", []
        if remote:
            sql += " WHERE remote = ?"
            args.append(remote)
        return [dict(r) for r in self.conn.execute(sql + " ORDER BY path", args).fetchall()]
