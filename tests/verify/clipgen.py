"""Synthetic CCTV-like clips for the verifier's tests: drawn with numpy, encoded with PyAV.

A "scene" is a static, textured grey background (a fixed camera); a "take" moves a few
blobs (people, a car) across it on seeded paths, with a little sensor noise per frame.
Nothing is downloaded: every clip comes from these functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

W, H = 320, 176


def background(seed: int, w: int = W, h: int = H) -> np.ndarray:
    """A static textured scene: smooth noise, a 'lawn' band and a 'door' rectangle."""
    rng = np.random.default_rng(seed)
    coarse = rng.normal(110, 35, (h // 8 + 1, w // 8 + 1)).astype(np.float32)
    img = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    img += rng.normal(0, 6, (h, w)).astype(np.float32)
    x = int(rng.integers(w // 8, w // 2))
    cv2.rectangle(img, (x, h // 5), (x + w // 8, h // 2), float(rng.integers(30, 80)), -1)
    cv2.rectangle(img, (0, 3 * h // 4), (w, h), float(rng.integers(60, 100)), -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def take(bg: np.ndarray, n: int, seed: int, noise: float = 2.0, movers: int = 2) -> Iterator[np.ndarray]:
    """n frames of `bg` with `movers` blobs moving on seeded paths, plus per-frame grain."""
    h, w = bg.shape
    rng = np.random.default_rng(seed)
    paths = []
    for _ in range(movers):
        start = rng.uniform([0, h * 0.3], [w * 0.5, h * 0.7])
        velocity = rng.uniform([0.8, -0.4], [2.5, 0.4]) * (w / 320)
        size = (int(rng.integers(w // 32, w // 16)), int(rng.integers(h // 8, h // 4)))
        paths.append((start, velocity, size, float(rng.integers(170, 240))))
    for i in range(n):
        frame = bg.astype(np.float32)
        for start, velocity, (bw, bh), shade in paths:
            x, y = start + velocity * i
            x = x % (w + bw) - bw
            cv2.ellipse(frame, (int(x), int(y)), (bw, bh // 2), 0, 0, 360, shade, -1)
        if noise:
            frame += rng.normal(0, noise, frame.shape).astype(np.float32)
        yield np.clip(frame, 0, 255).astype(np.uint8)


def write_clip(path: Path, frames: Iterable[np.ndarray], fps: int = 24, *, codec: str = "libx264",
               pix_fmt: str = "yuv420p", crf: int = 23, pts: Iterable[int] | None = None,
               time_base: Fraction | None = None, faststart: bool = False) -> Path:
    """Encode grey frames to `path`. `pts` (in `time_base`) makes a variable-rate clip."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", format="mp4", options=options) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.pix_fmt = pix_fmt
        if codec == "libx264":
            stream.options = {"crf": str(crf), "preset": "ultrafast"}
        stream.thread_type = "SLICE"
        stream.codec_context.thread_count = 1
        if time_base is not None:
            stream.time_base = stream.codec_context.time_base = time_base
        pts_iter = iter(pts) if pts is not None else None
        first = True
        for grey in frames:
            if first:
                stream.height, stream.width = grey.shape
                first = False
            frame = av.VideoFrame.from_ndarray(grey, format="gray")
            if pts_iter is not None:
                frame.pts = next(pts_iter)
                frame.time_base = time_base
            out.mux(stream.encode(frame))
        if first:  # no frames: a stream must still have a size
            stream.width, stream.height = W, H
        out.mux(stream.encode(None))
    return path


def good_clip(path: Path, seconds: float, scene: int = 1, seed: int = 1, fps: int = 24, **kw) -> Path:
    """A clip that passes every check: a fixed scene with movers, exactly fps x seconds frames."""
    n = round(fps * seconds)
    return write_clip(path, take(background(scene), n, seed), fps, **kw)


def noise_clip(path: Path, seconds: float, w: int = 128, h: int = 96, fps: int = 24, seed: int = 0) -> Path:
    """Uniform RGB noise, a new image every frame: what a random-weight model makes. It decodes
    perfectly (every container check passes) and fails `flicker` under the default policy."""
    from synthcam.media.encode import VideoWriter

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with VideoWriter(path, w, h, fps, preset="ultrafast", crf=30, threads=1) as writer:
        for _ in range(round(fps * seconds)):
            writer.write(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return path


def first_frame_cut_clip(path: Path, seconds: float, w: int = 128, h: int = 96, fps: int = 24, seed: int = 0) -> Path:
    """One noise image, then another held with grain: a causal video VAE decoding its first frame
    on its own. It fails `scene_cut` (at frame 1) under the default policy."""
    from synthcam.media.encode import VideoWriter

    rng = np.random.default_rng(seed)
    first, rest = (rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(2))
    path.parent.mkdir(parents=True, exist_ok=True)
    with VideoWriter(path, w, h, fps, preset="ultrafast", crf=30, threads=1) as writer:
        writer.write(first)
        for _ in range(round(fps * seconds) - 1):
            writer.write(np.clip(rest.astype(np.int16) + rng.integers(-3, 4, rest.shape), 0, 255).astype(np.uint8))
    return path
