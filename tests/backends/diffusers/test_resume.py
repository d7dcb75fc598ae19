"""A crash mid-clip resumes from the last finished chunk, and the clip comes out the same."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from backends.diffusers.support import Recorder, frames_of, manifest, requests
from synthcam.backends.base import RawClip

TESTS = Path(__file__).resolve().parents[2]


class Crash(BaseException):
    """Stands for the process dying: nothing in the backend catches it."""


def _uninterrupted(make_backend, tmp_path: Path, name: str) -> np.ndarray:
    (clip,) = make_backend().generate_many(requests(manifest(), [name], tmp_path / "ref"), tmp_path / "ref-staging")
    return frames_of(clip.video)


def test_simulated_crash_resumes_from_the_last_finished_chunk(make_backend, tmp_path):
    work = tmp_path / "work"
    rec = Recorder()
    hooks = rec.hooks()

    def crash_in_chunk_2(info: dict) -> None:
        if info["chunk"] == 2:
            raise Crash()

    hooks.progress = crash_in_chunk_2
    with pytest.raises(Crash):
        list(make_backend().generate_many(requests(manifest(), ["A02_10s"], work), tmp_path / "s1", hooks))
    assert sorted(p.name for p in (work / "A02_10s").iterdir()) == ["chunk-000.json", "chunk-000.mkv"]

    again = Recorder()
    (clip,) = make_backend().generate_many(requests(manifest(), ["A02_10s"], work), tmp_path / "s2", again.hooks())
    assert isinstance(clip, RawClip) and clip.frames == 160
    assert again.chunks_made("A02_10s") == [2]
    assert any("resuming after chunk 1/2" in line for line in again.lines)
    assert np.array_equal(frames_of(clip.video), _uninterrupted(make_backend, tmp_path, "A02_10s"))


def test_finished_chunks_of_another_job_are_not_used(make_backend, tmp_path):
    work = tmp_path / "work"
    list(make_backend().generate_many(requests(manifest(), ["A01_10s"], work), tmp_path / "s1"))
    rec = Recorder()
    # Same folder, same clip, another job (e.g. the manifest's seed changed): everything is re-made.
    (clip,) = make_backend().generate_many(requests(manifest(seed=9), ["A01_10s"], work, "other"), tmp_path / "s2",
                                           rec.hooks())
    assert isinstance(clip, RawClip) and rec.chunks_made("A01_10s") == [1, 2]
    assert not any("resuming" in line for line in rec.lines)


CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import torch
    torch.set_num_threads(1)
    from backends.diffusers.support import manifest, requests
    from synthcam.backends.base import Hooks
    from synthcam.backends.diffusers import DiffusersBackend, parse_options

    tiny, work, staging, marker = map(Path, sys.argv[1:5])

    def progress(info):
        if info["chunk"] == 2:
            marker.touch()
            time.sleep(600)   # killed here, in the middle of chunk 2

    backend = DiffusersBackend(parse_options({"model_dir": str(tiny), "disable_guardrails": True}))
    list(backend.generate_many(requests(manifest(), ["A03_10s"], work), staging, Hooks(progress=progress)))
""")


@pytest.mark.slow
def test_kill_9_mid_clip_resumes_from_the_last_finished_chunk(make_backend, tiny_dir, tmp_path):
    work, marker = tmp_path / "work", tmp_path / "in-chunk-2"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tiny_dir), str(work), str(tmp_path / "s1"), str(marker)],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            assert child.poll() is None, child.stdout.read().decode(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "the child never reached chunk 2"
            time.sleep(0.1)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
    assert sorted(p.name for p in (work / "A03_10s").iterdir()) == ["chunk-000.json", "chunk-000.mkv"]

    rec = Recorder()
    (clip,) = make_backend().generate_many(requests(manifest(), ["A03_10s"], work), tmp_path / "s2", rec.hooks())
    assert isinstance(clip, RawClip) and clip.frames == 160
    assert rec.chunks_made("A03_10s") == [2]
    assert np.array_equal(frames_of(clip.video), _uninterrupted(make_backend, tmp_path, "A03_10s"))
