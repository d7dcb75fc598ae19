"""Sample frames, contact sheets and poster frames from a clip, so people can look at video.

The old checklist took three screenshots per clip by hand; `extract` does it for any
clip. Every function decodes the clip once, front to back, and keeps only the frames it
wants (already shrunk), so memory stays flat for any length. Seeking would not help: x264
puts a keyframe every ~10 s, so a seek decodes nearly as much and lands less exactly.

"The frame at time t" is the frame on screen at t: the last one whose timestamp is <= t.
`--count N` takes the middle of N equal slices of the clip (so it never shows only the
first black frame), `--every S` takes 0, S, 2S, ... up to the end.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
from PIL import Image, ImageDraw, ImageFont

from .errors import InputError, MediaError
from .fsutil import atomic_path
from .limits import H264_MAX_PIXELS

__all__ = [
    "Sample", "parse_every", "sample_times", "clip_duration", "grab", "contact_sheet",
    "poster_frame", "poster_and_sheet", "sheet_image", "timestamp", "MAX_FRAMES", "FramesResult", "find_clip",
    "extract", "readable", "FILE_MODE", "DIR_MODE",
]

MAX_FRAMES = 1000          # refuse to write more frames than this in one call
JPEG_QUALITY = 85
SHEET_COLUMNS = 5
SHEET_TILES = 10           # 5 x 2, the layout the anchors' ffmpeg `tile=5x2` recipe uses
SHEET_TILE_WIDTH = 192
POSTER_WIDTH = 480
_EVERY = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|sec|secs|seconds?)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Sample:
    """One grabbed frame: the time asked for, the frame's own timestamp and the picture."""

    at: float
    time: float
    image: Image.Image


def parse_every(text: str) -> float:
    """'1s', '0.5s', '500ms' or a bare number of seconds -> seconds (> 0)."""
    m = _EVERY.match(str(text))
    if not m:
        raise InputError(f"bad --every {text!r}: use a duration like 1s, 0.5s or 500ms")
    seconds = float(m[1]) / (1000.0 if (m[2] or "").lower() == "ms" else 1.0)
    if not 0.001 <= seconds <= 3600:
        raise InputError(f"bad --every {text!r}: the interval must be between 1ms and 1 hour")
    return seconds


def sample_times(duration: float, count: int | None = None, every: float | None = None) -> list[float]:
    """Times to grab: the middles of `count` equal slices, or every `every` seconds from 0."""
    if (count is None) == (every is None):
        raise InputError("give either a frame count or an interval (--count or --every), not both")
    if duration <= 0:
        raise MediaError(f"cannot sample a clip of {duration:.3f} s")
    if count is not None:
        if not 1 <= count <= MAX_FRAMES:
            raise InputError(f"bad --count {count}: use 1 to {MAX_FRAMES}")
        return [(i + 0.5) * duration / count for i in range(count)]
    assert every is not None
    n = math.ceil(duration / every - 1e-9)
    if n > MAX_FRAMES:
        raise InputError(f"--every {every:g}s would grab {n} frames from a {duration:.1f} s clip "
                         f"(at most {MAX_FRAMES}); use a longer interval")
    return [i * every for i in range(n)]


def _open(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise InputError(f"no such clip: {path}")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, OSError) as exc:
        raise MediaError(f"{path.name}: cannot open: {getattr(exc, 'strerror', None) or exc}") from None
    if not container.streams.video:
        container.close()
        raise MediaError(f"{path.name}: no video stream")
    ctx = container.streams.video[0].codec_context
    if (ctx.width or 0) * (ctx.height or 0) > H264_MAX_PIXELS:
        container.close()
        raise MediaError(f"{path.name}: claims {ctx.width}x{ctx.height}, beyond the "
                         f"{H264_MAX_PIXELS / 1e6:.1f} Mpx decode limit (H.264 level 6.2); not decoded")
    return container


def clip_duration(path: str | Path) -> float:
    """Seconds, from the header: the stream's duration, else the container's, else frames / fps."""
    with _open(Path(path)) as container:
        stream = container.streams.video[0]
        if stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
        if container.duration:
            return container.duration / av.time_base
        rate = stream.average_rate or stream.guessed_rate
        if stream.frames and rate:
            return stream.frames / float(rate)
    raise MediaError(f"{Path(path).name}: the header gives no duration")


def _shrink(frame: av.VideoFrame, width: int | None) -> Image.Image:
    if width and frame.width > width:
        height = max(2, round(frame.height * width / frame.width))
        return frame.reformat(width=width, height=height, format="rgb24").to_image()
    return frame.to_image()


def grab(path: str | Path, times: Sequence[float], width: int | None = None) -> Iterator[Sample]:
    """Yield the frame shown at each of `times` (sorted ascending), decoding the clip once.

    Times past the end get the last frame. Only the previous frame is held, so memory stays flat.
    """
    path = Path(path)
    wanted = sorted(times)
    if not wanted:
        return
    i = 0
    try:
        with _open(path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            start: float | None = None
            prev: tuple[float, av.VideoFrame] | None = None
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                if start is None:
                    start = frame.time
                t = frame.time - start
                while i < len(wanted) and prev is not None and t > wanted[i] + 1e-6:
                    yield Sample(wanted[i], prev[0], _shrink(prev[1], width))
                    i += 1
                if i == len(wanted):
                    return
                prev = (t, frame)
            while prev is not None and i < len(wanted):
                yield Sample(wanted[i], prev[0], _shrink(prev[1], width))
                i += 1
    except av.FFmpegError as exc:
        raise MediaError(f"{path.name}: cannot decode: {exc}") from None
    if i == 0:
        raise MediaError(f"{path.name}: no frames could be decoded")


def timestamp(seconds: float) -> str:
    """0:02.500 style: minutes, seconds and milliseconds."""
    ms = round(seconds * 1000)
    return f"{ms // 60000}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()
DIR_MODE = 0o777 & ~_umask()


def readable(path: Path, mode: int = FILE_MODE) -> Path:
    """Give a file the umask's usual mode: atomic_path's mkstemp makes it private (0600),
    and galleries, frames and exports are read by other people and tools."""
    os.chmod(path, mode)
    return path


def _save_jpeg(image: Image.Image, out: Path) -> Path:
    with atomic_path(out) as tmp:
        image.save(tmp, format="JPEG", quality=JPEG_QUALITY, optimize=True)
        readable(tmp)
    return out


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the fixed bitmap font
        return ImageFont.load_default()


def sheet_image(samples: Sequence[Sample], columns: int = SHEET_COLUMNS, title: str | None = None) -> Image.Image:
    """A grid of the samples, each labelled with its own timestamp (bottom left)."""
    if not samples:
        raise MediaError("no frames for a contact sheet")
    columns = max(1, min(columns, len(samples)))
    rows = math.ceil(len(samples) / columns)
    tw = max(s.image.width for s in samples)
    th = max(s.image.height for s in samples)
    gap = 2
    head = 0
    font = _font(max(10, th // 9))
    if title:
        head = font.size + 8 if hasattr(font, "size") else 18
    sheet = Image.new("RGB", (columns * tw + (columns + 1) * gap, head + rows * th + (rows + 1) * gap), (17, 17, 17))
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((gap + 4, 4), title, fill=(230, 230, 230), font=font)
    for k, s in enumerate(samples):
        x = gap + (k % columns) * (tw + gap)
        y = head + gap + (k // columns) * (th + gap)
        sheet.paste(s.image, (x, y))
        label = timestamp(s.time)
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        tx, ty = x + 3, y + th - (bottom - top) - 6
        draw.rectangle((tx - 2, ty - 2 + top, tx + right - left + 2, ty + bottom + 2), fill=(0, 0, 0))
        draw.text((tx, ty), label, fill=(255, 255, 255), font=font)
    return sheet


def contact_sheet(clip: str | Path, out: str | Path, tiles: int = SHEET_TILES, columns: int = SHEET_COLUMNS,
                  tile_width: int = SHEET_TILE_WIDTH, every: float | None = None) -> Path:
    """Write a JPEG grid of `tiles` evenly spaced frames (or one per `every` seconds) with timestamps."""
    clip = Path(clip)
    times = sample_times(clip_duration(clip), None if every else tiles, every)
    samples = list(grab(clip, times, tile_width))
    return _save_jpeg(sheet_image(samples, columns), Path(out))


def poster_frame(clip: str | Path, out: str | Path, width: int | None = POSTER_WIDTH) -> Path:
    """Write the middle frame as a JPEG (full size when width is None): the picture that stands for the clip."""
    clip = Path(clip)
    sample = next(grab(clip, [clip_duration(clip) / 2], width))
    return _save_jpeg(sample.image, Path(out))


def poster_and_sheet(clip: str | Path, poster_out: str | Path, sheet_out: str | Path, tiles: int = SHEET_TILES,
                     columns: int = SHEET_COLUMNS, tile_width: int = SHEET_TILE_WIDTH,
                     poster_width: int = POSTER_WIDTH) -> tuple[Path, Path]:
    """Poster and contact sheet from one decode pass: what the gallery makes for every clip."""
    clip = Path(clip)
    duration = clip_duration(clip)
    middle = duration / 2
    times = sample_times(duration, tiles)
    tiles_out: list[Sample] = []
    poster: Sample | None = None
    for s in grab(clip, sorted([*times, middle]), poster_width):
        if poster is None and s.at == middle:
            poster = s
            continue
        small = s.image.copy()
        small.thumbnail((tile_width, tile_width * 4))
        tiles_out.append(Sample(s.at, s.time, small))
    assert poster is not None
    return _save_jpeg(poster.image, Path(poster_out)), _save_jpeg(sheet_image(tiles_out, columns), Path(sheet_out))


@dataclass(frozen=True)
class FramesResult:
    clip: Path
    frames: list[Path]
    sheet: Path | None


def find_clip(ref: str | Path, workspace: str | Path | None = None) -> Path:
    """A clip by path, or by name (`P01_5s`) in the workspace's clips folder."""
    path = Path(ref)
    if path.is_file():
        return path
    if workspace is not None and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", str(ref)):
        candidate = Path(workspace) / "clips" / f"{ref}.mp4"
        if candidate.is_file():
            return candidate
        raise InputError(f"no such clip: {ref} (not a file, and no {candidate})")
    raise InputError(f"no such clip: {ref}")


def extract(ref: str | Path, out_dir: str | Path | None = None, count: int | None = None, every: str | None = None,
            sheet: bool = False, workspace: str | Path | None = None) -> FramesResult:
    """`synthcam frames`: JPEGs of the sampled frames, plus a contact sheet of the same frames."""
    clip = find_clip(ref, workspace)
    if count is not None and every is not None:
        raise InputError("use --count or --every, not both")
    interval = parse_every(every) if every is not None else None
    if count is None and interval is None:
        count = 3
    times = sample_times(clip_duration(clip), count, interval)
    out = Path(out_dir) if out_dir is not None else Path(f"{clip.stem}_frames")
    written: list[Path] = []
    tiles: list[Sample] = []
    for n, s in enumerate(grab(clip, times), start=1):
        written.append(_save_jpeg(s.image, out / f"{clip.stem}_{n:03d}_{s.at:.3f}s.jpg"))
        if sheet:
            small = s.image.copy()
            small.thumbnail((SHEET_TILE_WIDTH * 2, SHEET_TILE_WIDTH * 8))
            tiles.append(Sample(s.at, s.time, small))
    sheet_path = _save_jpeg(sheet_image(tiles, SHEET_COLUMNS, clip.name), out / f"{clip.stem}_sheet.jpg") if sheet else None
    return FramesResult(clip, written, sheet_path)
