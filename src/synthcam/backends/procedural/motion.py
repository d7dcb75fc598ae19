"""Timed scripts: walk here, wait, crouch, reach, hide; then fit the whole to the clip length.

Choreography (paths.py) writes a script per figure as a list of beats with natural speeds
and nominal waits. `fit(duration)` then makes it last exactly the clip: waits stretch or
shrink first (by weight), walking speeds change only within a plausible band, and a script
that is still too long simply runs past the end of the clip, as a real event would.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .figures import Pose

XZ = tuple[float, float]
BLEND_S = 0.4        # seconds a figure takes to change from one pose to the next


@dataclass
class Beat:
    seconds: float
    a: XZ
    b: XZ
    legs: str = "stand"
    arms: str = "idle"
    heading: float | None = None     # None: face where the beat goes (or keep facing)
    flex: float = 0.0                # weight for stretching/shrinking when fitting
    ease: bool = False               # smooth start and stop (vehicles)
    hidden: bool = False             # out of sight (inside the house, behind it)
    lift: tuple[float, float] = (0.0, 0.0)
    t0: float = 0.0
    phase0: float = 0.0
    heading0: float = 0.0

    @property
    def distance(self) -> float:
        return math.hypot(self.b[0] - self.a[0], self.b[1] - self.a[1])


def _target(b: Beat) -> float:
    """Which way a beat faces: its own heading, else where it goes, else keep facing."""
    if b.heading is not None:
        return b.heading
    if b.distance > 1e-6:
        return math.atan2(b.b[0] - b.a[0], b.b[1] - b.a[1])
    return b.heading0


def _turn_time(b: Beat) -> float:
    return 1.2 if b.legs == "drive" else 0.35


def _angle_lerp(a: float, b: float, u: float) -> float:
    d = (b - a + math.pi) % (2 * math.pi) - math.pi
    return a + d * u


@dataclass
class Script:
    """A figure's timeline, built beat by beat from a start point."""

    start: XZ
    heading: float
    speed: float = 1.35              # walking pace, m/s
    stride: float = 1.45             # metres per gait cycle at a walk
    beats: list[Beat] = field(default_factory=list)
    marks: dict[str, int] = field(default_factory=dict)

    @property
    def pos(self) -> XZ:
        return self.beats[-1].b if self.beats else self.start

    @property
    def duration(self) -> float:
        return sum(b.seconds for b in self.beats)

    def walk(self, to: XZ, speed: float | None = None, legs: str = "walk", arms: str = "swing", ease: bool = False,
             heading: float | None = None, hidden: bool = False) -> Script:
        a = self.pos
        dist = math.hypot(to[0] - a[0], to[1] - a[1])
        if dist > 1e-6:
            self.beats.append(Beat(dist / (speed or self.speed), a, to, legs, arms, heading, ease=ease, hidden=hidden))
        return self

    def route(self, points: list[XZ], **kw: object) -> Script:
        for p in points:
            self.walk(p, **kw)  # type: ignore[arg-type]
        return self

    def hold(self, seconds: float, legs: str = "stand", arms: str = "idle", heading: float | None = None, flex: float = 1.0,
             hidden: bool = False, lift: tuple[float, float] = (0.0, 0.0), to: XZ | None = None) -> Script:
        if seconds > 0:
            self.beats.append(Beat(seconds, self.pos, to or self.pos, legs, arms, heading, flex, hidden=hidden, lift=lift))
        return self

    def mark(self, name: str) -> Script:
        """Name the moment after the last beat (a drop, a pick-up)."""
        self.marks[name] = len(self.beats)
        return self

    def fit(self, duration: float) -> Script:
        """Stretch or shrink so the script lasts exactly `duration` seconds (or runs past it)."""
        total = self.duration
        flex = sum(b.flex * b.seconds for b in self.beats)
        if total < duration:
            if flex <= 0:
                self.hold(duration - total, hidden=bool(self.beats and self.beats[-1].hidden))
            else:
                for b in self.beats:
                    b.seconds += (duration - total) * b.flex * b.seconds / flex
        elif total > duration:
            spare = min(total - duration, 0.6 * flex)
            for b in self.beats:
                if flex > 0:
                    b.seconds -= spare * b.flex * b.seconds / flex
            total = self.duration
            if total > duration:
                factor = max(duration / total, 1 / 1.45)
                for b in self.beats:
                    b.seconds *= factor
        self._finish()
        return self

    def settle(self, duration: float, in_view: Callable[[XZ], bool]) -> Script:
        """Fit, then delay the moment the figure leaves the view to just before the clip ends.

        A script whose figure walks out of frame (or indoors) at 60 % of the clip would leave
        seconds of empty scene; the waits before that moment stretch instead.
        """
        self.fit(duration)
        last = 0.0
        for k in range(int(min(self.duration, duration) * 10) + 1):
            pose, hidden = self.at(k / 10)
            if not hidden and in_view((pose.x, pose.z)):
                last = k / 10
        gap = duration - last - 0.6
        if self.duration <= duration and self.beats and not self.beats[-1].hidden and in_view(self.beats[-1].b):
            return self
        before = [b for b in self.beats if b.t0 + b.seconds <= last + 1e-6 and b.flex > 0]
        weight = sum(b.flex * b.seconds for b in before)
        if gap > 0.4 and weight > 0:
            for b in before:
                b.seconds += gap * b.flex * b.seconds / weight
            self._finish()
        return self

    def _finish(self) -> None:
        t, phase, heading = 0.0, 0.0, self.heading
        for b in self.beats:
            b.t0, b.phase0, b.heading0 = t, phase, heading
            t += b.seconds
            if b.legs in ("walk", "run"):
                phase += b.distance / (self.stride * (1.6 if b.legs == "run" else 1.0))
            # where the turn got to by the end of this beat: the next one starts there, no snap
            heading = _angle_lerp(heading, _target(b), min(1.0, b.seconds / _turn_time(b)))
        self._starts = [b.t0 for b in self.beats]

    def time_of(self, mark: str) -> float:
        i = self.marks.get(mark, len(self.beats))
        return self.beats[i].t0 if i < len(self.beats) else self.duration

    def at(self, t: float) -> tuple[Pose, bool]:
        """The pose at time t and whether the figure is out of sight."""
        if not self.beats:
            return Pose(self.start[0], self.start[1], self.heading, t=t), False
        i = max(0, bisect.bisect_right(self._starts, t) - 1)
        b = self.beats[i]
        u = min(max((t - b.t0) / b.seconds, 0.0), 1.0) if b.seconds > 0 else 1.0
        if b.ease:
            u = u * u * (3 - 2 * u)
        x, z = b.a[0] + (b.b[0] - b.a[0]) * u, b.a[1] + (b.b[1] - b.a[1]) * u
        turn = min(1.0, max(0.0, t - b.t0) / _turn_time(b))
        heading = _angle_lerp(b.heading0, _target(b), turn)
        moving = b.legs in ("walk", "run")
        phase = b.phase0 + (b.distance * u / (self.stride * (1.6 if b.legs == "run" else 1.0)) if moving else 0.0)
        speed = b.distance / b.seconds if b.seconds > 0 else 0.0
        amp = (1.6 if b.legs == "run" else min(1.1, max(0.6, speed / 1.35))) if moving else 0.0
        lift = b.lift[0] + (b.lift[1] - b.lift[0]) * u
        was, blend = None, 1.0
        if i > 0 and t - b.t0 < BLEND_S:
            prev = self.beats[i - 1]
            if (prev.legs, prev.arms) != (b.legs, b.arms) and not prev.hidden:
                v = max(0.0, (t - b.t0) / BLEND_S)
                was, blend = (prev.legs, prev.arms), v * v * (3 - 2 * v)
        return Pose(x, z, heading, b.legs, b.arms, phase, amp, lift, t, was, blend), b.hidden


@dataclass
class Follower:
    """Walks with a leader: same beats, a step behind and to one side."""

    leader: Script
    side: float
    back: float
    delay: float

    def at(self, t: float) -> tuple[Pose, bool]:
        pose, hidden = self.leader.at(max(0.0, t - self.delay))
        dx, dz = math.sin(pose.heading), math.cos(pose.heading)
        x = pose.x + self.side * dz - self.back * dx
        z = pose.z - self.side * dx - self.back * dz
        return replace(pose, x=x, z=z, phase=pose.phase + 0.37 * self.side, t=t), hidden
