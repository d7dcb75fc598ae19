"""The static world in metres: ground patches, walls, fences, hedges, trees, far houses.

Layouts (layouts.py) assemble these pieces; the plate renderer (plate.py) draws them once
per clip. Pieces that stand up from the ground keep a footprint on the ground so the frame
loop can tell whether a figure is behind them (line of sight from the camera crosses the
footprint) and redraw them over it: that is how hedges, railings and walls occlude.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .camera import Camera
from .colors import BGR, shade

XZ = tuple[float, float]


@dataclass(frozen=True)
class Poly:
    points: np.ndarray          # (N, 3) world metres, planar
    colour: BGR
    material: str = "wall"      # lighting class: grass, foliage, wall, glass, wood, metal, light, road...
    texture: float = 0.0        # grain amplitude in grey levels


@dataclass(frozen=True)
class Line:
    a: tuple[float, float, float]
    b: tuple[float, float, float]
    colour: BGR
    width: float = 0.03         # metres


@dataclass
class Element:
    name: str
    polys: list[Poly]
    lines: list[Line] = field(default_factory=list)
    ground: bool = False        # flat on the ground: drawn first, never occludes
    footprint: list[tuple[XZ, XZ]] = field(default_factory=list)
    ref: XZ = (0.0, 0.0)        # where it stands, for far-to-near ordering

    @property
    def occludes(self) -> bool:
        return bool(self.footprint)


@dataclass
class World:
    camera: Camera
    elements: list[Element]
    anchors: dict[str, XZ]
    routes: dict[str, list[XZ]]
    camera_name: str
    bounds: tuple[float, float, float, float]         # x0, x1, z0, z1 of the open ground figures may use
    lights: list[tuple[float, float, float]] = field(default_factory=list)  # lamps (x, y, z)
    headings: dict[str, float] = field(default_factory=dict)  # which way to face at an anchor (default: the house)
    indoor_within: float | None = None    # metres: nearer than this is under a roof (no cloud shadows)
    pools: list[tuple[float, float]] = field(default_factory=list)   # street lamps: pools of light on the ground below

    def facing(self, anchor: str) -> float:
        return self.headings.get(anchor, math.pi)

    def add(self, element: Element) -> Element:
        self.elements.append(element)
        return element


def segments(footprint: list[tuple[XZ, XZ]] | tuple[tuple[XZ, XZ], ...]) -> np.ndarray:
    """Footprint segments as an (N, 4) array of ax, az, bx, bz."""
    return np.array([[a[0], a[1], b[0], b[1]] for a, b in footprint], dtype=np.float64).reshape(-1, 4)


def sight_blocked(eye: XZ, target: XZ, segs: np.ndarray) -> bool:
    """Does the ground line of sight from `eye` to `target` cross a footprint segment?

    The last 25 cm before the target do not count, so a figure standing against a fence
    (or on top of it) is in front of it.
    """
    dx, dz = target[0] - eye[0], target[1] - eye[1]
    length = math.hypot(dx, dz)
    if length < 1e-6 or not len(segs):
        return False
    shrink = max(0.0, 1 - 0.25 / length)
    px, pz = eye[0] + dx * shrink, eye[1] + dz * shrink
    ax, az, bx, bz = segs[:, 0], segs[:, 1], segs[:, 2], segs[:, 3]
    d1 = (bx - ax) * (eye[1] - az) - (bz - az) * (eye[0] - ax)
    d2 = (bx - ax) * (pz - az) - (bz - az) * (px - ax)
    d3 = (px - eye[0]) * (az - eye[1]) - (pz - eye[1]) * (ax - eye[0])
    d4 = (px - eye[0]) * (bz - eye[1]) - (pz - eye[1]) * (bx - eye[0])
    return bool(np.any((d1 * d2 < 0) & (d3 * d4 < 0)))


def quad(a: XZ, b: XZ, y0: float, y1: float) -> np.ndarray:
    """A vertical rectangle standing on the ground segment a-b."""
    return np.array([[a[0], y0, a[1]], [b[0], y0, b[1]], [b[0], y1, b[1]], [a[0], y1, a[1]]], dtype=np.float64)


def ground_rect(name: str, x0: float, x1: float, z0: float, z1: float, colour: BGR, material: str = "ground",
                texture: float = 0.0, y: float = 0.0) -> Element:
    pts = np.array([[x0, y, z0], [x1, y, z0], [x1, y, z1], [x0, y, z1]], dtype=np.float64)
    return Element(name, [Poly(pts, colour, material, texture)], ground=True, ref=((x0 + x1) / 2, (z0 + z1) / 2))


def stripes(a: XZ, b: XZ, y0: float, y1: float, step: float, colour: BGR, width: float = 0.02) -> list[Line]:
    """Horizontal lines up a wall: siding, fence rails, brick courses."""
    return [Line((a[0], y, a[1]), (b[0], y, b[1]), colour, width) for y in np.arange(y0 + step, y1, step)]


def on_wall(a: XZ, b: XZ, u0: float, u1: float, y0: float, y1: float, lift: float = 0.03) -> np.ndarray:
    """A rectangle on the wall a-b from fraction u0 to u1 along it, pulled `lift` m off the wall."""
    ax, az = a
    dx, dz = b[0] - ax, b[1] - az
    length = math.hypot(dx, dz) or 1.0
    nx, nz = -dz / length * lift, dx / length * lift
    p = (ax + dx * u0 + nx, az + dz * u0 + nz)
    q = (ax + dx * u1 + nx, az + dz * u1 + nz)
    return quad(p, q, y0, y1)


def wall(name: str, a: XZ, b: XZ, y1: float, colour: BGR, *, siding: float = 0.0, windows: list[tuple[float, float]] = (),
         door: tuple[float, float] | None = None, glass: BGR = (70, 60, 55), lit: bool = False, y0: float = 0.0,
         occludes: bool = True) -> Element:
    """A house wall with optional siding lines, windows (u0, u1 along the wall) and a door."""
    polys = [Poly(quad(a, b, y0, y1), colour, "wall", 3.0)]
    lines = stripes(a, b, y0, y1, siding, shade(colour, 0.8)) if siding else []
    length = math.hypot(b[0] - a[0], b[1] - a[1])
    frame = shade(colour, 1.25) if sum(colour) < 450 else shade(colour, 0.7)
    for u0, u1 in windows:
        polys.append(Poly(on_wall(a, b, u0 - 0.08 / length, u1 + 0.08 / length, 0.82, 2.18), frame, "wall"))
        polys.append(Poly(on_wall(a, b, u0, u1, 0.9, 2.1, 0.05), glass, "light" if lit else "glass"))
        mid = (u0 + u1) / 2
        lines.append(Line(_along(a, b, mid, 0.06, 0.9), _along(a, b, mid, 0.06, 2.1), frame, 0.04))
    if door:
        polys.append(Poly(on_wall(a, b, door[0] - 0.06 / length, door[1] + 0.06 / length, 0.0, 2.2), frame, "wall"))
        polys.append(Poly(on_wall(a, b, door[0], door[1], 0.0, 2.1, 0.05), shade(colour, 0.45), "wood"))
    footprint = [(a, b)] if occludes else []
    return Element(name, polys, lines, footprint=footprint, ref=((a[0] + b[0]) / 2, (a[1] + b[1]) / 2))


def _along(a: XZ, b: XZ, u: float, lift: float, y: float) -> tuple[float, float, float]:
    pts = on_wall(a, b, u, u, y, y, lift)
    return (float(pts[0, 0]), y, float(pts[0, 2]))


def box(name: str, camera: Camera, centre: XZ, size: tuple[float, float, float], colour: BGR, *, yaw: float = 0.0,
        material: str = "wall", texture: float = 0.0, y0: float = 0.0, occludes: bool = True) -> Element:
    """A solid box (w along x, h up, d along z) showing only the faces the camera sees."""
    w, h, d = size
    c, s = math.cos(yaw), math.sin(yaw)
    corners = [(centre[0] + c * dx + s * dz, centre[1] - s * dx + c * dz) for dx, dz in
               ((-w / 2, -d / 2), (w / 2, -d / 2), (w / 2, d / 2), (-w / 2, d / 2))]
    cam = np.array(camera.position)
    polys = []
    for i in range(4):
        a, b = corners[i], corners[(i + 1) % 4]
        mid = np.array([(a[0] + b[0]) / 2, (a[1] + b[1]) / 2])
        normal = np.array([mid[0] - centre[0], mid[1] - centre[1]])
        if normal @ (np.array([cam[0], cam[2]]) - mid) > 0:
            side = 0.8 if abs(normal[0]) > abs(normal[1]) else 0.92
            polys.append(Poly(quad(a, b, y0, y0 + h), shade(colour, side), material, texture))
    top = np.array([[x, y0 + h, z] for x, z in corners])
    if cam[1] > y0 + h:
        polys.append(Poly(top, shade(colour, 1.08), material, texture))
    footprint = [(corners[i], corners[(i + 1) % 4]) for i in range(4)] if occludes else []
    return Element(name, polys, footprint=footprint, ref=centre)


def billboard(camera: Camera, centre: tuple[float, float, float], radius: float, rng: np.random.Generator,
              lumps: int = 14, squash: float = 1.0) -> np.ndarray:
    """An irregular disc facing the camera: tree crowns, bushes."""
    rot = camera._rot  # noqa: SLF001 - the camera's right/up axes give a camera-facing plane
    right, up = rot[0], rot[1]
    angles = np.linspace(0, 2 * math.pi, lumps, endpoint=False)
    radii = radius * rng.uniform(0.82, 1.1, lumps)
    pts = [np.array(centre) + r * (math.cos(t) * right + squash * math.sin(t) * up) for t, r in zip(angles, radii)]
    return np.array(pts)


def tree(name: str, camera: Camera, x: float, z: float, height: float, radius: float, leaf: BGR, rng: np.random.Generator,
         occludes: bool = True, trunk_w: float = 0.24) -> Element:
    trunk = quad((x - trunk_w / 2, z), (x + trunk_w / 2, z), 0.0, height - radius)
    polys = [Poly(trunk, (40, 55, 70), "wood", 4.0)]
    for k in range(3):
        off = (rng.uniform(-0.4, 0.4) * radius, rng.uniform(-0.2, 0.3) * radius)
        crown = billboard(camera, (x + off[0], height - radius * 0.8 + off[1], z), radius * rng.uniform(0.7, 0.95), rng)
        polys.append(Poly(crown, shade(leaf, 0.85 + 0.1 * k), "foliage", 14.0))
    footprint = [((x - trunk_w / 2 - 0.03, z), (x + trunk_w / 2 + 0.03, z))] if occludes else []
    return Element(name, polys, footprint=footprint, ref=(x, z))


def hedge(name: str, camera: Camera, a: XZ, b: XZ, height: float, leaf: BGR, rng: np.random.Generator, depth: float = 0.6) -> Element:
    """A clipped hedge along a-b: a leafy box with a slightly lumpy top."""
    length = math.hypot(b[0] - a[0], b[1] - a[1]) or 1.0
    centre = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
    yaw = math.atan2(b[1] - a[1], b[0] - a[0])
    el = box(name, camera, centre, (length, height, depth), leaf, yaw=-yaw, material="foliage", texture=16.0)
    for u in np.linspace(0.05, 0.95, max(3, int(length / 0.6))):
        x, z = a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u
        el.polys.append(Poly(billboard(camera, (x, height - 0.02, z), rng.uniform(0.14, 0.24), rng, 9, 0.55),
                             shade(leaf, rng.uniform(0.9, 1.08)), "foliage", 16.0))
    return el


def fence(name: str, a: XZ, b: XZ, height: float, colour: BGR, *, solid: bool = True, posts: float = 2.4,
          step: float = 0.12) -> Element:
    """A board fence (solid) or a railing (rails, and pickets every `step` metres with gaps)."""
    length = math.hypot(b[0] - a[0], b[1] - a[1])
    polys: list[Poly] = []
    lines: list[Line] = []
    if solid:
        polys.append(Poly(quad(a, b, 0.0, height), colour, "wood", 6.0))
        for u in np.arange(0.15, length, 0.15) / max(length, 1e-6):
            p = (a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u)
            lines.append(Line((p[0], 0.0, p[1]), (p[0], height, p[1]), shade(colour, 0.75), 0.012))
    else:
        for y in (height * 0.45, height):
            polys.append(Poly(quad(a, b, y - 0.07, y), colour, "wood"))
        for u in np.arange(step, length, step) / max(length, 1e-6):
            p = (a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u)
            lines.append(Line((p[0], 0.0, p[1]), (p[0], height, p[1]), shade(colour, 0.9), 0.035 if step >= 0.12 else 0.045))
    for u in np.arange(0.0, length + 1e-6, posts) / max(length, 1e-6):
        p = (a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u)
        polys.append(Poly(quad((p[0] - 0.05, p[1]), (p[0] + 0.05, p[1]), 0.0, height + 0.08), shade(colour, 0.85), "wood"))
    return Element(name, polys, lines, footprint=[(a, b)], ref=((a[0] + b[0]) / 2, (a[1] + b[1]) / 2))


def far_house(name: str, x0: float, x1: float, z: float, height: float, colour: BGR, roof: BGR, rng: np.random.Generator,
              lit: bool = False) -> Element:
    """A house across the street: facade, gable roof, windows and a door, seen face on."""
    n = max(2, int((x1 - x0) / 2.6))
    spots = np.linspace(0.1, 0.9, n + 1)
    door_at = int(rng.integers(n))
    windows = [(float(spots[i]) + 0.03, float(spots[i + 1]) - 0.05) for i in range(n) if i != door_at]
    door = (float(spots[door_at] + spots[door_at + 1]) / 2 - 0.05, float(spots[door_at] + spots[door_at + 1]) / 2 + 0.05)
    el = wall(name, (x1, z), (x0, z), height, colour, siding=0.25, windows=windows, door=door, lit=lit, occludes=False)
    mid = (x0 + x1) / 2
    pts = np.array([[x0 - 0.4, height, z], [x1 + 0.4, height, z], [mid, height + (x1 - x0) * 0.28, z]])
    el.polys.insert(1, Poly(pts, roof, "roof", 6.0))
    return el
