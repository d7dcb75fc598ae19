"""The CCTV burn-in: a date and time that ticks every second, and the camera's name.

The start time is drawn from the seed within hours that fit the clip's time of day, so a
night clip says 02:17 and a day clip 14:05. Text is white with a dark outline and drop shadow
(legible on snow, a pale sky and night black alike) and scales with the frame height.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import cv2
import numpy as np

HOURS = {"day": (9.0, 16.5), "dawn": (5.5, 7.0), "dusk": (17.5, 19.5), "night": (21.5, 28.5)}
FONT = cv2.FONT_HERSHEY_SIMPLEX
LETTERS, OUTLINE = (235, 235, 235), (12, 12, 12)
BLEND = np.round(OUTLINE[0] + (LETTERS[0] - OUTLINE[0]) * np.arange(256) / 255).astype(np.uint8)


@dataclass(frozen=True)
class Overlay:
    start: datetime
    camera: str
    scale: float
    thickness: int
    origin: tuple[int, int]
    right: int

    @classmethod
    def for_clip(cls, time_of_day: str, camera_name: str, index: int, width: int, height: int, rng: np.random.Generator) -> Overlay:
        lo, hi = HOURS.get(time_of_day, HOURS["day"])
        day = datetime(2024, 1, 1) + timedelta(days=int(rng.integers(0, 700)))
        start = day + timedelta(seconds=int(rng.uniform(lo, hi) * 3600))
        scale = height / 704 * 0.85
        thickness = max(1, int(round(height / 704 * 2)))
        margin = int(height * 0.03)
        return cls(start, f"CAM{index:02d} {camera_name}", scale, thickness, (margin, margin + int(22 * scale * 1.3)), width - margin)

    def stamp(self, seconds: int) -> str:
        return (self.start + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")

    def band(self, t: float, width: int) -> tuple[np.ndarray, np.ndarray]:
        """The text strip for second int(t): BGR pixels and a mask of the text pixels.

        White letters inside a dark outline with a drop shadow, as camera burn-ins do, so the
        text reads on a pale sky, snow or night black alike. Pasting it is a plain masked copy
        of the strip; the frame loop caches it for the whole second.
        """
        stamp = self.stamp(int(t))
        (tw, _), base = cv2.getTextSize(self.camera, FONT, self.scale, self.thickness)
        x, y = self.origin
        edge = self.edge
        rows = y + base + self.thickness + 3 * edge + 3
        letters = np.zeros((rows, width), np.uint8)
        for text, pos in ((stamp, (x, y)), (self.camera, (self.right - tw, y))):
            cv2.putText(letters, text, pos, FONT, self.scale, 255, self.thickness, cv2.LINE_8)
        # the outline grows the letters by `edge` px all round (not a thicker stroke: recent OpenCV
        # draws text at one weight whatever the thickness), and the shadow is the outline moved down-right
        ring = cv2.dilate((letters > 0).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * edge + 1,) * 2))
        mask = ring.copy()
        mask[edge:, edge:] |= ring[:-edge, :-edge]
        grey = cv2.bitwise_and(cv2.LUT(letters, BLEND), mask * 255)   # outline to letters by their coverage, only in the mask
        pixels = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
        return pixels, mask.astype(bool)

    @property
    def edge(self) -> int:
        """Outline width in pixels on each side of a stroke (3 at 704 rows: OpenCV's soft letter
        edges eat into the first pixel)."""
        return self.thickness + 1
