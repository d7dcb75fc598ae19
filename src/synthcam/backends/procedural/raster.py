"""Figures are drawn as part indices into a small canvas, then coloured through a palette.

Drawing part numbers instead of colours gives the instance mask for free (every non-zero
pixel belongs to the figure, exactly the pixels that get coloured), and grading a figure
for the clip's light touches only its handful of palette entries. Anti-aliasing is off on
purpose: a label pixel is either the figure's or not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .colors import BGR
from .lighting import MAT

SHIFT = 4                 # sub-pixel bits for cv2 drawing
ONE = 1 << SHIFT


@dataclass
class Sketch:
    """Primitives in frame pixel coordinates, in drawing order, plus the palette they use."""

    colours: list[BGR] = field(default_factory=lambda: [(0, 0, 0)])
    materials: list[int] = field(default_factory=lambda: [0])
    prims: list[tuple] = field(default_factory=list)

    def part(self, colour: BGR, material: str = "cloth") -> int:
        self.colours.append(colour)
        self.materials.append(MAT[material])
        return len(self.colours) - 1

    def line(self, a: np.ndarray, b: np.ndarray, width: float, part: int) -> None:
        self.prims.append(("line", np.array([a, b], dtype=np.float64), max(1.0, width), part))

    def poly(self, pts: np.ndarray, part: int) -> None:
        self.prims.append(("poly", np.asarray(pts, dtype=np.float64), 0.0, part))

    def circle(self, c: np.ndarray, r: float, part: int) -> None:
        self.prims.append(("circle", np.array([c], dtype=np.float64), max(0.8, r), part))

    def extend(self, other: Sketch) -> None:
        """Append another sketch's primitives, renumbering its parts into this palette."""
        base = len(self.colours) - 1
        self.colours += other.colours[1:]
        self.materials += other.materials[1:]
        self.prims += [(k, p, w, part + base) for k, p, w, part in other.prims]


@dataclass
class Raster:
    """A drawn figure: part numbers in a box at (x0, y0) of the frame, and its palette."""

    x0: int
    y0: int
    parts: np.ndarray          # uint8 (h, w), 0 = not the figure
    colours: np.ndarray        # float32 (K, 3) base colours
    materials: np.ndarray      # uint8 (K,)

    @property
    def x1(self) -> int:
        return self.x0 + self.parts.shape[1]

    @property
    def y1(self) -> int:
        return self.y0 + self.parts.shape[0]

    @property
    def area(self) -> int:
        return int(np.count_nonzero(self.parts))


def rasterize(sketch: Sketch, limit: tuple[int, int]) -> Raster | None:
    """Draw a sketch into its own bounding box (which may reach outside the frame)."""
    if not sketch.prims:
        return None
    lo = np.array([np.inf, np.inf])
    hi = -lo
    for kind, pts, width, _ in sketch.prims:
        pad = width if kind != "poly" else 1.0
        lo = np.minimum(lo, pts.min(axis=0) - pad)
        hi = np.maximum(hi, pts.max(axis=0) + pad)
    w, h = limit
    lo = np.maximum(np.floor(lo), [-2 * w, -2 * h]).astype(int)
    hi = np.minimum(np.ceil(hi) + 1, [3 * w, 3 * h]).astype(int)
    if np.any(hi <= lo) or hi[0] <= 0 or hi[1] <= 0 or lo[0] >= w or lo[1] >= h:
        return None
    canvas = np.zeros((hi[1] - lo[1], hi[0] - lo[0]), np.uint8)
    for kind, pts, width, part in sketch.prims:
        p = np.round((pts - lo) * ONE).astype(np.int32)
        if kind == "line":
            cv2.line(canvas, tuple(p[0]), tuple(p[1]), part, int(round(width)), cv2.LINE_8, SHIFT)
        elif kind == "poly":
            cv2.fillPoly(canvas, [p], part, cv2.LINE_8, SHIFT)
        else:
            cv2.circle(canvas, tuple(p[0]), int(round(width * ONE)), part, -1, cv2.LINE_8, SHIFT)
    return Raster(int(lo[0]), int(lo[1]), canvas, np.array(sketch.colours, dtype=np.float32),
                  np.array(sketch.materials, dtype=np.uint8))


def window(r: Raster | object, width: int, height: int) -> tuple[slice, slice, slice, slice] | None:
    """Frame slices and local slices where a box at (x0, y0, x1, y1) meets the frame."""
    x0, y0, x1, y1 = max(r.x0, 0), max(r.y0, 0), min(r.x1, width), min(r.y1, height)  # type: ignore[attr-defined]
    if x1 <= x0 or y1 <= y0:
        return None
    return (slice(y0, y1), slice(x0, x1), slice(y0 - r.y0, y1 - r.y0), slice(x0 - r.x0, x1 - r.x0))  # type: ignore[attr-defined]


def poly_mask(pts: np.ndarray, width: int, height: int) -> tuple[slice, slice, np.ndarray] | None:
    """A filled polygon (integer pixel points) as frame slices and a 0/255 mask of that box."""
    x0, y0 = np.clip(pts.min(axis=0), 0, [width, height])
    x1, y1 = np.clip(pts.max(axis=0) + 1, 0, [width, height])
    if x1 <= x0 or y1 <= y0:
        return None
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [pts - [x0, y0]], 255)
    return slice(y0, y1), slice(x0, x1), mask
