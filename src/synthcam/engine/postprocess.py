"""Post-processing: a backend's raw output -> exactly the target frames, fps and codec.

Cosmos writes every mp4 at 16 fps: standard mode always 93 frames, autoregressive mode exactly
the frames asked. `interpolate` takes the first ceil(16 x s) frames and synthesises 24 fps
motion-compensated frames (ffmpeg's minterpolate through PyAV's filter graph); `retime` takes
24 x s frames and plays them at 24 fps. Either way the result is trimmed to exactly fps x s
frames and encoded H.264 yuv420p. Streaming: one frame in, frames out, flat memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from ..store import Target  # noqa: F401 - the exact clip a job must end as (re-exported)
from ..errors import MediaError
from ..media.encode import VideoWriter
from ..errors import TooFewFrames  # noqa: F401 - raised here, defined in the one tree

INTERPOLATION = {
    # motion-compensated: best motion, slowest (about 0.1 s per 1280x704 output frame on one core)
    "mci": "mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1",
    # frame blending: fast, ghosting on fast motion
    "blend": "mi_mode=blend",
    # frame duplication: fastest, judder
    "dup": "mi_mode=dup",
}


@dataclass(frozen=True)
class PostResult:
    path: Path
    frames: int
    source_frames: int       # frames the backend wrote
    used_frames: int         # frames taken from them
    method: str


def _decoded(path: Path) -> Iterator[av.VideoFrame]:
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{path.name}: no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            yield from container.decode(stream)
    except av.FFmpegError as exc:
        raise MediaError(f"{path.name}: cannot decode backend output: {exc}") from None


def _count_frames(path: Path) -> int:
    n = 0
    try:
        with av.open(str(path)) as container:
            for packet in container.demux(container.streams.video[0]):
                if packet.size:
                    n += 1
    except (av.FFmpegError, IndexError) as exc:
        raise MediaError(f"{path.name}: cannot read backend output: {exc}") from None
    return n


def _graph(width: int, height: int, src_fps: int, filters: list[tuple[str, str]], src: av.VideoFrame) -> av.filter.Graph:
    g = av.filter.Graph()
    node = g.add_buffer(width=src.width, height=src.height, format=src.format.name, time_base=Fraction(1, src_fps))
    for name, args in filters:
        nxt = g.add(name, args)
        node.link_to(nxt)
        node = nxt
    sink = g.add("buffersink")
    node.link_to(sink)
    g.configure()
    return g


def _pull_all(g: av.filter.Graph) -> Iterator[av.VideoFrame]:
    while True:
        try:
            yield g.pull()
        except (av.BlockingIOError, av.EOFError):
            return


def finalize(source: Path, out: Path, target: Target, policy: str, frames_needed: int, model_fps: int = 16,
             method: str = "mci") -> PostResult:
    """Write `out` (atomically) with exactly target.frames frames at target.fps, H.264 yuv420p."""
    if method not in INTERPOLATION:
        raise MediaError(f"unknown interpolation method {method!r} (use {', '.join(INTERPOLATION)})")
    available = _count_frames(source)
    if available < frames_needed:
        raise TooFewFrames(f"{source.name}: the backend wrote {available} frames, {frames_needed} were needed "
                         "(Cosmos ignores num_output_frames unless autoregressive mode is on)")
    filters: list[tuple[str, str]] = []
    if policy == "interpolate":
        filters.append(("minterpolate", f"fps={target.fps}:{INTERPOLATION[method]}"))
        in_fps = model_fps
    elif policy == "retime":
        in_fps = target.fps
    else:
        raise MediaError(f"unknown timing policy {policy!r}")
    filters.append(("scale", f"{target.width}:{target.height}:flags=bicubic"))
    filters.append(("format", "yuv420p"))

    writer = VideoWriter(out, target.width, target.height, target.fps)
    written = 0
    graph = None
    last: av.VideoFrame | None = None
    try:
        for i, frame in enumerate(_decoded(source)):
            if i >= frames_needed:
                break
            if graph is None:
                graph = _graph(target.width, target.height, in_fps, filters, frame)
            frame.pts, frame.time_base = i, Fraction(1, in_fps)
            graph.push(frame)
            last = frame
            for f in _pull_all(graph):
                if written < target.frames:
                    writer.write(f.to_ndarray(format="yuv420p"), fmt="yuv420p")
                    written += 1
        if graph is None or last is None:
            raise MediaError(f"{source.name}: no frames decoded")
        # Interpolation ends at the last input frame's time, 1-2 frames short of the full
        # length: hold the last frame for those (at most 1/model_fps of a second).
        pad_pts = frames_needed
        while written < target.frames and pad_pts < frames_needed + 4:
            hold = last.reformat(format=last.format.name)
            hold.pts, hold.time_base = pad_pts, Fraction(1, in_fps)
            graph.push(hold)
            pad_pts += 1
            for f in _pull_all(graph):
                if written < target.frames:
                    writer.write(f.to_ndarray(format="yuv420p"), fmt="yuv420p")
                    written += 1
        graph.push(None)
        for f in _pull_all(graph):
            if written < target.frames:
                writer.write(f.to_ndarray(format="yuv420p"), fmt="yuv420p")
                written += 1
        if written != target.frames:
            raise MediaError(f"{source.name}: post-processing produced {written} frames, {target.frames} needed")
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return PostResult(out, written, available, min(available, frames_needed), method if policy == "interpolate" else "retime")
