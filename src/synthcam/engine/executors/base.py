"""The executor seam: where generation workers run.

An executor starts one worker per GPU group (or per CPU slot), delivers messages to it, and
reports what workers say plus their deaths. It knows nothing of the store, the plan or
finishing: the orchestrator decides, executors carry. `local` runs workers as processes on
this machine; `ray` (an optional extra) runs them as actors on a cluster.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a worker needs; sent to wherever the worker runs."""

    workspace: str
    worker: str
    run_id: str
    backend: str
    manifest_text: str
    manifest_source: str
    model: str
    options: dict[str, Any] = field(default_factory=dict)
    gpus: tuple[str, ...] = ()
    parent_pid: int = 0
    heartbeat_s: float = 2.0
    interpolation: str = "mci"
    inline_finish: bool = False           # finish each clip in the worker (the first engine's shape)
    policy: dict[str, Any] | None = None  # the verification policy record, for inline finishing


class Executor(ABC):
    name: ClassVar[str]

    @abstractmethod
    def start(self, cfg: WorkerConfig) -> None:
        """Start a worker (it says Hello when it is up)."""

    @abstractmethod
    def send(self, worker: str, message: Any) -> None:
        """Deliver a message; a worker that is gone is reported by poll, not here."""

    @abstractmethod
    def poll(self, timeout: float) -> list[Any]:
        """Messages from workers, and Died for workers that are gone, waiting up to `timeout`."""

    @abstractmethod
    def kill(self, worker: str) -> None:
        """Stop a worker at once (a hung job, a lost heartbeat); poll then reports Died."""

    @abstractmethod
    def stop(self, grace_s: float = 10.0) -> None:
        """Stop every worker: ask, wait up to `grace_s`, then kill. Returns when all are gone."""

    def terminate(self) -> None:
        """Ctrl-C: stop every worker now; the orchestrator releases their jobs."""
        self.stop(grace_s=0)

    def describe(self) -> dict[str, Any]:
        """What `status` shows about where workers run (e.g. a dashboard address)."""
        return {"executor": self.name}

    def recover(self, workspace: str, wanted: set[str]) -> int:
        """Before a run: bring home raw outputs that workers of a dead orchestrator finished but
        nobody collected (only for the job IDs in `wanted`) into raw/<job_id>/, so the run
        finishes them instead of generating them again. Returns how many."""
        return 0

    def finish_pool(self, workers: int, timeout_s: float) -> Any:
        """A pool that finishes clips elsewhere (same interface as verify.pool.TaskPool), or None
        for the orchestrator's own CPU pool."""
        return None

    def close(self) -> None:
        """The run is over (or failed): release what the executor holds (connections, clusters)."""


EXECUTOR_KEY = "executor"
DASHBOARD_KEY = "dashboard_url"   # status shows it under the workers table


def record_executor(store: Any, description: dict[str, Any]) -> None:
    """Keep where the current run's workers run (executor, namespace...) in the store's meta
    table for `status`, and the dashboard address when the executor has one (a run without one
    removes a previous run's, so status never points at a cluster that is gone)."""
    import json
    import time

    data = {**description, "recorded_at": time.time()}
    upsert = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
    with store.transaction() as c:
        c.execute(upsert, (EXECUTOR_KEY, json.dumps(data, sort_keys=True)))
        if description.get(DASHBOARD_KEY):
            c.execute(upsert, (DASHBOARD_KEY, str(description[DASHBOARD_KEY])))
        else:
            c.execute("DELETE FROM meta WHERE key = ?", (DASHBOARD_KEY,))


def recorded_executor(store: Any) -> dict[str, Any] | None:
    """What the last run recorded with `record_executor`, or None."""
    import json

    row = store.conn.execute("SELECT value FROM meta WHERE key = ?", (EXECUTOR_KEY,)).fetchone()
    try:
        return json.loads(row[0]) if row else None
    except ValueError:
        return None
