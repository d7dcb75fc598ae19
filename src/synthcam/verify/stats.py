"""Per-frame statistics, gathered in one streaming pass over decoded luma planes.

Each decoded frame is reduced to a small grey "analysis" frame (`Thresholds.analysis_width`
wide) and a 4x smaller "tiny" frame, and from those to a few numbers: mean brightness, black
or not, difference from the previous frame, moving area against the frame 1/8 s earlier, and a
64-bit pHash. Only a handful of small frames are held at any time, so memory does not grow
with clip length; the per-frame numbers (about 30 bytes a frame) are kept for the checks.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from .signature import Signature, phash
from .thresholds import Thresholds

__all__ = ["FrameAnalyzer", "FrameStats"]


@dataclass
class FrameStats:
    """The per-frame series of one clip (index = presentation order) and its signature."""

    fps: float
    luma: np.ndarray  # mean luma per frame
    black: np.ndarray  # bool: frame is black
    mae: np.ndarray  # mean |frame - previous frame| (0 for the first frame)
    moving: np.ndarray  # moving-area fraction vs the frame `gap` earlier (nan for the first `gap`)
    hashes: np.ndarray  # uint64 pHash per frame
    gap: int
    signature: Signature = field(default_factory=Signature)

    @property
    def count(self) -> int:
        return len(self.luma)


class FrameAnalyzer:
    """Consumes (luma plane, time) pairs in presentation order; `finish()` returns FrameStats."""

    def __init__(self, width: int, height: int, fps: float, full_range: bool, th: Thresholds):
        self.th = th
        self.fps = fps if fps and math.isfinite(fps) and fps > 0 else 24.0
        scale = min(1.0, th.analysis_width / max(width, 1))
        self.size = (max(8, round(width * scale)), max(8, round(height * scale)))
        self.tiny_size = (max(8, self.size[0] // 4), max(8, self.size[1] // 4))
        self.pixels = self.size[0] * self.size[1]
        self.tiny_pixels = self.tiny_size[0] * self.tiny_size[1]
        black = 255 * th.black_pixel_level if full_range else 16 + 219 * th.black_pixel_level
        self.black_level = int(black)
        # A frame whose mean exceeds this cannot have black_frame_ratio of its pixels at black_level.
        self.black_mean_bound = th.black_frame_ratio * black + (1 - th.black_frame_ratio) * 255
        self.black_max_bright = int((1 - th.black_frame_ratio) * self.pixels)
        self.gap = th.for_fps(self.fps)["motion_gap"]
        self.motion_delta = th.motion_pixel_delta
        self.min_area = th.motion_min_area
        self._luma, self._mae, self._moving = array("f"), array("f"), array("f")
        self._black, self._hashes = array("b"), array("Q")
        self._prev: np.ndarray | None = None
        self._tiny_ring: deque[np.ndarray] = deque(maxlen=self.gap)
        # per-second signature state
        self._second = 0
        self._motion_map = np.zeros(self.tiny_size[::-1], np.uint8)
        self._second_active = False
        self._frame_hash: int | None = None
        self._sig_frames: list[int] = []
        self._sig_motion: list[int] = []
        self._sig_active: list[bool] = []
        self._last_t = 0.0

    def push(self, grey: np.ndarray, t: float) -> None:
        """Add one frame's luma (any size) shown at t seconds from the first frame."""
        if grey.shape[1] != self.size[0] or grey.shape[0] != self.size[1]:
            small = cv2.resize(grey, self.size, interpolation=cv2.INTER_LINEAR)
        else:
            small = np.ascontiguousarray(grey)
        tiny = cv2.resize(small, self.tiny_size, interpolation=cv2.INTER_AREA)
        mean = cv2.mean(small)[0]
        self._luma.append(mean)
        is_black = False
        if mean <= self.black_mean_bound:
            bright = cv2.countNonZero(cv2.threshold(small, self.black_level, 255, cv2.THRESH_BINARY)[1])
            is_black = bright <= self.black_max_bright
        self._black.append(is_black)
        prev = self._prev
        self._mae.append(cv2.norm(small, prev, cv2.NORM_L1) / self.pixels if prev is not None else 0.0)
        self._prev = small
        if len(self._tiny_ring) == self.gap:
            diff = cv2.absdiff(tiny, self._tiny_ring[0])
            moved = cv2.threshold(diff, self.motion_delta, 255, cv2.THRESH_TOZERO)[1]
            area = cv2.countNonZero(moved) / self.tiny_pixels
            self._moving.append(area)
            if area >= self.min_area:
                self._second_active = True
                cv2.max(self._motion_map, moved, dst=self._motion_map)
        else:
            self._moving.append(math.nan)
        self._tiny_ring.append(tiny)
        h = phash(tiny)
        self._hashes.append(h)
        self._advance_second(t, h)
        self._last_t = t

    def _advance_second(self, t: float, frame_hash: int) -> None:
        second = math.floor(t + 1e-6)
        while second > self._second:  # close every second passed (a timestamp gap may skip some)
            self._close_second()
        if self._frame_hash is None and t + 1e-6 >= self._second + 0.5:
            self._frame_hash = frame_hash

    def _close_second(self) -> None:
        frame_hash = self._frame_hash if self._frame_hash is not None else (self._hashes[-1] if self._hashes else 0)
        self._sig_frames.append(frame_hash)
        self._sig_motion.append(phash(self._motion_map) if self._second_active else 0)
        self._sig_active.append(self._second_active)
        self._motion_map[:] = 0
        self._second_active = False
        self._frame_hash = None
        self._second += 1

    def finish(self) -> FrameStats:
        """Close the last whole second (if the clip covers it) and return the series."""
        if self._hashes and self._last_t + 1.0 / self.fps >= self._second + 1 - 1e-3:
            self._close_second()
        return FrameStats(
            fps=self.fps,
            luma=np.frombuffer(self._luma, np.float32).astype(np.float64),
            black=np.frombuffer(self._black, np.int8).astype(bool),
            mae=np.frombuffer(self._mae, np.float32).astype(np.float64),
            moving=np.frombuffer(self._moving, np.float32).astype(np.float64),
            hashes=np.frombuffer(self._hashes, np.uint64).copy(),
            gap=self.gap,
            signature=Signature(tuple(self._sig_frames), tuple(self._sig_motion), tuple(self._sig_active)),
        )
