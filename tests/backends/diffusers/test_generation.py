"""The diffusers backend on the real Cosmos Predict 2.5 pipeline code with tiny random weights (CPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from backends.diffusers.support import Recorder, frames_of, manifest, requests
from synthcam.backends.base import Failure, RawClip
from synthcam.backends.registry import create_backend
from synthcam.engine.postprocess import Target, finalize
from synthcam.media.probe import probe


def _run(backend, reqs, staging: Path, recorder: Recorder | None = None) -> dict[str, RawClip | Failure]:
    hooks = (recorder or Recorder()).hooks()
    return {r.request.name: r for r in backend.generate_many(reqs, staging, hooks)}


def test_one_chunk_and_two_chained_chunks_make_exact_clips(make_backend, tmp_path):
    m = manifest()
    rec = Recorder()
    out = _run(make_backend(), requests(m, ["A01_5s", "A01_10s"], tmp_path / "work"), tmp_path / "staging", rec)
    five, ten = out["A01_5s"], out["A01_10s"]
    assert isinstance(five, RawClip) and isinstance(ten, RawClip), out
    # 5 s at 16 fps = 80 frames from one 93-frame chunk; 10 s = 160 frames from 93 + 92.
    assert (five.frames, ten.frames) == (80, 160)
    assert five.fps == ten.fps == 16.0 and not five.at_target and not ten.at_target
    for clip, frames in ((five, 80), (ten, 160)):
        info = probe(clip.video)
        assert (info.frames, float(info.fps), info.width, info.height) == (frames, 16.0, 32, 32)
    assert rec.chunks_made("A01_5s") == [1] and rec.chunks_made("A01_10s") == [1, 2]
    assert rec.started == ["A01_5s", "A01_10s"] and rec.loads == 1
    steps = [e["step"] for e in rec.events if e["names"] == ["A01_10s"] and e["chunk"] == 2]
    assert steps == [1, 2] and all(e["seconds_per_step"] >= 0 for e in rec.events)
    # The clip is chunk 0 whole, then chunk 1 without its first (overlapping) frame: losslessly.
    chunk0, chunk1 = (frames_of(tmp_path / "work" / "A01_10s" / f"chunk-00{k}.mkv") for k in (0, 1))
    clip = frames_of(ten.video)
    assert np.array_equal(clip[:93], chunk0) and np.array_equal(clip[93:], chunk1[1:68])
    # The engine's finishing takes it like the Cosmos CLI's output: 16 fps -> 24 fps, exact frames.
    result = finalize(ten.video, tmp_path / "final.mp4", Target(24, 240, 32, 32), "interpolate", 160, method="blend")
    assert result.frames == 240 and probe(tmp_path / "final.mp4").frames == 240


def test_same_seed_same_clip_other_seed_other_clip(make_backend, tmp_path):
    names = ["A02_5s"]
    a = _run(make_backend(), requests(manifest(seed=3), names, tmp_path / "a"), tmp_path / "sa")["A02_5s"]
    b = _run(make_backend(), requests(manifest(seed=3), names, tmp_path / "b"), tmp_path / "sb")["A02_5s"]
    c = _run(make_backend(), requests(manifest(seed=4), names, tmp_path / "c"), tmp_path / "sc")["A02_5s"]
    fa, fb, fc = (frames_of(x.video) for x in (a, b, c))
    assert np.array_equal(fa, fb)
    assert np.abs(fa.astype(int) - fc).mean() > 5


def test_conditioning_frame_survives_the_chunk_boundary(make_backend, tmp_path):
    """Chunk 2 is conditioned on the last frame of chunk 1 and keeps it as its first latent frame.

    Checked in latent space: the tiny random VAE's decoder amplifies small latent errors
    unevenly, so pixels would measure the toy decoder rather than the conditioning.
    """
    backend = make_backend()
    reqs = requests(manifest(), ["A03_10s"], tmp_path / "work")
    backend._ensure_pipeline("2B/post-trained", Recorder().hooks())
    vae = backend._pipe.vae
    encoded, decoded = [], []
    encode, decode = vae.encode, vae.decode
    vae.encode = lambda x, *a, **k: (encoded.append(x.clone()), encode(x, *a, **k))[1]
    vae.decode = lambda z, *a, **k: (decoded.append(z.clone()), decode(z, *a, **k))[1]
    clip = _run(backend, reqs, tmp_path / "staging")["A03_10s"]
    assert isinstance(clip, RawClip)
    vae.encode, vae.decode = encode, decode
    chunk0 = frames_of(tmp_path / "work" / "A03_10s" / "chunk-000.mkv")
    # The conditioning video is chunk 0's last frame, exactly (then padded with it).
    (video,) = encoded
    expected = torch.from_numpy(chunk0[-1]).permute(2, 0, 1).float() / 127.5 - 1
    assert torch.equal(video[0, :, 0], expected) and torch.equal(video[0, :, -1], expected)

    def latent(frame):
        x = torch.from_numpy(frame).permute(2, 0, 1).float()[None, :, None] / 127.5 - 1
        with torch.no_grad():
            return encode(x).latent_dist.mode()[:, :, 0]

    first = decoded[1][:, :, 0]  # chunk 2's first latent frame, as decoded
    error = (first - latent(chunk0[-1])).abs().max().item()
    others = [(first - latent(chunk0[i])).abs().max().item() for i in (0, 30, 60)]
    assert error < 0.1, error                   # stated tolerance; the latents span about +-4
    assert min(others) > 5 * error, (error, others)


def test_text_encoder_runs_once_per_distinct_prompt(make_backend, tmp_path, monkeypatch):
    from transformers import Qwen2_5_VLForConditionalGeneration

    calls = []
    forward = Qwen2_5_VLForConditionalGeneration.forward

    def counting(self, *args, **kwargs):
        calls.append(1)
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(Qwen2_5_VLForConditionalGeneration, "forward", counting)
    backend = make_backend(batch_size=2)
    names = ["A01_5s", "A01_10s", "A02_5s", "A02_10s"]  # two prompts (5/10 s share the text), one negative
    out = _run(backend, requests(manifest(), names, tmp_path / "w1"), tmp_path / "s1")
    assert all(isinstance(r, RawClip) for r in out.values()), out
    assert len(calls) == 3
    # A later batch of the same worker reuses them; only a new prompt is encoded.
    _run(backend, requests(manifest(), ["A01_5s", "A03_5s"], tmp_path / "w2", "again"), tmp_path / "s2")
    assert len(calls) == 4


def test_batch_of_clips_equals_one_at_a_time(make_backend, tmp_path):
    names = ["A01_5s", "A02_5s", "A03_5s"]
    rec = Recorder()
    batched = _run(make_backend(batch_size=3), requests(manifest(), names, tmp_path / "b"), tmp_path / "sb", rec)
    single = _run(make_backend(batch_size=1), requests(manifest(), names, tmp_path / "s"), tmp_path / "ss")
    assert {e["batch"] for e in rec.events} == {3}
    for name in names:
        fb, fs = frames_of(batched[name].video).astype(int), frames_of(single[name].video).astype(int)
        assert np.abs(fb - fs).max() <= 2, name          # float tolerance, in 8-bit levels
    a, b = (frames_of(single[n].video).astype(int) for n in names[:2])
    assert np.abs(a - b).mean() > 5                      # ...while different clips differ widely


def test_out_of_memory_names_the_option_and_batches_fall_back(make_backend, tmp_path, monkeypatch):
    backend = make_backend(batch_size=2)
    backend._ensure_pipeline("2B/post-trained", Recorder().hooks())
    pipe_class = type(backend._pipe)
    call = pipe_class.__call__

    def no_room_for_two(self, *args, **kwargs):
        if kwargs["prompt_embeds"].shape[0] > 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return call(self, *args, **kwargs)

    monkeypatch.setattr(pipe_class, "__call__", no_room_for_two)
    rec = Recorder()
    out = _run(backend, requests(manifest(), ["A01_5s", "A02_5s"], tmp_path / "w"), tmp_path / "s", rec)
    assert all(isinstance(r, RawClip) for r in out.values()), out
    assert any("out of memory at batch 2" in line and "one clip at a time" in line for line in rec.lines)

    def no_room(self, *args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(pipe_class, "__call__", no_room)
    (failure,) = _run(backend, requests(manifest(), ["A03_5s"], tmp_path / "w2"), tmp_path / "s2").values()
    assert isinstance(failure, Failure) and failure.kind == "oom" and not failure.retryable
    assert "enable_model_cpu_offload=true" in failure.message


def test_chunks_without_a_work_dir_live_in_staging_until_the_clip_is_made(make_backend, tmp_path):
    out = _run(make_backend(), requests(manifest(), ["A02_10s"], None), tmp_path / "staging")
    assert isinstance(out["A02_10s"], RawClip)
    assert not list((tmp_path / "staging").glob("chunks-*"))
    assert (tmp_path / "staging" / "A02_10s.diffusers.json").is_file()


def test_registry_builds_it_from_cli_style_options(tiny_dir, tmp_path):
    backend = create_backend("diffusers", {"model_dir": str(tiny_dir), "disable_guardrails": "true",
                                           "batch_size": "2", "device": "cpu"})
    backend.check()
    (clip,) = backend.generate_many(requests(manifest(), ["A01_5s"], tmp_path / "w"), tmp_path / "s")
    assert isinstance(clip, RawClip) and clip.frames == 80
    backend.close()


@pytest.mark.parametrize("guidance", [0, 1, 2])
def test_low_native_guidance_runs(make_backend, tmp_path, guidance):
    """Native guidance 0, 1 and 2 have no direct diffusers scale; each still makes a clip."""
    out = _run(make_backend(), requests(manifest(guidance=guidance), ["A01_5s"], tmp_path / "w"), tmp_path / "s")
    assert isinstance(out["A01_5s"], RawClip)
