"""verify_file, the engine's entry point: one record per file, never an exception."""

from __future__ import annotations


import numpy as np
import pytest

from synthcam.verify import Expectation, Thresholds, verify_file, verify_paths

from .clipgen import H, W, background, good_clip, take, write_clip


def expect(seconds: int, **kw) -> Expectation:
    return Expectation(width=W, height=H, duration_s=seconds, **kw)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("file")
    return {
        "good": good_clip(d / "good_2s.mp4", 2, scene=40, seed=40),
        "still": write_clip(d / "still_2s.mp4", take(background(41), 48, 41, movers=0)),
        "frozen_still": write_clip(d / "fs_3s.mp4", [background(42)] * 72),
        "black": write_clip(d / "black_2s.mp4", [np.full((H, W), 16, np.uint8)] * 48),
    }


def test_good_clip_passes_with_motion_expected(clips):
    r = verify_file(clips["good"], expect(2, expects_motion=True))
    assert r.status == "ok" and r.findings == []
    assert (r.frames, r.fps, r.width, r.height, r.codec, r.pix_fmt) == (48, 24.0, W, H, "h264", "yuv420p")
    assert len(r.sha256) == 64 and r.size > 0 and r.signature.seconds == 2
    assert r.metrics["moving_pairs"] == 1.0 and r.metrics["decode_errors"] == 0


def test_static_only_when_motion_is_expected(clips):
    assert verify_file(clips["still"], expect(2)).status == "ok"
    assert verify_file(clips["still"], expect(2, expects_motion=False)).status == "ok"
    r = verify_file(clips["still"], expect(2, expects_motion=True))
    assert r.status == "static" and "0% of frame pairs" in r.findings[0].detail


def test_stillness_is_explained_once(clips):
    """A black or frozen clip is not also reported static: the first finding says why."""
    r = verify_file(clips["black"], expect(2, expects_motion=True))
    assert [f.kind for f in r.findings] == ["black"] and "every frame is black" in r.findings[0].detail
    r = verify_file(clips["frozen_still"], expect(3, expects_motion=True))
    assert [f.kind for f in r.findings] == ["frozen"] and "the picture stops for 2.5 s" in r.findings[0].detail


def test_name_is_used_without_expectation(clips):
    r = verify_file(clips["good"])  # defaults: 1280x704
    assert (r.id, r.duration_s, r.status) == ("good", 2, "wrong_resolution")


def test_missing_path_is_a_record_not_an_exception(tmp_path):
    r = verify_file(tmp_path / "nope_5s.mp4", expect(5))
    assert r.status == "unreadable" and r.findings[0].detail == "no such file"


def test_limits_stop_hostile_input(clips):
    r = verify_file(clips["good"], expect(2), Thresholds(max_pixels=1000))
    assert r.status == "unreadable" and "decode limit" in r.findings[0].detail
    r = verify_file(clips["good"], expect(2), Thresholds(decode_timeout_s=1e-9))
    assert r.status == "unreadable" and "did not finish" in r.findings[0].detail


def test_codec_and_pix_fmt_can_be_unchecked(tmp_path):
    clip = write_clip(tmp_path / "m_1s.mp4", take(background(43), 24, 43), codec="mpeg4")
    assert verify_file(clip, expect(1)).status == "wrong_codec"
    assert verify_file(clip, expect(1, codec=None, pix_fmt=None)).status == "ok"


def test_memory_is_flat_in_clip_length(tmp_path):
    """Only per-frame scalars are kept: 40 bytes a frame, not pixels."""
    clip = good_clip(tmp_path / "long_20s.mp4", 20, scene=44, seed=44)
    from synthcam.verify.decode import decode_clip

    stats = decode_clip(clip, Thresholds(), max_frames=10_000).stats
    held = sum(a.nbytes for a in (stats.luma, stats.black, stats.mae, stats.moving, stats.hashes))
    assert stats.count == 480 and held < 480 * 40


def test_manifest_run(tmp_path, mini_manifest_path):
    text = mini_manifest_path.read_text().replace("1280x704", "320x176").replace("durations: [5, 10, 30]", "durations: [2]")
    manifest = tmp_path / "m.yaml"
    manifest.write_text(text.replace("durations: [5, 10]", "durations: [1, 2]"))
    out = tmp_path / "out"
    good_clip(out / "P01_2s.mp4", 2, scene=45, seed=45)
    write_clip(out / "T01_1s.mp4", take(background(46), 24, 46, movers=0))  # the action moves: static
    good_clip(out / "T01_7s.mp4", 2, scene=47, seed=47)
    report = verify_paths([out], manifest=manifest, jobs=1)
    status = {f.path.rsplit("/", 1)[1]: f.status for f in report.files}
    assert status == {"P01_2s.mp4": "ok", "T01_1s.mp4": "static", "T01_7s.mp4": "unexpected_file"}
    ids = {i.id: i for i in report.ids}
    assert ids["P01"].status == "ok"
    assert ids["T01"].status == "missing_variant" and ids["T01"].findings[0].detail == "T01 has no 2 s variant (T01_2s.mp4)"
    assert report.summary.missing_variants == 1 and not report.ok
