"""Cosmos Predict 2.5 backend: drive a cosmos-predict2.5 checkout (v1.3.2+) as one subprocess per batch.

Loading the model takes minutes, so a worker's whole queue goes to Cosmos as one batch:

1. write the queue's samples to `<staging>/batch-<n>.jsonl` (exactly the compiler's samples);
2. launch `examples/inference.py -i batch -o out --model M ...` through a launcher template
   (python, uv, docker, torchrun or the user's own argv), never through a shell;
3. follow it: stream its output into `batch-<n>.log` and the engine's log, and watch `out/` for
   `<name>.json` (written when a sample starts) and `<name>.mp4` (written when it is done);
   yield each clip as soon as Cosmos has saved it, after checking the sidecar echoes our sample;
4. when it dies or hangs: keep what finished, blame the sample in flight, and relaunch with the
   rest. Missing checkpoints, refused Hugging Face access, a load failure and out-of-memory on
   the first sample cannot be cured by a relaunch: the rest of the batch fails at once with the
   same reason ("not attempted: ..."), so a broken set-up costs one model load, not fifty.

Cosmos runs samples in input order and skips only guardrail blocks (keep_going); any other
exception ends the process. The checkout's version decides what may be asked of it (models added
in 1.4.0 and 1.4.1, `--skip-existing-output` in later releases). User documentation: docs/cosmos.md.
"""

from __future__ import annotations

import ctypes
import json
import os
import queue
import re
import secrets
import shlex
import shutil
import signal
import string
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import BackendError, InputError, SynthcamError
from ..manifest import COSMOS_MODEL_SINCE, COSMOS_MODELS
from ..prompts import MODEL_FPS
from ..redact import Masker
from .base import Backend, Failure, GenerationRequest, Hooks, RawClip

SCRIPT = "examples/inference.py"
PRESETS: dict[str, list[str]] = {
    "python": ["{python}", SCRIPT],
    # A plain `uv run` re-syncs the checkout without its CUDA extra; upstream's justfile runs --no-sync.
    "uv": ["uv", "run", "--no-sync", "python", SCRIPT],
    # As upstream's docs/setup.md runs its image: the checkout at /workspace with the container's own
    # .venv (an anonymous volume the entrypoint `uv sync`s, so we never pass --entrypoint), the host
    # cache at /root/.cache (uv's wheels, so that sync is quick) and the Hugging Face cache inside it,
    # --ipc=host for torch's shared memory. The GPU list is one quoted value: docker's --gpus parser
    # splits `device=0,1` at the comma. --name lets a timeout stop the container: killing the docker
    # client alone leaves it running. Mounts use --mount (a path can never add `:ro` or an option).
    "docker": ["docker", "run", "--rm", "--name", "{container}", "--gpus", '"device={gpus}"', "--ipc=host",
               "--mount", "type=bind,src={checkout},dst=/workspace",
               "--mount", "type=volume,dst=/workspace/.venv",
               "--mount", "type=bind,src={cache},dst=/root/.cache",
               "--mount", "type=bind,src={hf_home},dst=/root/.cache/huggingface",
               "--mount", "type=bind,src={staging},dst={staging}",
               "-w", "/workspace", "{image}", "python", SCRIPT],
    # One GPU group, context parallelism. --standalone picks a free rendezvous port, so several
    # torchrun workers on one machine do not collide on the default port 29500.
    "torchrun": ["{torchrun}", "--standalone", "--nproc_per_node={nproc}", SCRIPT],
}
PLACEHOLDERS = {"python", "torchrun", "checkout", "staging", "gpus", "nproc", "image", "container", "cache", "hf_home"}
# The container's Hugging Face cache is mounted from the host's: these must not be forwarded into it.
DOCKER_MAPPED_ENV = {"HF_HOME", "XDG_CACHE_HOME"}
SKIP_EXISTING_SINCE = (1, 5, 0)  # --skip-existing-output came after 1.5.0; older releases exit 2 on it
OFFLOAD_FLAGS = ("--offload-text-encoder", "--offload-diffusion-model", "--offload-tokenizer", "--offload-guardrail-models")
# Flags we set ourselves, and per-sample overrides: upstream lets the CLI win over the batch file,
# which would silently change every clip (and fail every sidecar check).
RESERVED_ARGS = {"-i", "--input-files", "-o", "--output-dir", "--model", "--inference-type", "--name", "--prompt",
                 "--prompt-path", "--negative-prompt", "--seed", "--guidance", "--resolution", "--num-output-frames",
                 "--num-steps", "--enable-autoregressive", "--chunk-size", "--chunk-overlap", "--input-path"}
FATAL = ("auth", "missing_checkpoint")  # a relaunch cannot help: the rest of the batch fails with the same reason


def _die_with_parent() -> None:
    """Linux: the kernel kills Cosmos if its worker dies, even by kill -9, so no orphan keeps the GPU.

    PR_SET_PDEATHSIG fires when the thread that started Cosmos exits: iterate a batch in one thread.
    """
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


class CosmosOptions(BaseModel):
    """User options for the cosmos backend (from `synthcam run` flags or a config); unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")

    checkout: Path | None = None            # a cosmos-predict2.5 checkout, v1.3.2 or later
    launcher: str | list[str] = "python"    # a preset name or an argv template
    python: str | None = None               # {python}; default: the checkout's .venv (uv sync), else python
    image: str | None = None                # {image} in the docker preset
    cache_dir: Path | None = None           # docker: host folder mounted at /root/.cache (default ~/.cache)
    hf_home: Path | None = None             # docker: host Hugging Face cache (default $HF_HOME, else cache_dir/huggingface)
    model: Literal[COSMOS_MODELS] | None = None  # type: ignore[valid-type]  # default: the manifest's
    disable_guardrails: bool = False
    offload: list[str] = []
    extra_args: list[str] = []
    env: dict[str, str] = {}
    job_timeout_s: float = Field(3600, gt=0)   # per 93-frame chunk: a 30 s clip is several diffusion runs
    load_timeout_s: float = Field(3600, gt=0)  # extra grace for the model load (and a first download)
    gpu_type: str | None = None             # h100 | h200 | b200: sharpens the out-of-memory advice
    poll_s: float = Field(0.5, gt=0, le=10)
    kill_grace_s: float = Field(10, ge=0)

    @field_validator("checkout", "cache_dir", "hf_home")
    @classmethod
    def _checkout(cls, v: Path | None) -> Path | None:
        return v.expanduser().absolute() if v is not None else None  # Cosmos runs in it; docker mounts it

    @field_validator("image", "python")
    @classmethod
    def _not_an_option(cls, v: str | None) -> str | None:
        # These land in argv as values: `--privileged` would become a docker flag.
        if v is not None and (not v.strip() or v.startswith("-") or any(c.isspace() or ord(c) < 32 for c in v)):
            raise ValueError(f"{v!r} is not a usable value (it must not be empty, start with '-' or hold spaces)")
        return v

    @field_validator("launcher")
    @classmethod
    def _launcher(cls, v: str | list[str]) -> str | list[str]:
        if isinstance(v, str):
            if v not in PRESETS:
                raise ValueError(f"unknown launcher {v!r} (presets: {', '.join(PRESETS)}; or give an argv list)")
            return v
        if not v or not all(isinstance(a, str) and a for a in v):
            raise ValueError("a launcher template is a non-empty list of strings")
        for arg in v:
            try:
                names = {f for _, f, _, _ in string.Formatter().parse(arg) if f is not None}
            except ValueError as exc:
                raise ValueError(f"launcher argument {arg!r}: {exc}") from None
            if names - PLACEHOLDERS:
                raise ValueError(f"launcher argument {arg!r} uses unknown placeholder(s) {sorted(names - PLACEHOLDERS)} "
                                 f"(known: {', '.join(sorted(PLACEHOLDERS))})")
        return v

    @field_validator("offload")
    @classmethod
    def _offload(cls, v: list[str]) -> list[str]:
        out = []
        for flag in v:
            norm = "--" + flag.lstrip("-").replace("_", "-")
            if norm not in OFFLOAD_FLAGS:
                raise ValueError(f"unknown offload flag {flag!r} (known: {', '.join(OFFLOAD_FLAGS)})")
            out.append(norm)
        return list(dict.fromkeys(out))

    @field_validator("extra_args")
    @classmethod
    def _extra(cls, v: list[str]) -> list[str]:
        for arg in v:
            flag = arg.split("=", 1)[0].replace("_", "-") if arg.startswith("--") else arg
            if flag in RESERVED_ARGS:
                raise ValueError(f"extra_args may not set {flag}: synthcam sets it (per-sample values come from the manifest)")
        return v

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k in v if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k)]
        if bad:
            raise ValueError(f"env names must be identifiers, got {bad}")
        return v


# --- secrets: nothing we log or raise may carry a token or a password ---------------------


def make_masker(env: dict[str, str]) -> Callable[[str], str]:
    """Hide every secret shape `synthcam.redact` knows, plus the values of secret-named variables in `env`."""
    return Masker(env)


# --- recognising why Cosmos stopped -------------------------------------------------------

_AUTH = re.compile(r"GatedRepoError|gated repo|Access to model \S+ is restricted|You must be authenticated|"
                   r"\b40[13] Client Error|HTTP Error 40[13]|401 Unauthorized|403 Forbidden", re.I)
# U132 says `Checkpoint path … does not exist`, U150 `Checkpoint '<p>' does not exist.` (checkpoint_db.py).
_MISSING = re.compile(r"LocalEntryNotFoundError|EntryNotFoundError|Cannot find (the requested files|checkpoint)|"
                      r"Checkpoint path .* does not exist|Checkpoint '[^']*' does not exist|"
                      r"FileNotFoundError.*(checkpoint|\.pt\b|\.pth\b|safetensors|ckpt)", re.I)
_MISSING_PATH = re.compile(r"Checkpoint (?:path )?'?([^'\s]+?)'? does not exist|'([^']+)'")
_OOM = re.compile(r"CUDA out of memory|OutOfMemoryError|CUDA error: out of memory", re.I)
_REJECTED = re.compile(r"Error validating parameters from '.*' at line (\d+)")
_USAGE = re.compile(r"^usage: |: error: (unrecognized arguments|argument|the following arguments)|Unrecognized options")
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt)\b")
_INVALID_MODEL = re.compile(r"--model.*invalid choice|invalid choice.*--model", re.I)
# Upstream's log lines (utils/log.py): `[MM-DD HH:mm:ss|LEVEL|path:line:function] message`. We match
# messages from their start, so a prompt quoted inside another message never reads as an event.
_LOG_LINE = re.compile(r"^\[\d\d-\d\d \d\d:\d\d:\d\d\|[A-Z]+\|[^\]]*\] (?P<msg>.*)$")
_PROCESSING = re.compile(r"^(?:\[\d+/\d+\] )?Processing sample (\S+)$")
_SAVED = re.compile(r"^Saved video to (.+)\.mp4$")
_BLOCKED = {  # stage -> message: the prompt is checked before generation, the video after it
    "prompt": re.compile(r"^Guardrail blocked text2world generation\b"),
    "video": re.compile(r"^Guardrail blocked video2world generation\b"),
}
BLOCK_ADVICE = {
    "prompt": "Cosmos's guardrail refused the prompt before generation (no GPU time spent); reword the prompt",
    "video": ("Cosmos's guardrail refused the generated video after generation (its GPU time was spent); "
              "another seed may pass, so rewording the prompt is not necessarily the fix"),
}


def log_message(line: str) -> str:
    """The message part of an upstream log line (the whole line when it has no log prefix)."""
    m = _LOG_LINE.match(line)
    return m["msg"] if m else line.strip()


def parse_version(text: str) -> tuple[int, int, int] | None:
    m = re.match(r"\s*v?(\d+)\.(\d+)(?:\.(\d+))?", text)
    return (int(m[1]), int(m[2]), int(m[3] or 0)) if m else None


def version_text(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


@dataclass(frozen=True)
class CheckoutInfo:
    """What a checkout is, read without importing it (importing pulls in torch and CUDA)."""

    version: tuple[int, int, int] | None
    source: str                 # where the version was read, for messages
    skip_existing: bool         # accepts --skip-existing-output


def read_checkout(checkout: Path | None) -> CheckoutInfo:
    """The checkout's version: `cosmos_predict2/__about__.py` (what upstream's build reads), else a
    static `[project] version` in pyproject.toml, else the nearest git tag; None when none says."""
    if checkout is None:
        return CheckoutInfo(None, "no checkout", False)
    version, source = None, "unknown"
    about = checkout / "cosmos_predict2" / "__about__.py"
    try:
        m = re.search(r"^__version__\s*=\s*[\"']([^\"']+)[\"']", about.read_text(encoding="utf-8"), re.M)
        version, source = (parse_version(m[1]), "cosmos_predict2/__about__.py") if m else (None, source)
    except OSError:
        pass
    if version is None:
        try:
            import tomllib

            project = tomllib.loads((checkout / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})
            if isinstance(project.get("version"), str):
                version, source = parse_version(project["version"]), "pyproject.toml"
        except (OSError, ValueError):
            pass
    if version is None and (checkout / ".git").exists():
        try:  # fsmonitor off: a checkout's git config must not run programs for us
            tag = subprocess.run(["git", "-c", "core.fsmonitor=false", "-C", str(checkout), "describe", "--tags",
                                  "--abbrev=0"], capture_output=True, text=True, timeout=10, check=False,
                                 stdin=subprocess.DEVNULL).stdout.strip()
            if parse_version(tag):
                version, source = parse_version(tag), f"git tag {tag}"
        except (OSError, subprocess.SubprocessError):
            pass
    skip = False
    if version is not None and version >= SKIP_EXISTING_SINCE:
        for name in (SCRIPT, "cosmos_predict2/config.py", "cosmos_predict2/inference.py"):
            try:
                text = (checkout / name).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if "skip_existing_output" in text.replace("-", "_"):
                skip = True
                break
    return CheckoutInfo(version, source, skip)


def _mount_safe(what: str, path: Path | str) -> None:
    """docker --mount takes comma-separated key=value pairs: a comma or quote in a path would add keys."""
    if any(c in str(path) for c in ',"\n'):
        raise InputError(f"cosmos: {what} {str(path)!r} holds a comma or quote, which docker --mount cannot take; "
                         "move or rename it")


def _hf_repo(model: str) -> str:
    return f"nvidia/Cosmos-Predict2.5-{model.split('/')[0]}"


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def last_error_line(lines: Iterable[str]) -> str:
    """The most telling line of a dead process's output: its last exception, else its last line."""
    lines = [ln for ln in lines if ln.strip()]
    for line in reversed(lines):
        if _EXCEPTION.match(line.strip()):
            return _short(line)
    return _short(lines[-1]) if lines else "no output"


class CosmosBackend(Backend):
    name = "cosmos"
    device = "gpu"
    has_ground_truth = False
    export_source = "cosmos"
    exports_cosmos_settings = True

    @classmethod
    def model_name(cls, manifest, requested: str | None) -> str:  # type: ignore[override]
        return requested or manifest.defaults.model

    @classmethod
    def option_names(cls) -> frozenset[str]:
        return frozenset(CosmosOptions.model_fields)

    @classmethod
    def job_cost_s(cls, compiled, model: str) -> float:  # type: ignore[override]
        from ..plan import DEFAULT_COST_GPU, load_cost_table

        return compiled.timing.chunks * load_cost_table().chunk(model, DEFAULT_COST_GPU).seconds

    def __init__(self, options: CosmosOptions, gpus: list[str]) -> None:
        self.opts = options
        self.gpus = list(gpus)
        self.template = list(PRESETS[options.launcher]) if isinstance(options.launcher, str) else list(options.launcher)
        self.docker = Path(self.template[0]).name == "docker"
        self.mask = make_masker({**os.environ, **options.env})
        self._active: _Launch | None = None

    @classmethod
    def from_options(cls, options: dict, gpus: list[str]) -> CosmosBackend:
        try:
            opts = CosmosOptions.model_validate(options or {})
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in err["loc"]) or "options"
            raise InputError(f"cosmos option {where}: {err['msg']}") from None
        if any(not g or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:-]*", g) for g in gpus):
            raise InputError(f"cosmos: GPU ids must be single tokens like 0 or 3, got {gpus}")
        backend = cls(opts, gpus)
        if backend._uses("image") and not opts.image:
            raise InputError("cosmos: the launcher uses {image}: set the option image (the Cosmos container image)")
        if backend._uses("gpus") and not gpus:
            raise InputError("cosmos: the launcher uses {gpus}: the worker needs GPUs (--gpus)")
        if opts.checkout is None and (backend._uses("checkout") or not backend.docker):
            raise InputError("cosmos: no checkout; give --cosmos-checkout DIR (or SYNTHCAM_COSMOS_CHECKOUT), a "
                             "cosmos-predict2.5 checkout v1.3.2 or later")
        if backend.docker:
            for what, path in (("checkout", opts.checkout), ("cache_dir", backend.cache_dir), ("hf_home", backend.hf_home)):
                if path is not None:
                    _mount_safe(what, path)
        return backend

    # --- the command --------------------------------------------------------------------

    def _venv_tool(self, name: str) -> str:
        """A program from the checkout's own uv environment (`uv sync` makes it), else the one on PATH."""
        tool = self.opts.checkout / ".venv" / "bin" / name if self.opts.checkout else None
        return str(tool) if tool is not None and tool.exists() else name

    @property
    def python(self) -> str:
        """The interpreter for {python}: as given, else the checkout's own uv environment, else python."""
        return self.opts.python or self._venv_tool("python")

    def _env(self, name: str) -> str | None:
        return self.opts.env.get(name) or os.environ.get(name) or None

    @property
    def cache_dir(self) -> Path:
        xdg = self._env("XDG_CACHE_HOME")
        return self.opts.cache_dir or (Path(xdg) if xdg else Path.home() / ".cache").absolute()

    @property
    def hf_home(self) -> Path:
        home = self._env("HF_HOME")
        return self.opts.hf_home or (Path(home).expanduser().absolute() if home else self.cache_dir / "huggingface")

    @cached_property
    def checkout_info(self) -> CheckoutInfo:
        return read_checkout(self.opts.checkout)

    def _uses(self, placeholder: str) -> bool:
        return any(f"{{{placeholder}}}" in arg for arg in self.template)

    def _values(self, staging: Path | str, container: str) -> dict[str, str]:
        return {
            "python": self.python, "torchrun": self._venv_tool("torchrun"), "checkout": str(self.opts.checkout or ""),
            "staging": str(staging), "gpus": ",".join(self.gpus), "nproc": str(max(1, len(self.gpus))),
            "image": self.opts.image or "", "container": container, "cache": str(self.cache_dir),
            "hf_home": str(self.hf_home),
        }

    def build_command(self, batch: Path, out_dir: Path, staging: Path, model: str, container: str = "") -> list[str]:
        """The argv for one launch: the launcher template, then our arguments."""
        if self.docker:
            _mount_safe("workspace staging folder", staging)
        values = self._values(staging, container)
        argv = [arg.format_map(values) for arg in self.template]
        if self.docker and "run" in argv:
            # Variables reach the container by name only (`-e NAME`), so their values never show in `ps`;
            # docker copies them from its own environment, which is child_env().
            names = ["PYTHONUNBUFFERED", *(["HF_TOKEN"] if self._env("HF_TOKEN") else []), *self.opts.env]
            names = [n for n in dict.fromkeys(names) if n not in DOCKER_MAPPED_ENV]
            at = argv.index("run") + 1
            argv[at:at] = [x for key in names for x in ("-e", key)]
        argv += ["-i", str(batch), "-o", str(out_dir), "--model", model]
        if self.checkout_info.skip_existing:  # never regenerate (and silently overwrite) a finished sample
            argv.append("--skip-existing-output")
        if self.opts.disable_guardrails:
            argv.append("--disable-guardrails")
        return argv + self.opts.offload + self.opts.extra_args

    def child_env(self) -> dict[str, str]:
        """Our environment plus the user's, unbuffered output, and the worker's GPUs pinned."""
        env = {**os.environ, **self.opts.env, "PYTHONUNBUFFERED": "1"}
        if self.gpus and not self.docker:  # docker selects GPUs with --gpus device=...
            env["CUDA_VISIBLE_DEVICES"] = ",".join(self.gpus)
        return env

    def check(self) -> None:
        exe = self.template[0].format_map(self._values("", ""))
        if "/" in exe and not os.path.isabs(exe) and self.opts.checkout and not self.docker:
            exe = str(self.opts.checkout / exe)  # e.g. .venv/bin/python: it runs from the checkout
        if not shutil.which(exe):
            raise BackendError(f"cosmos: launcher program {exe!r} is not on PATH (cosmos options launcher/python)")
        if self.opts.checkout is None:
            if self.docker and not self._uses("checkout"):
                return  # the image carries its own checkout
            raise BackendError("cosmos: option checkout is not set; point it at a cosmos-predict2.5 checkout (v1.3.2 or later)")
        script = self.opts.checkout / SCRIPT
        if not self.opts.checkout.is_dir():
            raise BackendError(f"cosmos: checkout {self.opts.checkout} does not exist")
        if not script.is_file():
            raise BackendError(f"cosmos: {self.opts.checkout} has no {SCRIPT}; is it a cosmos-predict2.5 checkout?")
        if "input_files" not in script.read_text(encoding="utf-8", errors="replace").replace("-", "_"):
            raise BackendError(f"cosmos: {script} has no -i/--input-files option; check out cosmos-predict2.5 v1.3.2 or later")
        if self.opts.launcher == "uv" and not (self.opts.checkout / ".venv").is_dir():
            raise BackendError(f"cosmos: {self.opts.checkout} has no .venv: run `uv sync --extra=cu128` there first "
                               "(the uv launcher runs `uv run --no-sync`, which never installs)")
        if self.opts.model:
            self.check_model(self.opts.model)

    def check_model(self, model: str) -> None:
        """Refuse a model the checkout's release does not have, before a launch fails on it."""
        since, info = COSMOS_MODEL_SINCE.get(model), self.checkout_info
        if since is None or info.version is None or info.version >= since:
            return
        others = [m for m in COSMOS_MODELS if COSMOS_MODEL_SINCE.get(m, (0, 0, 0)) <= info.version]
        raise BackendError(f"cosmos: model {model} needs cosmos-predict2.5 {version_text(since)} or later, but the "
                           f"checkout {self.opts.checkout} is {version_text(info.version)} ({info.source}): update it "
                           f"(git pull, then uv sync --extra=cu128) or use one of {', '.join(others)}")

    # --- generation ---------------------------------------------------------------------

    def generate(self, request: GenerationRequest, staging: Path) -> RawClip | Failure:
        (result,) = self.generate_many([request], staging)
        return result

    def generate_many(self, requests: Iterable[GenerationRequest], staging: Path,
                      hooks: Hooks | None = None) -> Iterator[RawClip | Failure]:
        hooks = hooks or Hooks()
        staging = Path(staging).absolute()
        staging.mkdir(parents=True, exist_ok=True)
        by_model: dict[str, list[GenerationRequest]] = {}
        names: set[str] = set()
        for r in requests:
            if r.name in names:  # outputs are named by sample: a second one would overwrite the first
                yield Failure(r, "error", f"{r.name}: the same clip name twice in one Cosmos batch", retryable=False)
                continue
            names.add(r.name)
            by_model.setdefault(self.opts.model or r.manifest.defaults.model, []).append(r)
        for model, pending in by_model.items():
            self.check_model(model)
            while pending:
                launch = _Launch(self, pending, staging, model, hooks)
                self._active = launch
                try:
                    yield from launch.follow()
                finally:
                    launch.stop()
                    self._active = None
                pending = launch.rest
                if launch.fatal is not None:  # step 4: a relaunch would fail the same way
                    kind, reason, retryable = launch.fatal
                    for r in pending:
                        yield Failure(r, kind, f"not attempted: {reason}", retryable=retryable)
                    pending = []

    def close(self) -> None:
        if self._active is not None:
            self._active.stop()

    # --- messages -----------------------------------------------------------------------

    def offload_advice(self, model: str) -> str:
        """Which offload flags to add, from the cost table (and the GPU type when known)."""
        from ..plan import load_cost_table, memory_fit

        candidates: list[str] = []
        note = ""
        try:
            table = load_cost_table()
            candidates = list(table.model(model).offload)
            if self.opts.gpu_type:
                fit = memory_fit(table, model, self.opts.gpu_type)
                if fit.fits:  # the table expects it to fit: something else is using memory
                    note = f"the cost table expects {model} to fit {self.opts.gpu_type}: is another process on the GPU?"
                else:
                    candidates, note = fit.flags, fit.note
        except SynthcamError:
            pass
        candidates += [f for f in OFFLOAD_FLAGS[:3] if f not in candidates]
        todo = [f for f in candidates if f not in self.opts.offload]
        if not todo:
            return "every offload flag is already on; use a GPU with more memory, a smaller resolution or a 2B model"
        advice = f"try the cosmos option offload: [{', '.join(todo)}] (less GPU memory, slower)"
        return f"{advice}; {note}" if note else advice


class _Launch:
    """One Cosmos process working through `requests` in order (steps 1-4 for one launch)."""

    def __init__(self, backend: CosmosBackend, requests: list[GenerationRequest], staging: Path, model: str,
                 hooks: Hooks) -> None:
        self.b, self.staging, self.model, self.hooks = backend, staging, model, hooks
        self.requests = list(requests)
        self.rest: list[GenerationRequest] = list(requests)     # not yet yielded
        self.fatal: tuple[str, str, bool] | None = None         # (kind, reason, retryable) for the rest
        self.tail: deque[str] = deque(maxlen=400)
        self.started: set[str] = set()
        self.saved: set[str] = set()
        self.blocked: dict[str, str] = {}                      # name -> guardrail stage ("prompt" | "video")
        self.current: str | None = None
        self.announced: set[str] = set()                        # requests passed to hooks.on_start
        self.made = 0                                           # clips this process finished
        self.proc: subprocess.Popen[bytes] | None = None
        self.lines: queue.Queue[str] = queue.Queue()
        n = 1
        while True:  # claim a fresh output folder (ours, so we can move what a root container writes)
            try:
                (staging / f"batch-{n}.out").mkdir()
                break
            except FileExistsError:
                n += 1
        self.batch, self.log_path, self.out = (staging / f"batch-{n}.jsonl", staging / f"batch-{n}.log",
                                               staging / f"batch-{n}.out")
        self.container = f"synthcam-cosmos-{os.getpid()}-{n}-{secrets.token_hex(3)}" if backend.docker else ""

    # step 1 and 2: the batch file, the process, a thread that copies its output to the log
    def start(self) -> None:
        samples = [r.compiled.cosmos_sample(r.manifest, self.model).to_json() for r in self.requests]
        self.samples = {s["name"]: s for s in samples}
        self.batch.write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples), encoding="utf-8")
        argv = self.b.build_command(self.batch, self.out, self.staging, self.model, self.container)
        command = self.b.mask("$ " + shlex.join(argv))
        self.log_path.write_text(command + "\n", encoding="utf-8")
        self.hooks.log(command)
        cwd = self.b.opts.checkout if self.b.opts.checkout and not self.b.docker else self.staging
        if self.b.docker:  # a --mount bind source must exist (docker -v would create it, owned by root)
            for folder in (self.b.cache_dir, self.b.hf_home):
                folder.mkdir(parents=True, exist_ok=True)
        try:
            self.proc = subprocess.Popen(argv, cwd=cwd, env=self.b.child_env(), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        except OSError as exc:
            raise BackendError(f"cosmos: cannot start {argv[0]!r}: {exc.strerror or exc}") from None
        self.hooks.on_model_load()
        self.reader = threading.Thread(target=self._pump, name="cosmos-log", daemon=True)
        self.reader.start()

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        with self.log_path.open("a", encoding="utf-8") as log:
            for raw in iter(self.proc.stdout.readline, b""):
                for piece in re.split(r"[\r\n]+", raw.decode("utf-8", "replace")):
                    if piece.strip():
                        line = self.b.mask(piece.rstrip())
                        log.write(line + "\n")
                        log.flush()
                        self.lines.put(line)
        self.proc.stdout.close()

    # step 3: follow the process and yield each result as it is known
    def follow(self) -> Iterator[RawClip | Failure]:
        self.start()
        assert self.proc is not None
        in_flight: GenerationRequest | None = None
        since = time.monotonic()
        loaded = False
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self.reader.join(timeout=5)
            self._read_lines()
            yield from self._resolve(exited_ok=rc == 0)
            if not self.rest:
                self._let_exit()
                break
            if self.rest[0] is not in_flight:  # Cosmos runs in input order: the first unfinished one is in flight
                in_flight, since = self.rest[0], time.monotonic()
                self._announce(in_flight)
            if not loaded and (len(self.rest) < len(self.requests) or self._began(in_flight)):
                loaded, since = True, time.monotonic()  # the load is over: the job's own clock starts now
            if rc is not None:
                yield from self._died(rc, in_flight, loaded)
                break
            budget = self.b.opts.job_timeout_s * in_flight.compiled.timing.chunks
            if not loaded:
                budget += self.b.opts.load_timeout_s
            if time.monotonic() - since > budget:
                self.stop()
                self.reader.join(timeout=5)
                self._read_lines()
                yield from self._died(None, in_flight, loaded, waited=budget)
                break
            time.sleep(self.b.opts.poll_s)

    def _read_lines(self) -> None:
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return
            self.tail.append(line)
            self.hooks.log(line)
            message = log_message(line)
            if m := _PROCESSING.match(message):
                self.current = m[1]
                self.started.add(m[1])
                for r in self.rest:
                    if r.name == m[1]:
                        self._announce(r)
            elif m := _SAVED.match(message):
                self.saved.add(Path(m[1]).name)
            else:
                stage = next((stage for stage, pattern in _BLOCKED.items() if pattern.match(message)), None)
                target = self.current or (self.rest[0].name if self.rest else None)
                if stage and target:
                    self.blocked[target] = stage  # the guardrail names no sample: it is the one in flight

    def _began(self, r: GenerationRequest) -> bool:
        """Upstream writes `<name>.json` when it starts a sample, and logs it."""
        return r.name in self.started or (self.out / f"{r.name}.json").exists()

    def _resolve(self, exited_ok: bool) -> Iterator[RawClip | Failure]:
        position = {r.name: i for i, r in enumerate(self.requests)}
        furthest = max((position[n] for n in self.started if n in position), default=-1)
        for r in list(self.rest):
            mp4, sidecar = self.out / f"{r.name}.mp4", self.out / f"{r.name}.json"
            later_began = position[r.name] < furthest
            if r.name in self.blocked and not mp4.exists():
                stage = self.blocked[r.name]
                result: RawClip | Failure = Failure(
                    r, "blocked", f"{r.name}: {BLOCK_ADVICE[stage]} (blocked clips are not retried)",
                    retryable=False, stage=stage)
            elif mp4.exists() and sidecar.exists() and (r.name in self.saved or later_began or exited_ok):
                result = self._collect(r, mp4, sidecar)
            elif later_began or exited_ok:
                result = Failure(r, "error", f"{r.name}: Cosmos went past it without writing {r.name}.mp4 "
                                             f"(last output: {last_error_line(self.tail)})")
            else:
                break  # Cosmos works in order: nothing after this one can be finished yet
            self._announce(r)
            self.rest.remove(r)
            yield result

    def _announce(self, r: GenerationRequest) -> None:
        """Tell the engine a job is in flight, once, before its result (even when both come in one poll)."""
        if r.name not in self.announced:
            self.announced.add(r.name)
            self.hooks.on_start(r)

    def _collect(self, r: GenerationRequest, mp4: Path, sidecar: Path) -> RawClip | Failure:
        """Move the outputs out of Cosmos's folder (it overwrites silently) and check the sidecar."""
        video, resolved = self.staging / f"{r.name}.mp4", self.staging / f"{r.name}.cosmos.json"
        os.replace(mp4, video)
        os.replace(sidecar, resolved)
        try:
            echo = json.loads(resolved.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return Failure(r, "error", f"{r.name}: unreadable Cosmos sidecar {resolved.name}: {exc}")
        asked = self.samples[r.name]
        wrong = [k for k, v in asked.items() if not isinstance(echo, dict) or echo.get(k) != v]
        if wrong:
            detail = ", ".join(f"{k}={_short(repr(echo.get(k)), 60)} (asked {_short(repr(asked[k]), 60)})" for k in wrong)
            return Failure(r, "mismatch", f"{r.name}: Cosmos made it with other settings than asked: {detail}",
                           retryable=False)
        self.made += 1
        return RawClip(request=r, video=video, fps=float(MODEL_FPS), frames=r.compiled.timing.model_frames,
                       at_target=False, extras={"cosmos_json": resolved, "cosmos_log": self.log_path})

    # step 4: who is to blame, and whether a relaunch can help
    def _died(self, rc: int | None, in_flight: GenerationRequest, loaded: bool,
              waited: float = 0.0) -> Iterator[Failure]:
        lines = list(self.tail)
        rejected = next((m for m in map(_REJECTED.search, lines) if m), None)
        if rejected is not None and int(rejected[1]) < len(self.requests):
            bad = self.requests[int(rejected[1])]  # upstream names the batch line it refused
            at = lines.index(rejected.string)
            self.rest.remove(bad)
            yield Failure(bad, "error", f"{bad.name}: Cosmos rejected the sample: {_short(' '.join(lines[at + 1:at + 4]))}",
                          retryable=False)
            return  # the rest relaunch without it
        if rc == 2 and any(_USAGE.search(ln) for ln in lines):
            if any(_INVALID_MODEL.search(ln) for ln in lines):
                since = COSMOS_MODEL_SINCE.get(self.model)
                added = f" (added in cosmos-predict2.5 {version_text(since)})" if since else ""
                self.fatal = ("error", f"this checkout's {SCRIPT} does not offer --model {self.model}{added}: "
                                       "update the checkout or pick another model", False)
                return
            self.fatal = ("error", f"Cosmos rejected the command line: {self._line(_USAGE)} "
                                   "(check cosmos options extra_args/offload and the checkout's version)", False)
            return
        began = self._began(in_flight)
        where = f"while making {in_flight.name}" if began else "while loading the model"
        kind, msg, retryable = self._diagnose(rc, where, waited)
        if kind in FATAL or (kind == "oom" and self.made == 0) or not loaded:
            # A set-up fault, or this process made nothing: a relaunch would fail the same way.
            self.fatal = (kind, msg, retryable)
        if began:  # blame the one in flight; one that never began goes back into the relaunch
            self.rest.remove(in_flight)
            yield Failure(in_flight, kind, msg, retryable=retryable)

    def _diagnose(self, rc: int | None, where: str, waited: float) -> tuple[str, str, bool]:
        """(kind, one-line message, retryable) from the end of Cosmos's output."""
        text, model, repo = "\n".join(self.tail), self.model, _hf_repo(self.model)
        if _AUTH.search(text):
            return "auth", (f"Hugging Face refused access to {repo} ({self._line(_AUTH)}): "
                            "accept the model licence on Hugging Face and run `hf auth login`"), False
        if _MISSING.search(text):
            line = self._line(_MISSING, limit=1000)
            named = _MISSING_PATH.search(line)  # the path, when the error names one
            path = (named[1] or named[2]) if named else line
            return "missing_checkpoint", (
                f"missing checkpoint for {model} ({_short(path)}): download it with "
                f"`hf download {repo}` into the Hugging Face cache (HF_HOME) after accepting the licence, "
                "or pass --checkpoint-path"), False
        if _OOM.search(text):
            gpus = ",".join(self.b.gpus) or "the visible GPU"
            return "oom", f"CUDA out of memory {where} with {model} on GPU {gpus}: {self.b.offload_advice(model)}", False
        if rc is None:
            return "timeout", (f"Cosmos made no progress for {waited:g} s {where} and was killed "
                               "(cosmos options job_timeout_s per chunk, load_timeout_s)"), True
        return "error", f"Cosmos exited with code {rc} {where}: {last_error_line(self.tail)} (log: {self.log_path.name})", True

    def _let_exit(self) -> None:
        """Everything is made: give Cosmos a moment to exit on its own before stop() ends it."""
        assert self.proc is not None
        try:
            self.proc.wait(timeout=max(5.0, self.b.opts.kill_grace_s))
        except subprocess.TimeoutExpired:
            pass

    def _line(self, pattern: re.Pattern[str], limit: int = 200) -> str:
        return _short(next((ln for ln in reversed(self.tail) if pattern.search(ln)), ""), limit)

    def stop(self) -> None:
        """Stop the process and its children (process group; docker: the container too)."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        if self.container:
            try:
                subprocess.run(["docker", "kill", self.container], capture_output=True, timeout=30, check=False)
            except (OSError, subprocess.SubprocessError):
                pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)  # the leader is not reaped yet, so its group id is still ours
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=self.b.opts.kill_grace_s if sig == signal.SIGTERM else 30)
                return
            except subprocess.TimeoutExpired:
                continue


__all__ = ["CheckoutInfo", "CosmosBackend", "CosmosOptions", "PRESETS", "make_masker", "read_checkout"]
