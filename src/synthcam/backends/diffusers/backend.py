"""Cosmos Predict 2.5 in-process through diffusers' `Cosmos2_5_PredictBasePipeline`.

Where the cosmos backend drives the native CLI and reads its files, this one owns the loop:

1. load the pipeline once per worker (local folder or Hub cache, never the network);
2. take the queue in windows whose prompt embeddings fit the host-memory budget: check each
   distinct prompt with the guardrail, encode it once, then move the text encoder off the GPU;
3. make each clip chunk by chunk (chunks.py), batching the first chunks of clips of the same
   shape into one denoising call (later chunks are conditioned on a video, which the pipeline
   takes only at batch 1); every finished chunk is kept in the job's work folder;
4. check the finished clip with the video guardrail and write one lossless 16 fps raw clip,
   which the engine post-processes like the CLI's output.

Semantics kept from the native CLI: the manifest's guidance (see `diffusers_guidance`), seed
+ k for chunk k, 93-frame chunks with one overlapping frame, 16 fps, guardrails on unless
disabled. Not kept: pixels. The noise comes from a torch generator, not numpy's RandomState,
so the same seed makes a different (equally valid) clip; it is the same clip every time on the
same software.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import math
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import BackendError, InputError, SynthcamError
from ...fsutil import SAFE_ID, write_json_atomic
from ...prompts import MODEL_FPS
from ..base import Backend, Failure, GenerationRequest, Hooks, RawClip
from . import compat, guardrails
from .chunks import ChunkKey, ChunkPlan, ChunkStore, text_sha256, write_video
from .embeddings import MAX_SEQUENCE_LENGTH, PromptCache, windows
from .options import DiffusersOptions, parse_options
from .weights import MissingWeights, Weights, default_device, load_pipeline, resolve

STACK = ("torch", "diffusers", "transformers", "accelerate")


@dataclass
class BlockedFailure(Failure):
    """A guardrail block; `stage` says whether it came before any GPU work or after it."""

    stage: str = "prompt"   # "prompt" | "video"


def diffusers_guidance(native: float) -> tuple[float, bool]:
    """(diffusers guidance_scale, unconditional only) that compute native Cosmos guidance `native`.

    Native: uncond + g (cond - uncond). diffusers: cond + s (cond - uncond), so s = g - 1,
    but diffusers skips the unconditional pass unless s > 1. Hence: g = 1 is the conditional
    prediction alone (s = 0); g = 2 needs s = 1, passed as the next float above 1.0, which is
    1.0 again once it meets float32 tensors; g = 0 is the unconditional prediction alone, made
    by denoising with the negative prompt as the prompt.
    """
    g = float(native)
    if g == 0:
        return 0.0, True
    if g == 1:
        return 0.0, False
    if g < 2:
        raise InputError(f"guidance {native}: only 0, 1 or values from 2 up map onto diffusers' guidance")
    return max(g - 1.0, math.nextafter(1.0, 2.0)), False


@dataclass
class _Clip:
    """One request on its way: its plan, its chunk store and how far it got."""

    request: GenerationRequest
    plan: ChunkPlan
    store: ChunkStore
    scale: float
    unconditional: bool
    own_folder: bool
    done: int = 0
    last: np.ndarray | None = None      # last frame of chunk done-1: what chunk `done` is conditioned on

    @property
    def compiled(self) -> Any:
        return self.request.compiled

    @property
    def prompt(self) -> str:
        return self.compiled.negative_prompt if self.unconditional else self.compiled.prompt

    @property
    def shape(self) -> tuple:
        """Clips with equal shapes can share a denoising call."""
        k = self.store.key
        return k.height, k.width, k.num_steps, self.scale, self.unconditional


class _OutOfMemory(Exception):
    def __init__(self, phase: str) -> None:
        super().__init__(phase)
        self.phase = phase


class DiffusersBackend(Backend):
    name = "diffusers"
    device = "gpu"
    has_ground_truth = False
    export_source = "cosmos"   # Cosmos Predict 2.5's own weights, run in-process
    exports_cosmos_settings = True

    @classmethod
    def model_name(cls, manifest, requested: str | None) -> str:  # type: ignore[override]
        return requested or manifest.defaults.model

    @classmethod
    def job_cost_s(cls, compiled, model: str) -> float:  # type: ignore[override]
        from ...plan import DEFAULT_COST_GPU, load_cost_table

        try:
            return compiled.timing.chunks * load_cost_table().chunk(model, DEFAULT_COST_GPU).seconds
        except Exception:  # noqa: BLE001 - a model the cost table lacks: chunks still order the queue
            return float(compiled.timing.chunks)

    @classmethod
    def option_names(cls) -> frozenset[str]:
        return frozenset(DiffusersOptions.model_fields)

    def __init__(self, options: DiffusersOptions, gpus: Iterable[str] = (), *,
                 safety_checker: guardrails.SafetyChecker | None = None) -> None:
        self.opts = options
        self.gpus = list(gpus)
        self._given_checker = safety_checker is not None
        self._checker = safety_checker
        self._pipe: Any = None
        self._weights: Weights | None = None
        self._device = "cpu"
        self._cache: PromptCache | None = None
        self._verdicts: dict[str, bool] = {}
        self._batch_limit = options.batch_size
        self._phase = "denoise"

    @classmethod
    def from_options(cls, options: dict, gpus: list[str]) -> DiffusersBackend:
        opts = parse_options(options)
        if len(gpus) > 1:
            raise InputError(f"diffusers: one GPU per worker (got {','.join(gpus)}); use --gpus-per-worker 1")
        if gpus:
            if not gpus[0].isdigit():
                raise InputError(f"diffusers: GPU id {gpus[0]!r} is not a number")
            _pin_gpu(gpus[0])
        return cls(opts, gpus)

    # --- set-up ---------------------------------------------------------------------------

    def check(self) -> None:
        for module in STACK:
            try:
                __import__(module)
            except ImportError as exc:
                raise BackendError(f"diffusers: {exc}; install the extra: pip install 'synthcam[diffusers]'") from None
        compat.install_resize_fallback()
        if not self._given_checker:
            guardrails.require(self.opts.disable_guardrails)
        default_device(self.opts.device)
        if self.opts.model_dir is not None or self.opts.model is not None:
            resolve(self.opts)

    def _ensure_pipeline(self, manifest_model: str, hooks: Hooks) -> None:
        weights = resolve(self.opts, manifest_model)
        if self._pipe is not None and weights == self._weights:
            return
        self._unload()
        self._device = default_device(self.opts.device)
        if self.opts.cpu_threads is not None:
            import torch

            torch.set_num_threads(self.opts.cpu_threads)
        hooks.log(f"diffusers: loading {weights.label} on {self._device}")
        started = time.monotonic()
        self._pipe = load_pipeline(weights, self.opts, self._device)
        self._weights = weights
        self._cache = PromptCache(self._pipe, self._device, offload_encoder=self.opts.offload_text_encoder,
                                  managed_offload=self.opts.enable_model_cpu_offload)
        if self._checker is None and not self.opts.disable_guardrails:
            self._checker = guardrails.load_checker(self._device)
        hooks.on_model_load()
        hooks.log(f"diffusers: loaded in {time.monotonic() - started:.1f} s "
                  f"(padding-mask resize: {compat.install_resize_fallback()})")

    def _unload(self) -> None:
        self._pipe, self._cache, self._weights = None, None, None
        gc.collect()
        _empty_cuda_cache()

    def close(self) -> None:
        self._unload()
        if not self._given_checker:
            self._checker = None

    # --- generation -----------------------------------------------------------------------

    def generate(self, request: GenerationRequest, staging: Path) -> RawClip | Failure:
        (result,) = self.generate_many([request], staging)
        return result

    def generate_many(self, requests: Iterable[GenerationRequest], staging: Path,
                      hooks: Hooks | None = None) -> Iterator[RawClip | Failure]:
        hooks = hooks or Hooks()
        staging = Path(staging).absolute()
        staging.mkdir(parents=True, exist_ok=True)
        announced: set[str] = set()

        def announce(r: GenerationRequest) -> None:
            if r.job_id not in announced:
                announced.add(r.job_id)
                hooks.on_start(r)

        by_model: dict[str, list[GenerationRequest]] = {}
        for r in requests:
            by_model.setdefault(r.manifest.defaults.model, []).append(r)
        for manifest_model, group in by_model.items():
            try:
                self._ensure_pipeline(manifest_model, hooks)
            except SynthcamError as exc:
                kind = "missing_checkpoint" if isinstance(exc, MissingWeights) else "error"
                for r in group:
                    announce(r)
                    yield Failure(r, kind, str(exc), retryable=False)
                continue
            yield from _Run(self, group, staging, hooks, announce).results()

    # --- one denoising call ---------------------------------------------------------------

    def denoise(self, clips: list[_Clip], k: int, progress: Callable[[dict], None]) -> np.ndarray:
        """Chunk k of every clip in one pipeline call; uint8 frames (B, T, H, W, 3)."""
        import torch

        assert self._pipe is not None and self._cache is not None
        first = clips[0]
        key = first.store.key
        generators = [torch.Generator("cpu").manual_seed(c.plan.seed(c.compiled.seed, k)) for c in clips]
        kwargs: dict[str, Any] = dict(
            prompt_embeds=self._cache.get([c.prompt for c in clips]),
            height=key.height, width=key.width, num_frames=key.chunk_frames, num_inference_steps=key.num_steps,
            guidance_scale=first.scale, generator=generators, output_type="pt",
            max_sequence_length=MAX_SEQUENCE_LENGTH, callback_on_step_end=self._step_callback(clips, k, progress),
        )
        if first.scale > 1.0:
            kwargs["negative_prompt_embeds"] = self._cache.get([c.compiled.negative_prompt for c in clips])
        if k > 0:
            assert len(clips) == 1 and first.last is not None
            frame = torch.from_numpy(np.ascontiguousarray(first.last)).permute(2, 0, 1)  # (3, H, W)
            kwargs["video"] = (frame.float() / 127.5 - 1.0)[None, :, None]              # (1, 3, 1, H, W)
            kwargs["num_latent_conditional_frames"] = 1
        self._phase = "denoise"
        try:
            video = self._pipe(**kwargs).frames
        except torch.OutOfMemoryError:
            phase = self._phase
            gc.collect()
            _empty_cuda_cache()
            raise _OutOfMemory(phase) from None
        frames = (video.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 1, 3, 4, 2)
        return frames.cpu().numpy()

    def _step_callback(self, clips: list[_Clip], k: int, progress: Callable[[dict], None]) -> Callable:
        import torch

        steps = clips[0].store.key.num_steps
        cuda = self._device.startswith("cuda")
        last = [time.monotonic()]

        def on_step(pipe: Any, i: int, t: Any, tensors: dict) -> dict:
            if cuda:
                torch.cuda.synchronize()
            now = time.monotonic()
            seconds, last[0] = now - last[0], now
            if i + 1 == steps:
                self._phase = "decode"
            progress({"job_ids": [c.request.job_id for c in clips], "names": [c.request.name for c in clips],
                      "chunk": k + 1, "chunks": max(c.plan.chunks for c in clips), "step": i + 1, "steps": steps,
                      "seconds_per_step": round(seconds, 4), "batch": len(clips)})
            return {}

        return on_step

    # --- guardrails and messages ----------------------------------------------------------

    @property
    def guarded(self) -> bool:
        return self._checker is not None and not self.opts.disable_guardrails

    def prompt_allowed(self, text: str) -> bool:
        if not self.guarded:
            return True
        if text not in self._verdicts:
            self._verdicts[text] = bool(self._checker.check_text_safety(text))  # type: ignore[union-attr]
        return self._verdicts[text]

    def check_video(self, frames: np.ndarray) -> np.ndarray | None:
        if not self.guarded:
            return frames
        checked = self._checker.check_video_safety(frames)  # type: ignore[union-attr]
        if checked is None:
            return None
        checked = np.asarray(checked)
        if checked.shape != frames.shape:
            raise BackendError(f"the video guardrail returned {checked.shape} for {frames.shape}")
        return checked.astype(np.uint8, copy=False)

    def oom_advice(self, phase: str, batch: int) -> str:
        o = self.opts
        if batch > 1:
            return f"lower batch_size (it was {batch})"
        if phase == "decode" and not o.enable_vae_tiling:
            return "turn on the diffusers option enable_vae_tiling=true (the VAE decode ran out)"
        if not o.enable_model_cpu_offload:
            return "turn on the diffusers option enable_model_cpu_offload=true (less GPU memory, slower)"
        if not o.enable_vae_tiling:
            return "turn on the diffusers option enable_vae_tiling=true"
        return "every memory option is on: use a GPU with more memory, a smaller resolution or the 2B model"

    @property
    def weights_label(self) -> str:
        return self._weights.label if self._weights else "?"

    @property
    def weights_identity(self) -> str:
        return self._weights.identity if self._weights else "?"


class _Run:
    """One group of requests for one loaded pipeline (steps 2-4 of the module docstring)."""

    def __init__(self, backend: DiffusersBackend, requests: list[GenerationRequest], staging: Path, hooks: Hooks,
                 announce: Callable[[GenerationRequest], None]) -> None:
        self.b, self.requests, self.staging, self.hooks, self.announce = backend, requests, staging, hooks, announce
        self.progress: Callable[[dict], None] = getattr(hooks, "progress", None) or (lambda info: None)

    def results(self) -> Iterator[RawClip | Failure]:
        clips: list[_Clip] = []
        for r in self.requests:
            try:
                clips.append(self._prepare(r))
            except (SynthcamError, ValueError, OSError) as exc:
                self.announce(r)
                yield Failure(r, "error", f"{r.name}: {exc}", retryable=False)
        cache = self.b._cache
        assert cache is not None
        budget = int(self.b.opts.prompt_cache_gb * 2**30)
        negative = {c.compiled.negative_prompt for c in clips}
        for window in windows(clips, lambda c: (c.prompt, c.compiled.negative_prompt), budget, cache.bytes_per_prompt()):
            ready = []
            for c in window:
                if self.b.prompt_allowed(c.compiled.prompt):
                    ready.append(c)
                    continue
                self.announce(c.request)
                self._discard(c)
                yield BlockedFailure(c.request, "blocked", f"{c.request.name}: the Cosmos guardrail blocked the prompt "
                                     "(stage prompt); reword it (blocked prompts are not retried)",
                                     retryable=False, stage="prompt")
            texts = [c.prompt for c in ready] + [c.compiled.negative_prompt for c in ready if c.scale > 1.0]
            cache.prepare(texts, keep=negative)
            yield from self._make(ready)

    def _prepare(self, r: GenerationRequest) -> _Clip:
        compiled, d = r.compiled, r.manifest.defaults
        plan = ChunkPlan(compiled.timing.frames_needed)
        scale, unconditional = diffusers_guidance(d.guidance)
        key = ChunkKey(job_id=r.job_id, name=r.name, seed=compiled.seed, height=d.resolution.height,
                       width=d.resolution.width, chunk_frames=plan.chunk_frames, num_steps=d.num_steps,
                       guidance=float(d.guidance), weights=self.b.weights_identity,
                       prompt_sha256=text_sha256(compiled.prompt), negative_sha256=text_sha256(compiled.negative_prompt))
        folder: Path | None = getattr(r, "work_dir", None)
        own = folder is None
        if folder is None:
            token = r.job_id if SAFE_ID.match(r.job_id) else hashlib.sha256(r.job_id.encode()).hexdigest()[:24]
            folder = self.staging / f"chunks-{token}"
        store = ChunkStore(Path(folder), key)
        clip = _Clip(r, plan, store, scale, unconditional, own)
        clip.done = min(store.finished(), plan.chunks)
        if clip.done:
            clip.last = store.load(clip.done - 1)[-1]
            self.hooks.log(f"{r.name}: resuming after chunk {clip.done}/{plan.chunks} (kept in {store.folder})")
        return clip

    def _make(self, ready: list[_Clip]) -> Iterator[RawClip | Failure]:
        pending = list(ready)
        while pending:
            c = pending.pop(0)
            batch = [c]
            if c.done == 0:
                limit = self.b._batch_limit
                batch += [o for o in pending if o.done == 0 and o.shape == c.shape][:limit - 1]
                for o in batch[1:]:
                    pending.remove(o)
                failures = self._first_chunks(batch)
            else:
                failures = {}
            for member in batch:
                self.announce(member.request)
                failure = failures.get(member.request.job_id)
                yield failure if failure is not None else self._finish(member)

    def _first_chunks(self, batch: list[_Clip]) -> dict[str, Failure]:
        """Chunk 0 of a batch; on out-of-memory at batch > 1, one clip at a time from then on."""
        for c in batch:
            self.announce(c.request)
        try:
            frames = self._chunk(batch, 0)
        except _OutOfMemory as exc:
            if len(batch) == 1:
                return {batch[0].request.job_id: self._oom(batch[0], exc.phase, 1)}
            self.hooks.log(f"diffusers: out of memory at batch {len(batch)} ({self.b.oom_advice(exc.phase, len(batch))}); "
                           "going on one clip at a time")
            self.b._batch_limit = 1
            out: dict[str, Failure] = {}
            for c in batch:
                out.update(self._first_chunks([c]))
            return out
        except Exception as exc:  # noqa: BLE001 - one bad call fails its clips, not the worker
            return {c.request.job_id: self._error(c, exc) for c in batch}
        out = {}
        for c, chunk in zip(batch, frames, strict=True):
            try:
                self._keep(c, 0, chunk)
            except (OSError, ValueError, SynthcamError) as exc:
                out[c.request.job_id] = self._error(c, exc)
        return out

    def _chunk(self, clips: list[_Clip], k: int) -> np.ndarray:
        started = time.monotonic()
        frames = self.b.denoise(clips, k, self.progress)
        seconds = time.monotonic() - started
        steps = clips[0].store.key.num_steps
        names = ", ".join(c.request.name for c in clips)
        self.hooks.log(f"{names}: chunk {k + 1}/{max(c.plan.chunks for c in clips)} in {seconds:.1f} s "
                       f"({seconds / steps:.2f} s per step with decode, batch {len(clips)})")
        return frames

    def _keep(self, c: _Clip, k: int, frames: np.ndarray) -> None:
        c.store.save(k, frames)
        c.last = frames[-1].copy()
        c.done = k + 1

    def _finish(self, c: _Clip) -> RawClip | Failure:
        """The clip's remaining chunks, then the guardrail and the raw clip."""
        try:
            while c.done < c.plan.chunks:
                self._keep(c, c.done, self._chunk([c], c.done)[0])
            return self._assemble(c)
        except _OutOfMemory as exc:
            return self._oom(c, exc.phase, 1)
        except Exception as exc:  # noqa: BLE001 - a bug or a driver error fails this clip, kept chunks stay
            return self._error(c, exc)

    def _assemble(self, c: _Clip) -> RawClip | Failure:
        r, key, needed = c.request, c.store.key, c.compiled.timing.frames_needed
        frames: Iterable[np.ndarray] = c.store.clip_frames(c.plan.chunks, needed)
        if self.b.guarded:
            checked = self.b.check_video(np.stack(list(frames)))
            if checked is None:
                self._discard(c)
                return BlockedFailure(r, "blocked", f"{r.name}: the Cosmos guardrail blocked the generated video "
                                      "(stage video); the GPU time is spent, another seed may pass "
                                      "(blocked videos are not retried)", retryable=False, stage="video")
            frames = checked
        video = self.staging / f"{r.name}.mp4"
        count = write_video(video, frames, key.width, key.height)
        if count != needed:
            return Failure(r, "error", f"{r.name}: assembled {count} frames, {needed} were planned")
        sidecar = self.staging / f"{r.name}.diffusers.json"
        write_json_atomic(sidecar, self._provenance(c))
        self._discard(c)
        return RawClip(request=r, video=video, fps=float(MODEL_FPS), frames=count, at_target=False,
                       extras={"diffusers_json": sidecar})

    def _provenance(self, c: _Clip) -> dict:
        key = c.store.key
        return {"name": key.name, "job_id": key.job_id, "weights": key.weights, "seed": key.seed,
                "chunk_seeds": [c.plan.seed(key.seed, k) for k in range(c.plan.chunks)],
                "chunks": c.plan.chunks, "chunk_frames": key.chunk_frames, "frames": c.compiled.timing.frames_needed,
                "fps": MODEL_FPS, "resolution": f"{key.width}x{key.height}", "num_steps": key.num_steps,
                "guidance_native": key.guidance, "guidance_scale_diffusers": c.scale,
                "unconditional": c.unconditional, "guardrails": self.b.guarded, "versions": versions()}

    def _discard(self, c: _Clip) -> None:
        """Chunks in our own fallback folder go when the job ends; a work_dir is the engine's to remove."""
        if c.own_folder:
            shutil.rmtree(c.store.folder, ignore_errors=True)

    def _oom(self, c: _Clip, phase: str, batch: int) -> Failure:
        key = c.store.key
        where = "in the VAE decode" if phase == "decode" else "while denoising"
        return Failure(c.request, "oom", f"{c.request.name}: CUDA out of memory {where} ({self.b.weights_label}, "
                                         f"{key.width}x{key.height}, chunk {c.done + 1}/{c.plan.chunks}): "
                                         f"{self.b.oom_advice(phase, batch)}", retryable=False)

    def _error(self, c: _Clip, exc: BaseException) -> Failure:
        self.hooks.log("".join(traceback.format_exception(exc)).rstrip())
        return Failure(c.request, "error", f"{c.request.name}: chunk {c.done + 1}/{c.plan.chunks} failed: "
                                           f"{type(exc).__name__}: {exc}", retryable=True)


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in STACK:
        with contextlib.suppress(PackageNotFoundError):
            out[name] = version(name)
    return out


def _pin_gpu(gpu: str) -> None:
    """Give this worker process its GPU before CUDA starts (the engine spawns one process per worker)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        raise BackendError("diffusers: CUDA was initialised before the worker picked its GPU")
    os.environ["CUDA_VISIBLE_DEVICES"] = gpu


def _empty_cuda_cache() -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


__all__ = ["BlockedFailure", "DiffusersBackend", "diffusers_guidance"]
