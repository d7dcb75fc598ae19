"""Draw the static world once per clip: the background plate and the occluder cut-outs.

The plate holds everything that never moves, already graded for the clip's light. Each
standing element with a footprint also gets a cut-out (its bounding box and pixel mask on
the plate) so the frame loop can paste it back over a figure that walks behind it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from .camera import NEAR, Camera
from .lighting import MAT, Look
from .world import XZ, Element, World


@dataclass(frozen=True)
class Cutout:
    """Where an occluding element sits on the plate, to paste over figures behind it."""

    name: str
    footprint: tuple[tuple[XZ, XZ], ...]
    x0: int
    y0: int
    mask: np.ndarray  # bool (h, w)

    @property
    def x1(self) -> int:
        return self.x0 + self.mask.shape[1]

    @property
    def y1(self) -> int:
        return self.y0 + self.mask.shape[0]


@dataclass
class Sway:
    """Foliage that moves in the breeze: a plate crop shifted by a slow sway.

    Besides looking alive, this keeps a clip from being "frozen" (the verifier's generator-
    stall check) while the subject is out of sight; sensor grain alone is smoothed away by
    the encoder and by the verifier's downscaled analysis. Offsets are rounded to half a
    pixel and the shifted crops kept, so most frames reuse a crop instead of warping.
    """

    x0: int
    y0: int
    pixels: np.ndarray             # uint8 BGR crop with a margin
    mask: np.ndarray               # uint8 0/255, the foliage within the crop
    amplitude: float               # pixels
    freq: tuple[float, float]      # Hz, two gust components
    phase: tuple[float, float]
    cache: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    def apply(self, frame: np.ndarray, t: float) -> None:
        a, (f1, f2), (p1, p2) = self.amplitude, self.freq, self.phase
        dx = a * (0.7 * math.sin(2 * math.pi * f1 * t + p1) + 0.3 * math.sin(2 * math.pi * f2 * t + p2))
        key = int(round(dx * 2))
        if key not in self.cache:
            m = np.array([[1.0, 0.0, key / 2], [0.0, 1.0, 0.0]], dtype=np.float32)
            h, w = self.mask.shape
            moved = cv2.warpAffine(self.pixels, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            self.cache[key] = (moved, cv2.warpAffine(self.mask, m, (w, h), flags=cv2.INTER_NEAREST))
        moved, mask = self.cache[key]
        h, w = mask.shape
        cv2.copyTo(moved, mask, frame[self.y0:self.y0 + h, self.x0:self.x0 + w])


@dataclass(frozen=True)
class Plate:
    image: np.ndarray              # uint8 BGR, graded
    cutouts: tuple[Cutout, ...]
    sways: tuple[Sway, ...] = ()
    outdoor: np.ndarray | None = None  # bool: pixels under open sky (None: all of them)


def _ground_distance(cam: Camera, step: int = 4) -> np.ndarray:
    """Distance in metres from the lens to what each pixel sees if it is ground (sky: far)."""
    h, w = cam.height, cam.width
    us = np.arange(0, w + step, step, dtype=np.float64)
    vs = np.arange(0, h + step, step, dtype=np.float64)
    uu, vv = np.meshgrid(us, vs)
    f = cam.focal
    rays = np.stack([(uu - w / 2) / f, -(vv - h / 2) / f, np.ones_like(uu)], axis=-1) @ cam._rot  # noqa: SLF001
    down = rays[..., 1] < -1e-4
    t = np.where(down, -cam.position[1] / np.where(down, rays[..., 1], -1), 1e4)
    dist = np.minimum(t * np.linalg.norm(rays, axis=-1), 1e4).astype(np.float32)
    big = cv2.resize(dist, (len(us) * step, len(vs) * step), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(big[:h, :w])


def _pixels(cam: Camera, points: np.ndarray) -> np.ndarray | None:
    uv = cam.polygon(points)
    return None if uv is None else np.round(uv * 16).astype(np.int32)


def _line(cam: Camera, a: tuple[float, float, float], b: tuple[float, float, float]) -> tuple[np.ndarray, float] | None:
    return cam.segment(a, b)


def _draw_element(el: Element, cam: Camera, colour: np.ndarray, material: np.ndarray, distance: np.ndarray,
                  rng: np.random.Generator) -> None:
    campos = np.array(cam.position)
    for poly in el.polys:
        pts = _pixels(cam, poly.points)
        if pts is None:
            continue
        cv2.fillPoly(colour, [pts], tuple(float(c) for c in poly.colour), cv2.LINE_8, 4)
        cv2.fillPoly(material, [pts], MAT.get(poly.material, MAT["wall"]), cv2.LINE_8, 4)
        if not el.ground:
            d = float(np.linalg.norm(poly.points - campos, axis=1).mean())
            cv2.fillPoly(distance, [pts], d, cv2.LINE_8, 4)
        if poly.texture:
            _grain(colour, pts, poly.texture, rng)
    for line in el.lines:
        got = _line(cam, line.a, line.b)
        if got is None:
            continue
        uv, scale = got
        p = np.round(uv * 16).astype(np.int32)
        width = max(1, int(round(line.width * scale)))
        cv2.line(colour, tuple(p[0]), tuple(p[1]), tuple(float(c) for c in line.colour), width, cv2.LINE_AA, 4)


def _grain(colour: np.ndarray, pts: np.ndarray, amount: float, rng: np.random.Generator) -> None:
    """Fine grain plus soft blotches inside one polygon, so flat fills read as surfaces."""
    h, w = colour.shape[:2]
    x0, y0 = np.clip(pts.min(axis=0) // 16, 0, [w, h])
    x1, y1 = np.clip(pts.max(axis=0) // 16 + 1, 0, [w, h])
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [pts - np.array([x0 * 16, y0 * 16], dtype=np.int32)], 1, cv2.LINE_8, 4)
    sel = mask.astype(bool)
    fine = rng.normal(0, amount * 0.6, sel.shape).astype(np.float32)
    small = rng.normal(0, amount * 0.5, (max(2, (y1 - y0) // 10), max(2, (x1 - x0) // 10))).astype(np.float32)
    fine += cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_CUBIC)
    region = colour[y0:y1, x0:x1]
    region[sel] += fine[sel][:, None]


def _cutout(el: Element, cam: Camera) -> Cutout | None:
    polys = [p for p in (_pixels(cam, poly.points) for poly in el.polys) if p is not None]
    lines = [g for g in (_line(cam, ln.a, ln.b) for ln in el.lines) if g is not None]
    if not polys:
        return None
    allpts = np.concatenate(polys + [np.round(uv * 16).astype(np.int32) for uv, _ in lines]) // 16
    x0, y0 = np.clip(allpts.min(axis=0) - 3, 0, [cam.width, cam.height])
    x1, y1 = np.clip(allpts.max(axis=0) + 4, 0, [cam.width, cam.height])
    if x1 <= x0 or y1 <= y0:
        return None
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    shift = np.array([x0 * 16, y0 * 16], dtype=np.int32)
    cv2.fillPoly(mask, [p - shift for p in polys], 1, cv2.LINE_8, 4)
    for (uv, scale), ln in zip(lines, el.lines):
        p = np.round(uv * 16).astype(np.int32) - shift
        cv2.line(mask, tuple(p[0]), tuple(p[1]), 1, max(1, int(round(ln.width * scale))), cv2.LINE_8, 4)
    return Cutout(el.name, tuple(el.footprint), int(x0), int(y0), mask.astype(bool))


def _glow(image: np.ndarray, cam: Camera, light: tuple[float, float, float], strength: float, colour: np.ndarray) -> None:
    """A soft bloom around a lamp, sized by its distance."""
    uv, depth = cam.project(np.array([light]))
    if depth[0] < NEAR:
        return
    u, v = uv[0]
    radius = min(cam.focal * 2.2 / depth[0], cam.width * 0.4)
    h, w = image.shape[:2]
    x0, x1 = int(max(0, u - 2 * radius)), int(min(w, u + 2 * radius))
    y0, y1 = int(max(0, v - 2 * radius)), int(min(h, v + 2 * radius))
    if x1 <= x0 or y1 <= y0:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1]
    g = np.exp(-((xx - u) ** 2 + (yy - v) ** 2) / (2 * (radius / 1.6) ** 2)).astype(np.float32)
    image[y0:y1, x0:x1] += g[..., None] * colour * strength


GROUND_MATS = np.array([MAT[m] for m in ("ground", "grass", "road", "concrete", "gravel", "paint")], np.uint8)


def _pool(image: np.ndarray, cam: Camera, material: np.ndarray, x: float, z: float, level: float, tint: np.ndarray) -> None:
    """A street lamp's pool of light on the ground around (x, z): brighter ground, so whatever
    stands in it shows as a silhouette at dusk and at night."""
    ring = np.array([[x + 6.0 * math.cos(a), 0.0, z + 6.0 * math.sin(a)] for a in np.linspace(0, 2 * math.pi, 16, endpoint=False)])
    uv = cam.polygon(ring)
    if uv is None:
        return
    h, w = image.shape[:2]
    x0, y0 = np.clip(np.floor(uv.min(axis=0)).astype(int), 0, [w, h])
    x1, y1 = np.clip(np.ceil(uv.max(axis=0)).astype(int) + 1, 0, [w, h])
    if x1 <= x0 or y1 <= y0:
        return
    vv, uu = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    f = cam.focal
    rays = np.stack([(uu - w / 2) / f, -(vv - h / 2) / f, np.ones_like(uu)], axis=-1) @ cam._rot  # noqa: SLF001
    down = rays[..., 1] < -1e-6
    t = np.where(down, -cam.position[1] / np.where(down, rays[..., 1], -1.0), 0.0)
    gx, gz = cam.position[0] + t * rays[..., 0], cam.position[2] + t * rays[..., 2]
    light = np.exp(-((gx - x) ** 2 + (gz - z) ** 2) / (2 * 2.6 ** 2)) * down * np.isin(material[y0:y1, x0:x1], GROUND_MATS)
    image[y0:y1, x0:x1] += (light[..., None] * level * tint).astype(np.float32)


def render_plate(world: World, look: Look, rng: np.random.Generator, porch_light: bool = False) -> Plate:
    cam = world.camera
    h, w = cam.height, cam.width
    distance = _ground_distance(cam)
    horizon = cam.point(cam.position[0] + 1e4 * math.sin(math.radians(cam.yaw_deg)), 0.0,
                        cam.position[2] + 1e4 * math.cos(math.radians(cam.yaw_deg)))[1]
    rows = np.clip((np.arange(h, dtype=np.float32) / max(horizon, 1.0))[:, None], 0, 1)
    top, bottom = (np.array(c, dtype=np.float32) for c in look.sky)
    colour = np.repeat((top + (bottom - top) * rows)[:, None, :], w, axis=1).reshape(h, w, 3)
    material = np.full((h, w), MAT["sky"], np.uint8)
    material[distance < 9e3] = MAT["grass"]
    grounds = [e for e in world.elements if e.ground]
    campos = np.array([cam.position[0], cam.position[2]])
    standing = sorted((e for e in world.elements if not e.ground), key=lambda e: -float(np.hypot(*(np.array(e.ref) - campos))))
    for el in grounds + standing:
        _draw_element(el, cam, colour, material, distance, rng)
    graded = look.grade(colour, distance, material)
    lamp = np.array([150, 205, 255], dtype=np.float32) if not look.ir else np.array([255, 255, 255], dtype=np.float32)
    for i, light in enumerate(world.lights):
        strength = look.lamps * (1.6 if (porch_light and i == 0) else 0.7)
        if porch_light and i == 0:
            strength = max(strength, 0.6)
        if strength > 0.05:
            _glow(graded, cam, light, strength * 0.45, lamp)
    if look.lamps > 0.3:
        for x, z in world.pools:
            _pool(graded, cam, material, x, z, look.lamps * (55.0 if not look.ir else 45.0), lamp / 255.0)
    image = np.clip(graded, 0, 255).astype(np.uint8)
    cutouts = tuple(c for c in (_cutout(e, cam) for e in standing if e.occludes) if c is not None)
    outdoor = None if world.indoor_within is None else distance > world.indoor_within
    return Plate(image, cutouts, _sways(standing, cam, image, rng), outdoor)


def _sways(elements: list[Element], cam: Camera, image: np.ndarray, rng: np.random.Generator, most: int = 6) -> tuple[Sway, ...]:
    """The largest foliage on screen, ready to sway (a fixed pick per clip)."""
    h, w = image.shape[:2]
    found = []
    for el in elements:
        polys = [p for p in (_pixels(cam, poly.points) for poly in el.polys if poly.material == "foliage") if p is not None]
        if not polys:
            continue
        allpts = np.concatenate(polys) // 16
        margin = 4
        x0, y0 = np.clip(allpts.min(axis=0) - margin, 0, [w, h])
        x1, y1 = np.clip(allpts.max(axis=0) + margin + 1, 0, [w, h])
        if x1 - x0 < 6 or y1 - y0 < 6:
            continue
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [p - np.array([x0 * 16, y0 * 16], dtype=np.int32) for p in polys], 255, cv2.LINE_8, 4)
        area = int(np.count_nonzero(mask))
        if area > 40:
            found.append((area, int(x0), int(y0), mask))
    found.sort(key=lambda f: -f[0])
    out = []
    for area, x0, y0, mask in found[:most]:
        crop = image[y0:y0 + mask.shape[0], x0:x0 + mask.shape[1]].copy()
        amp = float(np.clip(np.sqrt(area) * 0.012, 0.8, 3.0)) * float(rng.uniform(0.8, 1.2))
        out.append(Sway(x0, y0, crop, mask, amp, (float(rng.uniform(0.25, 0.45)), float(rng.uniform(0.7, 1.3))),
                        (float(rng.uniform(0, 6.28)), float(rng.uniform(0, 6.28)))))
    return tuple(out)
