"""media.encode.VideoWriter: exact frame count and rate, atomic output, deterministic bytes."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from synthcam.errors import InputError, MediaError
from synthcam.media.encode import VideoWriter


def _frames(n: int, w: int = 64, h: int = 48) -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    base = rng.integers(0, 255, (h, w, 3), np.uint8)
    return [np.roll(base, i, axis=1) for i in range(n)]


@pytest.mark.parametrize("fps", [24, 30, Fraction(30000, 1001)])
def test_exact_frames_and_rate(tmp_path: Path, fps) -> None:
    out = tmp_path / "c.mp4"
    with VideoWriter(out, 64, 48, fps) as w:
        for f in _frames(37):
            w.write(f)
    with av.open(str(out)) as c:
        s = c.streams.video[0]
        assert s.average_rate == Fraction(fps)
        assert sum(1 for _ in c.decode(s)) == 37
        assert s.codec_context.pix_fmt == "yuv420p" and s.codec_context.name == "h264"


def test_accepts_yuv_grey_and_bgr(tmp_path: Path) -> None:
    out = tmp_path / "c.mp4"
    with VideoWriter(out, 64, 48, 24) as w:
        w.write(np.full((72, 64), 128, np.uint8))                        # yuv420p
        w.write(np.full((48, 64), 90, np.uint8))                         # grey
        w.write(np.zeros((48, 64, 3), np.uint8), "bgr24")
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 3


def test_lossless_ffv1_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "m.mkv"
    frames = _frames(5)
    with VideoWriter(out, 64, 48, 24, codec="ffv1", pix_fmt="bgr0") as w:
        for f in frames:
            w.write(f)
    with av.open(str(out)) as c:
        back = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert all(np.array_equal(a, b) for a, b in zip(frames, back))


def test_same_frames_same_bytes(tmp_path: Path) -> None:
    paths = [tmp_path / f"{k}.mp4" for k in range(3)]
    for p in paths:
        with VideoWriter(p, 64, 48, 24, threads=2) as w:
            for f in _frames(30):
                w.write(f)
    assert len({p.read_bytes() for p in paths}) == 1


def test_nothing_appears_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "c.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(out, 64, 48, 24) as w:
            w.write(_frames(1)[0])
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(MediaError, match="does not fit"):
        with VideoWriter(out, 64, 48, 24) as w:
            w.write(np.zeros((10, 10, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="suffix"):
        VideoWriter(tmp_path / "c.webmx", 64, 48, 24)
    with pytest.raises(InputError, match="even"):
        VideoWriter(tmp_path / "c.mp4", 63, 48, 24)
    with pytest.raises(MediaError, match="encoder"):
        VideoWriter(tmp_path / "c.mp4", 64, 48, 24, codec="no-such-codec")
    assert list(tmp_path.iterdir()) == []
