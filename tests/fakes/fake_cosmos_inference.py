"""A stand-in for cosmos-predict2.5's `examples/inference.py` (v1.3.2+ CLI), for tests without a GPU.

It keeps the real contract strictly, so a batch that passes here is one upstream would accept:
tyro-style flags (`--a-b` or `--a_b`), `-i` taking .json (one sample) or .jsonl (one per line)
files, a flat per-sample schema with extra keys forbidden and integer guidance, names unique
across all inputs, and a validation error that exits 1 before anything is generated. Then it
behaves like upstream's loop: for each sample in input order it writes `<name>.json` (the
resolved sample) first, runs the prompt guardrail (a block skips the sample: keep_going), and
writes `<name>.mp4` at 16 fps with 93 frames unless autoregressive mode asks for N, then runs the
video guardrail (a block drops the video after the GPU time was spent). Any other exception ends
the run with a traceback, as upstream does. It logs as upstream's loguru set-up does:
`[MM-DD HH:mm:ss|LEVEL|cosmos_predict2/inference.py:170:_generate_sample] Saved video to <out>/<name>.mp4`.

It behaves as the release its checkout reports, read where synthcam reads it
(`<checkout>/cosmos_predict2/__about__.py`; a bare copy with no such file is the newest, U150):
  < 1.4.0   --model offers 2B/post-trained, 2B/pre-trained, 14B/pre-trained (U132);
  1.4.0     adds 14B/post-trained; 1.4.1 adds 2B/distilled;
  >= 1.5.0  accepts --skip-existing-output (skip samples with any <name>.* output) (U150).
A missing checkpoint reads `Checkpoint path <p> does not exist.` before 1.5.0 (U132) and
`Checkpoint '<p>' does not exist.` from 1.5.0 (U150); both exit 1.

Faults come from the environment variable FAKE_COSMOS_FAULTS, a JSON object:
  crash_on: NAME        raise an ordinary exception while making NAME (exit 1, traceback)
  hang_on: NAME         sleep forever while making NAME
  garbage_on: NAME      write random bytes as NAME.mp4
  oom_on: NAME          die with torch.OutOfMemoryError while making NAME
  block: [NAMES]        the prompt guardrail blocks these (only when guardrails are enabled)
  block_video: [NAMES]  the video guardrail blocks these after generating them (guardrails enabled)
  ignore_frames: true   always 93 frames, the bug the old system met
  missing_checkpoint: true / auth: true   fail while loading the model
  load_sleep_s / sample_sleep_s: seconds  slow the load / each sample down
Every model load appends a line to `<output-dir>/fake_cosmos_runs.jsonl` (pid, model, flags,
CUDA_VISIBLE_DEVICES, version) so tests can count loads and check GPU pinning.

Dependencies: the standard library, numpy, av and pydantic only.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import av
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

NEWEST = (1, 5, 0)
# --model choices and the release that added each (upstream 0572a02 and 951003b)
MODELS_SINCE = {"2B/post-trained": (1, 3, 2), "2B/pre-trained": (1, 3, 2), "14B/pre-trained": (1, 3, 2),
                "14B/post-trained": (1, 4, 0), "2B/distilled": (1, 4, 1)}
SKIP_EXISTING_SINCE = (1, 5, 0)
# Hugging Face files as upstream's checkpoint database names them (uuid + _ema_bf16.pt)
CHECKPOINTS = {
    "2B/post-trained": ("nvidia/Cosmos-Predict2.5-2B", "base/post-trained/81edfebe-bd6a-4039-8c1d-737df1a790bf_ema_bf16.pt"),
    "2B/pre-trained": ("nvidia/Cosmos-Predict2.5-2B", "base/pre-trained/d20b7120-df3e-4911-919d-db6e08bad31c_ema_bf16.pt"),
    "14B/pre-trained": ("nvidia/Cosmos-Predict2.5-14B", "base/pre-trained/54937b8c-29de-4f04-862c-e67b04ec41e8_ema_bf16.pt"),
    "14B/post-trained": ("nvidia/Cosmos-Predict2.5-14B", "base/post-trained/e21d2a49-4747-44c8-ba44-9f6f9243715f_ema_bf16.pt"),
    "2B/distilled": ("nvidia/Cosmos-Predict2.5-2B", "base/distilled/575edf0f-d973-4c74-b52c-69929a08d0a5_ema_bf16.pt"),
}


def checkout_version() -> tuple[int, int, int]:
    """The release this copy plays: its checkout's cosmos_predict2/__about__.py, as synthcam reads it."""
    about = Path(__file__).resolve().parents[1] / "cosmos_predict2" / "__about__.py"
    try:
        m = re.search(r"^__version__\s*=\s*[\"'](\d+)\.(\d+)\.(\d+)", about.read_text(encoding="utf-8"), re.M)
    except OSError:
        return NEWEST
    return (int(m[1]), int(m[2]), int(m[3])) if m else NEWEST


VERSION = checkout_version()
MODELS = tuple(m for m, since in MODELS_SINCE.items() if VERSION >= since)
NATIVE_FRAMES = 93           # (state_t 24 - 1) x 4 + 1: what every diffusion run makes
NATIVE_SIZE = (704, 1280)    # H, W for resolution "none"
FPS = 16
DEFAULT_NEGATIVE = "The video captures a series of frames showing ugly scenes, static with no motion."
IMAGE_OR_VIDEO = (".png", ".jpg", ".jpeg", ".webp", ".mp4")


class Sample(BaseModel):
    """The flat per-sample schema (upstream InferenceArguments), strict: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", strict=True)

    inference_type: Literal["text2world", "image2world", "video2world"]
    name: str = Field(min_length=1)
    prompt: str | None = None
    prompt_path: str | None = None
    input_path: str | None = None
    negative_prompt: str = DEFAULT_NEGATIVE
    seed: int = 0
    guidance: int = Field(7, ge=0, le=7)
    resolution: str = "none"
    num_output_frames: int = Field(77, gt=0)
    num_steps: int = Field(35, gt=0)
    enable_autoregressive: bool = False
    chunk_size: int = Field(77, gt=0, le=NATIVE_FRAMES)
    chunk_overlap: int = Field(1, ge=0)

    @model_validator(mode="after")
    def _check(self) -> Sample:
        if self.prompt is None and self.prompt_path is None:
            raise ValueError("one of prompt or prompt_path is required")
        if self.inference_type != "text2world":
            if self.input_path is None:
                raise ValueError(f"input_path is required for inference type {self.inference_type}")
            if Path(self.input_path).suffix not in IMAGE_OR_VIDEO:
                raise ValueError(f"input_path has unsupported file extension {Path(self.input_path).suffix!r}")
        if self.resolution != "none":
            m = re.fullmatch(r"(\d+),(\d+)", self.resolution)
            if not m or int(m[1]) <= 0 or int(m[2]) <= 0 or int(m[1]) % 16 or int(m[2]) % 16:
                raise ValueError(f"resolution must be 'none' or 'H,W' in multiples of 16, got {self.resolution!r}")
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return self

    @property
    def size(self) -> tuple[int, int]:
        if self.resolution == "none":
            return NATIVE_SIZE
        h, w = self.resolution.split(",")
        return int(h), int(w)

    @property
    def chunks(self) -> int:
        if not self.enable_autoregressive or self.num_output_frames <= self.chunk_size:
            return 1
        return 1 + math.ceil((self.num_output_frames - self.chunk_size) / (self.chunk_size - self.chunk_overlap))


# --- 1. command line ---------------------------------------------------------------------

OVERRIDES = {  # per-sample fields that may also come from the CLI (the CLI wins)
    "inference_type": str, "prompt": str, "prompt_path": str, "input_path": str, "negative_prompt": str,
    "seed": int, "guidance": int, "resolution": str, "num_output_frames": int, "num_steps": int,
    "enable_autoregressive": "bool", "chunk_size": int, "chunk_overlap": int,
}


def _bool_value(text: str) -> bool:
    if text in ("True", "true", "1"):
        return True
    if text in ("False", "false", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def parse_args(argv: list[str]) -> argparse.Namespace:
    # tyro accepts both --a-b and --a_b; normalise the option name (not its value) to dashes.
    argv = [re.sub(r"^(--[^=]+)", lambda m: m[1].replace("_", "-"), a) if a.startswith("--") else a for a in argv]
    p = argparse.ArgumentParser(prog="inference.py", allow_abbrev=False, description="Base model inference script.")
    p.add_argument("-i", "--input-files", nargs="+", required=True, type=Path)
    p.add_argument("-o", "--output-dir", required=True, type=Path)
    p.add_argument("--model", choices=MODELS, default="2B/post-trained")
    if VERSION >= SKIP_EXISTING_SINCE:
        p.add_argument("--skip-existing-output", action=argparse.BooleanOptionalAction, default=False)
    p.add_argument("--checkpoint-path")
    p.add_argument("--experiment")
    p.add_argument("--config-file", default="cosmos_predict2/_src/predict2/configs/video2world/config.py")
    p.add_argument("--context-parallel-size", type=_positive)
    for flag, default in (("offload-diffusion-model", False), ("offload-tokenizer", False), ("offload-text-encoder", False),
                          ("disable-guardrails", False), ("offload-guardrail-models", True), ("keep-going", True),
                          ("profile", False)):
        p.add_argument(f"--{flag}", action=argparse.BooleanOptionalAction, default=default)
    for field, kind in OVERRIDES.items():
        p.add_argument("--" + field.replace("_", "-"), dest=f"override_{field}", type=_bool_value if kind == "bool" else kind)
    return p.parse_args(argv)


# --- 2. parameter files --------------------------------------------------------------------

def load_samples(paths: list[Path], overrides: dict[str, Any]) -> list[Sample]:
    """Validate every sample before the model loads; any error ends the run (exit 1)."""
    samples: list[Sample] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            print(f"Error: cannot read {path}: {exc.strerror}", file=sys.stderr)
            sys.exit(1)
        if path.suffix == ".json":
            rows = [json.loads(text)]
        elif path.suffix == ".jsonl":
            rows = [json.loads(line) for line in text.splitlines() if line]
        else:
            raise ValueError(f"Unsupported file extension: {path.suffix}")
        for i, row in enumerate(rows):
            try:
                if not isinstance(row, dict):
                    raise TypeError(f"a sample is a JSON object, got {type(row).__name__}")
                sample = Sample.model_validate(row | overrides)
            except (ValidationError, TypeError) as exc:
                print(f"Error validating parameters from '{path}' at line {i}\n{exc}", file=sys.stderr)
                sys.exit(1)
            if sample.prompt is None:  # prompt_path is relative to the parameter file, as upstream chdirs there
                sample = sample.model_copy(update={"prompt": (path.parent / sample.prompt_path).read_text().strip()})
            samples.append(sample)
    if not samples:
        print("Error: No inference samples", file=sys.stderr)
        sys.exit(1)
    names: set[str] = set()
    for s in samples:
        if s.name in names:
            print(f"Error: Inference samplename {s.name} is not unique", file=sys.stderr)
            sys.exit(1)
        names.add(s.name)
    return samples


# --- 3. logging like upstream's (console and <output-dir>/console.log) ------------------------

# Where upstream logs each message from (file:line:function; lines of the U150 state, research note
# upstream-check-2026-12.md section 2), so the prefix looks exactly like the real one.
WHERE = {
    "load": "cosmos_predict2/_src/predict2/inference/video2world.py:255:__init__",
    "loaded": "cosmos_predict2/inference.py:55:__init__",
    "samples": "cosmos_predict2/inference.py:80:generate",
    "processing": "cosmos_predict2/inference.py:85:generate",
    "skip": "cosmos_predict2/config.py:398:from_files",
    "arguments": "cosmos_predict2/inference.py:96:_generate_sample",
    "prompt": "cosmos_predict2/inference.py:103:_generate_sample",
    "mode": "cosmos_predict2/inference.py:115:_generate_sample",
    "video": "cosmos_predict2/inference.py:155:_generate_sample",
    "saved": "cosmos_predict2/inference.py:170:_generate_sample",
}


class Log:
    def __init__(self, output_dir: Path) -> None:
        self.console = output_dir / "console.log"

    def __call__(self, level: str, where: str, message: str) -> None:
        line = f"[{time.strftime('%m-%d %H:%M:%S')}|{level}|{WHERE[where]}] {message}"
        print(line, flush=True)
        with self.console.open("a", encoding="utf-8") as f:
            f.write(line + "\n")


class OutOfMemoryError(RuntimeError):
    """Shown in tracebacks as torch.OutOfMemoryError, like the real one."""


OutOfMemoryError.__module__ = "torch"


class GatedRepoError(OSError):
    """Shown as huggingface_hub.errors.GatedRepoError."""


GatedRepoError.__module__ = "huggingface_hub.errors"


# --- 4. the model ----------------------------------------------------------------------------

def load_model(args: argparse.Namespace, faults: dict[str, Any], log: Log) -> None:
    repo, filename = CHECKPOINTS[args.model]
    log("INFO", "load", f"Loading model {args.model} (checkpoint {repo}/{filename})")
    with (args.output_dir / "fake_cosmos_runs.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps({
            "pid": os.getpid(), "model": args.model, "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "disable_guardrails": args.disable_guardrails, "offload_text_encoder": args.offload_text_encoder,
            "offload_diffusion_model": args.offload_diffusion_model, "offload_tokenizer": args.offload_tokenizer,
            "skip_existing_output": getattr(args, "skip_existing_output", None), "version": list(VERSION),
        }) + "\n")
    if faults.get("auth"):
        raise GatedRepoError(
            f"401 Client Error. (Request ID: Root=1-fake)\n\nCannot access gated repo for url "
            f"https://huggingface.co/{repo}/resolve/main/{filename}.\nAccess to model {repo} is restricted. "
            "You must have access to it and be authenticated to access it. Please log in.")
    if faults.get("missing_checkpoint"):
        home = os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface"))
        missing = Path(home) / "hub" / ("models--" + repo.replace("/", "--")) / "snapshots" / "main" / filename
        if VERSION >= (1, 5, 0):
            raise ValueError(f"Checkpoint '{missing}' does not exist.")  # U150 checkpoint_db.py
        raise ValueError(f"Checkpoint path {missing} does not exist.")  # U132
    time.sleep(float(faults.get("load_sleep_s", 0)))
    log("SUCCESS", "loaded", f"Model {args.model} loaded")


def render(sample: Sample, frames: int) -> Iterator[np.ndarray]:
    """Deterministic frames from the seed: a shape moving across a textured background."""
    h, w = sample.size
    # Upstream seeds chunk i's noise with RandomState(seed + i): an out-of-range seed fails here, mid-run.
    rng = [np.random.RandomState(sample.seed + i) for i in range(sample.chunks)][0]
    coarse = rng.randint(40, 200, size=((h + 7) // 8, (w + 7) // 8, 3)).astype(np.uint8)
    background = np.repeat(np.repeat(coarse, 8, axis=0), 8, axis=1)[:h, :w]
    colour = rng.randint(0, 256, size=3).astype(np.uint8)
    side = max(8, min(h, w) // 4)
    for t in range(frames):
        frame = background.copy()
        x = int((w - side) * (0.5 + 0.5 * math.sin(2 * math.pi * t / 48)))
        y = int((h - side) * t / max(1, frames - 1))
        frame[y:y + side, x:x + side] = colour
        yield frame


def write_mp4(path: Path, size: tuple[int, int], frames: Iterator[np.ndarray]) -> None:
    """H.264 at exactly 16 fps, written in place (upstream does not write atomically either)."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS, options={"preset": "ultrafast", "crf": "28"})
        stream.height, stream.width = size
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))


def blocked(message: str, args: argparse.Namespace, log: Log, where: str) -> None:
    """A guardrail block: skipped under keep_going (the default), else the run ends."""
    log("CRITICAL", where, message)
    if not args.keep_going:
        raise Exception(message)


def generate(sample: Sample, args: argparse.Namespace, faults: dict[str, Any], log: Log) -> None:
    out = args.output_dir / sample.name
    Path(f"{out}.json").write_text(sample.model_dump_json(), encoding="utf-8")
    log("INFO", "arguments", f"Saved arguments to {out}.json")
    if args.disable_guardrails:
        log("WARNING", "prompt", "Guardrail checks on prompt are disabled")
    elif sample.name in faults.get("block", []):
        return blocked(f"Guardrail blocked text2world generation. Prompt: {sample.prompt}", args, log, "prompt")
    else:
        log("SUCCESS", "prompt", "Passed guardrail on prompt")
    mode = "autoregressive" if sample.enable_autoregressive else "standard"
    log("INFO", "mode", f"Generating video with {mode} mode...")
    if faults.get("crash_on") == sample.name:
        raise RuntimeError(f"simulated crash in the diffusion loop of {sample.name}")
    if faults.get("oom_on") == sample.name:
        raise OutOfMemoryError(
            "CUDA out of memory. Tried to allocate 2.50 GiB. GPU 0 has a total capacity of 79.19 GiB of which "
            "1.23 GiB is free. Including non-PyTorch memory, this process has 77.94 GiB memory in use. If reserved "
            "but unallocated memory is large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True")
    if faults.get("hang_on") == sample.name:
        while True:
            time.sleep(60)
    time.sleep(float(faults.get("sample_sleep_s", 0)))
    frames = NATIVE_FRAMES
    if sample.enable_autoregressive and not faults.get("ignore_frames"):
        frames = sample.num_output_frames  # autoregressive mode is the only one that honours it
    video = render(sample, frames)
    if args.disable_guardrails:
        log("WARNING", "video", "Guardrail checks on video are disabled")
    elif sample.name in faults.get("block_video", []):  # the GPU time is spent by now
        return blocked("Guardrail blocked video2world generation.", args, log, "video")
    else:
        log("SUCCESS", "video", "Passed guardrail on generated video")
    if faults.get("garbage_on") == sample.name:
        Path(f"{out}.mp4").write_bytes(np.random.RandomState(sample.seed).bytes(4096))
    else:
        write_mp4(Path(f"{out}.mp4"), sample.size, video)
    log("SUCCESS", "saved", f"Saved video to {out}.mp4")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    faults = json.loads(os.environ.get("FAKE_COSMOS_FAULTS") or "{}")
    overrides = {k[len("override_"):]: v for k, v in vars(args).items() if k.startswith("override_") and v is not None}
    samples = load_samples(args.input_files, overrides)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    log = Log(args.output_dir)
    if getattr(args, "skip_existing_output", False):  # upstream: any <name>.* output counts as done
        kept = [s for s in samples if not any(args.output_dir.glob(f"{glob.escape(s.name)}.*"))]
        log("INFO", "skip", f"Skipping {len(samples) - len(kept)}/{len(samples)} samples because output files already exist")
        if not kept:
            print("Error: No inference samples", file=sys.stderr)
            return 1
        samples = kept
    load_model(args, faults, log)
    log("INFO", "samples", f"Generating {len(samples)} samples: {[s.name for s in samples]}")
    for i, sample in enumerate(samples):
        log("INFO", "processing", f"[{i + 1}/{len(samples)}] Processing sample {sample.name}")
        generate(sample, args, faults, log)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
