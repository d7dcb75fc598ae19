"""The chunk store: finished chunks are reused only by the job and settings that made them."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest

from synthcam.backends.diffusers.chunks import ChunkKey, ChunkPlan, ChunkStore
from synthcam.prompts import chunk_count

KEY = ChunkKey(job_id="job-a", name="A01_10s", seed=41, height=16, width=32, chunk_frames=9, num_steps=2,
               guidance=7.0, weights="tiny@main", prompt_sha256="p" * 64, negative_sha256="n" * 64)


def _frames(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (9, 16, 32, 3), dtype=np.uint8)


@pytest.fixture
def store(tmp_path) -> ChunkStore:
    s = ChunkStore(tmp_path / "work", KEY)
    s.save(0, _frames(0))
    s.save(1, _frames(1))
    return s


@pytest.mark.parametrize("frames", [1, 80, 93, 94, 160, 185, 186, 480])
def test_plan_matches_the_compilers_chunk_count(frames):
    plan = ChunkPlan(frames)
    assert plan.chunks == chunk_count(frames)
    assert 93 + 92 * (plan.chunks - 1) >= frames and (plan.chunks == 1 or 93 + 92 * (plan.chunks - 2) < frames)
    assert [plan.seed(100, k) for k in range(plan.chunks)] == list(range(100, 100 + plan.chunks))


def test_saved_chunks_come_back_bit_exact(store):
    assert store.finished() == 2
    assert np.array_equal(store.load(0), _frames(0)) and np.array_equal(store.load(1), _frames(1))
    clip = np.stack(list(store.clip_frames(2, 15)))
    assert np.array_equal(clip, np.concatenate([_frames(0), _frames(1)[1:7]]))


@pytest.mark.parametrize("field,value", [("job_id", "job-b"), ("seed", 42), ("height", 32), ("num_steps", 3),
                                         ("guidance", 6.0), ("weights", "other@main"), ("prompt_sha256", "q" * 64)])
def test_chunks_of_another_job_or_settings_are_discarded(store, field, value):
    other = ChunkStore(store.folder, dataclasses.replace(KEY, **{field: value}))
    assert other.finished() == 0
    assert not list(store.folder.iterdir())


def test_copied_into_another_jobs_folder_they_are_not_reused(store, tmp_path):
    shutil.copytree(store.folder, tmp_path / "other")
    assert ChunkStore(tmp_path / "other", dataclasses.replace(KEY, job_id="job-b")).finished() == 0


def test_a_torn_or_unrecorded_chunk_is_redone_with_everything_after_it(store):
    store.video(1).write_bytes(store.video(1).read_bytes()[:100])   # torn video
    assert store.finished() == 1
    assert sorted(p.name for p in store.folder.iterdir()) == ["chunk-000.json", "chunk-000.mkv"]
    store.save(1, _frames(1))
    store.record(0).unlink()                                         # crashed before the record: chunk 0 is gone
    assert store.finished() == 0 and not list(store.folder.iterdir())


def test_a_chunk_made_after_another_chunk_0_is_not_reused(store):
    """Each record names the chunk it continues, so a re-made chunk 0 invalidates the old chunk 1."""
    record = json.loads(store.record(1).read_text())
    store.save(0, _frames(7))
    store.record(1).write_text(json.dumps(record))
    assert store.finished() == 1


def test_save_refuses_the_wrong_shape(store):
    with pytest.raises(ValueError, match="expected"):
        store.save(2, _frames(2)[:8])
