"""What an orchestrator and its generation workers say to each other.

Workers never open the store: everything they do reaches it as one of these messages, so a
worker behaves the same in a local process or on another machine. All are plain, picklable
dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# --- orchestrator -> worker -------------------------------------------------------------------


@dataclass(frozen=True)
class Assign:
    """Make these jobs, in this order, as one batch (the model stays loaded between batches)."""

    jobs: tuple[tuple[str, str], ...]      # (job_id, clip name)


@dataclass(frozen=True)
class Stop:
    """Finish nothing more; exit."""


# --- worker -> orchestrator -------------------------------------------------------------------


@dataclass(frozen=True)
class Hello:
    worker: str
    pid: int
    host: str
    node: str = ""
    gpus: str = ""


@dataclass(frozen=True)
class Heartbeat:
    worker: str


@dataclass(frozen=True)
class ModelLoaded:
    worker: str


@dataclass(frozen=True)
class Started:
    """The job the worker is generating now: the one blamed if it dies."""

    worker: str
    job_id: str


@dataclass(frozen=True)
class Progress:
    worker: str
    info: dict[str, Any]


@dataclass(frozen=True)
class Log:
    worker: str
    job_id: str | None
    line: str


@dataclass(frozen=True)
class Generated:
    """The raw output is kept (raw/<job_id>/ in the workspace): finishing takes it from here."""

    worker: str
    job_id: str
    raw: dict[str, Any]                   # finishing.RawOutput as JSON
    gpu_seconds: float


@dataclass(frozen=True)
class Finished:
    """Inline finishing (--finish-workers 0): the worker finished its own clip."""

    worker: str
    job_id: str
    raw: dict[str, Any]
    verdict: Any                          # finishing.Verdict
    gpu_seconds: float


@dataclass(frozen=True)
class Failed:
    worker: str
    job_id: str
    kind: str
    message: str
    retryable: bool = True
    stage: str | None = None              # guardrail blocks: "prompt" or "video"
    gpu_seconds: float = 0.0


@dataclass(frozen=True)
class Idle:
    """The batch is over; these jobs of it were never started (they go back to the queue)."""

    worker: str
    unstarted: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Fatal:
    """The worker cannot work at all (its backend cannot run here)."""

    worker: str
    message: str


@dataclass(frozen=True)
class Died:
    """Said by the executor, not the worker: the worker is gone."""

    worker: str
    detail: str
