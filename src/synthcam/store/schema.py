"""The store's schema, and the migrations that bring an older workspace's store up to it.

Each migration is a function from version N to N+1, run in one transaction when a store is
opened for writing; a workspace made by an earlier release opens, migrates and resumes. A store
from a newer release is refused rather than guessed at.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

DB_NAME = "synthcam.db"
SCHEMA_VERSION = 2
# generated: the backend's raw output is kept in raw/<job_id>/ and waits for (or is in) finishing.
STATES = ("pending", "running", "generated", "done", "failed", "blocked")
_CHECK = ",".join(f"'{s}'" for s in STATES)

JOBS_TABLE = f"""
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
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ({_CHECK})),
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
    landing_sha TEXT,
    starts INTEGER NOT NULL DEFAULT 0,
    raw TEXT
)"""

INDEXES = """
CREATE INDEX IF NOT EXISTS jobs_pending ON jobs (cost_s DESC, job_id) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS jobs_pending_queue ON jobs (queue, cost_s DESC, job_id) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS jobs_name ON jobs (name);
"""

OTHER_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
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
    jobs_done INTEGER NOT NULL DEFAULT 0,
    node TEXT NOT NULL DEFAULT '',
    executor TEXT NOT NULL DEFAULT 'local',
    progress TEXT
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


def statements(text: str) -> list[str]:
    return [s for s in (part.strip() for part in text.split(";")) if s]


def create(c: sqlite3.Connection) -> None:
    """A new store at the current version."""
    for stmt in statements(OTHER_TABLES) + [JOBS_TABLE] + statements(INDEXES):
        c.execute(stmt)
    c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))


def _v1_to_v2(c: sqlite3.Connection) -> None:
    """The `generated` state (a CHECK constraint: SQLite rebuilds the table), generation attempts
    counted per job (back-filled from the events), raw outputs kept, workers by node and executor,
    and each job's compute device (back-filled from its backend)."""
    old_cols = [r[1] for r in c.execute("PRAGMA table_info(jobs)").fetchall()]
    c.execute(JOBS_TABLE.replace("IF NOT EXISTS jobs", "jobs_v2"))
    cols = ", ".join(old_cols)
    c.execute(f"INSERT INTO jobs_v2 ({cols}) SELECT {cols} FROM jobs")
    c.execute("DROP TABLE jobs")
    c.execute("ALTER TABLE jobs_v2 RENAME TO jobs")
    for stmt in statements(INDEXES):
        c.execute(stmt)
    c.execute("UPDATE jobs SET starts = (SELECT COUNT(*) FROM events e WHERE e.job_id = jobs.job_id AND e.kind = 'started')")
    have = {r[1] for r in c.execute("PRAGMA table_info(workers)").fetchall()}
    for column, ddl in (("node", "TEXT NOT NULL DEFAULT ''"), ("executor", "TEXT NOT NULL DEFAULT 'local'"),
                        ("progress", "TEXT")):
        if column not in have:
            c.execute(f"ALTER TABLE workers ADD COLUMN {column} {ddl}")
    from ..backends.registry import available, backend_class

    for (backend,) in c.execute("SELECT DISTINCT backend FROM jobs").fetchall():
        device = "gpu"
        if backend in available():
            try:
                device = backend_class(backend).device
            except Exception:  # noqa: BLE001 - an unloadable plugin keeps the old meaning (GPU time)
                pass
        c.execute("UPDATE jobs SET spec = json_set(spec, '$.device', ?) WHERE backend = ?"
                  " AND json_extract(spec, '$.device') IS NULL", (device, backend))


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _v1_to_v2}
