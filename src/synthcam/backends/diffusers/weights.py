"""Finding and loading the pipeline: a local folder or the Hugging Face cache, never the network."""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import BackendError
from . import compat, guardrails
from .options import DiffusersOptions
from ...errors import MissingWeights  # noqa: F401 - raised here, defined in the one tree


@dataclass(frozen=True)
class Weights:
    folder: Path
    label: str            # what logs call it: repo@revision, or the folder
    identity: str = ""    # what chunk records hold: the label plus the cached commit, so new weights mean new chunks


def download_command(repo: str, revision: str, cache_dir: Path | None = None) -> str:
    argv = ["hf", "download", repo, "--revision", revision]
    if cache_dir is not None:
        argv += ["--cache-dir", str(cache_dir)]
    return shlex.join(argv)


def _check_folder(folder: Path, what: str) -> None:
    if not (folder / "model_index.json").is_file():
        raise MissingWeights(f"diffusers: {what} {folder} is not a diffusers pipeline folder (no model_index.json)")


def resolve(opts: DiffusersOptions, manifest_model: str = "2B/post-trained") -> Weights:
    """The folder to load, from model_dir or the Hub cache (local files only)."""
    if opts.model_dir is not None:
        if not opts.model_dir.is_dir():
            raise MissingWeights(f"diffusers: model_dir {opts.model_dir} does not exist")
        _check_folder(opts.model_dir, "model_dir")
        return Weights(opts.model_dir, str(opts.model_dir), str(opts.model_dir))
    repo, revision = opts.weights_for(manifest_model)
    command = download_command(repo, revision, opts.cache_dir)
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HFValidationError

        with guardrails.hub_offline():
            folder = Path(snapshot_download(repo, revision=revision, local_files_only=True,
                                            cache_dir=str(opts.cache_dir) if opts.cache_dir else None))
    except ImportError as exc:
        raise BackendError(f"diffusers: {exc}; install the extra: pip install 'synthcam[diffusers]'") from None
    except (HFValidationError, ValueError) as exc:
        raise MissingWeights(f"diffusers: {repo} at {revision} is not a valid Hub reference ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - LocalEntryNotFoundError and its kin: not in the cache
        raise MissingWeights(f"diffusers: {repo} (revision {revision}) is not in the Hugging Face cache "
                             f"({type(exc).__name__}) and "
                             f"synthcam never downloads: run `{command}` (after accepting the model licence "
                             "on Hugging Face), or pass model_dir=DIR") from None
    _check_folder(folder, f"the cached {repo}@{revision} at")
    return Weights(folder, f"{repo}@{revision}", f"{repo}@{revision} ({folder.name})")


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """No progress bars or type-hint warnings from diffusers/transformers while loading (they go
    to the worker's log otherwise); their errors still raise."""
    from diffusers.utils import logging as dlog
    from transformers.utils import logging as tlog

    levels = dlog.get_verbosity(), tlog.get_verbosity()
    dlog.set_verbosity_error()
    tlog.set_verbosity_error()
    dlog.disable_progress_bar()
    tlog.disable_progress_bar()
    try:
        yield
    finally:
        dlog.set_verbosity(levels[0])
        tlog.set_verbosity(levels[1])
        dlog.enable_progress_bar()
        tlog.enable_progress_bar()


def torch_dtype(name: str | None, device: str) -> Any:
    import torch

    if name is None:
        name = "float32" if device == "cpu" else "bfloat16"
    return getattr(torch, name)


def default_device(requested: str | None) -> str:
    import torch

    if requested is not None:
        if requested.startswith("cuda") and not torch.cuda.is_available():
            raise BackendError(f"diffusers: device {requested} asked for, but torch sees no CUDA GPU "
                               f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'})")
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_pipeline(weights: Weights, opts: DiffusersOptions, device: str) -> Any:
    """The real `Cosmos2_5_PredictBasePipeline` from `weights.folder`, placed as the options say.

    The safety checker is passed explicitly: a saved folder records none, and without one
    diffusers would try to build the real guardrail itself (see guardrails.py for who checks).
    """
    module = compat.import_cosmos_modules()
    compat.install_resize_fallback()
    dtype = torch_dtype(opts.dtype, device)
    try:
        with guardrails.hub_offline(), quiet_libraries():
            pipe = module.Cosmos2_5_PredictBasePipeline.from_pretrained(
                str(weights.folder), dtype=dtype, safety_checker=guardrails.pass_through_checker(),
                local_files_only=True)
    except (OSError, FileNotFoundError) as exc:
        raise MissingWeights(f"diffusers: cannot load the pipeline from {weights.folder}: {exc} "
                             "(an incomplete download? run the hf download command again)") from None
    except (ValueError, TypeError, RuntimeError, ImportError) as exc:
        raise BackendError(f"diffusers: cannot load the pipeline from {weights.folder}: "
                           f"{type(exc).__name__}: {exc}") from None
    pipe.set_progress_bar_config(disable=True)
    if opts.enable_model_cpu_offload and device != "cpu":
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
    if opts.enable_vae_tiling:
        pipe.vae.enable_tiling()
    return pipe
