"""A small streaming video writer on PyAV: exact constant frame rate, atomic output.

Frames get pts 0, 1, 2... in a time base of exactly 1/fps, so a clip of N frames at 24 fps
is N frames at 24/1, never 23.976 or a rounded millisecond clock. The file is written to a
temporary path beside the target and renamed into place only when `close()` succeeds, so a
crash never leaves a playable-looking half clip. Rendering and post-processing share it.
"""

from __future__ import annotations

import contextlib
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import numpy as np

from ..errors import InputError, MediaError
from ..fsutil import atomic_path

__all__ = ["VideoWriter", "CONTAINERS", "BT601_TAGS"]

# Container muxer per suffix; the temp file ends in ".partial", so the muxer is named, not guessed.
CONTAINERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}
# What OpenCV's BGR->YUV_I420 produces: BT.601 matrix, limited (16-235) range. Tag it so players agree.
BT601_TAGS = {"colorspace": 6, "color_primaries": 6, "color_trc": 6, "color_range": 1}
_X264 = ("libx264", "libx264rgb")


class VideoWriter:
    """Encode frames one at a time to `path`; use as a context manager or call `close()`.

    `write` takes a uint8 array: (h, w, 3) RGB (or BGR with fmt="bgr24"), (h, w) grey, or
    (h*3/2, w) planar YUV 4:2:0. Frames in another format than the stream's are converted
    by libswscale. `threads` is fixed rather than "auto" because x264 output depends on the
    thread count. With more than one thread, x264's macroblock-tree rate control still made
    about one encode in ten differ (measured with FFmpeg 8 / PyAV 18), so `deterministic`
    turns it off (`mbtree=0`); repeated encodes are then byte-identical. Frame threads are
    the default: x264 encodes while the caller prepares the next frame.
    """

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: int | Fraction,
        *,
        codec: str = "libx264",
        pix_fmt: str = "yuv420p",
        crf: int = 20,
        preset: str = "veryfast",
        threads: int = 2,
        thread_type: str = "FRAME",
        options: dict[str, str] | None = None,
        tags: dict[str, int] | None = None,
        deterministic: bool = True,
    ) -> None:
        self.path = Path(path)
        container_format = CONTAINERS.get(self.path.suffix.lower())
        if container_format is None:
            raise InputError(f"{self.path}: unsupported video suffix {self.path.suffix!r} (use {', '.join(CONTAINERS)})")
        if width <= 0 or height <= 0 or (pix_fmt.startswith("yuv420") and (width % 2 or height % 2)):
            raise InputError(f"{self.path}: cannot encode {width}x{height} as {pix_fmt} (needs positive, even sizes)")
        self.width, self.height = width, height
        self.fps = Fraction(fps)
        self.frames = 0
        self._stack = contextlib.ExitStack()
        self._closed = False
        tmp = self._stack.enter_context(atomic_path(self.path))
        codec_options = dict(options or {})
        if codec in _X264:
            codec_options = {"preset": preset, "crf": str(crf), **codec_options}
            if deterministic and threads != 1:
                extra = codec_options.get("x264-params", "")
                codec_options["x264-params"] = ":".join(p for p in (extra, "mbtree=0") if p)
        try:
            self._container = av.open(str(tmp), "w", format=container_format)
            self._stream = self._container.add_stream(codec, rate=self.fps, options=codec_options)
            ctx = self._stream.codec_context
            ctx.width, ctx.height, ctx.pix_fmt = width, height, pix_fmt
            ctx.time_base = 1 / self.fps
            ctx.thread_count = threads
            ctx.thread_type = thread_type
            if tags is None and codec == "libx264" and pix_fmt.startswith("yuv"):
                tags = BT601_TAGS
            for name, value in (tags or {}).items():
                setattr(ctx, name, value)
        except (av.FFmpegError, ValueError) as exc:
            self._discard()
            raise MediaError(f"{self.path}: cannot set up {codec} {pix_fmt} encoder: {exc}") from None

    def write(self, frame: np.ndarray, fmt: str | None = None) -> None:
        """Append one frame; `fmt` names its layout when the shape alone is ambiguous."""
        fmt = fmt or self._guess_format(frame)
        av_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format=fmt)
        av_frame.pts = self.frames
        av_frame.time_base = self._stream.codec_context.time_base
        self._mux(self._stream.encode(av_frame))
        self.frames += 1

    def close(self) -> Path:
        """Flush the encoder and move the finished file into place."""
        if self._closed:
            return self.path
        self._closed = True
        try:
            self._mux(self._stream.encode(None))
            self._container.close()
        except BaseException:
            self._discard()
            raise
        self._stack.close()
        return self.path

    def abort(self) -> None:
        """Drop the partial file; the target path is left as it was."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._container.close()
        self._discard()

    def _discard(self) -> None:
        # Leaving atomic_path with an exception deletes the temp file instead of renaming it.
        self._stack.__exit__(MediaError, MediaError("discarded"), None)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()

    def _guess_format(self, frame: np.ndarray) -> str:
        if frame.dtype != np.uint8:
            raise MediaError(f"{self.path}: frames must be uint8, got {frame.dtype}")
        h, w = self.height, self.width
        if frame.shape == (h, w, 3):
            return "rgb24"
        if frame.shape == (h, w):
            return "gray"
        if frame.shape == (h * 3 // 2, w):
            return "yuv420p"
        raise MediaError(f"{self.path}: frame shape {frame.shape} does not fit {w}x{h} (RGB, grey or YUV 4:2:0)")

    def _mux(self, packets: Any) -> None:
        try:
            self._container.mux(packets)
        except av.FFmpegError as exc:
            raise MediaError(f"{self.path}: cannot write video: {exc}") from None
