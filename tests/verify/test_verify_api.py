"""The public surface, the hashes, and the cross-file rules on hand-made signatures."""

from __future__ import annotations

import os
import stat

import cv2
import imagehash
import numpy as np
import pytest
from PIL import Image

import synthcam.verify as verify_pkg
from synthcam.verify import (
    Expectation,
    FileReport,
    Signature,
    Thresholds,
    mark_duplicates,
    near_matches,
    verify_file,
    verify_paths,
)
from synthcam.verify.signature import phash

from .clipgen import H, W, good_clip


def test_exports():
    for name in verify_pkg.__all__:
        assert hasattr(verify_pkg, name), name
    assert {"verify_file", "verify_paths", "Expectation", "Thresholds"} <= set(verify_pkg.__all__)


def test_phash_agrees_with_imagehash():
    rng = np.random.default_rng(0)
    for _ in range(5):
        img = cv2.GaussianBlur(rng.integers(0, 255, (176, 320), dtype=np.uint8), (0, 0), 3)
        theirs = int(str(imagehash.phash(Image.fromarray(img))), 16)
        assert (phash(img) ^ theirs).bit_count() <= 6  # same construction, different resampling
    assert phash(np.zeros((44, 80), np.uint8)) == 0


def _report(name: str, frames, motion, active, sha="x") -> FileReport:
    r = FileReport(path=name, sha256=sha + name, codec="h264", frames=24 * len(frames))
    r.signature = Signature(tuple(frames), tuple(motion), tuple(active))
    return r


def test_prefix_needs_frames_and_motion_to_agree():
    base = [(0x0F0F0F0F0F0F0F0F * (k + 1)) & (2**64 - 1) for k in range(10)]
    moves = [k * 7919 for k in range(10)]
    long = _report("L_10s.mp4", base, moves, [True] * 10)
    prefix = _report("L_5s.mp4", [h ^ 1 for h in base[:5]], moves[:5], [True] * 5)
    other_take = _report("L2_5s.mp4", base[:5], [m ^ (2**40 - 1) for m in moves[:5]], [True] * 5)
    still = _report("S_5s.mp4", base[:5], [0] * 5, [False] * 5)
    th = Thresholds()
    pairs = {(m.a, m.b) for m in near_matches([long, prefix, other_take, still], th)}
    assert pairs == {(1, 0)}  # only the prefix: the other take and the still clip move differently
    reports = [long, prefix, other_take, still]
    mark_duplicates(reports, th)
    assert [r.status for r in reports] == ["near_duplicate", "near_duplicate", "ok", "ok"]


def test_two_still_clips_of_one_scene_match():
    a = _report("A_5s.mp4", [1, 2, 3, 4, 5], [0] * 5, [False] * 5)
    b = _report("B_5s.mp4", [1, 2, 3, 4, 5], [0] * 5, [False] * 5)
    assert len(near_matches([a, b], Thresholds())) == 1


def test_exact_duplicates_only_among_videos():
    a = FileReport(path="a.mp4", sha256="s", codec="h264", frames=1)
    b = FileReport(path="b.mp4", sha256="s", codec="h264", frames=1)
    stub1 = FileReport(path="p.mp4", sha256="t")
    stub2 = FileReport(path="q.mp4", sha256="t")
    mark_duplicates([a, b, stub1, stub2], Thresholds())
    assert (a.status, b.status, stub1.status, stub2.status) == ("duplicate", "duplicate", "ok", "ok")


def test_unreadable_file(tmp_path, monkeypatch):
    clip = good_clip(tmp_path / "A_1s.mp4", 1, scene=80, seed=80)
    if os.geteuid() != 0:
        clip.chmod(0)
    else:  # root reads anything: make open() fail the way it would for anyone else
        import synthcam.verify.file as file_mod

        def denied(*_a, **_k):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(file_mod, "open", denied, raising=False)
    r = verify_file(clip, Expectation(width=W, height=H, duration_s=1))
    assert r.status == "unreadable" and r.findings[0].detail == "cannot read: Permission denied"
    clip.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_a_symlink_next_to_its_target_is_a_duplicate(tmp_path):
    clip = good_clip(tmp_path / "A_1s.mp4", 1, scene=81, seed=81)
    (tmp_path / "B_1s.mp4").symlink_to(clip)
    report = verify_paths([tmp_path], defaults=Expectation(width=W, height=H), in_process=True)
    assert [f.status for f in report.files] == ["duplicate", "duplicate"]


def test_empty_run_passes(tmp_path):
    report = verify_paths([tmp_path])
    assert report.ok and report.summary.files == 0 and report.files == [] and report.ids == []


def test_bad_jobs_is_a_usage_error(tmp_path):
    from synthcam.errors import InputError

    with pytest.raises(InputError, match="jobs"):
        verify_paths([tmp_path], jobs=0)
