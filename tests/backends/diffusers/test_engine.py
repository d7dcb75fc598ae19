"""The diffusers backend through `synthcam run`: the real engine, finishing and store, on CPU.

Tiny random weights make noise that decodes perfectly but fails the content checks, so the run
uses the smoke profile (`--verify-policy container-only`), as the README tells a user trying a
backend with a tiny model, rather than patching the verifier.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import assert_only_verified_on_disk, invoke
from synthcam.store import JobStore

from .support import MANIFEST

pytestmark = pytest.mark.slow


def test_run_with_diffusers_makes_verified_clips_from_one_and_two_chunks(tmp_path: Path, tiny_dir: Path):
    manifest = tmp_path / "m.yaml"
    manifest.write_text(MANIFEST.format(seed=3, guidance=7))
    ws = tmp_path / "ws"
    result = invoke("run", "-m", manifest, "-w", ws, "--backend", "diffusers", "--gpus", "1", "--only", "A01",
                    "--model-dir", tiny_dir, "-o", "device=cpu", "-o", "disable_guardrails=true", "-o", "cpu_threads=1",
                    "--verify-policy", "container-only", "--interpolation", "blend", "--finish-workers", "1", "--json",
                    "--force")  # the tiny manifest skips the lint rules of real prompts
    assert result.exit_code == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["verified"] == 2 and data["selected"] == 2
    store = JobStore(ws / "synthcam.db")
    try:
        jobs = {j.name: j for j in store.jobs() if j.clip_id == "A01"}
        workers = store.workers()
    finally:
        store.close()
    for name, frames in (("A01_5s", 120), ("A01_10s", 240)):
        job = jobs[name]
        assert job.state == "done" and job.probe["frames"] == frames and job.probe["fps"] == 24
        assert job.probe["policy"]["name"] == "container-only"  # the record says how it was verified
        assert job.starts == 1
    assert sum(w.model_loads for w in workers) == 1  # one model load for the worker's whole queue
    assert_only_verified_on_disk(ws)
    status = json.loads(invoke("status", "-w", ws, "--json").stdout)
    assert status["verify_policies"] == {"container-only": 2}
    assert "container-only" in invoke("logs", "A01_10s", "-w", ws).stdout


def test_without_the_smoke_profile_noise_is_not_verified(tmp_path: Path, tiny_dir: Path):
    manifest = tmp_path / "m.yaml"
    manifest.write_text(MANIFEST.format(seed=3, guidance=7))
    ws = tmp_path / "ws"
    result = invoke("run", "-m", manifest, "-w", ws, "--backend", "diffusers", "--gpus", "1", "--only", "A02",
                    "--durations", "5", "--model-dir", tiny_dir, "-o", "device=cpu", "-o", "disable_guardrails=true",
                    "-o", "cpu_threads=1", "--interpolation", "blend", "--force")
    assert result.exit_code == 1, result.stdout + result.stderr
    store = JobStore(ws / "synthcam.db")
    try:
        job = store.find("A02_5s")[0]
    finally:
        store.close()
    assert job.state == "failed" and job.error_kind.startswith("verify:")  # a content check, under the default policy
    assert_only_verified_on_disk(ws, gone=("A02_5s",))
