"""Options of the diffusers backend, validated at the boundary: unknown keys and bad values are one-line errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ...errors import InputError

HUB_MODELS = ("nvidia/Cosmos-Predict2.5-2B", "nvidia/Cosmos-Predict2.5-14B")
REVISIONS = ("diffusers/base/post-trained", "diffusers/base/pre-trained")
# The manifest's model names -> (Hub repository, diffusers revision). The distilled 2B model has
# no diffusers revision (research note upstream-check §4).
MANIFEST_MODELS = {
    "2B/post-trained": (HUB_MODELS[0], REVISIONS[0]),
    "2B/pre-trained": (HUB_MODELS[0], REVISIONS[1]),
    "14B/post-trained": (HUB_MODELS[1], REVISIONS[0]),
    "14B/pre-trained": (HUB_MODELS[1], REVISIONS[1]),
}
DTYPES = ("bfloat16", "float16", "float32")


class DiffusersOptions(BaseModel):
    """What a user sets with `--backend-option KEY=VALUE` (or the CLI's --model/--revision/--model-dir).

    `model` and `revision` default to the manifest's model (2B/post-trained unless it says
    otherwise), so a 14B manifest never silently runs on 2B.
    """

    model_config = ConfigDict(extra="forbid")

    model: str | None = None                 # a Hub repository id, e.g. nvidia/Cosmos-Predict2.5-14B
    revision: str | None = None              # a branch of it, e.g. diffusers/base/post-trained
    model_dir: Path | None = None            # a local pipeline folder (save_pretrained layout); wins over model
    cache_dir: Path | None = None            # the Hugging Face hub cache; default: HF_HUB_CACHE / HF_HOME
    dtype: Literal[DTYPES] | None = None     # type: ignore[valid-type]  # default: bfloat16 on GPU, float32 on CPU
    device: str | None = None                # cpu, cuda, cuda:N; default: cuda when there is one
    batch_size: int = Field(1, ge=1, le=64)  # clips of the same shape denoised together (first chunks)
    enable_model_cpu_offload: bool = False   # keep only the running component on the GPU
    enable_vae_tiling: bool = False          # decode the video in tiles: less memory at the VAE decode
    offload_text_encoder: bool = True        # move the text encoder off the GPU once the prompts are encoded
    prompt_cache_gb: float = Field(8.0, gt=0, le=1024)  # host memory for cached prompt embeddings
    disable_guardrails: bool = False         # run without cosmos-guardrail (the NVIDIA licence requires them)
    cpu_threads: int | None = Field(None, ge=1, le=1024)  # torch's CPU threads (CPU runs, CI); default: torch's

    @field_validator("model")
    @classmethod
    def _model(cls, v: str | None) -> str | None:
        if v is None or v in MANIFEST_MODELS:
            return v
        if v in ("2B", "14B"):
            return f"nvidia/Cosmos-Predict2.5-{v}"
        if not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*", v):
            raise ValueError(f"{v!r} is not a Hugging Face repository id (e.g. {HUB_MODELS[0]}) "
                             f"nor a manifest model ({', '.join(MANIFEST_MODELS)})")
        return v

    @model_validator(mode="after")
    def _manifest_name(self) -> DiffusersOptions:
        """A manifest model name (`14B/post-trained`) picks both the repository and the revision."""
        if self.model in MANIFEST_MODELS:
            repo, revision = MANIFEST_MODELS[self.model]
            self.model, self.revision = repo, self.revision or revision
        return self

    @field_validator("revision")
    @classmethod
    def _revision(cls, v: str | None) -> str | None:
        if v is not None and (not re.fullmatch(r"[\w.][\w./-]*", v) or ".." in v):
            raise ValueError(f"{v!r} is not a branch, tag or commit name (e.g. {REVISIONS[0]})")
        return v

    @field_validator("model_dir", "cache_dir")
    @classmethod
    def _folder(cls, v: Path | None) -> Path | None:
        return v.expanduser().absolute() if v is not None else None

    @field_validator("device")
    @classmethod
    def _device(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"cpu|cuda(:\d+)?", v):
            raise ValueError(f"device {v!r}: use cpu, cuda or cuda:N")
        return v

    def weights_for(self, manifest_model: str) -> tuple[str, str]:
        """(repository, revision) to load for a manifest whose model is `manifest_model`."""
        if self.model is not None:
            return self.model, self.revision or REVISIONS[0]
        if manifest_model not in MANIFEST_MODELS:
            raise InputError(f"diffusers: the manifest's model {manifest_model} has no diffusers revision "
                             "(use the cosmos backend, or set the option model)")
        repo, revision = MANIFEST_MODELS[manifest_model]
        return repo, self.revision or revision


def parse_options(options: dict | None) -> DiffusersOptions:
    """Validate user options; the first problem becomes a one-line InputError."""
    try:
        return DiffusersOptions.model_validate(options or {})
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "options"
        msg = err["msg"].removeprefix("Value error, ")
        raise InputError(f"diffusers option {where}: {msg}") from None
