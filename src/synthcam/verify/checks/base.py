"""What a check sees: one decode pass, the expectation and the thresholds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..decode import DecodeResult
from ..expect import Expectation
from ..thresholds import Thresholds

__all__ = ["Clip", "runs", "seconds"]


@dataclass(frozen=True)
class Clip:
    """The input of every check."""

    name: str
    decoded: DecodeResult
    expect: Expectation
    th: Thresholds

    @property
    def fps(self) -> float:
        return float(self.decoded.info.fps) if self.decoded.info.fps else 24.0


def seconds(frame: int, fps: float) -> str:
    """A frame index as a time, e.g. '2.50 s'."""
    return f"{frame / fps:.2f} s"


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of True values."""
    padded = np.concatenate(([False], np.asarray(mask, dtype=bool), [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2])]
