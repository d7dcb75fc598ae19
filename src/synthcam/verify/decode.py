"""One decode pass: open, read every packet, decode every frame, and measure as it goes.

PyAV raises on some broken packets ("no frame!") and silently conceals others, so this
decodes packet by packet, counts exceptions, corrupt frames and libav's ERROR log lines,
and keeps going: damage anywhere in a clip is found, and one bad packet stops nothing.
A wall-clock deadline and a frame cap bound the work on hostile input.
"""

from __future__ import annotations

import time
from array import array
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..media.probe import VideoInfo, info_of, libav_errors, luma
from .stats import FrameAnalyzer, FrameStats
from .thresholds import Thresholds
from ..errors import OpenFailure  # noqa: F401 - raised here, defined in the one tree

__all__ = ["DecodeResult", "OpenFailure", "decode_clip"]

_CHECK_EVERY = 16  # packets between deadline checks
_STILL_FORMATS = frozenset({"image2", "png", "jpeg", "webp", "bmp", "tiff"})


@dataclass
class DecodeResult:
    """Everything one pass learned about a file's video stream."""

    info: VideoInfo
    packets: int = 0
    frames: int = 0
    corrupt_frames: int = 0
    decode_exceptions: int = 0
    log_errors: int = 0
    first_error: str | None = None
    stopped: str | None = None  # why reading stopped before the end, if it did
    size_changes: int = 0
    pts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    stats: FrameStats | None = None

    @property
    def error_count(self) -> int:
        return self.decode_exceptions + self.log_errors


def _pretty(fmt: str) -> str:
    """'MP4' for libav's "mov,mp4,m4a,3gp,3g2,mj2" family, else the first name."""
    names = fmt.split(",")
    return "MP4" if "mp4" in names else names[0]


def _open_failure(exc: Exception, path: Path) -> OpenFailure:
    """Tell 'this is not media at all' from 'this is media that cannot be read'."""
    message = getattr(exc, "strerror", None) or str(exc)
    if isinstance(exc, av.error.InvalidDataError):
        with open(path, "rb") as fh:
            head = fh.read(64)
        if b"ftyp" in head[:12] or b"moov" in head or b"mdat" in head:
            return OpenFailure("unreadable", f"an MP4 that cannot be opened ({message}); truncated, or no moov atom")
        return OpenFailure("not_video", f"not a media file: libav found no known format ({message})")
    return OpenFailure("unreadable", f"cannot be opened: {message}")


def _video_stream(container: av.container.InputContainer, th: Thresholds) -> av.video.stream.VideoStream:
    """The stream to decode, or OpenFailure saying why there is none worth decoding."""
    fmt = container.format.name
    if fmt in _STILL_FORMATS or fmt.endswith("_pipe"):
        raise OpenFailure("not_video", f"a still image ({fmt.removesuffix('_pipe')}), not a video")
    if not container.streams:
        raise OpenFailure("wrong_frames", f"{_pretty(fmt)} container with no tracks: 0 frames")
    if not container.streams.video:
        kinds = ", ".join(sorted({s.type for s in container.streams}))
        raise OpenFailure("not_video", f"{_pretty(fmt)} file with no video stream (only {kinds})")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    if ctx.width * ctx.height > th.max_pixels:
        raise OpenFailure("unreadable", (
            f"header claims {ctx.width}x{ctx.height} ({ctx.width * ctx.height / 1e6:.0f} Mpx a frame), "
            f"beyond the {th.max_pixels / 1e6:.1f} Mpx decode limit; not decoded"))
    return stream


def decode_clip(path: str | Path, th: Thresholds, max_frames: int, deadline: float | None = None) -> DecodeResult:
    """Decode the first video stream of `path` once. Raises OpenFailure if there is none to decode.

    libav's log goes to Python only while frames are decoded. PyAV frees a codec context with
    the GIL held, and a frame thread that logs then waits for the GIL forever; so the decoder is
    drained (its threads idle) and logging is off again before the container is released.
    """
    path = Path(path)
    deadline = deadline if deadline is not None else time.monotonic() + th.decode_timeout_s
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, OSError) as exc:
        raise _open_failure(exc, path) from None
    try:
        stream = _video_stream(container, th)
        reader = _Reader(DecodeResult(info=info_of(container, stream)), th, max_frames, deadline)
        with libav_errors() as logs:
            reader.read(container, stream)
        result = reader.finish()
        result.log_errors = len(logs)
        if logs and result.first_error is None:
            result.first_error = logs[0][2].strip()
        return result
    finally:
        container.close()


class _Reader:
    """Demux and decode packet by packet, feeding each frame to a FrameAnalyzer."""

    def __init__(self, result: DecodeResult, th: Thresholds, max_frames: int, deadline: float):
        self.result, self.th, self.max_frames, self.deadline = result, th, max_frames, deadline
        info = result.info
        self.fps = float(info.fps) if info.fps else 24.0
        self.tb = float(info.time_base or Fraction(1, 90000))
        self.size = (info.width, info.height)
        self.analyzer: FrameAnalyzer | None = None
        self.pts = array("q")
        self.first_pts: int | None = None

    def read(self, container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> None:
        result = self.result
        stream.thread_type = "AUTO"
        finished = False
        try:
            for n, packet in enumerate(container.demux(stream)):
                if packet.size:
                    result.packets += 1
                try:
                    frames = packet.decode()  # the last, empty packet flushes the decoder
                except av.FFmpegError as exc:
                    result.decode_exceptions += 1
                    result.first_error = result.first_error or (exc.strerror or str(exc))
                    continue
                for frame in frames:
                    self.take(frame)
                if result.frames > self.max_frames:
                    result.stopped = f"more than {self.max_frames} frames; stopped counting"
                    break
                if n % _CHECK_EVERY == 0 and time.monotonic() > self.deadline:
                    result.stopped = f"decoding did not finish within {self.th.decode_timeout_s:g} s"
                    break
            else:
                finished = True
        except av.FFmpegError as exc:
            result.stopped = f"reading stopped after {result.packets} packets: {exc.strerror or exc}"
        if not finished:
            self.drain(stream, keep=result.stopped is not None and "reading stopped" in result.stopped)

    def drain(self, stream: av.video.stream.VideoStream, keep: bool) -> None:
        """Take the frames still inside the decoder, so no decoder thread is busy afterwards."""
        try:
            for frame in stream.codec_context.decode(None):
                if keep:
                    self.take(frame)
        except av.FFmpegError:
            pass

    def take(self, frame: av.VideoFrame) -> None:
        result = self.result
        if self.analyzer is None:
            full = frame.color_range == 2 or frame.format.name.startswith("yuvj")
            self.analyzer = FrameAnalyzer(frame.width, frame.height, self.fps, full, self.th)
        if (frame.width, frame.height) != self.size:
            result.size_changes += 1
            self.size = (frame.width, frame.height)
        result.corrupt_frames += bool(frame.is_corrupt)
        p = frame.pts
        if p is None:
            t = result.frames / self.fps
        else:
            self.first_pts = p if self.first_pts is None else self.first_pts
            self.pts.append(p)
            t = (p - self.first_pts) * self.tb
        self.analyzer.push(luma(frame), t)
        result.frames += 1

    def finish(self) -> DecodeResult:
        result = self.result
        result.pts = np.frombuffer(self.pts, np.int64).copy() if len(self.pts) else np.zeros(0, np.int64)
        if self.analyzer is not None:
            result.stats = self.analyzer.finish()
        return result
