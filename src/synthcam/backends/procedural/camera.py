"""A fixed pinhole camera over a flat world: metres in, pixels out.

World axes: x to the right, y up, z away from the house (the ground is y = 0). The camera
sits at a height, turned by `yaw` (positive turns right) and tilted down by `pitch`. Every
drawn thing is placed in metres and projected here, so perspective scaling (farther is
smaller) and the ground plane come from one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

NEAR = 0.25  # metres: geometry closer than this to the lens is clipped away


@dataclass(frozen=True)
class Camera:
    width: int
    height: int
    position: tuple[float, float, float]
    yaw_deg: float
    pitch_deg: float
    hfov_deg: float
    _rot: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        yaw, pitch = math.radians(self.yaw_deg), math.radians(self.pitch_deg)
        right = np.array([math.cos(yaw), 0.0, -math.sin(yaw)])
        flat = np.array([math.sin(yaw), 0.0, math.cos(yaw)])
        up_world = np.array([0.0, 1.0, 0.0])
        forward = flat * math.cos(pitch) - up_world * math.sin(pitch)
        up = flat * math.sin(pitch) + up_world * math.cos(pitch)
        object.__setattr__(self, "_rot", np.stack([right, up, forward]))

    @property
    def focal(self) -> float:
        return (self.width / 2) / math.tan(math.radians(self.hfov_deg) / 2)

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points (N, 3) -> camera coordinates (N, 3): right, up, depth."""
        return (np.asarray(points, dtype=np.float64) - np.asarray(self.position)) @ self._rot.T

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points (N, 3) -> pixel coordinates (N, 2) and depth (N,)."""
        cam = self.to_camera(points)
        depth = np.maximum(cam[:, 2], 1e-6)
        f = self.focal
        uv = np.empty((len(cam), 2))
        uv[:, 0] = self.width / 2 + f * cam[:, 0] / depth
        uv[:, 1] = self.height / 2 - f * cam[:, 1] / depth
        return uv, cam[:, 2]

    def point(self, x: float, y: float, z: float) -> tuple[float, float]:
        uv, _ = self.project(np.array([[x, y, z]]))
        return float(uv[0, 0]), float(uv[0, 1])

    def scale_at(self, x: float, z: float, y: float = 0.0) -> float:
        """Pixels per metre for something at this place (its depth from the lens)."""
        depth = float(self.to_camera(np.array([[x, y, z]]))[0, 2])
        return self.focal / max(depth, NEAR)

    def depth_of(self, x: float, z: float, y: float = 0.0) -> float:
        return float(self.to_camera(np.array([[x, y, z]]))[0, 2])

    def ground_at(self, u: float, v: float) -> tuple[float, float] | None:
        """The ground point seen at pixel (u, v), or None above the horizon."""
        f = self.focal
        ray = self._rot.T @ np.array([(u - self.width / 2) / f, -(v - self.height / 2) / f, 1.0])
        if ray[1] >= -1e-6:
            return None
        t = -self.position[1] / ray[1]
        return float(self.position[0] + t * ray[0]), float(self.position[2] + t * ray[2])

    def x_at_u(self, u: float, z: float, y: float = 0.0) -> float:
        """The world x where the line at depth z (height y) meets image column u."""
        p0 = self.to_camera(np.array([[0.0, y, z], [1.0, y, z]]))
        a1, b1 = p0[1, 0] - p0[0, 0], p0[0, 0]
        a2, b2 = p0[1, 2] - p0[0, 2], p0[0, 2]
        t = (u - self.width / 2) / self.focal
        return float((t * b2 - b1) / (a1 - t * a2))

    def _planes(self) -> list[tuple[np.ndarray, float]]:
        """Clip planes (normal, offset) of a frustum twice as wide as the image, plus the near plane."""
        f, w, h = self.focal, self.width, self.height
        ax, ay = (1.5 * w) / f, (1.5 * h) / f
        return [(np.array([0.0, 0.0, 1.0]), NEAR), (np.array([1.0, 0.0, ax]), 0.0), (np.array([-1.0, 0.0, ax]), 0.0),
                (np.array([0.0, 1.0, ay]), 0.0), (np.array([0.0, -1.0, ay]), 0.0)]

    def _to_pixels(self, cam: np.ndarray) -> np.ndarray:
        f = self.focal
        uv = np.empty((len(cam), 2))
        uv[:, 0] = self.width / 2 + f * cam[:, 0] / cam[:, 2]
        uv[:, 1] = self.height / 2 - f * cam[:, 1] / cam[:, 2]
        return uv

    def polygon(self, points: np.ndarray) -> np.ndarray | None:
        """Project a planar polygon clipped to a margin around the frame; None if nothing is left."""
        cam = self.to_camera(points)
        for normal, offset in self._planes():
            cam = _clip(cam, normal, offset)
            if len(cam) < 3:
                return None
        return self._to_pixels(cam)

    def segment(self, a: tuple[float, float, float], b: tuple[float, float, float]) -> tuple[np.ndarray, float] | None:
        """Project a line segment clipped like `polygon`; also returns pixels per metre at its middle."""
        cam = self.to_camera(np.array([a, b]))
        for normal, offset in self._planes():
            da, db = cam[0] @ normal - offset, cam[1] @ normal - offset
            if da < 0 and db < 0:
                return None
            if da < 0 or db < 0:
                t = da / (da - db)
                hit = cam[0] + t * (cam[1] - cam[0])
                cam = np.array([hit, cam[1]]) if da < 0 else np.array([cam[0], hit])
        return self._to_pixels(cam), self.focal / max(float(cam[:, 2].mean()), NEAR)


def _clip(cam: np.ndarray, normal: np.ndarray, offset: float) -> np.ndarray:
    """Sutherland-Hodgman: keep the part of a polygon where normal . p >= offset."""
    out = []
    n = len(cam)
    dist = cam @ normal - offset
    for i in range(n):
        j = (i + 1) % n
        if dist[i] >= 0:
            out.append(cam[i])
        if (dist[i] >= 0) != (dist[j] >= 0):
            t = dist[i] / (dist[i] - dist[j])
            out.append(cam[i] + t * (cam[j] - cam[i]))
    return np.array(out) if out else np.empty((0, 3))
