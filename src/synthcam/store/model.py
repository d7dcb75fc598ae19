"""What the store holds: job specs, jobs (a snapshot of one row), workers, and the typed view
of a job's spec that every stage reads instead of poking at a dict."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class Target:
    """The exact clip a job must end as."""

    fps: int
    frames: int
    width: int
    height: int


@dataclass(frozen=True)
class Timing:
    """How the target frames are obtained from the model (see prompts.Timing)."""

    policy: str
    model_fps: int
    frames_needed: int
    chunks: int = 1
    model_frames: int = 0
    autoregressive: bool = False
    target_fps: int = 0
    target_frames: int = 0
    play_fps: float = 0.0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Timing:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class ClipSpec:
    """A job's spec, typed: what to make (identity fields), how to finish it, and its labels.

    Built from the JSON the store keeps (`Job.clip`); unknown keys of newer releases are ignored
    and keys older stores lack take their documented defaults.
    """

    backend: str
    model: str
    name: str
    prompt: str
    negative_prompt: str
    seed: int
    target: Target
    timing: Timing
    guidance: float | None = None
    num_steps: int | None = None
    components: dict[str, Any] | None = None
    clip_id: str = ""
    duration_s: int = 0
    series: str = ""
    group: str | None = None
    scenario: str | None = None
    purpose: str | None = None
    description: str | None = None
    expected_risk: str | None = None
    manifest: str = ""
    device: str = "gpu"
    expects_motion: bool | None = None      # the action moves: a static picture is a finding

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ClipSpec:
        timing = d.get("timing") or {"policy": d.get("timing_policy", "interpolate"), "model_fps": d.get("fps", 24),
                                     "frames_needed": d.get("frames", 0)}
        return cls(
            backend=d.get("backend", ""), model=d.get("model", ""), name=d.get("name", ""), prompt=d.get("prompt", ""),
            negative_prompt=d.get("negative_prompt", ""), seed=int(d.get("seed", 0)),
            target=Target(int(d["fps"]), int(d["frames"]), int(d["width"]), int(d["height"])),
            timing=Timing.from_json(timing), guidance=d.get("guidance"), num_steps=d.get("num_steps"),
            components=d.get("components"), clip_id=d.get("clip_id", ""), duration_s=int(d.get("duration_s") or 0),
            series=d.get("series", ""), group=d.get("group"), scenario=d.get("scenario"), purpose=d.get("purpose"),
            description=d.get("description"), expected_risk=d.get("expected_risk"), manifest=d.get("manifest", ""),
            device=d.get("device", "gpu"), expects_motion=d.get("expects_motion"))


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
    next_attempt_at: float = 0.0
    starts: int = 0                       # times generation began: the real attempt count
    raw: dict[str, Any] | None = None     # state generated: the backend's raw output, kept for finishing

    @property
    def clip(self) -> ClipSpec:
        """The spec, typed."""
        return ClipSpec.from_json(self.spec)

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
            next_attempt_at=d.get("next_attempt_at") or 0.0, starts=d.get("starts") or 0, raw=json.loads(d["raw"]) if d.get("raw") else None,
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
    node: str = ""
    executor: str = "local"
    progress: str | None = None


