"""The job store: SQLite (WAL) in the workspace, the single source of truth for status.

A job's identity is a hash of everything that determines its output, so a changed prompt
makes a new job and an unchanged one is never generated twice. Claims are leases: a worker
holds a job while it heartbeats; a dead worker's jobs return to the queue, and only the job it
had in flight is blamed. "done" means verified: sha256, probe and findings are stored with it.

Only the orchestrator (and commands that read or repair a workspace) open the store; workers
send messages. Parts, by concern:

    connection.py    opening, typed errors, schema creation and migrations, transactions
    schema.py        the schema and the migrations from older releases
    model.py         JobSpec, Job, Worker and the typed ClipSpec
    jobs.py          plan, claims, leases, results, counts
    workers.py       workers and the event log
    publications.py  Git LFS publications
"""

from __future__ import annotations

from .connection import StoreBase, storage_error
from .jobs import JobsMixin
from ..fsutil import pid_alive
from .model import ClipSpec, Job, JobSpec, Target, Timing, Worker
from .publications import PublicationsMixin
from .schema import DB_NAME, SCHEMA_VERSION, STATES
from .workers import WorkersMixin


class JobStore(JobsMixin, WorkersMixin, PublicationsMixin, StoreBase):
    """One SQLite database per workspace; safe to open from many processes at once."""


__all__ = ["DB_NAME", "SCHEMA_VERSION", "STATES", "ClipSpec", "Job", "JobSpec", "JobStore", "Target", "Timing",
           "Worker", "pid_alive", "storage_error"]
