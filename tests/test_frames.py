"""Frame sampling: which frame is picked for which time, files written, sheets and posters."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthcam.errors import InputError, MediaError
from synthcam.frames import (
    FILE_MODE, clip_duration, contact_sheet, extract, find_clip, grab, parse_every, poster_and_sheet, poster_frame, sample_times,
    timestamp,
)
from synthcam.media.encode import VideoWriter

FPS = 24
FRAMES = 48  # 2 s


@pytest.fixture(scope="module")
def ramp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s at 24 fps; frame i has brightness 10 + 5 i, so a picture tells its frame number."""
    path = tmp_path_factory.mktemp("frames") / "ramp_2s.mp4"
    with VideoWriter(path, 64, 48, FPS, crf=10) as w:
        for i in range(FRAMES):
            w.write(np.full((48, 64, 3), 10 + 5 * i, np.uint8))
    return path


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def frame_number(image: Image.Image) -> int:
    return round((np.asarray(image.convert("L"), dtype=float).mean() - 10) / 5)


@pytest.mark.parametrize("text, seconds", [("1s", 1.0), ("0.5s", 0.5), (".25s", 0.25), ("500ms", 0.5),
                                           ("2", 2.0), (" 3 sec ", 3.0)])
def test_parse_every_accepts_durations(text: str, seconds: float) -> None:
    assert parse_every(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["1x", "", "s", "-1s", "0s", "0ms", "2h", "1e3s", "7200"])
def test_parse_every_rejects_nonsense(text: str) -> None:
    with pytest.raises(InputError, match="--every"):
        parse_every(text)


def test_sample_times_count_takes_the_middle_of_equal_slices() -> None:
    assert sample_times(6.0, count=3) == [1.0, 3.0, 5.0]
    assert sample_times(5.0, count=1) == [2.5]


def test_sample_times_every_starts_at_zero_and_stops_before_the_end() -> None:
    assert sample_times(5.0, every=1.0) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert sample_times(5.0, every=2.0) == [0.0, 2.0, 4.0]


def test_sample_times_refuses_ambiguous_or_huge_requests() -> None:
    with pytest.raises(InputError, match="not both"):
        sample_times(5.0, count=3, every=1.0)
    with pytest.raises(InputError, match="would grab 3000 frames"):
        sample_times(30.0, every=0.01)
    with pytest.raises(InputError, match="--count 0"):
        sample_times(5.0, count=0)


def test_duration_comes_from_the_header(ramp: Path) -> None:
    assert clip_duration(ramp) == pytest.approx(2.0)


def test_grab_picks_the_frame_on_screen_at_each_time(ramp: Path) -> None:
    times = [0.0, 0.5, 1.0, 1.02, 1.99, 5.0]
    samples = list(grab(ramp, times))
    assert [s.at for s in samples] == times
    # frame i is on screen from i/24 to (i+1)/24; past the end the last frame stays.
    assert [frame_number(s.image) for s in samples] == [0, 12, 24, 24, 47, 47]
    assert [round(s.time * FPS) for s in samples] == [0, 12, 24, 24, 47, 47]


def test_grab_shrinks_to_the_width_asked(ramp: Path) -> None:
    (sample,) = grab(ramp, [1.0], width=32)
    assert sample.image.size == (32, 24)


def test_extract_writes_count_frames_named_by_time(ramp: Path, tmp_path: Path) -> None:
    result = extract(ramp, tmp_path / "out")
    assert [p.name for p in result.frames] == ["ramp_2s_001_0.333s.jpg", "ramp_2s_002_1.000s.jpg",
                                               "ramp_2s_003_1.667s.jpg"]
    assert [frame_number(Image.open(p)) for p in result.frames] == [8, 24, 40]
    assert result.sheet is None


def test_extract_every_with_a_contact_sheet(ramp: Path, tmp_path: Path) -> None:
    result = extract(ramp, tmp_path, every="250ms", sheet=True)
    assert len(result.frames) == 8
    with Image.open(result.sheet) as sheet:
        # 5 columns x 2 rows of 64x48 tiles with 2 px gaps, plus a title line
        assert sheet.width == 5 * 64 + 6 * 2
        assert sheet.height > 2 * 48


def test_extract_refuses_count_and_every_together(ramp: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not both"):
        extract(ramp, tmp_path, count=3, every="1s")


def test_find_clip_by_path_or_by_name_in_a_workspace(ramp: Path, tmp_path: Path) -> None:
    assert find_clip(ramp) == ramp
    (tmp_path / "clips").mkdir()
    clip = tmp_path / "clips" / "P01_5s.mp4"
    clip.write_bytes(ramp.read_bytes())
    assert find_clip("P01_5s", tmp_path) == clip
    with pytest.raises(InputError, match="no such clip: P02_5s"):
        find_clip("P02_5s", tmp_path)
    with pytest.raises(InputError, match="no such clip: ../etc/passwd"):
        find_clip("../etc/passwd", tmp_path)


def test_poster_is_the_middle_frame_and_the_sheet_has_ten_tiles(ramp: Path, tmp_path: Path) -> None:
    poster, sheet = poster_and_sheet(ramp, tmp_path / "p.jpg", tmp_path / "s.jpg", tile_width=32)
    assert frame_number(Image.open(poster)) == 24
    with Image.open(sheet) as im:
        assert im.size == (5 * 32 + 6 * 2, 2 * 24 + 3 * 2)
    full = poster_frame(ramp, tmp_path / "full.jpg", width=None)
    assert Image.open(full).size == (64, 48)
    assert contact_sheet(ramp, tmp_path / "c.jpg", tiles=4, columns=2).is_file()


def test_written_files_get_the_umask_mode_not_a_private_one(ramp: Path, tmp_path: Path) -> None:
    (path,) = extract(ramp, tmp_path, count=1).frames
    assert path.stat().st_mode & 0o777 == FILE_MODE == 0o666 & ~current_umask()


def test_a_file_that_is_not_video_is_a_media_error(tmp_path: Path) -> None:
    fake = tmp_path / "fake.mp4"
    fake.write_text("version https://git-lfs.github.com/spec/v1\n")
    with pytest.raises(MediaError):
        extract(fake, tmp_path)


def test_timestamp_format() -> None:
    assert timestamp(0) == "0:00.000"
    assert timestamp(65.25) == "1:05.250"
