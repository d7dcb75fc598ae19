"""Guardrails as upstream: prompts before any GPU work, videos after; a block ends the job as blocked."""

from __future__ import annotations

import numpy as np
import pytest

from backends.diffusers.support import Recorder, manifest, requests
from synthcam.backends.base import RawClip
from synthcam.backends.diffusers import BlockedFailure, guardrails
from synthcam.errors import BackendError


class WordChecker:
    """A stand-in for cosmos_guardrail.CosmosSafetyChecker: blocks prompts with a word, and videos
    whose first frame is brighter than a threshold; 'blurs' by zeroing the top-left pixel."""

    def __init__(self, word: str = "", brighter_than: float = 256.0) -> None:
        self.word, self.brighter_than = word, brighter_than
        self.texts: list[str] = []
        self.videos: list[tuple] = []

    def check_text_safety(self, prompt: str) -> bool:
        self.texts.append(prompt)
        return not (self.word and self.word in prompt)

    def check_video_safety(self, frames: np.ndarray):
        self.videos.append(frames.shape)
        if frames[0].mean() > self.brighter_than:
            return None
        out = frames.copy()
        out[:, 0, 0] = 0
        return out


def test_blocked_prompt_ends_the_job_before_any_gpu_work(make_backend, tmp_path):
    checker = WordChecker(word="driveway")
    rec = Recorder()
    out = {r.request.name: r for r in make_backend(safety_checker=checker).generate_many(
        requests(manifest(), ["A01_5s", "A02_5s", "A02_10s"], tmp_path / "w"), tmp_path / "s", rec.hooks())}
    for name in ("A02_5s", "A02_10s"):
        failure = out[name]
        assert isinstance(failure, BlockedFailure) and failure.kind == "blocked" and failure.stage == "prompt"
        assert not failure.retryable and "stage prompt" in failure.message
        assert rec.chunks_made(name) == []
    assert isinstance(out["A01_5s"], RawClip)
    assert len(checker.texts) == 2  # once per distinct prompt
    assert set(rec.started) == {"A01_5s", "A02_5s", "A02_10s"}  # each job was announced before its result


def test_blocked_video_ends_the_job_after_generation(make_backend, tmp_path):
    checker = WordChecker(brighter_than=-1)  # every video is "unsafe"
    rec = Recorder()
    (failure,) = make_backend(safety_checker=checker).generate_many(
        requests(manifest(), ["A03_10s"], tmp_path / "w"), tmp_path / "s", rec.hooks())
    assert isinstance(failure, BlockedFailure) and failure.stage == "video" and not failure.retryable
    assert "stage video" in failure.message and rec.chunks_made("A03_10s") == [1, 2]
    assert checker.videos == [(160, 32, 32, 3)]  # the whole clip, once


def test_passed_video_is_what_the_guardrail_returned(make_backend, tmp_path):
    from backends.diffusers.support import frames_of

    (clip,) = make_backend(safety_checker=WordChecker()).generate_many(
        requests(manifest(), ["A01_5s"], tmp_path / "w"), tmp_path / "s")
    assert isinstance(clip, RawClip)
    assert (frames_of(clip.video)[:, 0, 0] == 0).all()  # the checker's "face blur" reached the clip


def test_without_cosmos_guardrail_it_refuses_unless_disabled(tiny_dir, monkeypatch):
    from synthcam.backends.diffusers import DiffusersBackend, parse_options

    monkeypatch.setattr(guardrails, "installed", lambda: False)
    backend = DiffusersBackend(parse_options({"model_dir": str(tiny_dir)}))
    with pytest.raises(BackendError, match="cosmos-guardrail is not installed.*disable_guardrails=true"):
        backend.check()
    DiffusersBackend(parse_options({"model_dir": str(tiny_dir), "disable_guardrails": True})).check()


def test_guardrail_models_missing_from_the_cache_name_the_downloads(monkeypatch):
    import sys
    import types

    def offline_only():
        from huggingface_hub import constants

        assert constants.HF_HUB_OFFLINE  # loaded with the Hub switched off
        raise OSError("LocalEntryNotFoundError: not in cache")

    fake = types.ModuleType("cosmos_guardrail")
    fake.CosmosSafetyChecker = offline_only
    monkeypatch.setitem(sys.modules, "cosmos_guardrail", fake)
    with pytest.raises(BackendError, match="hf download nvidia/Cosmos-1.0-Guardrail"):
        guardrails.load_checker("cpu")
