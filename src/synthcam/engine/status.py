"""The status file and the status view, both derived from the store, never typed.

The old status file said "in_progress: 8" for weeks: it was written by hand-rolled
read-modify-write and never corrected. Here every write re-derives everything from the store
under a lock, and a running job whose lease has lapsed is counted as pending (interrupted),
not as in progress.
"""

from __future__ import annotations

import fcntl
import json
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from ..fsutil import write_json_atomic
from ..store import JobStore, storage_error
from ..workspace import Workspace
from .executors.base import recorded_executor


# What a person reads for each job state; machine-readable keys (JSON, the store) keep theirs.
STATE_WORDS = {"done": "verified", "running": "in progress", "generated": "finishing", "pending": "pending",
               "failed": "failed", "blocked": "blocked"}


def compute_time(status: dict[str, Any]) -> str:
    """'GPU time 1.25 h', 'CPU time 4.1 min', or both: never GPU-hours for a CPU renderer."""
    parts = []
    for key, label in (("gpu_hours", "GPU time"), ("cpu_hours", "CPU time")):
        hours = status.get(key) or 0.0
        if hours:
            parts.append(f"{label} {hours:.2f} h" if hours >= 1 else f"{label} {hours * 60:.1f} min")
    return ", ".join(parts) or "no compute time yet"


def published_line(published: dict[str, int] | None) -> str:
    """'' until something was published: an unpublished dataset is not news."""
    if not published or not (published.get("published") or published.get("missing")):
        return ""
    line = f"published {published['published']}"
    if published.get("missing"):
        line += f", {published['missing']} missing on the server"
    if published.get("unpublished_verified"):
        line += f", {published['unpublished_verified']} verified not yet published"
    return line


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds") if ts else None


def derive_status(store: JobStore, now: float | None = None) -> dict[str, Any]:
    """Counts for the current plan. In progress means being generated right now: jobs a worker
    has claimed for its batch but not started, and jobs whose lease has lapsed, are pending."""
    now = now or time.time()
    with store.snapshot() as c:  # one consistent read, without a write lock
        rows = c.execute("SELECT state, series, duration_s, lease_until, in_flight, gpu_seconds, cost_s,"
                         " COALESCE(json_extract(spec, '$.device'), 'gpu') AS device,"
                         " CASE WHEN state = 'done' THEN COALESCE(json_extract(probe, '$.policy.name'), 'default') END"
                         " AS policy FROM jobs"
                         " WHERE current = 1").fetchall()
        workers = c.execute("SELECT w.worker, w.gpus, w.job_id, w.job_started_at, w.heartbeat_at, w.model_loads,"
                            " w.jobs_done, w.host, w.node, w.executor, w.progress, j.name, j.cost_s"
                            " FROM workers w LEFT JOIN jobs j ON j.job_id = w.job_id"
                            " WHERE w.state != 'exited' ORDER BY w.worker").fetchall()
        failures = c.execute("SELECT j.name, j.state, j.error_kind, j.error, j.finished_at FROM jobs j"
                             " WHERE j.current = 1 AND j.state IN ('failed', 'blocked') ORDER BY j.finished_at DESC LIMIT 10").fetchall()
        recent_done = c.execute("SELECT COUNT(*) FROM jobs WHERE current = 1 AND state = 'done' AND finished_at > ?",
                                (now - 600,)).fetchone()[0]
    keys = ("total", "pending", "in_progress", "finishing", "completed", "failed", "blocked")
    total = dict.fromkeys(keys, 0)
    by_series: dict[str, dict[str, int]] = {}
    by_duration: dict[str, dict[str, int]] = {}
    gpu_seconds = cpu_seconds = 0.0
    policies: dict[str, int] = {}
    done_cost = done_compute = 0.0
    remaining_cost = 0.0
    stale = queued = 0
    for r in rows:
        state = r["state"]
        if state == "running" and (r["lease_until"] or 0) < now:
            state, stale = "pending", stale + 1
        elif state == "running" and not r["in_flight"]:
            state, queued = "pending", queued + 1  # claimed by a worker's batch, not started yet
        # generated: the raw output is kept and is being (or waits to be) post-processed and verified
        key = {"running": "in_progress", "done": "completed", "generated": "finishing"}.get(state, state)
        if r["policy"]:
            policies[r["policy"]] = policies.get(r["policy"], 0) + 1
        if r["device"] == "cpu":
            cpu_seconds += r["gpu_seconds"] or 0.0
        else:
            gpu_seconds += r["gpu_seconds"] or 0.0
        if key in ("pending", "in_progress"):
            remaining_cost += r["cost_s"]
        elif key == "completed" and r["gpu_seconds"]:
            done_cost += r["cost_s"]
            done_compute += r["gpu_seconds"]
        for bucket in (total, by_series.setdefault(r["series"], dict.fromkeys(keys, 0)),
                       by_duration.setdefault(f"{r['duration_s']}s", dict.fromkeys(keys, 0))):
            bucket["total"] += 1
            bucket[key] += 1
    status: dict[str, Any] = {
        **total,
        "by_series": dict(sorted(by_series.items())),
        "by_duration": dict(sorted(by_duration.items(), key=lambda kv: int(kv[0][:-1]))),
        "gpu_hours": round(gpu_seconds / 3600, 4),      # generation time of GPU backends, x GPUs per worker
        "cpu_hours": round(cpu_seconds / 3600, 4),      # generation time of CPU backends (procedural)
        "stale_leases": stale,
        # verified clips by the verification policy they passed (a relaxed one never looks like the default)
        "verify_policies": dict(sorted(policies.items())),
        "queued_in_workers": queued,
        "workers": [
            {"worker": w["worker"], "gpus": w["gpus"], "job": w["name"], "job_started_at": _iso(w["job_started_at"]),
             "elapsed_s": round(now - w["job_started_at"], 1) if w["job_started_at"] and w["name"] else None,
             "expected_s": w["cost_s"], "model_loads": w["model_loads"], "jobs_done": w["jobs_done"],
             "heartbeat_age_s": round(now - w["heartbeat_at"], 1), "host": w["host"], "node": w["node"],
             "executor": w["executor"], "progress": json.loads(w["progress"]) if w["progress"] and w["name"] else None}
            for w in workers
        ],
        "recent_failures": [
            {"name": f["name"], "state": f["state"], "kind": f["error_kind"], "reason": f["error"], "at": _iso(f["finished_at"])}
            for f in failures
        ],
        "throughput_per_hour": round(recent_done * 6, 1),
        "remaining_expected_s": round(remaining_cost, 1),
        # measured compute seconds per planned second, from verified jobs (1.0 before any)
        "compute_per_expected_s": round(done_compute / done_cost, 4) if done_cost else 1.0,
        "updated_at": _iso(now),
    }
    status["published"] = store.published_counts()
    status["executor"] = recorded_executor(store)   # where the last run's workers ran (namespace, address...)
    row = store.conn.execute("SELECT value FROM meta WHERE key = 'dashboard_url'").fetchone()
    if row and row[0]:
        status["dashboard_url"] = row[0]
    return status


def write_status(ws: Workspace, store: JobStore | None = None) -> dict[str, Any]:
    """Re-derive and atomically rewrite generation_status.json; the last writer is the newest."""
    own = store is None
    store = store or ws.store()
    try:
        with _locked(ws.root / ".status.lock"):
            status = derive_status(store)
            write_json_atomic(ws.status_file, status)
    except OSError as exc:
        raise storage_error(exc, exc.filename or ws.status_file) from None
    finally:
        if own:
            store.close()
    return status


def eta_seconds(status: dict[str, Any]) -> float | None:
    """Remaining work, scaled by the compute it has really taken so far, spread over the live
    workers' GPUs (a CPU worker counts as one); None when nothing runs."""
    parallel = sum(max(1, len([g for g in str(w.get("gpus") or "").split(",") if g])) for w in status["workers"])
    if not parallel or not status["remaining_expected_s"]:
        return None
    return status["remaining_expected_s"] * status.get("compute_per_expected_s", 1.0) / parallel
