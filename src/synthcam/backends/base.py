"""The one interface every generation backend implements.

The engine builds a `GenerationRequest` per job and calls `generate_many` once per worker
queue, so backends that load a model (Cosmos) load it once; simple backends only implement
`generate`. A backend writes into the staging folder it is given and never touches final
paths: post-processing and verification decide what becomes final.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:  # pragma: no cover
    from ..manifest import Manifest, Variant
    from ..verify.report import Finding
    from ..prompts import CompiledClip


@dataclass(frozen=True)
class GenerationRequest:
    """Everything a backend needs to make one clip."""

    job_id: str
    compiled: CompiledClip          # prompt, seed, timing, Cosmos sample
    manifest: Manifest              # for component-aware backends (procedural)
    # A per-job folder that survives crashes (the engine creates it and removes it when the job
    # ends): backends that make a clip in parts (diffusers' chained chunks) keep finished parts here.
    work_dir: Path | None = None

    @property
    def name(self) -> str:
        return self.compiled.name

    @property
    def variant(self) -> Variant:
        return self.compiled.variant


@dataclass
class RawClip:
    """What a backend produced, before post-processing to the exact target."""

    request: GenerationRequest
    video: Path                     # in staging
    fps: float                      # frame rate as produced (Cosmos: 16)
    frames: int                     # frames as produced
    at_target: bool                 # True when already exactly target fps/frames/codec
    extras: dict[str, Path] = field(default_factory=dict)  # sidecars: ground truth, Cosmos json...
    audit: list[Finding] = field(default_factory=list)     # fidelity findings from the backend's own truth: any one fails the clip


@dataclass
class Failure:
    """A job the backend could not make; `kind` drives the engine's retry rule."""

    request: GenerationRequest
    kind: str                       # "error", "timeout", "oom", "blocked", "missing_checkpoint", "auth"
    message: str
    retryable: bool = True
    # For "blocked": which guardrail refused. "prompt" runs before generation (no GPU time spent);
    # "video" runs on the generated clip, so its GPU time was spent and must be counted.
    stage: str | None = None        # "prompt" | "video"


@dataclass
class Hooks:
    """Callbacks from a backend to the engine, so the store knows what is in flight."""

    on_start: Callable[[GenerationRequest], None] = lambda request: None
    on_model_load: Callable[[], None] = lambda: None
    log: Callable[[str], None] = lambda line: None
    # Progress within a job: {"job_ids", "names", "chunk", "chunks", "step", "steps", "seconds_per_step", "batch"}.
    progress: Callable[[dict], None] = lambda info: None


class Backend(ABC):
    """One generation method. Everything the engine, CLI, export and gallery need to know about
    it is a class attribute or class method here, so no code outside `backends/` compares names."""

    name: ClassVar[str]
    # "gpu": workers are GPU groups (--gpus); "cpu": worker processes on this machine's cores.
    device: ClassVar[str] = "cpu"
    # Whether outputs come with exact per-frame labels (procedural: yes, generative: no).
    has_ground_truth: ClassVar[bool] = False
    # Whether the manifest's components (scene, subjects, action...) decide the pixels, so they are
    # part of each job's identity (procedural), or only the compiled prompt is (Cosmos).
    uses_components: ClassVar[bool] = False
    # The producer named in exports' metadata.
    export_source: ClassVar[str] = ""
    # Whether exports carry the clip's Cosmos settings (model, seed, guidance) as a `cosmos` block:
    # only clips that Cosmos itself generated have them.
    exports_cosmos_settings: ClassVar[bool] = False

    @classmethod
    def model_name(cls, manifest: Manifest, requested: str | None) -> str:
        """The model a job records (part of its identity). Generative backends run the manifest's model."""
        return requested or cls.name

    @classmethod
    def job_cost_s(cls, compiled: CompiledClip, model: str) -> float:
        """Expected seconds of work, for longest-first scheduling and the ETA."""
        return float(compiled.variant.duration_s)

    @classmethod
    def option_names(cls) -> frozenset[str]:
        """The options this backend takes (`-o key=value`, and the CLI flags that map to them)."""
        return frozenset()

    @classmethod
    def from_options(cls, options: dict, gpus: list[str]) -> Backend:
        """Build from user options (CLI flags / config) for a worker pinned to `gpus`."""
        if options:
            from ..errors import InputError

            raise InputError(f"backend {cls.name!r} takes no options (got {', '.join(sorted(options))})")
        return cls()

    def check(self) -> None:
        """Raise BackendError with a clear reason if this backend cannot run here."""

    @abstractmethod
    def generate(self, request: GenerationRequest, staging: Path) -> RawClip | Failure:
        """Make one clip in `staging`."""

    def generate_many(self, requests: Iterable[GenerationRequest], staging: Path,
                      hooks: Hooks | None = None) -> Iterator[RawClip | Failure]:
        """Make clips one after another; model-loading backends override this to batch.

        Yields one result per request, in any order, as each finishes. Calls hooks.on_start
        just before a request is generated (the engine blames that one if the worker dies).
        """
        hooks = hooks or Hooks()
        for request in requests:
            hooks.on_start(request)
            yield self.generate(request, staging)

    def close(self) -> None:
        """Release processes or memory held between jobs."""
