"""The engine driving the fake Cosmos: every fault ends in the right state with the right message."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from helpers import assert_only_verified_on_disk, fake_cosmos_checkout

from synthcam.engine.runner import RunOptions, run
from synthcam.errors import BackendError, InputError
from synthcam.workspace import Workspace

TESTS = Path(__file__).parent.parent
MANIFEST = TESTS / "data" / "cosmos_tiny.yaml"


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    return fake_cosmos_checkout(tmp_path / "checkout")


def cosmos_run(tmp_path: Path, checkout: Path, faults: dict | None = None, **kw):
    options = {"checkout": str(checkout), "python": sys.executable, "poll_s": 0.05, "kill_grace_s": 2,
               "env": {"FAKE_COSMOS_FAULTS": json.dumps(faults or {})}, **kw.pop("backend_options", {})}
    opts = RunOptions(backend="cosmos", gpus=["0"], backend_options=options, interpolation="blend",
                      lease_s=10, backoff_s=0.1, max_attempts=2, **kw)
    result = run(MANIFEST, tmp_path / "ws", opts)
    store = Workspace.at(tmp_path / "ws").store()
    jobs = {j.name: j for j in store.jobs()}
    workers = store.workers()
    store.close()
    # whatever the fault, only verified clips are on disk, and nothing of the ones that were not
    assert_only_verified_on_disk(tmp_path / "ws", gone=tuple(n for n, j in jobs.items() if j.state != "done"))
    return result, jobs, workers


def test_clean_batch_loads_the_model_once_and_verifies_every_clip(tmp_path, checkout):
    result, jobs, workers = cosmos_run(tmp_path, checkout)
    assert result.ok and result.done == 3
    assert sum(w.model_loads for w in workers) == 1
    for job in jobs.values():
        assert job.state == "done" and job.probe["frames"] == job.spec["frames"] and job.probe["fps"] == 24


def test_crash_mid_batch_keeps_the_finished_and_retries_the_one_in_flight(tmp_path, checkout):
    result, jobs, _ = cosmos_run(tmp_path, checkout, {"crash_on": "A01_7s"})
    assert jobs["A01_1s"].state == jobs["A02_1s"].state == "done"
    assert jobs["A01_7s"].state == "failed" and jobs["A01_7s"].error_kind == "error" and jobs["A01_7s"].attempts == 2


def test_hang_times_out(tmp_path, checkout):
    result, jobs, _ = cosmos_run(tmp_path, checkout, {"hang_on": "A02_1s"}, backend_options={"job_timeout_s": 3})
    assert jobs["A02_1s"].state == "failed" and jobs["A02_1s"].error_kind == "timeout"
    assert jobs["A01_1s"].state == jobs["A01_7s"].state == "done"


def test_garbage_mp4_fails_verification(tmp_path, checkout):
    _, jobs, _ = cosmos_run(tmp_path, checkout, {"garbage_on": "A02_1s"})
    assert jobs["A02_1s"].state == "failed" and jobs["A02_1s"].error_kind.startswith("verify:")
    assert jobs["A01_1s"].state == "done"


def test_93_frames_when_more_were_asked_is_the_old_bug(tmp_path, checkout):
    _, jobs, _ = cosmos_run(tmp_path, checkout, {"ignore_frames": True})
    bad = jobs["A01_7s"]  # 7 s -> 112 frames asked in autoregressive mode
    assert bad.state == "failed" and bad.error_kind == "verify:wrong_frames" and bad.attempts == 1
    assert "93 frames, 112 were needed" in bad.error
    assert jobs["A01_1s"].state == "done"  # standard mode: 93 written, 16 used


def test_oom_is_not_retried_and_names_the_offload_flags(tmp_path, checkout):
    _, jobs, _ = cosmos_run(tmp_path, checkout, {"oom_on": "A01_7s"})
    job = jobs["A01_7s"]
    assert job.state == "failed" and job.error_kind == "oom" and "--offload" in job.error


def test_guardrail_block_is_blocked_not_failed(tmp_path, checkout):
    result, jobs, _ = cosmos_run(tmp_path, checkout, {"block": ["A02_1s"]})
    assert jobs["A02_1s"].state == "blocked" and jobs["A02_1s"].attempts == 1
    assert result.blocked == 1 and result.done == 2
    assert result.status["blocked"] == 1


def test_missing_checkpoint_fails_everything_once_with_a_clear_message(tmp_path, checkout):
    result, jobs, workers = cosmos_run(tmp_path, checkout, {"missing_checkpoint": True})
    assert {j.state for j in jobs.values()} == {"failed"}
    assert all(j.error_kind == "missing_checkpoint" for j in jobs.values())
    assert "hf download" in jobs["A01_1s"].error
    assert sum(w.model_loads for w in workers) == 1


def test_a_video_block_is_blocked_with_its_stage_and_its_gpu_time_counted(tmp_path, checkout):
    result, jobs, _ = cosmos_run(tmp_path, checkout, {"block_video": ["A02_1s"], "block": ["A01_7s"],
                                                     "sample_sleep_s": 0.5})
    video, prompt = jobs["A02_1s"], jobs["A01_7s"]
    assert video.state == prompt.state == "blocked" and result.blocked == 2 and jobs["A01_1s"].state == "done"
    assert video.error.startswith("video guardrail: A02_1s: Cosmos's guardrail refused the generated video")
    assert prompt.error.startswith("prompt guardrail: A01_7s: Cosmos's guardrail refused the prompt")
    assert video.gpu_seconds > 0  # generated, then refused: the GPU time was spent and is counted
    store = Workspace.at(tmp_path / "ws").store()
    events = store.events(video.job_id, kinds=["blocked"])
    store.close()
    assert events and events[0]["detail"].startswith("video guardrail:")


def test_bad_cosmos_options_are_refused_before_anything_is_written(tmp_path, checkout):
    with pytest.raises(InputError, match="option image"):
        cosmos_run(tmp_path, checkout, backend_options={"launcher": "docker", "image": "--privileged"})
    assert not (tmp_path / "ws").exists()


def test_a_model_the_checkout_is_too_old_for_is_refused_before_cosmos_starts(tmp_path):
    old = fake_cosmos_checkout(tmp_path / "old", version="1.3.2")
    with pytest.raises(BackendError, match="model 2B/distilled needs cosmos-predict2.5 1.4.1 or later") as err:
        cosmos_run(tmp_path, old, model="2B/distilled", backend_options={"model": "2B/distilled"})
    assert "\n" not in str(err.value)
    store = Workspace.at(tmp_path / "ws").store()
    states = {j.state for j in store.jobs()}
    store.close()
    assert states == {"pending"}  # nothing failed: fix the checkout or the model and run again
    assert not list((tmp_path / "ws").glob("staging/*/batch-*"))


def test_run_refuses_an_option_like_docker_image_with_one_line_and_exit_2(tmp_path, checkout):
    from helpers import assert_one_line_error, invoke

    ws = tmp_path / "ws"
    result = invoke("run", "-m", MANIFEST, "-w", ws, "--backend", "cosmos", "--cosmos-checkout", checkout,
                    "--launcher", "docker", "--docker-image=--privileged", "--gpus", "0,1")
    assert_one_line_error(result, "option image", "'--privileged'")
    assert not ws.exists()
