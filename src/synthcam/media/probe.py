"""Header probing and decode helpers on PyAV, shared by the verifier and post-processing.

PyAV does not raise on most decode errors: libav logs them and conceals the damage. So a
decoder that must notice damage runs inside `libav_errors()`, which collects libav's log
lines at ERROR level from every thread (frame threads log from their own threads).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.logging
import numpy as np

from ..errors import MediaError

__all__ = ["LUMA_FORMATS", "VideoInfo", "libav_errors", "luma", "probe"]

# 8-bit formats whose first plane is luma, so the grey image is a zero-copy view.
LUMA_FORMATS = frozenset({
    "yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv411p", "yuv440p",
    "nv12", "nv21", "nv16", "gray", "yuva420p",
})


@dataclass(frozen=True)
class VideoInfo:
    """What the container header says about the first video stream (nothing is decoded)."""

    format: str
    codec: str
    pix_fmt: str | None
    width: int
    height: int
    fps: Fraction | None  # average frame rate; None when the header has none
    frames: int | None  # sample count from the header; None when unknown
    duration_s: float | None
    time_base: Fraction | None


def info_of(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> VideoInfo:
    """VideoInfo for an open container and its video stream."""
    ctx = stream.codec_context
    duration = None
    if stream.duration is not None and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    elif container.duration:
        duration = container.duration / av.time_base
    rate = stream.average_rate or stream.guessed_rate
    return VideoInfo(
        format=container.format.name,
        codec=ctx.name,
        pix_fmt=ctx.pix_fmt,
        width=ctx.width,
        height=ctx.height,
        fps=Fraction(rate) if rate else None,
        frames=stream.frames or None,
        duration_s=duration,
        time_base=Fraction(stream.time_base) if stream.time_base else None,
    )


def probe(path: str | Path) -> VideoInfo:
    """Read a file's header (milliseconds; nothing decoded). Raises MediaError if it is no video."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.video:
                raise MediaError(f"{path}: no video stream")
            return info_of(container, container.streams.video[0])
    except av.FFmpegError as exc:
        raise MediaError(f"{path}: {exc.strerror or exc}") from exc
    except OSError as exc:
        raise MediaError(f"{path}: {exc.strerror or exc}") from exc


def luma(frame: av.VideoFrame) -> np.ndarray:
    """The frame's 8-bit luma as a (h, w) array: a view of plane 0 when possible, else converted."""
    if frame.format.name in LUMA_FORMATS:
        plane = frame.planes[0]
        rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        return rows[:, : plane.width]
    return frame.to_ndarray(format="gray")


@contextlib.contextmanager
def libav_errors() -> Iterator[list[tuple[int, str, str]]]:
    """Collect libav log lines at ERROR level or worse, from all threads, as (level, name, message).

    libav's log level is global, so this sets it for the block and restores it afterwards.
    Repeated lines are kept (not folded) so that counts are counts.
    """
    old_level = av.logging.get_level()
    old_skip = av.logging.get_skip_repeated()
    av.logging.set_level(av.logging.ERROR)
    av.logging.set_skip_repeated(False)
    try:
        with av.logging.Capture(local=False) as logs:
            yield logs
    finally:
        av.logging.set_skip_repeated(old_skip)
        av.logging.set_level(old_level)
