"""Vehicles as a few solid blocks (body, cabin or cargo box) with glass, lights and wheels.

Each block is a hexahedron in the vehicle's frame; only faces turned to the camera are
drawn, so a car reads correctly head-on, side-on or at any angle in between. Bicycles and
motorcycles are wheels and a frame; their rider is a separate person.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .camera import NEAR, Camera
from .colors import BGR, rgb, shade
from .figures import Body, Pose, frame_axes
from .raster import Sketch

UP = np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True)
class Model:
    length: float
    width: float
    body: tuple[float, float]           # bottom, top of the lower body (m)
    cabin: tuple[float, float]          # bottom, top of the cabin
    cab_z: tuple[float, float]          # rear, front of the cabin along the length (from centre)
    taper: float = 0.12                 # cabin roof narrower by this much each side
    slope: float = 0.3                  # windscreen rake: roof shorter than cabin base at the front
    wheel: float = 0.33
    glass: bool = True                  # cabin has windows all round (False: a cargo box)


MODELS = {
    "sedan": Model(4.6, 1.8, (0.3, 0.92), (0.92, 1.42), (-1.35, 0.75), 0.16, 0.45),
    "suv": Model(4.8, 1.9, (0.38, 1.02), (1.02, 1.76), (-2.1, 0.85), 0.1, 0.3, 0.37),
    "van": Model(5.2, 2.0, (0.35, 1.05), (1.05, 2.05), (-2.5, 1.4), 0.06, 0.4, 0.34),
    "pickup": Model(5.4, 2.0, (0.45, 1.12), (1.12, 1.86), (-0.3, 1.1), 0.1, 0.25, 0.39),
    "box_truck": Model(7.0, 2.4, (0.55, 1.3), (1.3, 2.45), (2.15, 3.3), 0.05, 0.2, 0.45),
}
TWO_WHEELERS = {"bicycle": (1.75, 0.34, 0.95), "motorcycle": (2.1, 0.32, 0.82)}  # length, wheel radius, seat height


def _block(centre: np.ndarray, right: np.ndarray, forward: np.ndarray, width: float, y: tuple[float, float],
           z: tuple[float, float], taper: float = 0.0, slope: float = 0.0) -> np.ndarray:
    """Eight corners: bottom ring then top ring, counter-clockwise from above."""
    out = []
    for yy, shrink, zs in ((y[0], 0.0, (z[0], z[1])), (y[1], taper, (z[0] + slope * 0.4, z[1] - slope))):
        half = width / 2 - shrink
        for dx, dz in ((-half, zs[0]), (half, zs[0]), (half, zs[1]), (-half, zs[1])):
            out.append(centre + dx * right + yy * UP + dz * forward)
    return np.array(out)


FACES = {"bottom": (3, 2, 1, 0), "top": (4, 5, 6, 7), "rear": (0, 1, 5, 4), "right": (1, 2, 6, 5), "front": (2, 3, 7, 6),
         "left": (3, 0, 4, 7)}


def visible_faces(corners: np.ndarray, eye: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Faces of a convex block that turn toward the eye."""
    centre = corners.mean(axis=0)
    out = []
    for name, idx in FACES.items():
        quad = corners[list(idx)]
        (ax, ay, az), (bx, by, bz) = quad[1] - quad[0], quad[2] - quad[0]
        normal = np.array([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx])
        mid = quad.mean(axis=0)
        if normal @ (mid - centre) < 0:
            normal = -normal
        if normal @ (eye - mid) > 1e-9:
            out.append((name, quad))
    return out


def _inset(quad: np.ndarray, side: float, bottom: float, top: float) -> np.ndarray:
    """A window inside a face: pulled in from the sides, raised from the bottom edge."""
    a, b, c, d = quad
    lo_a, lo_b = a + (d - a) * bottom, b + (c - b) * bottom
    hi_a, hi_b = a + (d - a) * (1 - top), b + (c - b) * (1 - top)
    return np.array([lo_a + (lo_b - lo_a) * side, lo_b + (lo_a - lo_b) * side, hi_b + (hi_a - hi_b) * side, hi_a + (hi_b - hi_a) * side])


def vehicle(kind: str, paint: BGR, pose: Pose, cam: Camera, lights_on: bool) -> tuple[Sketch, Body] | None:
    if kind in TWO_WHEELERS:
        return two_wheeler(kind, paint, pose, cam)
    m = MODELS.get(kind, MODELS["sedan"])
    right, forward = frame_axes(pose.heading)
    base = np.array([pose.x, 0.0, pose.z])
    eye = np.array(cam.position)
    L = m.length
    blocks = [("body", _block(base, right, forward, m.width, m.body, (-L / 2, L / 2), 0.02, 0.05))]
    if kind == "box_truck":
        blocks.append(("cargo", _block(base, right, forward, m.width + 0.05, (m.body[0] + 0.1, 3.3), (-L / 2, m.cab_z[0] - 0.1))))
    blocks.append(("cabin", _block(base, right, forward, m.width - 0.04, m.cabin, m.cab_z, m.taper, m.slope)))
    _, depth = cam.project(np.concatenate([c for _, c in blocks]))
    if depth.min() < NEAR:
        return None
    s = Sketch()
    parts = {"top": s.part(shade(paint, 1.12), "paint"), "side": s.part(shade(paint, 0.86), "paint"),
             "end": s.part(shade(paint, 0.7), "paint"), "glass": s.part(rgb(45, 55, 65), "glass"),
             "tyre": s.part(rgb(22, 22, 24), "road"), "hub": s.part(rgb(150, 150, 155), "metal"),
             "head": s.part(rgb(255, 245, 215) if lights_on else rgb(200, 200, 195), "light" if lights_on else "metal"),
             "tail": s.part(rgb(230, 40, 30) if lights_on else rgb(150, 30, 30), "light" if lights_on else "paint"),
             "cargo": s.part(rgb(230, 230, 225), "paint"), "trim": s.part(rgb(35, 35, 38), "plastic")}
    wheels = []
    for sx in (-1.0, 1.0):
        for sz in (-1.0, 1.0):
            centre = base + sx * (m.width / 2 + 0.01) * right + m.wheel * UP + sz * (L / 2 - 0.85 - 0.15 * (kind == "box_truck")) * forward
            ring = [centre + m.wheel * (math.cos(a) * forward + math.sin(a) * UP) for a in np.linspace(0, 2 * math.pi, 12, endpoint=False)]
            wheels.append((sx, np.array(ring), centre))
    near_side = 1.0 if (eye - base) @ right > 0 else -1.0
    far_wheels = [w for w in wheels if w[0] != near_side]
    near_wheels = [w for w in wheels if w[0] == near_side]
    for _, ring, _ in far_wheels:
        s.poly(cam.project(ring)[0], parts["tyre"])
    blocks.sort(key=lambda b: -float(np.linalg.norm(b[1].mean(axis=0) - eye)))
    for name, corners in blocks:
        for face, quad in visible_faces(corners, eye):
            colour = parts["cargo"] if name == "cargo" else parts["top" if face == "top" else ("end" if face in ("front", "rear") else "side")]
            s.poly(cam.project(quad)[0], colour)
            if name == "cabin" and face != "top" and m.glass:
                s.poly(cam.project(_inset(quad, 0.08, 0.1, 0.12))[0], parts["glass"])
            if name == "body" and face in ("front", "rear"):
                lamp = parts["head" if face == "front" else "tail"]
                for lo, hi in ((0.05, 0.25), (0.75, 0.95)):
                    strip = _inset(quad, 0.0, 0.55, 0.12)
                    a, b = strip[0] + (strip[1] - strip[0]) * lo, strip[0] + (strip[1] - strip[0]) * hi
                    c, d = strip[3] + (strip[2] - strip[3]) * hi, strip[3] + (strip[2] - strip[3]) * lo
                    s.poly(cam.project(np.array([a, b, c, d]))[0], lamp)
                s.poly(cam.project(_inset(quad, 0.0, 0.0, 0.8))[0], parts["trim"])
    for _, ring, centre in near_wheels:
        s.poly(cam.project(ring)[0], parts["tyre"])
        s.poly(cam.project(centre + (ring - centre) * 0.5)[0], parts["hub"])
    joints = {"root": base, "front": base + forward * L / 2, "driver": base + right * (m.width / 2 + 0.5) + forward * 0.2,
              "passenger": base - right * (m.width / 2 + 0.5) + forward * 0.2}
    return s, Body(joints, right, forward, m.cabin[1])


def two_wheeler(kind: str, paint: BGR, pose: Pose, cam: Camera) -> tuple[Sketch, Body] | None:
    length, r, seat = TWO_WHEELERS[kind]
    right, forward = frame_axes(pose.heading)
    base = np.array([pose.x, 0.0, pose.z])
    back, front = base - forward * length * 0.36 + UP * r, base + forward * length * 0.36 + UP * r
    seat_p = base - forward * 0.15 + UP * seat
    bars = base + forward * length * 0.3 + UP * (seat + 0.12)
    pts = np.array([back, front, seat_p, bars, base + UP * r * 1.1])
    uv, depth = cam.project(pts)
    if depth.min() < NEAR:
        return None
    scale = cam.focal / float(depth.mean())
    s = Sketch()
    tyre, frame = s.part(rgb(20, 20, 22), "road"), s.part(paint, "paint")
    for centre in (back, front):
        ring = np.array([centre + r * (math.cos(a) * forward + math.sin(a) * UP) for a in np.linspace(0, 2 * math.pi, 16, endpoint=False)])
        ring_uv = cam.project(ring)[0]
        for i in range(16):
            s.line(ring_uv[i], ring_uv[(i + 1) % 16], 0.06 * scale, tyre)
    width = (0.05 if kind == "bicycle" else 0.28) * scale
    s.line(uv[0], uv[2], width, frame)
    s.line(uv[2], uv[3], width, frame)
    s.line(uv[3], uv[1], 0.05 * scale, frame)
    s.line(uv[4], uv[0], width, frame)
    joints = {"root": base, "seat": seat_p, "bars": bars, "front": front}
    return s, Body(joints, right, forward, seat)
