"""The stage an action plays on: the world's anchors and routes, what is in view, and the
small moves every choreography shares (arrive along a route, leave by the nearest edge,
look around, take the part of a line that is in view).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .camera import Camera
from .figures import Pose
from .motion import XZ, Script
from .world import World, segments, sight_blocked

PACE = {"none": 0.9, "low": 1.05, "normal": 1.35, "high": 1.7}
SMALL_DEPTH = {"near": 0.8, "mid": 1.8, "far": 3.0}   # metres past the nearest visible ground
RUN = 3.6
STRIKERS = ("bat", "crowbar", "tool")                 # swung at a target; other weapons are aimed


@dataclass
class Static:
    """Something that stays put: a parked car, a parcel on the step."""

    pose: Pose
    hidden: bool = False

    def at(self, t: float) -> tuple[Pose, bool]:
        return Pose(self.pose.x, self.pose.z, self.pose.heading, t=t), self.hidden


@dataclass
class Stage:
    world: World
    T: float
    rng: np.random.Generator
    pace: float
    distance: str
    small: bool = False            # a cat or raccoon: kept close enough to be more than a few pixels
    target: str = "door"           # what a raised weapon points at (plan.target)
    room: float = 0.0              # extra metres in front of a small animal's line: room for an occluder
    weapon: str | None = None      # the lead's weapon, if any

    @property
    def cam(self) -> Camera:
        return self.world.camera

    def u(self, a: float, b: float) -> float:
        return float(self.rng.uniform(a, b))

    def anchor(self, name: str) -> XZ:
        return self.world.anchors.get(name) or self.world.anchors["loiter"]

    def route(self, name: str) -> list[XZ]:
        if self.small and name.startswith("pass_"):
            return self.lateral(SMALL_DEPTH.get(name[5:], 2.5) + self.room)
        return list(self.world.routes.get(name) or self.world.routes["pass_mid"])

    def target_point(self) -> XZ:
        """Where the target stands: a door, window or utility box anchor, or the street in front."""
        if self.target == "street":
            lane = self.world.routes.get("lane") or self.world.routes["pass_mid"]
            return (self.anchor("loiter")[0], lane[0][1])
        name = {"house": "door"}.get(self.target, self.target)
        return self.anchor(name if name in self.world.anchors else "door")

    def bearing(self, a: XZ, b: XZ) -> float:
        """The heading from a that faces b."""
        return math.atan2(b[0] - a[0], b[1] - a[1])

    def standoff(self, target: XZ, metres: float) -> XZ:
        """An open spot in view about `metres` from the target, on its open side (where one stands
        to face it), a little to either side; the nearest usable one if that is not in view."""
        name = {"house": "door"}.get(self.target, self.target)
        face = self.world.facing(name) if name in self.world.anchors else math.pi
        for k in range(24):
            ang = face + math.pi + self.u(-0.5, 0.5) * (1 + k / 12)
            d = metres * (1 + 0.08 * k)
            q = (target[0] + d * math.sin(ang), target[1] + d * math.cos(ang))
            if self.visible(q, 0.08) and self.clear(q, 0.35):
                return q
        return (target[0] - metres * math.sin(face), target[1] - metres * math.cos(face))

    def lateral(self, ahead: float) -> list[XZ]:
        """A line across the frame `ahead` metres beyond the nearest ground in view."""
        hit = self.cam.ground_at(self.cam.width / 2, self.cam.height * 0.97)
        z = (hit[1] if hit else 2.0) + ahead
        return [(self.cam.x_at_u(-0.12 * self.cam.width, z), z), (self.cam.x_at_u(1.12 * self.cam.width, z), z)]

    def passing(self) -> list[XZ]:
        r = self.route(f"pass_{self.distance}")
        return r[::-1] if self.rng.random() < 0.5 else r

    def in_view(self, p: XZ) -> bool:
        """Loosely on screen: the feet may be just below the frame, the body still shows."""
        if self.cam.depth_of(*p) < 0.8:
            return False
        u, v = self.cam.point(p[0], 0.0, p[1])
        return -0.02 * self.cam.width < u < 1.02 * self.cam.width and 0.0 < v < 1.25 * self.cam.height

    def visible(self, p: XZ, margin: float = 0.06) -> bool:
        u, v = self.cam.point(p[0], 0.0, p[1])
        w, h = self.cam.width, self.cam.height
        return self.cam.depth_of(*p) > 1.0 and margin * w < u < (1 - margin) * w and 0.25 * h < v < (1 - margin) * h

    def near(self, p: XZ, radius: float) -> XZ:
        """A random open spot in view (not behind a wall or fence) within `radius` m of p (p itself if none is found)."""
        for _ in range(30):
            q = (p[0] + self.u(-radius, radius), p[1] + self.u(-radius, radius))
            if self.seen(q) and self.clear(q):
                return q
        return p

    def seen(self, p: XZ) -> bool:
        """In frame and not behind a wall, fence or hedge."""
        if not hasattr(self, "_walls"):
            self._walls = segments([seg for el in self.world.elements for seg in el.footprint])
        eye = (self.cam.position[0], self.cam.position[2])
        return self.visible(p) and not sight_blocked(eye, p, self._walls)

    def head_in_frame(self, p: XZ, height: float = 1.7) -> bool:
        if self.cam.depth_of(p[0], p[1], height) < 0.5:
            return False
        u, v = self.cam.point(p[0], height, p[1])
        return 0 <= u < self.cam.width and 0 <= v < self.cam.height

    def clear(self, q: XZ, room: float = 0.5) -> bool:
        """Not inside a hedge, fence, wall or box (by their footprints)."""
        for el in self.world.elements:
            for a, b in el.footprint:
                dx, dz = b[0] - a[0], b[1] - a[1]
                u = max(0.0, min(1.0, ((q[0] - a[0]) * dx + (q[1] - a[1]) * dz) / (dx * dx + dz * dz + 1e-9)))
                if math.hypot(q[0] - a[0] - u * dx, q[1] - a[1] - u * dz) < room:
                    return False
        return True

    def exit_from(self, p: XZ) -> XZ:
        """An off-frame point at p's depth, on the nearer side."""
        left, right = self.cam.x_at_u(-0.15 * self.cam.width, p[1]), self.cam.x_at_u(1.15 * self.cam.width, p[1])
        return (left, p[1]) if abs(p[0] - left) < abs(p[0] - right) else (right, p[1])


def tail(points: list[XZ], length: float) -> list[XZ]:
    """The last `length` metres of a polyline."""
    out = [points[-1]]
    left = length
    for a, b in zip(points[-2::-1], points[::-1]):
        seg = math.hypot(b[0] - a[0], b[1] - a[1])
        if seg >= left:
            u = left / seg if seg else 0.0
            out.append((b[0] + (a[0] - b[0]) * u, b[1] + (a[1] - b[1]) * u))
            return out[::-1]
        out.append(a)
        left -= seg
    return out[::-1]


def head(points: list[XZ], length: float) -> list[XZ]:
    return tail(points[::-1], length)[::-1]


def arrive(st: Stage, route: list[XZ], seconds: float, pace: float | None = None) -> Script:
    """A script that walks the end of `route`, taking about `seconds`."""
    pace = pace or st.pace
    path = tail(route, max(0.5, pace * seconds))
    start = path[0]
    nxt = path[1] if len(path) > 1 else route[-1]
    s = Script(start, math.atan2(nxt[0] - start[0], nxt[1] - start[1]), pace)
    return s.route(path[1:])


def walk_in(st: Stage, spot: XZ, share: float = 0.3, cap: float = 6.0, pace: float | None = None) -> Script:
    """Come into view from the nearer frame edge to `spot`, taking about share x the clip."""
    return arrive(st, [st.exit_from(spot), spot], min(share * st.T, cap), pace)


def leave(st: Stage, s: Script, seconds: float, run: bool = False) -> None:
    """Walk (or run) away toward the nearest frame edge."""
    goal = st.exit_from(s.pos)
    if run:
        s.walk(goal, RUN, legs="run")
    else:
        s.walk(goal)


def look_around(st: Stage, s: Script, seconds: float, facing: float) -> None:
    turns = max(1, int(seconds / 1.4))
    for _ in range(turns):
        s.hold(seconds / turns, heading=facing + st.u(-1.3, 1.3), flex=1.0)


def middle(st: Stage, a: XZ, b: XZ, length: float) -> tuple[XZ, XZ]:
    """`length` metres of the segment a-b centred on the part of it that is in view."""
    full = math.hypot(b[0] - a[0], b[1] - a[1])
    at = lambda u: (a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u)  # noqa: E731
    seen = [u for u in np.linspace(0, 1, 41) if st.seen(at(u)) and st.clear(at(u), 0.3)]
    # a cat does not walk on through the garage wall, nor a long walk on out of the picture
    inside = seen if st.small else [u for u in np.linspace(0, 1, 41) if st.visible(at(u), 0.03)] if st.T >= 20 else []
    if inside:
        length = min(length, (max(inside) - min(inside)) * full + 1.0)
    if full <= length:
        return a, b
    centre = float(np.mean(seen)) if seen else 0.5
    half = length / full / 2
    centre = min(max(centre, half), 1 - half)
    return at(centre - half), at(centre + half)
