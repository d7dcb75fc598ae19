"""The Cosmos subprocess backend against a fake `examples/inference.py` that keeps upstream's contract.

Every fault the old scripts met (a crash mid-batch, a hang, a garbage mp4, 93 frames when more
were asked, out-of-memory, a guardrail block, a missing checkpoint, a refused licence) must end
in the right Failure kind with a message a user can act on, without a GPU.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import fake_cosmos_checkout

from synthcam.backends.base import Failure, GenerationRequest, Hooks, RawClip
from synthcam.backends.cosmos import CosmosBackend, log_message, make_masker, read_checkout
from synthcam.backends.registry import create_backend
from synthcam.errors import BackendError, InputError
from synthcam.manifest import COSMOS_MODEL_SINCE, DISTILLED_MAX_STEPS, load_manifest, load_manifest_text
from synthcam.media.probe import probe
from synthcam.prompts import compile_manifest

from fakes.fake_cosmos_inference import CHECKPOINTS, MODELS_SINCE, load_samples  # tests/ is on the path

TESTS = Path(__file__).parents[1]
FAKE = TESTS / "fakes" / "fake_cosmos_inference.py"
TOKEN = "hf_abcdefghijklmnopqrstuvwxyz123456"

# mini.yaml at a small size, plus two more 5 s clips so a batch has several standard samples.
EXTRA_CLIPS = "".join(f"""
  - id: T0{i}
    group: threat_patterns
    scenario: day_delivery_{i}
    purpose: another delivery
    scene: porch
    environment: day
    subjects: [courier]
    action: deliver
    expected_risk: low
    durations: [5]
""" for i in (2, 3))
MANIFEST_TEXT = ((TESTS / "data" / "mini.yaml").read_text()
                 .replace("resolution: 1280x704", "resolution: 160x96")
                 .replace("durations: [5, 10, 30]", "durations: [5, 10]")) + EXTRA_CLIPS


@pytest.fixture(scope="module")
def requests_by_name() -> dict[str, GenerationRequest]:
    manifest = load_manifest_text(MANIFEST_TEXT, "cosmos-test.yaml")
    return {c.name: GenerationRequest(f"job-{c.name}", c, manifest) for c in compile_manifest(manifest)}


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A cosmos-predict2.5 checkout whose examples/inference.py is the fake."""
    return fake_cosmos_checkout(tmp_path / "checkout")


@dataclass
class Recorder:
    loads: int = 0
    starts: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def hooks(self) -> Hooks:
        return Hooks(on_start=lambda r: self.starts.append(r.name), on_model_load=self._load, log=self.lines.append)

    def _load(self) -> None:
        self.loads += 1


def backend_for(checkout: Path, faults: dict | None = None, gpus: list[str] | None = None, **options) -> CosmosBackend:
    opts = {"checkout": str(checkout), "python": sys.executable, "poll_s": 0.05, "kill_grace_s": 2,
            "disable_guardrails": True, "env": {"FAKE_COSMOS_FAULTS": json.dumps(faults or {})}, **options}
    backend = create_backend("cosmos", opts, gpus or ["0"])
    assert isinstance(backend, CosmosBackend)
    return backend


def run(backend: CosmosBackend, requests: list[GenerationRequest], staging: Path) -> tuple[dict, Recorder]:
    rec = Recorder()
    results = list(backend.generate_many(requests, staging, rec.hooks()))
    assert sorted(r.request.name for r in results) == sorted(r.name for r in requests)  # one result each
    return {r.request.name: r for r in results}, rec


def fake_loads(staging: Path) -> list[dict]:
    """The fake's own record of each model load, across every launch's output folder."""
    return [json.loads(line) for f in sorted(staging.glob("batch-*.out/fake_cosmos_runs.jsonl"))
            for line in f.read_text().splitlines()]


def pick(requests_by_name, *names: str) -> list[GenerationRequest]:
    return [requests_by_name[n] for n in names]


STANDARD3 = ("P01_5s", "T02_5s", "T03_5s")


def test_one_batch_loads_the_model_once_and_yields_every_clip(checkout, tmp_path, requests_by_name):
    requests = pick(requests_by_name, "P01_5s", "P01_10s", "T01_5s", "T01_10s")
    backend = backend_for(checkout, gpus=["1"])
    results, rec = run(backend, requests, tmp_path / "staging")
    assert rec.loads == 1 and len(fake_loads(tmp_path / "staging")) == 1
    assert fake_loads(tmp_path / "staging")[0]["cuda_visible_devices"] == "1"  # pinned to the worker's GPU
    assert rec.starts == [r.name for r in requests]  # input order, one in flight at a time
    for r in requests:
        clip = results[r.name]
        assert isinstance(clip, RawClip), clip
        info = probe(clip.video)
        timing = r.compiled.timing
        expected = timing.frames_needed if timing.autoregressive else 93
        assert (clip.fps, clip.frames, clip.at_target) == (16.0, expected, False)
        assert (info.fps, info.frames, info.width, info.height) == (16, expected, 160, 96)
        assert clip.video.parent == tmp_path / "staging"  # moved out of Cosmos's output folder
        sidecar = json.loads(clip.extras["cosmos_json"].read_text())
        assert sidecar.items() >= r.compiled.cosmos_sample(r.manifest).to_json().items()
    assert any("Processing sample P01_10s" in line for line in rec.lines)
    batch = (tmp_path / "staging" / "batch-1.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in batch] == [r.compiled.cosmos_sample(r.manifest).to_json() for r in requests]


def test_generate_is_a_batch_of_one(checkout, tmp_path, requests_by_name):
    clip = backend_for(checkout).generate(requests_by_name["T01_5s"], tmp_path / "staging")
    assert isinstance(clip, RawClip) and clip.frames == 93


def test_every_builtin_sample_passes_the_strict_schema(tmp_path):
    """Our compiler's samples for the whole built-in dataset are ones upstream accepts, seeds included."""
    manifest = load_manifest()
    lines = [json.dumps(c.cosmos_sample(manifest).to_json()) for c in compile_manifest(manifest)]
    batch = tmp_path / "all.jsonl"
    batch.write_text("\n".join(lines) + "\n")
    samples = load_samples([batch], {})
    assert len(samples) == len(lines)
    for s in samples:
        assert 0 <= s.seed and s.seed + s.chunks - 1 <= 2**32 - 1  # upstream's RandomState(seed + chunk)
        assert s.chunk_size <= 93 and s.chunk_overlap == 1


GOOD = {"inference_type": "text2world", "name": "a", "prompt": "a porch", "seed": 1, "guidance": 7,
        "resolution": "96,160", "num_steps": 35}


@pytest.mark.parametrize("rows, needle", [
    ([{**GOOD, "fps": 24}], "Extra inputs are not permitted"),
    ([{**GOOD, "guidance": 7.5}], "valid integer"),
    ([{**GOOD, "guidance": 8}], "less than or equal to 7"),
    ([GOOD, GOOD], "is not unique"),
    ([{**GOOD, "resolution": "100,100"}], "multiples of 16"),
    ([{**GOOD, "enable_autoregressive": True, "num_output_frames": 200, "chunk_size": 120}], "less than or equal to 93"),
    ([{k: v for k, v in GOOD.items() if k != "name"}], "name"),
])
def test_the_fake_rejects_what_upstream_rejects_before_loading(tmp_path, rows, needle):
    batch = tmp_path / "bad.jsonl"
    batch.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(FAKE), "-i", str(batch), "-o", str(out)], capture_output=True, text=True)
    assert proc.returncode == 1 and needle in proc.stderr, proc.stderr
    assert not out.exists()  # nothing loaded, nothing written


def test_the_fake_takes_tyro_flag_spellings_and_rejects_unknown_ones(tmp_path):
    batch = tmp_path / "one.json"
    batch.write_text(json.dumps(GOOD))
    out = tmp_path / "out"
    base = [sys.executable, str(FAKE), "--input_files", str(batch), "--output-dir", str(out)]
    ok = subprocess.run(base + ["--disable_guardrails", "--offload-text-encoder", "--model=2B/distilled"], capture_output=True)
    assert ok.returncode == 0 and (out / "a.mp4").exists() and (out / "a.json").exists()
    for bad in (["--model", "3B/post-trained"], ["--fps", "24"]):
        assert subprocess.run(base + bad, capture_output=True).returncode == 2


def test_crash_mid_batch_keeps_the_finished_blames_the_one_in_flight_and_restarts(checkout, tmp_path, requests_by_name):
    results, rec = run(backend_for(checkout, {"crash_on": "T02_5s"}), pick(requests_by_name, *STANDARD3), tmp_path / "s")
    assert isinstance(results["P01_5s"], RawClip) and isinstance(results["T03_5s"], RawClip)
    failure = results["T02_5s"]
    assert isinstance(failure, Failure) and failure.kind == "error" and failure.retryable
    assert "RuntimeError: simulated crash" in failure.message and "T02_5s" in failure.message
    assert rec.loads == 2 and len(fake_loads(tmp_path / "s")) == 2


def test_a_hang_times_out_and_the_rest_still_complete(checkout, tmp_path, requests_by_name):
    # 5 s: a healthy sample takes well under a second, even on a loaded 2-core CI machine
    backend = backend_for(checkout, {"hang_on": "T02_5s"}, job_timeout_s=5, load_timeout_s=20)
    results, rec = run(backend, pick(requests_by_name, *STANDARD3), tmp_path / "s")
    failure = results["T02_5s"]
    assert isinstance(failure, Failure) and failure.kind == "timeout" and failure.retryable
    assert "T02_5s" in failure.message and "killed" in failure.message
    assert isinstance(results["P01_5s"], RawClip) and isinstance(results["T03_5s"], RawClip)
    assert rec.loads == 2


def test_the_model_load_does_not_count_against_the_first_job(checkout, tmp_path, requests_by_name):
    # the load (6 s) is longer than the per-job timeout (5 s, ample for a healthy sample): it must not count
    backend = backend_for(checkout, {"load_sleep_s": 6}, job_timeout_s=5, load_timeout_s=30)
    results, _ = run(backend, pick(requests_by_name, "P01_5s"), tmp_path / "s")
    assert isinstance(results["P01_5s"], RawClip)


def test_leaving_a_batch_early_stops_cosmos(checkout, tmp_path, requests_by_name):
    results = backend_for(checkout, {"hang_on": "T02_5s"}).generate_many(pick(requests_by_name, "P01_5s", "T02_5s"),
                                                                        tmp_path / "s")
    assert isinstance(next(results), RawClip)  # Cosmos now works on (hangs in) T02_5s
    results.close()  # what the engine does when it stops a worker
    with pytest.raises(ProcessLookupError):
        os.kill(fake_loads(tmp_path / "s")[0]["pid"], 0)


WORKER = """
import json, sys
from pathlib import Path
from synthcam.backends.base import GenerationRequest
from synthcam.backends.registry import create_backend
from synthcam.manifest import load_manifest_text
from synthcam.prompts import compile_manifest
manifest = load_manifest_text(Path(sys.argv[1]).read_text(), "m.yaml")
requests = [GenerationRequest("j", c, manifest) for c in compile_manifest(manifest) if c.name == "T02_5s"]
backend = create_backend("cosmos", json.loads(sys.argv[2]), ["0"])
for result in backend.generate_many(requests, Path(sys.argv[3])):
    print(result, flush=True)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_cosmos_dies_with_a_worker_killed_by_sigkill(checkout, tmp_path):
    manifest = tmp_path / "m.yaml"
    manifest.write_text(MANIFEST_TEXT)
    options = {"checkout": str(checkout), "python": sys.executable, "disable_guardrails": True,
               "env": {"FAKE_COSMOS_FAULTS": json.dumps({"hang_on": "T02_5s"})}}
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(manifest), json.dumps(options), str(tmp_path / "s")])
    try:
        deadline = time.monotonic() + 30
        while not list((tmp_path / "s").glob("batch-1.out/T02_5s.json")) and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = fake_loads(tmp_path / "s")[0]["pid"]  # Cosmos is in T02_5s, hanging
    finally:
        worker.kill()
        worker.wait()
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), "Cosmos outlived its worker"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split(")")[-1].split()[0] == "Z")  # a zombie is dead


def test_a_garbage_mp4_is_handed_on_for_verification(checkout, tmp_path, requests_by_name):
    results, _ = run(backend_for(checkout, {"garbage_on": "P01_5s"}), pick(requests_by_name, "P01_5s"), tmp_path / "s")
    clip = results["P01_5s"]
    assert isinstance(clip, RawClip) and clip.video.exists()
    from synthcam.verify import verify_file

    report = verify_file(clip.video)  # finishing rejects it, with a reason, instead of converting it
    assert report.status in ("not_video", "unreadable", "corrupt"), report.status


def test_93_frames_when_more_were_asked_is_handed_on_for_verification(checkout, tmp_path, requests_by_name):
    results, _ = run(backend_for(checkout, {"ignore_frames": True}), pick(requests_by_name, "P01_10s"), tmp_path / "s")
    clip = results["P01_10s"]
    assert isinstance(clip, RawClip) and clip.frames == 160
    assert probe(clip.video).frames == 93  # the old bug: verification flags wrong_frames


def test_out_of_memory_on_the_first_sample_fails_the_batch_with_offload_advice(checkout, tmp_path, requests_by_name):
    results, rec = run(backend_for(checkout, {"oom_on": "P01_5s"}), pick(requests_by_name, *STANDARD3), tmp_path / "s")
    assert rec.loads == 1  # a relaunch would run out of memory the same way
    for name, failure in results.items():
        assert isinstance(failure, Failure) and failure.kind == "oom" and not failure.retryable
        assert "--offload-text-encoder" in failure.message and "--offload-diffusion-model" in failure.message
    assert "P01_5s" in results["P01_5s"].message
    assert results["T02_5s"].message.startswith("not attempted: CUDA out of memory")


def test_out_of_memory_after_a_success_blames_only_that_sample(checkout, tmp_path, requests_by_name):
    backend = backend_for(checkout, {"oom_on": "T02_5s"}, offload=["--offload-text-encoder"])
    results, rec = run(backend, pick(requests_by_name, *STANDARD3), tmp_path / "s")
    failure = results["T02_5s"]
    assert failure.kind == "oom" and not failure.retryable
    assert "--offload-diffusion-model" in failure.message and "[--offload-text-encoder" not in failure.message
    assert isinstance(results["P01_5s"], RawClip) and isinstance(results["T03_5s"], RawClip)
    assert rec.loads == 2
    assert fake_loads(tmp_path / "s")[0]["offload_text_encoder"] is True


def test_a_guardrail_block_is_not_retried_and_the_others_continue(checkout, tmp_path, requests_by_name):
    backend = backend_for(checkout, {"block": ["T02_5s"]}, disable_guardrails=False)
    results, rec = run(backend, pick(requests_by_name, *STANDARD3), tmp_path / "s")
    failure = results["T02_5s"]
    assert isinstance(failure, Failure) and failure.kind == "blocked" and not failure.retryable
    assert failure.stage == "prompt" and "refused the prompt before generation" in failure.message
    assert isinstance(results["P01_5s"], RawClip) and isinstance(results["T03_5s"], RawClip)
    assert rec.loads == 1 and fake_loads(tmp_path / "s")[0]["disable_guardrails"] is False


def test_a_video_block_after_generation_is_told_from_a_prompt_block(checkout, tmp_path, requests_by_name):
    backend = backend_for(checkout, {"block_video": ["T02_5s"], "block": ["T03_5s"]}, disable_guardrails=False)
    results, rec = run(backend, pick(requests_by_name, *STANDARD3), tmp_path / "s")
    video, prompt = results["T02_5s"], results["T03_5s"]
    assert video.kind == prompt.kind == "blocked" and not video.retryable and not prompt.retryable
    assert (video.stage, prompt.stage) == ("video", "prompt")
    assert "generated video after generation" in video.message and "GPU time was spent" in video.message
    assert "reword the prompt" in prompt.message and video.message != prompt.message
    assert isinstance(results["P01_5s"], RawClip) and rec.loads == 1
    assert (tmp_path / "s" / "batch-1.out" / "T02_5s.json").exists()  # it did start: the sidecar came first


def test_a_block_that_ends_the_run_without_keep_going_still_lets_the_rest_finish(checkout, tmp_path, requests_by_name):
    backend = backend_for(checkout, {"block": ["P01_5s"]}, disable_guardrails=False, extra_args=["--no-keep-going"])
    results, rec = run(backend, pick(requests_by_name, *STANDARD3), tmp_path / "s")
    assert results["P01_5s"].kind == "blocked" and not results["P01_5s"].retryable
    assert isinstance(results["T02_5s"], RawClip) and isinstance(results["T03_5s"], RawClip)
    assert rec.loads == 2


@pytest.mark.parametrize("version", ["1.3.2", "1.5.0"])  # U132 `Checkpoint path … does not exist`, U150 `Checkpoint '<p>' …`
@pytest.mark.parametrize("fault, kind, needles", [
    ("missing_checkpoint", "missing_checkpoint", ["missing checkpoint for 2B/post-trained",
                                                  "/81edfebe-bd6a-4039-8c1d-737df1a790bf_ema_bf16.pt)",
                                                  "hf download nvidia/Cosmos-Predict2.5-2B"]),
    ("auth", "auth", ["nvidia/Cosmos-Predict2.5-2B", "accept the model licence on Hugging Face and run `hf auth login`"]),
])
def test_set_up_failures_fail_the_whole_batch_once_with_a_clear_message(tmp_path, requests_by_name,
                                                                       fault, kind, needles, version):
    checkout = fake_cosmos_checkout(tmp_path / "co", version=version)
    results, rec = run(backend_for(checkout, {fault: True}), pick(requests_by_name, *STANDARD3), tmp_path / "s")
    assert rec.loads == 1
    for failure in results.values():
        assert isinstance(failure, Failure) and failure.kind == kind and not failure.retryable
        assert "\n" not in failure.message
        for needle in needles:
            assert needle in failure.message, failure.message


def test_a_sidecar_that_differs_from_the_request_is_a_mismatch(checkout, tmp_path, requests_by_name):
    # A CLI override wins over the batch file upstream; a custom launcher template can sneak one in.
    backend = backend_for(checkout, launcher=["{python}", "examples/inference.py", "--seed", "5"])
    results, _ = run(backend, pick(requests_by_name, "T01_5s"), tmp_path / "s")
    failure = results["T01_5s"]
    assert isinstance(failure, Failure) and failure.kind == "mismatch" and not failure.retryable
    assert "seed=5" in failure.message


def test_a_rejected_sample_fails_alone_and_a_rejected_command_line_fails_the_batch(checkout, tmp_path, requests_by_name):
    backend = backend_for(checkout, launcher=["{python}", "examples/inference.py", "--guidance", "9"])
    results, rec = run(backend, pick(requests_by_name, "P01_5s", "T02_5s"), tmp_path / "a")
    for failure in results.values():
        assert failure.kind == "error" and not failure.retryable and "rejected the sample" in failure.message
    assert rec.loads == 2  # each launch rejects its first line; nothing loops
    results, rec = run(backend_for(checkout, extra_args=["--bogus"]), pick(requests_by_name, "P01_5s", "T02_5s"), tmp_path / "b")
    assert rec.loads == 1
    assert all(f.kind == "error" and not f.retryable and "command line" in f.message for f in results.values())


def test_secrets_never_reach_our_logs_or_messages(checkout, tmp_path, requests_by_name, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    leak = ("import os, sys; print('token', os.environ['HF_TOKEN'], os.environ['MY_SECRET']); "
            "print('fetching https://alice:pa55word@hub.example/x', flush=True); sys.exit(1)")
    backend = backend_for(checkout, launcher=["{python}", "-c", leak], env={"MY_SECRET": "s3cr3t-value"})
    results, rec = run(backend, pick(requests_by_name, "P01_5s"), tmp_path / "s")
    text = "\n".join(rec.lines + [f.message for f in results.values()] + [p.read_text() for p in (tmp_path / "s").glob("*.log")])
    assert "token" in text and "hub.example" in text
    for secret in (TOKEN, "s3cr3t-value", "pa55word"):
        assert secret not in text
    failure = results["P01_5s"]
    assert failure.kind == "error" and failure.retryable and "while loading the model" in failure.message
    assert make_masker({"X": "1"})("see hf_ABCDEF123456 and ftp://u:p@h") == "see hf_*** and ftp://***@h"


# --- the command and its options (no subprocess) ---------------------------------------------

def build(options: dict, gpus: list[str]) -> tuple[list[str], dict]:
    backend = create_backend("cosmos", options, gpus)
    argv = backend.build_command(Path("/st/batch-1.jsonl"), Path("/st/batch-1.out"), Path("/st"), "2B/post-trained", "box")
    return argv, backend.child_env()


TAIL = ["-i", "/st/batch-1.jsonl", "-o", "/st/batch-1.out", "--model", "2B/post-trained"]


@pytest.fixture
def clean_env(monkeypatch):
    """No cache or token variables from the machine running the tests."""
    for name in ("HF_TOKEN", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")
    return monkeypatch


def docker_argv(gpus: str, env: list[str], image: str = "cosmos:1.5", cache: str = "/cache",
                hf: str = "/cache/huggingface", checkout: str = "/co") -> list[str]:
    """Upstream's documented `docker run` (docs/setup.md), with our container name, mounts and staging."""
    return ["docker", "run", *[x for name in ["PYTHONUNBUFFERED", *env] for x in ("-e", name)],
            "--rm", "--name", "box", "--gpus", f'"device={gpus}"', "--ipc=host",
            "--mount", f"type=bind,src={checkout},dst=/workspace",
            "--mount", "type=volume,dst=/workspace/.venv",
            "--mount", f"type=bind,src={cache},dst=/root/.cache",
            "--mount", f"type=bind,src={hf},dst=/root/.cache/huggingface",
            "--mount", "type=bind,src=/st,dst=/st",
            "-w", "/workspace", image, "python", "examples/inference.py", *TAIL]


@pytest.mark.parametrize("options, gpus, argv", [
    ({"python": "/venv/bin/python"}, ["3"], ["/venv/bin/python", "examples/inference.py", *TAIL]),
    ({}, ["3"], ["python", "examples/inference.py", *TAIL]),  # /co has no .venv: the python on PATH
    # a plain `uv run` would re-sync the checkout without its CUDA extra
    ({"launcher": "uv", "disable_guardrails": True, "offload": ["offload_text_encoder", "--offload-tokenizer"],
      "extra_args": ["--profile"]}, ["0"],
     ["uv", "run", "--no-sync", "python", "examples/inference.py", *TAIL, "--disable-guardrails",
      "--offload-text-encoder", "--offload-tokenizer", "--profile"]),
    ({"launcher": "torchrun"}, ["0", "1"], ["torchrun", "--standalone", "--nproc_per_node=2", "examples/inference.py", *TAIL]),
    ({"launcher": "torchrun"}, ["4", "5", "6", "7"],
     ["torchrun", "--standalone", "--nproc_per_node=4", "examples/inference.py", *TAIL]),
    ({"launcher": "docker", "image": "cosmos:1.5", "cache_dir": "/cache"}, ["3"], docker_argv("3", [])),
    ({"launcher": "docker", "image": "cosmos:1.5", "cache_dir": "/cache"}, ["0", "1"], docker_argv("0,1", [])),
    ({"launcher": "docker", "image": "cosmos:1.5", "cache_dir": "/cache", "env": {"HF_HOME": "/models/hf", "A_B": "1"}},
     ["0", "1", "2"], docker_argv("0,1,2", ["A_B"], hf="/models/hf")),  # HF_HOME is mounted, not forwarded
    ({"launcher": ["ssh", "gpu-box", "cd {checkout} && {python} examples/inference.py"]}, ["0"],
     ["ssh", "gpu-box", "cd /co && python examples/inference.py", *TAIL]),
])
def test_launcher_presets_build_the_exact_documented_commands(clean_env, options, gpus, argv):
    got, env = build({"checkout": "/co", **options}, gpus)
    assert got == argv
    docker = argv[0] == "docker"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["CUDA_VISIBLE_DEVICES"] == ("7" if docker else ",".join(gpus))  # docker pins with --gpus instead


def test_docker_passes_hf_token_by_name_only_and_mounts_the_hf_cache(clean_env):
    clean_env.setenv("HF_TOKEN", TOKEN)
    clean_env.setenv("XDG_CACHE_HOME", "/xdg")
    argv, env = build({"checkout": "/co", "launcher": "docker", "image": "cosmos:1.5"}, ["0", "1"])
    assert argv == docker_argv("0,1", ["HF_TOKEN"], cache="/xdg", hf="/xdg/huggingface")
    assert TOKEN not in " ".join(argv) and env["HF_TOKEN"] == TOKEN  # docker copies it from its environment
    clean_env.setenv("HF_HOME", "/srv/hf")
    argv, _ = build({"checkout": "/co", "launcher": "docker", "image": "cosmos:1.5"}, ["0"])
    assert "type=bind,src=/srv/hf,dst=/root/.cache/huggingface" in argv and "HF_HOME" not in argv


def test_docker_mounts_cannot_be_bent_by_a_path(clean_env, tmp_path):
    # -v PATH:PATH read a trailing ":ro" as a mode; --mount takes the path whole.
    argv, _ = build({"checkout": "/srv/co:ro", "launcher": "docker", "image": "c", "cache_dir": "/cache"}, ["0"])
    assert "type=bind,src=/srv/co:ro,dst=/workspace" in argv and "-v" not in argv
    for options in ({"checkout": "/srv/a,readonly"}, {"checkout": "/co", "cache_dir": "/c,dst=/etc"},
                    {"checkout": "/co", "hf_home": '/h"x'}):
        with pytest.raises(InputError, match="comma or quote"):
            create_backend("cosmos", {"launcher": "docker", "image": "c", **options}, ["0"])
    backend = create_backend("cosmos", {"checkout": "/co", "launcher": "docker", "image": "c"}, ["0"])
    with pytest.raises(InputError, match="comma or quote"):
        backend.build_command(Path("/a,b/batch-1.jsonl"), Path("/a,b/batch-1.out"), Path("/a,b"), "2B/post-trained", "x")


@pytest.mark.parametrize("options, gpus, needle", [
    ({"launcher": "docker", "image": "--privileged"}, ["0"], "option image"),
    ({"launcher": "docker", "image": "-v=/:/host"}, ["0"], "option image"),
    ({"launcher": "docker", "image": "ok image"}, ["0"], "option image"),
    ({"python": "--version"}, ["0"], "option python"),
    ({}, ["-1"], "single tokens"),
    ({"launcher": "docker", "image": "c"}, ['0"'], "single tokens"),
])
def test_option_like_values_are_refused(options, gpus, needle):
    with pytest.raises(InputError, match=needle):
        create_backend("cosmos", {"checkout": "/co", **options}, gpus)


def test_torchrun_and_python_come_from_the_checkouts_environment(tmp_path, clean_env):
    for tool in ("python", "torchrun"):
        (tmp_path / ".venv" / "bin").mkdir(parents=True, exist_ok=True)
        (tmp_path / ".venv" / "bin" / tool).write_text("")
    argv, _ = build({"checkout": str(tmp_path), "launcher": "torchrun"}, ["0", "1"])
    assert argv[:3] == [str(tmp_path / ".venv" / "bin" / "torchrun"), "--standalone", "--nproc_per_node=2"]


def test_python_defaults_to_the_checkouts_uv_environment(tmp_path):
    venv_python = tmp_path / ".venv" / "bin" / "python"
    argv, _ = build({"checkout": str(tmp_path)}, ["0"])
    assert argv[0] == "python"  # no .venv yet: the one on PATH
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text("")
    argv, _ = build({"checkout": str(tmp_path)}, ["0"])
    assert argv[:2] == [str(venv_python), "examples/inference.py"]


@pytest.mark.parametrize("options, gpus, needle", [
    ({"launcher": "slurm"}, ["0"], "unknown launcher"),
    ({"launcher": ["{python}", "{workdir}/x.py"]}, ["0"], "unknown placeholder"),
    ({"launcher": []}, ["0"], "non-empty"),
    ({"offload": ["--offload-everything"]}, ["0"], "unknown offload flag"),
    ({"extra_args": ["--seed=3"]}, ["0"], "may not set --seed"),
    ({"extra_args": ["-o", "x"]}, ["0"], "may not set -o"),
    ({"model": "3B/post-trained"}, ["0"], "option model"),
    ({"job_timeout_s": 0}, ["0"], "job_timeout_s"),
    ({"checkpoint": "/x"}, ["0"], "option checkpoint"),
    ({"launcher": "docker"}, ["0"], "set the option image"),
    ({"launcher": "docker", "image": "c"}, [], "the worker needs GPUs"),
    ({}, ["0,1"], "single tokens"),
])
def test_bad_options_are_input_errors(options, gpus, needle):
    with pytest.raises(InputError, match=needle):
        create_backend("cosmos", options, gpus)


def test_check_names_what_is_missing(tmp_path, checkout):
    backend_for(checkout).check()
    with pytest.raises(BackendError, match="does not exist"):
        backend_for(tmp_path / "nowhere").check()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BackendError, match="has no examples/inference.py"):
        backend_for(empty).check()
    with pytest.raises(InputError, match="no checkout"):  # refused when the options are read, before any run
        create_backend("cosmos", {"python": sys.executable}, ["0"])
    with pytest.raises(BackendError, match="not on PATH"):
        backend_for(checkout, python=str(tmp_path / "no-python")).check()
    old = tmp_path / "old"
    (old / "examples").mkdir(parents=True)
    (old / "examples" / "inference.py").write_text("params_file: Path\noutput_dir: Path\n")
    with pytest.raises(BackendError, match="v1.3.2 or later"):
        backend_for(old).check()


# --- versions, models and the distilled model ----------------------------------------------


def manifest_for(model: str):
    text = MANIFEST_TEXT.replace("  seed: 7\n", f"  seed: 7\n  model: {model}\n", 1)
    manifest = load_manifest_text(text, "model.yaml")
    assert manifest.defaults.model == model
    return manifest


def test_the_checkout_version_is_read_where_upstream_keeps_it(tmp_path):
    assert read_checkout(fake_cosmos_checkout(tmp_path / "a", version="1.4.1")).version == (1, 4, 1)
    static = tmp_path / "b"
    static.mkdir()
    (static / "pyproject.toml").write_text('[project]\nname = "cosmos-predict2"\nversion = "1.3.2"\n')
    assert read_checkout(static).version == (1, 3, 2)
    dynamic = tmp_path / "c"  # upstream's own pyproject: dynamic version, hatch reads __about__.py; git tags
    dynamic.mkdir()
    (dynamic / "pyproject.toml").write_text('[project]\nname = "cosmos-predict2"\ndynamic = ["version"]\n')
    assert read_checkout(dynamic).version is None and read_checkout(dynamic).source == "unknown"
    git = ["git", "-C", str(dynamic), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(git[:3] + ["init", "-q"], check=True)
    subprocess.run(git + ["commit", "-q", "--allow-empty", "-m", "x"], check=True)
    subprocess.run(git + ["tag", "v1.4.0"], check=True)
    info = read_checkout(dynamic)
    assert info.version == (1, 4, 0) and info.source == "git tag v1.4.0"
    assert read_checkout(None).version is None


@pytest.mark.parametrize("version, model, needed", [("1.3.2", "2B/distilled", "1.4.1"), ("1.4.0", "2B/distilled", "1.4.1"),
                                                    ("1.3.2", "14B/post-trained", "1.4.0")])
def test_models_newer_than_the_checkout_are_refused_before_launching(tmp_path, requests_by_name, version, model, needed):
    checkout = fake_cosmos_checkout(tmp_path / "co", version=version)
    with pytest.raises(BackendError) as err:
        backend_for(checkout, model=model).check()
    message = str(err.value)
    assert "\n" not in message and f"needs cosmos-predict2.5 {needed} or later" in message
    assert f"is {version} (cosmos_predict2/__about__.py)" in message and "2B/post-trained" in message
    # the manifest's model (no option): refused in generate_many, before any launch
    manifest = manifest_for(model)
    requests = [GenerationRequest("j", c, manifest) for c in compile_manifest(manifest) if c.name == "P01_5s"]
    with pytest.raises(BackendError, match=f"needs cosmos-predict2.5 {needed}"):
        list(backend_for(checkout).generate_many(requests, tmp_path / "s"))
    assert not list((tmp_path / "s").glob("batch-*"))


@pytest.mark.parametrize("version, model", [("1.4.0", "14B/post-trained"), ("1.4.1", "2B/distilled"),
                                            (None, "2B/distilled")])  # an unknown version is not refused
def test_models_the_checkout_has_pass_the_check(tmp_path, version, model):
    backend_for(fake_cosmos_checkout(tmp_path / "co", version=version), model=model).check()


def test_the_fake_offers_the_models_of_its_release(tmp_path):
    assert MODELS_SINCE.keys() == COSMOS_MODEL_SINCE.keys() | {"2B/post-trained", "2B/pre-trained", "14B/pre-trained"}
    assert all(MODELS_SINCE[m] == since for m, since in COSMOS_MODEL_SINCE.items())
    for model, (repo, filename) in CHECKPOINTS.items():  # upstream's checkpoint database: <uuid>_ema_bf16.pt
        assert re.fullmatch(r"base/(post-trained|pre-trained|distilled)/[0-9a-f-]{36}_ema_bf16\.pt", filename), filename
        assert repo == f"nvidia/Cosmos-Predict2.5-{model.split('/')[0]}"
    batch = tmp_path / "one.json"
    batch.write_text(json.dumps(GOOD))
    old = fake_cosmos_checkout(tmp_path / "old", version="1.3.2") / "examples" / "inference.py"
    proc = subprocess.run([sys.executable, str(old), "-i", str(batch), "-o", str(tmp_path / "o"), "--model", "2B/distilled"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_a_model_the_checkout_lacks_is_named_when_the_version_is_unknown(tmp_path, requests_by_name):
    checkout = fake_cosmos_checkout(tmp_path / "co", version="1.3.2")
    (checkout / "cosmos_predict2" / "__about__.py").rename(checkout / "about.bak")  # synthcam cannot tell ...
    (checkout / "cosmos_predict2" / "__init__.py").write_text("")
    fake = checkout / "examples" / "inference.py"  # ... but the fake still plays 1.3.2
    fake.write_text(fake.read_text().replace("NEWEST = (1, 5, 0)", "NEWEST = (1, 3, 2)"))
    results, rec = run(backend_for(checkout, model="2B/distilled"), pick(requests_by_name, "P01_5s", "T02_5s"), tmp_path / "s")
    assert rec.loads == 1
    for failure in results.values():
        assert failure.kind == "error" and not failure.retryable
        assert "does not offer --model 2B/distilled (added in cosmos-predict2.5 1.4.1)" in failure.message


@pytest.mark.parametrize("version, passed", [("1.3.2", None), ("1.4.1", None), ("1.5.0", True)])
def test_skip_existing_output_is_passed_only_to_checkouts_that_have_it(tmp_path, requests_by_name, version, passed):
    checkout = fake_cosmos_checkout(tmp_path / "co", version=version)
    assert read_checkout(checkout).skip_existing is bool(passed)
    results, _ = run(backend_for(checkout), pick(requests_by_name, "P01_5s"), tmp_path / "s")
    assert isinstance(results["P01_5s"], RawClip)
    assert fake_loads(tmp_path / "s")[0]["skip_existing_output"] is passed


def test_the_fake_skips_existing_outputs_as_u150_and_rejects_the_flag_as_u132(tmp_path):
    batch = tmp_path / "one.json"
    batch.write_text(json.dumps(GOOD))
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.mp4").write_bytes(b"made before")
    new = fake_cosmos_checkout(tmp_path / "new", version="1.5.0") / "examples" / "inference.py"
    proc = subprocess.run([sys.executable, str(new), "-i", str(batch), "-o", str(out), "--skip-existing-output"],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "Skipping 1/1 samples because output files already exist" in proc.stdout
    assert (out / "a.mp4").read_bytes() == b"made before" and "No inference samples" in proc.stderr
    old = fake_cosmos_checkout(tmp_path / "old", version="1.3.2") / "examples" / "inference.py"
    proc = subprocess.run([sys.executable, str(old), "-i", str(batch), "-o", str(out), "--skip-existing-output"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "unrecognized arguments: --skip-existing-output" in proc.stderr


def test_the_fake_logs_in_upstreams_format(tmp_path):
    batch = tmp_path / "one.json"
    batch.write_text(json.dumps(GOOD))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(FAKE), "-i", str(batch), "-o", str(out)], capture_output=True, text=True)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0 and lines
    prefix = re.compile(r"^\[\d\d-\d\d \d\d:\d\d:\d\d\|(INFO|SUCCESS|WARNING|CRITICAL)\|[\w/.]+\.py:\d+:\w+\] ")
    assert all(prefix.match(line) for line in lines), lines
    assert any(re.search(r"\|SUCCESS\|cosmos_predict2/inference\.py:170:_generate_sample\] Saved video to "
                         + re.escape(str(out / "a")) + r"\.mp4$", line) for line in lines)
    assert any(line.endswith("|INFO|cosmos_predict2/inference.py:85:generate] [1/1] Processing sample a") for line in lines)


def test_log_lines_are_read_by_their_message_not_by_what_a_prompt_quotes():
    saved = "[03-02 10:11:12|SUCCESS|cosmos_predict2/inference.py:170:_generate_sample] Saved video to /my work/o/A_5s.mp4"
    assert log_message(saved) == "Saved video to /my work/o/A_5s.mp4"
    quoted = ("[03-02 10:11:12|CRITICAL|cosmos_predict2/inference.py:103:_generate_sample] Guardrail blocked text2world "
              "generation. Prompt: a sign reading Saved video to /x/B_5s.mp4")
    assert log_message(quoted).startswith("Guardrail blocked text2world")
    assert log_message("Traceback (most recent call last):") == "Traceback (most recent call last):"


def test_distilled_inputs_carry_the_steps_and_guidance_it_really_uses(checkout, tmp_path, requests_by_name):
    """The distilled student samples 4 fixed times without guidance: a 35-step, guidance-7 request would lie."""
    requests = pick(requests_by_name, "P01_5s", "P01_10s")  # one chunk and an autoregressive clip
    assert all(r.manifest.defaults.num_steps == 35 and r.manifest.defaults.guidance == 7 for r in requests)
    results, _ = run(backend_for(checkout, model="2B/distilled"), requests, tmp_path / "s")
    batch = [json.loads(line) for line in (tmp_path / "s" / "batch-1.jsonl").read_text().splitlines()]
    assert [(b["num_steps"], b["guidance"]) for b in batch] == [(DISTILLED_MAX_STEPS, 0)] * 2
    assert batch[1]["enable_autoregressive"] is True  # multi-chunk clips run on it (docs/cosmos.md)
    for r in requests:
        assert isinstance(results[r.name], RawClip), results[r.name]
    assert fake_loads(tmp_path / "s")[0]["model"] == "2B/distilled"
    # `synthcam prompts` writes the same for a manifest whose model is the distilled one
    manifest = manifest_for("2B/distilled")
    sample = next(c for c in compile_manifest(manifest) if c.name == "P01_5s").cosmos_sample(manifest).to_json()
    assert (sample["num_steps"], sample["guidance"]) == (4, 0)
    assert requests[0].compiled.cosmos_sample(requests[0].manifest).to_json()["num_steps"] == 35  # others unchanged


def test_the_uv_launcher_needs_a_synced_checkout(tmp_path, checkout, monkeypatch):
    monkeypatch.setattr("synthcam.backends.cosmos.shutil.which", lambda exe: f"/usr/bin/{exe}")  # uv may be absent here
    create_backend("cosmos", {"checkout": str(checkout), "launcher": "uv"}, ["0"]).check()
    bare = tmp_path / "bare"
    shutil.copytree(checkout, bare, ignore=shutil.ignore_patterns(".venv"))
    with pytest.raises(BackendError, match=r"has no \.venv: run `uv sync --extra=cu128` there first"):
        create_backend("cosmos", {"checkout": str(bare), "launcher": "uv"}, ["0"]).check()
