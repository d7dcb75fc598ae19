"""What changes every frame besides the figures: rain, snow, wind-blown leaves, lightning,
sun glare, headlight and flashlight beams, sensor grain, and background life.

Everything here works on small regions or a few vectorised draws, never on fresh full-frame
random numbers: grain comes from a bank of pre-made noise fields read at a random offset,
glare is pre-rendered once, and brightness changes ramp over several frames so lightning
never reads as flicker or a scene cut.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .camera import Camera
from .lighting import Look
from .raster import poly_mask

NOISE_BANK = 8
NOISE_PAD = 32
FLASH_FRAMES = 20
PERIOD = 2048           # the cloud field repeats every this many pixels (scaled with width)


class Grain:
    """Luma noise from a small bank of fields, read at a fresh offset each frame."""

    def __init__(self, sigma: float, width: int, height: int, rng: np.random.Generator) -> None:
        shape = (NOISE_BANK, height + NOISE_PAD, width + NOISE_PAD)
        field = rng.normal(0.0, sigma, shape).astype(np.float32)
        self.pos = np.clip(field, 0, 255).astype(np.uint8)
        self.neg = np.clip(-field, 0, 255).astype(np.uint8)
        self.width, self.height = width, height
        self.rng = rng

    def apply(self, luma: np.ndarray, index: int) -> None:
        k = index % NOISE_BANK
        dy, dx = (int(v) for v in self.rng.integers(0, NOISE_PAD, 2))
        sl = (k, slice(dy, dy + self.height), slice(dx, dx + self.width))
        cv2.add(luma, self.pos[sl], dst=luma)
        cv2.subtract(luma, self.neg[sl], dst=luma)


class Sky:
    """Falling and blowing particles, lightning and a fixed lens glare for one clip."""

    def __init__(self, weather: str, effects: tuple[str, ...], look: Look, cam: Camera, rng: np.random.Generator,
                 duration: float, fps: int) -> None:
        self.weather, self.look, self.cam, self.rng, self.fps = weather, look, cam, rng, fps
        w, h = cam.width, cam.height
        self.k = h / 704
        self.wind = float(rng.uniform(-0.35, 0.35)) + (0.6 if weather == "wind" else 0.0) * (1 if rng.random() < 0.5 else -1)
        n = {"snow": int(w * h / 2600), "wind": int(w * h / 14000)}.get(weather, 0)
        self.flakes = np.column_stack([rng.uniform(0, w, n), rng.uniform(0, h, n), rng.uniform(0.6, 1.0, n), rng.uniform(0, 6.3, n)])
        self.flashes = []
        if "lightning" in effects:
            self.flashes = sorted(float(t) for t in rng.uniform(0.15, 0.85, max(1, int(duration // 12))) * duration)
        self.glare = self._glare(rng) if "sun_glare" in effects and not look.ir else []

    def _glare(self, rng: np.random.Generator) -> list[tuple[int, int, np.ndarray]]:
        w, h = self.cam.width, self.cam.height
        sx, sy = (float(rng.uniform(0.05, 0.25)) * w if rng.random() < 0.5 else float(rng.uniform(0.75, 0.95)) * w), -0.05 * h
        patches = []
        for frac, radius, gain in [(0.0, 0.38 * h, 200.0)] + [(float(f), float(r) * h, 40.0) for f, r in
                                                              zip(rng.uniform(0.3, 1.6, 4), rng.uniform(0.02, 0.07, 4))]:
            cx, cy = sx + (w / 2 - sx) * frac, sy + (h / 2 - sy) * frac
            x0, y0 = int(max(0, cx - radius)), int(max(0, cy - radius))
            x1, y1 = int(min(w, cx + radius)), int(min(h, cy + radius))
            if x1 <= x0 or y1 <= y0:
                continue
            yy, xx = np.mgrid[y0:y1, x0:x1]
            r = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / radius
            fall = np.clip(1 - r, 0, 1) ** (2.2 if frac == 0 else 0.6)
            tint = np.array([170, 225, 255], dtype=np.float32) / 255
            patches.append((x0, y0, (fall[..., None] * gain * tint).astype(np.uint8)))
        return patches

    def draw(self, frame: np.ndarray, t: float, index: int) -> None:
        if self.weather == "rain":
            self._rain(frame)
        elif self.weather in ("snow", "wind"):
            self._flakes(frame, index)
        for x0, y0, patch in self.glare:
            roi = frame[y0:y0 + patch.shape[0], x0:x0 + patch.shape[1]]
            cv2.add(roi, patch, dst=roi)
        boost = self._flash(t)
        if boost > 0:
            cv2.add(frame, (boost, boost, boost, 0), dst=frame)

    def _rain(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        n = int(w * h / 5500)
        x = self.rng.uniform(-0.1 * w, 1.1 * w, n)
        y = self.rng.uniform(0, h, n)
        length = self.rng.uniform(12, 34, n) * self.k
        dx, dy = length * math.sin(self.wind * 0.5), length * math.cos(self.wind * 0.5)
        segs = np.stack([np.column_stack([x, y]), np.column_stack([x + dx, y + dy])], axis=1).round().astype(np.int32)
        level = 120 if self.look.ir else 175
        half = n // 2
        cv2.polylines(frame, list(segs[:half]), False, (level, level, level + 6), 1, cv2.LINE_8)
        cv2.polylines(frame, list(segs[half:]), False, (level - 35, level - 35, level - 30), 1, cv2.LINE_8)

    def _flakes(self, frame: np.ndarray, index: int) -> None:
        h, w = frame.shape[:2]
        f = self.flakes
        snow = self.weather == "snow"
        fall = (2.2 if snow else 0.4) * self.k * f[:, 2] * 24 / self.fps
        drift = (self.wind * 3.0 + (0.8 * np.sin(index * 0.08 + f[:, 3]) if snow else 0)) * self.k * 24 / self.fps
        if not snow:
            drift = drift + 9.0 * self.k * np.sign(self.wind) * f[:, 2]
        f[:, 1] = (f[:, 1] + fall) % h
        f[:, 0] = (f[:, 0] + drift) % w
        pts = f[:, :2].round().astype(np.int32)
        colour = (235, 235, 235) if snow else (40, 70, 110)
        for size, sel in ((1, f[:, 2] < 0.75), (2, (f[:, 2] >= 0.75) & (f[:, 2] < 0.92)), (3, f[:, 2] >= 0.92)):
            segs = np.stack([pts[sel], pts[sel] + [1, 0]], axis=1)
            if len(segs):
                cv2.polylines(frame, list(segs), False, colour, max(1, int(round(size * self.k * (1.3 if snow else 1.6)))), cv2.LINE_8)

    def _flash(self, t: float) -> int:
        """Sheet lightning: a raised-cosine glow over 20 frames, peak +36 levels.

        Smooth enough that no frame departs from its neighbours' average by a luma level
        (the verifier's flicker rule), and pHash ignores a uniform brightening, so it is no cut.
        """
        for when in self.flashes:
            n = (t - when) * self.fps
            if 0 <= n < FLASH_FRAMES:
                return int(round(18 * (1 - math.cos(2 * math.pi * n / FLASH_FRAMES))))
        return 0


def beam(frame: np.ndarray, cam: Camera, origin: np.ndarray, forward: np.ndarray, length: float, spread: float,
         strength: int) -> None:
    """Brighten the ground in a cone ahead of a light (headlights, a flashlight)."""
    right = np.array([forward[2], 0.0, -forward[0]])
    base = np.array([origin[0], 0.0, origin[2]])
    for frac, level in ((1.0, strength // 2), (0.55, strength // 2)):
        far = base + forward * length * frac
        quad = np.array([base - right * 0.4, base + right * 0.4, far + right * spread * frac, far - right * spread * frac])
        uv = cam.polygon(quad)
        if uv is None:
            continue
        got = poly_mask(np.round(uv).astype(np.int32), frame.shape[1], frame.shape[0])
        if got is not None:
            ys, xs, mask = got
            roi = frame[ys, xs]
            cv2.add(roi, (level, level, level, 0), dst=roi, mask=mask)


# --- background life -------------------------------------------------------------------
# A real camera never records two identical frames, but sensor grain alone does not show it:
# the encoder smooths grain away and the verifier looks at a 4x smaller frame. Without this,
# a clip where the subject stands still, or has gone indoors, reads as a generator stall
# ("frozen"). Cloud shadows drift by day, fog banks through fog, moths fly through the
# infrared beam by night; all change brightness smoothly, so they never read as flicker or cuts.


class Clouds:
    """A soft shadow field sliding across the frame, multiplied into the luma plane.

    A negative strength brightens instead: patches of denser fog drifting past.
    """

    def __init__(self, width: int, height: int, rng: np.random.Generator, strength: float, outdoor: np.ndarray | None) -> None:
        k = width / 1280
        self.period = int(PERIOD * k)
        self.speed = float(rng.uniform(5.0, 9.0)) * k * (1 if rng.random() < 0.5 else -1)
        self.width, self.height = width, height
        xs = np.arange(self.period + width, dtype=np.float32)
        ys = np.arange(height, dtype=np.float32)[:, None]
        field = np.zeros((height, self.period + width), np.float32)
        for _ in range(5):
            kx = int(rng.integers(1, 4))
            ky = float(rng.uniform(-1.5, 1.5))
            phase = float(rng.uniform(0, 2 * math.pi))
            field += np.cos(2 * math.pi * (kx * xs / self.period + ky * ys / height) + phase) * float(rng.uniform(0.5, 1.0))
        field /= np.abs(field).max() + 1e-6
        shade = np.clip((field - 0.1) / 0.35, 0, 1)
        gain = 1.0 - strength * shade * shade * (3 - 2 * shade)
        if outdoor is not None:  # under a roof the daylight through the opening still dims, less
            open_sky = 0.6 + 0.4 * outdoor.astype(np.float32)
            full = np.tile(open_sky, (1, (self.period + width) // width + 1))[:, :self.period + width]
            gain = 1.0 - (1.0 - gain) * full
        self.map = np.round(gain * 128).astype(np.uint8)

    def apply(self, luma: np.ndarray, index: int) -> None:
        off = int(round(index * self.speed)) % self.period
        cv2.multiply(luma, self.map[:, off:off + self.width], dst=luma, scale=1 / 128)


class Moths:
    """A few bright, out-of-focus insects circling the infrared illuminator."""

    def __init__(self, width: int, height: int, rng: np.random.Generator) -> None:
        n = int(rng.integers(2, 5))
        k = width / 1280
        self.pos = np.column_stack([rng.uniform(0.1, 0.9, n) * width, rng.uniform(0.1, 0.8, n) * height])
        self.vel = rng.normal(0, 6 * k, (n, 2))
        self.size = rng.uniform(5, 12, n) * k
        self.level = rng.uniform(170, 235, n)
        self.width, self.height, self.k = width, height, k
        self.rng = rng

    def draw(self, grey_frame: np.ndarray) -> None:
        w, h = self.width, self.height
        self.vel = self.vel * 0.85 + self.rng.normal(0, 4.5 * self.k, self.vel.shape)
        self.pos += self.vel
        self.pos[:, 0] %= w
        self.pos[:, 1] = np.clip(self.pos[:, 1], 0.05 * h, 0.9 * h)
        for (x, y), r, level in zip(self.pos, self.size, self.level):
            c = int(level)
            cv2.circle(grey_frame, (int(x * 16), int(y * 16)), int(r * 16), (c, c, c), -1, cv2.LINE_AA, 4)
