"""Cost plan: clips, chunks, GPU-hours and wall-clock for a manifest on N GPUs.

The old team's own estimates differed tenfold (45 s vs 15 min per clip). Ours come from a
small cost table in which every number cites its source, and the user can override it.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import CostTableError
from .manifest import COSMOS_MODELS, Manifest, parse_yaml
from .prompts import CompiledClip, compile_manifest

GPU_KINDS = ("h100", "h200", "b200")
# The GPU whose chunk times order the queue when the real one is not known (relative costs are what matter).
DEFAULT_COST_GPU = "h100"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GpuSpec(_Strict):
    memory_gb: float = Field(gt=0)
    source: str = Field(min_length=3)


class ModelSpec(_Strict):
    load_s: float = Field(ge=0)
    load_source: str = Field(min_length=3)
    peak_memory_gb: float = Field(gt=0)
    memory_source: str = Field(min_length=3)
    offload: dict[str, float] = {}
    # How the model samples: a step cap (the distilled student has 4 fixed sampling times) and
    # whether guidance is used at all. The per-chunk times below are for that sampling.
    max_steps: int | None = Field(None, gt=0)
    guidance: Literal["used", "ignored"] = "used"
    sampling_source: str = ""

    def steps(self, num_steps: int) -> int:
        return min(num_steps, self.max_steps) if self.max_steps else num_steps

    def sampling_note(self, model: str, num_steps: int, guidance: int) -> str:
        """What the manifest's num_steps and guidance become for this model, said plainly."""
        if self.max_steps is None and self.guidance == "used":
            return f"{model}: {num_steps} steps, guidance {guidance}"
        steps = self.steps(num_steps)
        parts = [f"{model}: {steps} steps" + (f" (at most {self.max_steps}: the manifest's {num_steps} is capped)"
                                              if self.max_steps and num_steps > self.max_steps else "")]
        if self.guidance == "ignored":
            parts.append(f"guidance ignored (no classifier-free guidance; the manifest's {guidance} is written as 0)")
        return "; ".join(parts) + (f" [{self.sampling_source}]" if self.sampling_source else "")


class ChunkCost(_Strict):
    seconds: float = Field(gt=0)
    source: str = Field(min_length=3)


class CostTable(_Strict):
    version: int = 1
    gpus: dict[str, GpuSpec]
    memory_headroom: float = Field(0.05, ge=0, lt=0.5)
    models: dict[str, ModelSpec]
    chunk_seconds: dict[str, dict[str, ChunkCost]]

    def model(self, name: str) -> ModelSpec:
        if name not in self.models:
            raise CostTableError(f"cost table has no model {name!r} (has: {', '.join(sorted(self.models))})")
        return self.models[name]

    def gpu(self, name: str) -> GpuSpec:
        if name not in self.gpus:
            raise CostTableError(f"cost table has no GPU {name!r} (has: {', '.join(sorted(self.gpus))})")
        return self.gpus[name]

    def chunk(self, model: str, gpu: str) -> ChunkCost:
        self.model(model)
        self.gpu(gpu)
        try:
            return self.chunk_seconds[model][gpu]
        except KeyError:
            raise CostTableError(f"cost table has no per-chunk time for {model} on {gpu}") from None


def _resolve_same_as(section: dict[str, Any], what: str, source: str) -> dict[str, Any]:
    out = {}
    for name, entry in section.items():
        seen = [name]
        while isinstance(entry, dict) and set(entry) == {"same_as"}:
            target = entry["same_as"]
            if target in seen or target not in section:
                raise CostTableError(f"{source}: {what}.{name}: same_as {target!r} is unknown or circular")
            seen.append(target)
            entry = section[target]
        out[name] = entry
    return out


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for k, v in override.items():
            merged[k] = _merge(base.get(k), v) if k in base else v
        return merged
    return override


def load_cost_table(override: Path | None = None) -> CostTable:
    """The built-in table, with a user's table (same shape) merged over it."""
    text = resources.files("synthcam").joinpath("data/costs.yaml").read_text(encoding="utf-8")
    data, _ = parse_yaml(text, "builtin:costs.yaml")
    source = "builtin:costs.yaml"
    if override is not None:
        source = str(override)
        try:
            raw = Path(override).read_bytes()
        except OSError as exc:
            raise CostTableError(f"{override}: cannot read cost table ({exc.strerror or exc})") from None
        extra, _ = parse_yaml(raw, source)
        if not isinstance(extra, dict):
            raise CostTableError(f"{override}: a cost table is a YAML mapping")
        data = _merge(data, extra)
    try:
        data["models"] = _resolve_same_as(data.get("models", {}), "models", source)
        data["chunk_seconds"] = _resolve_same_as(data.get("chunk_seconds", {}), "chunk_seconds", source)
        return CostTable.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise CostTableError(f"{source}: {loc}: {err['msg']}") from None
    except (AttributeError, TypeError):
        raise CostTableError(f"{source}: malformed cost table") from None


@dataclass(frozen=True)
class MemoryFit:
    fits: bool
    peak_gb: float
    usable_gb: float
    flags: list[str]               # offload flags needed to fit (empty when it fits as is)
    peak_with_flags_gb: float
    note: str


def memory_fit(table: CostTable, model: str, gpu: str) -> MemoryFit:
    m, g = table.model(model), table.gpu(gpu)
    usable = round(g.memory_gb * (1 - table.memory_headroom), 1)
    peak = m.peak_memory_gb
    if peak <= usable:
        return MemoryFit(True, peak, usable, [], peak, f"{model} (~{peak:g} GB peak) fits {gpu} ({usable:g} GB usable)")
    flags: list[str] = []
    after = peak
    for flag, saving in m.offload.items():  # in the table's order: cheapest slowdown first
        flags.append(flag)
        after -= saving
        if after <= usable:
            return MemoryFit(False, peak, usable, flags, after,
                             f"{model} (~{peak:g} GB) exceeds {gpu} ({usable:g} GB usable); with {' '.join(flags)} ~{after:g} GB fits (slower)")
    return MemoryFit(False, peak, usable, flags, after,
                     f"{model} (~{peak:g} GB) does not fit {gpu} ({usable:g} GB usable) even with every offload flag (~{after:g} GB)")


@dataclass
class Bucket:
    clips: int = 0
    chunks: int = 0
    gpu_seconds: float = 0.0

    def add(self, chunks: int, seconds: float) -> None:
        self.clips += 1
        self.chunks += chunks
        self.gpu_seconds += seconds


@dataclass
class CostPlan:
    model: str
    gpu: str
    gpus: int
    timing_policy: str
    chunk: ChunkCost
    load: ModelSpec
    fit: MemoryFit
    by_series: dict[str, Bucket] = field(default_factory=dict)
    by_duration: dict[int, Bucket] = field(default_factory=dict)
    frames_by_duration: dict[int, dict[str, int]] = field(default_factory=dict)
    total: Bucket = field(default_factory=Bucket)
    makespan_s: float = 0.0
    lower_bound_s: float = 0.0
    num_steps: int = 0             # steps the model really runs (the distilled model caps them)
    sampling: str = ""             # how the model samples (steps, guidance), said plainly

    @property
    def gpu_hours(self) -> float:
        """Generation plus one model load per GPU."""
        return (self.total.gpu_seconds + self.gpus * self.load.load_s) / 3600

    def to_json(self) -> dict[str, Any]:
        def b(x: Bucket) -> dict[str, Any]:
            return {"clips": x.clips, "chunks": x.chunks, "gpu_hours": round(x.gpu_seconds / 3600, 3)}

        return {
            "model": self.model,
            "gpu": self.gpu,
            "gpus": self.gpus,
            "timing_policy": self.timing_policy,
            "chunk_seconds": self.chunk.seconds,
            "chunk_source": self.chunk.source,
            "sampling": {"num_steps": self.num_steps, "guidance": self.load.guidance, "note": self.sampling},
            "model_load_s": self.load.load_s,
            "model_load_source": self.load.load_source,
            "memory": {
                "fits": self.fit.fits, "peak_gb": self.fit.peak_gb, "usable_gb": self.fit.usable_gb,
                "offload_flags": self.fit.flags, "peak_with_flags_gb": self.fit.peak_with_flags_gb,
                "note": self.fit.note, "source": self.load.memory_source,
            },
            "by_series": {k: b(v) for k, v in sorted(self.by_series.items())},
            "by_duration": {str(k): {**b(v), **self.frames_by_duration[k]} for k, v in sorted(self.by_duration.items())},
            "total": {**b(self.total), "gpu_hours_with_loads": round(self.gpu_hours, 3)},
            "wall_clock_s": round(self.makespan_s, 1),
            "wall_clock_h": round(self.makespan_s / 3600, 3),
            "lower_bound_s": round(self.lower_bound_s, 1),
        }


def lpt_makespan(durations: list[float], workers: int, setup_s: float) -> float:
    """Longest job first onto the least-loaded worker: how the engine schedules a queue."""
    heap = [setup_s] * workers
    heapq.heapify(heap)
    for d in sorted(durations, reverse=True):
        heapq.heappush(heap, heapq.heappop(heap) + d)
    return max(heap) if heap else 0.0


def cost_plan(manifest: Manifest, model: str | None = None, gpu: str = "h100", gpus: int = 1,
              costs: Path | None = None, clips: list[CompiledClip] | None = None) -> CostPlan:
    from .errors import InputError

    model = model or manifest.defaults.model
    if model not in COSMOS_MODELS:
        raise InputError(f"--model {model!r} is not a Cosmos Predict 2.5 model ({', '.join(COSMOS_MODELS)})")
    if gpus < 1:
        raise InputError(f"--gpus must be at least 1, got {gpus}")
    table = load_cost_table(costs)
    chunk = table.chunk(model, gpu)
    load = table.model(model)
    compiled = clips if clips is not None else compile_manifest(manifest)
    plan = CostPlan(model, gpu, gpus, manifest.defaults.timing, chunk, load, memory_fit(table, model, gpu),
                    num_steps=load.steps(manifest.defaults.num_steps),
                    sampling=load.sampling_note(model, manifest.defaults.num_steps, manifest.defaults.guidance))
    series: dict[str, Bucket] = defaultdict(Bucket)
    per_duration: dict[int, Bucket] = defaultdict(Bucket)
    job_seconds = []
    for c in compiled:
        seconds = c.timing.chunks * chunk.seconds
        job_seconds.append(seconds)
        series[c.variant.series].add(c.timing.chunks, seconds)
        per_duration[c.variant.duration_s].add(c.timing.chunks, seconds)
        plan.total.add(c.timing.chunks, seconds)
        plan.frames_by_duration[c.variant.duration_s] = {
            "target_frames": c.timing.target_frames, "frames_asked": c.timing.frames_needed,
            "model_frames": c.timing.model_frames, "chunks_each": c.timing.chunks,
        }
    plan.by_series = dict(series)
    plan.by_duration = dict(per_duration)
    plan.makespan_s = lpt_makespan(job_seconds, gpus, load.load_s)
    plan.lower_bound_s = load.load_s + max(sum(job_seconds) / gpus, max(job_seconds, default=0.0))
    return plan
