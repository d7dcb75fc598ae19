"""The clip's occluder ("partly hidden behind a parked car"): what it is, where it stands.

The occluder text is read for a kind (car, hedge, railing, fence, post, bin). It is placed
on the line of sight from the camera to where the lead subject spends the most time, a
little in front of that spot, and sized by the occlusion level: partial hides the legs and
lower body, heavy leaves only head and shoulders or glimpses. A car is a real, labelled
vehicle; the rest are scenery that the frame loop pastes over whatever walks behind it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .colors import VEHICLE_PAINT, parse_colour, rgb
from .figures import ANIMALS, Pose
from .motion import Script
from .stage import Static
from .vehicles import MODELS, TWO_WHEELERS
from .world import box, fence, hedge, segments, sight_blocked, tree

if TYPE_CHECKING:  # pragma: no cover
    from .cast import Actor
    from .render import Renderer

KINDS = [("car", r"\b(?:car|vehicle|truck|van|suv|sedan|pickup)s?\b"), ("hedge", r"hedge|bush|shrub|plant|foliage|garden"),
         ("railing", r"rail|banister|balust|balcony|chain"), ("fence", r"fence|gate|wall"), ("tree", r"tree|trunk"),
         ("post", r"post|pillar|column|pole"), ("bin", r"\bbins?\b|trash|garbage|recycling|can\b"),
         ("box", r"firewood|workbench|bench|grill|crate|box|stack|table|shelf|cabinet|mailbox|planter|wheelbarrow|cooler")]
NAME = {"railing": "rail"}
DOOR_PATHS = ("deliver_package", "carry_off", "approach_door", "test_handle", "enter_house", "leave_house", "crouch")  # element names: occluder_<kind>, so a description's "fence" or "railing" finds them


def occluder_kind(text: str) -> str:
    for kind, pattern in KINDS:
        if re.search(pattern, text or "", re.IGNORECASE):
            return kind
    return "hedge"


def subject_size(actor: Actor | None) -> tuple[float, float]:
    """(height in metres, width relative to a person) of what the occluder has to hide."""
    if actor is None or actor.kind == "person":
        return (actor.look.height if actor is not None else 1.75), 1.0
    if actor.kind == "vehicle":
        kind = actor.look[0]
        return (1.5, 1.0) if kind in TWO_WHEELERS else (MODELS.get(kind, MODELS["sedan"]).cabin[1], 1.6)
    if actor.kind == "animal":
        length, height = ANIMALS.get(actor.look[0], ANIMALS["dog"])[:2]
        return 1.35 * height, max(0.5, length / 0.9)
    return 0.32 * (1 + actor.extras.get("stack", 0)), 0.5


def script_of(timeline: object) -> object:
    """The script that moves a figure: a follower's leader's, a rider's vehicle's."""
    for _ in range(3):
        timeline = getattr(timeline, "leader", None) or getattr(timeline, "vehicle", None) or timeline
    return timeline


def dwell_point(timeline: object, room: Callable[[tuple[float, float]], bool] = lambda p: True,
                walk_first: bool = False) -> tuple[float, float] | None:
    """Where a script spends its longest visible wait (or the middle of its longest walk),
    among the places with `room` for an occluder in view in front of them."""
    if not isinstance(timeline, Script) or not timeline.beats:
        pose = getattr(timeline, "pose", None)
        return (pose.x, pose.z) if isinstance(pose, Pose) else None
    visible = [b for b in timeline.beats if not b.hidden]
    holds = [b for b in visible if b.distance < 1e-6 and room(b.a)]
    walks = [b for b in visible if b.distance >= 1e-6 and room(((b.a[0] + b.b[0]) / 2, (b.a[1] + b.b[1]) / 2))]
    if holds and not (walk_first and walks):
        return max(holds, key=lambda b: b.seconds).a
    b = max(walks or visible or timeline.beats, key=lambda b: b.seconds)
    return ((b.a[0] + b.b[0]) / 2, (b.a[1] + b.b[1]) / 2)


def crossing(timeline: object, until: float = math.inf) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """The longest straight walk (before `until`) of a script whose subject mostly passes through
    (not one that mostly stands somewhere): an occluder for it runs along that walk."""
    if not isinstance(timeline, Script):
        return None
    walks = [b for b in timeline.beats if not b.hidden and b.distance > 4.0 and b.t0 < until]
    if not walks:
        return None
    longest = max(walks, key=lambda b: b.distance)
    standing = sum(b.seconds for b in timeline.beats if b.distance < 1e-6 and not b.hidden)
    return None if standing > sum(b.seconds for b in walks) else (longest.a, longest.b)


def _along(r: Renderer, line: tuple[tuple[float, float], tuple[float, float]], gap: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """The part of a walk that is in view, moved `gap` metres toward the camera, a metre longer each end."""
    (ax, az), (bx, bz) = line
    length = math.hypot(bx - ax, bz - az)
    ux, uz = (bx - ax) / length, (bz - az) / length
    nx, nz = -uz, ux
    cx, cz = r.cam.position[0], r.cam.position[2]
    if (cx - (ax + bx) / 2) * nx + (cz - (az + bz) / 2) * nz < 0:
        nx, nz = -nx, -nz
    seen = []
    for u in np.linspace(0.0, 1.0, 41):
        x, z = ax + (bx - ax) * u + nx * gap, az + (bz - az) * u + nz * gap
        if r.cam.depth_of(x, z) > 0.5 and -0.05 * r.cam.width < r.cam.point(x, 0.0, z)[0] < 1.05 * r.cam.width:
            seen.append(u)
    lo, hi = (min(seen), max(seen)) if seen else (0.0, 1.0)
    lo, hi = lo - 1.0 / length, hi + 1.0 / length
    return ((ax + (bx - ax) * lo + nx * gap, az + (bz - az) * lo + nz * gap),
            (ax + (bx - ax) * hi + nx * gap, az + (bz - az) * hi + nz * gap))


def _pieces(a: tuple[float, float], b: tuple[float, float], heavy: bool, rng: np.random.Generator) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """A long occluder as one run (partial) or runs with narrow gaps (heavy: only glimpses)."""
    if not heavy:
        return [(a, b)]
    length = math.hypot(b[0] - a[0], b[1] - a[1])
    cuts = sorted(float(u) for u in rng.uniform(0.1, 0.9, max(1, int(length // 3.5))))
    gap = min(0.45, 2.4 / max(length, 1e-6))
    out, start = [], 0.0
    at = lambda u: (a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u)  # noqa: E731
    for c in cuts:
        if c - gap / 2 > start:
            out.append((at(start), at(c - gap / 2)))
        start = c + gap / 2
    out.append((at(start), b))
    return out


def place_occluder(r: Renderer, rng: np.random.Generator) -> None:
    plan = r.plan
    if plan.occlusion == "none":
        return
    subjects = [a for a in r.cast.actors if a.role == "subject" and a.timeline is not None]
    lead = next((a for a in subjects if a.kind != "parcel"), subjects[0] if subjects else None)

    def room(p: tuple[float, float]) -> bool:  # far enough from the lens that an occluder in front is in view
        u, v = r.cam.point(p[0], 0.0, p[1])
        return r.cam.depth_of(*p) > 3.5 and 0.05 * r.cam.width < u < 0.95 * r.cam.width and v < 0.92 * r.cam.height

    # at the door the parcel or the hand on the handle must show: hide them on the way in instead
    target = dwell_point(script_of(lead.timeline), room, walk_first=plan.path in DOOR_PATHS) if lead else None
    if target is None:
        return
    kind = occluder_kind(plan.occluder)
    script = script_of(lead.timeline) if lead else None
    T = float(plan.duration_s)
    line = crossing(script, T) or (longest_walk(script, T) if plan.path in DOOR_PATHS else None)
    tries: list[Callable[[], None]] = []
    if line is not None and _toward_camera(r, line):
        tries.append(lambda: _place_beside(r, rng, lead, line, kind))   # walking at the camera: across the way is walked through
    if line is not None and kind in ("hedge", "railing", "fence") and crossing(script, T):
        tries.append(lambda: _place_along(r, rng, lead, line, kind))
    tries.append(lambda: _place_point(r, rng, lead, kind, target))
    if kind == "car":
        tries[0]()
        return
    if line is not None:  # other places on the way, if the first choice hides too little
        a, b = _seen_part(r, line)
        for u in (0.5, 0.3, 0.7):
            spot = (a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u)
            tries.append(lambda spot=spot: _place_point(r, rng, lead, kind, spot))
    for f in (0.5, 0.25, 0.75):  # where the subject is a quarter, half and three quarters through the clip
        pose, hidden = lead.timeline.at(f * T)
        if not hidden:
            tries.append(lambda spot=(pose.x, pose.z): _place_point(r, rng, lead, kind, spot))
    # keep the first placement that stands between the lens and the subject long enough
    shown = _hidden_time(r, lead, [])
    need = min(0.3 * shown, 0.4 if lead.kind == "vehicle" else 0.9)   # a margin over the audit's 20% / 0.5 s
    parcels = [a for a in r.cast.actors if a.kind == "parcel" or "drop_t" in a.extras] if lead.kind != "parcel" else []
    others = [a for a in subjects if a is not lead]   # a walker's dog, the lower of two stacked boxes...
    keep = 0.6 if plan.occlusion == "heavy" else 0.3                         # ...may not vanish behind it
    kept = None
    for attempt in tries:
        n = len(r.world.elements)
        attempt()
        added = r.world.elements[n:]
        shows = _in_frame(r, added)
        if shows and _hidden_time(r, lead, added) >= need and not _covers_parcels(r, parcels, added) \
                and all(_hidden_time(r, o, added, whole=True) <= keep * _hidden_time(r, o, []) for o in [lead, *others]):
            return
        kept = kept if kept is not None or not shows else added
        del r.world.elements[n:]
    r.world.elements.extend(kept or [])


def _hidden_time(r: Renderer, lead: Actor, elements: list, whole: bool = False) -> float:
    """Seconds (sampled every 0.2 s) the lead is in the picture and, if `elements` are given,
    partly behind them: at least one of five points up its body is cut off from the lens by
    an element's footprint lower than the element's top. Rays only, nothing is drawn."""
    cam = r.cam
    cx, cy, cz = cam.position
    height, size = subject_size(lead)
    if lead.kind == "parcel":
        height = 0.3   # one box; a stacked one is lifted
    lift = lead.extras.get("lift", 0.0)
    length = 4.0 if lead.kind == "vehicle" and size > 1 else 1.0
    walls = []
    for el in elements:
        solid = [p for p in el.polys if p.material != "foliage"] or el.polys
        top = max(float(p.points[:, 1].max()) for p in solid)
        walls += [(a, b, top) for a, b in el.footprint]
    total = 0.0
    for t in np.arange(0.0, float(r.plan.duration_s), 0.2):
        pose, hidden = lead.timeline.at(float(t))
        if hidden or cam.depth_of(pose.x, pose.z) < 0.5:
            continue
        u, v = cam.point(pose.x, 0.5 * height, pose.z)
        if not (0 <= u < cam.width and 0 <= v < cam.height):
            continue
        if not elements:
            total += 0.2
            continue
        # the frame loop pastes an occluder over a figure when the sight line to the figure's
        # ground point (or a car's nose or tail) crosses it: test the same lines, up the body
        d = math.hypot(pose.x - cx, pose.z - cz) or 1.0
        fx, fz = (pose.x - cx) / d * length / 2, (pose.z - cz) / d * length / 2
        ends = (0.0,) if lead.kind != "vehicle" else (-1.0, 0.0, 1.0)
        ys = lift + (np.array([0.95]) if whole else np.linspace(0.05, 0.6, 4)) * height
        if any(_blocks(cx, cy, cz, pose.x + k * fx, y, pose.z + k * fz, a, b, top)
               for k in ends for y in ys for a, b, top in walls):
            total += 0.2
    return total


def _covers_parcels(r: Renderer, parcels: list, elements: list) -> bool:
    """Would these elements hide a parcel on the ground (set down, or waiting to be taken)?"""
    if not parcels:
        return False
    segs = segments([seg for el in elements for seg in el.footprint])
    eye = (r.cam.position[0], r.cam.position[2])
    spots = [a.extras["ground"] for a in parcels if a.extras.get("ground")]
    return any(sight_blocked(eye, spot, segs) for spot in spots)


def _in_frame(r: Renderer, elements: list) -> bool:
    """Do these elements cover enough of the picture to be seen (the audit's 150 px at 704 rows)?"""
    cam = r.cam
    mask = np.zeros((cam.height // 4 + 1, cam.width // 4 + 1), np.uint8)
    for el in elements:
        for poly in el.polys:
            uv = cam.polygon(poly.points)
            if uv is not None:
                cv2.fillPoly(mask, [np.round(uv * 4).astype(np.int32)], 1, cv2.LINE_8, 4)
    return int(np.count_nonzero(mask)) * 16 >= 150 * (cam.height / 704) ** 2 * 1.5


def _blocks(cx: float, cy: float, cz: float, px: float, py: float, pz: float, a: tuple[float, float], b: tuple[float, float],
            top: float) -> bool:
    """Does the ray from the lens to (px, py, pz) cross the wall a-b below its top?"""
    dx, dz = px - cx, pz - cz
    ex, ez = b[0] - a[0], b[1] - a[1]
    den = dx * ez - dz * ex
    if abs(den) < 1e-9:
        return False
    s = ((a[0] - cx) * ez - (a[1] - cz) * ex) / den          # along the ray
    w = ((a[0] - cx) * dz - (a[1] - cz) * dx) / den          # along the wall
    reach = math.hypot(dx, dz)
    return 0.0 < s < 1.0 - 0.25 / max(reach, 0.3) and 0.0 <= w <= 1.0 and cy + (py - cy) * s < top


def _place_point(r: Renderer, rng: np.random.Generator, lead: Actor, kind: str, target: tuple[float, float]) -> None:
    """A hedge, fence, box, post, bins or a tree across the line of sight just in front of `target`."""
    plan = r.plan
    cx, cz = r.cam.position[0], r.cam.position[2]
    d = math.hypot(target[0] - cx, target[1] - cz)
    if d < 0.5:
        return
    ux, uz = (target[0] - cx) / d, (target[1] - cz) / d
    subject_h, size = subject_size(lead)
    gap = float(np.clip(0.35 * d, 0.7, 1.8)) * max(0.3, min(1.0, subject_h / 1.75))
    for _ in range(4):  # in view: closer to the subject if the lens would not see it
        mid = (target[0] - ux * gap, target[1] - uz * gap)
        u, v = r.cam.point(mid[0], 0.0, mid[1])
        if r.cam.depth_of(*mid) > 1.0 and 0.0 < u < r.cam.width and v < r.cam.height:
            break
        gap *= 0.65
    half = max(0.6, float(rng.uniform(1.4, 2.2)) * size)
    heavy = plan.occlusion == "heavy"
    height = subject_h * (float(rng.uniform(0.74, 0.84)) if heavy else float(rng.uniform(0.45, 0.58)))
    if lead.kind == "parcel":   # a box seen from above shows its top over anything as tall as it
        height = subject_h * (float(rng.uniform(0.55, 0.65)) if heavy else float(rng.uniform(0.35, 0.45)))
        if kind in ("railing", "fence", "hedge"):
            height = max(height, 0.45)   # nobody builds a 15 cm railing: a real one, in front of one end of the boxes
            half = min(half, 0.7)
            mid = (mid[0] - uz * (half - 0.12), mid[1] + ux * (half - 0.12))   # its end just past the middle
    if kind in ("post", "tree"):  # narrow: stand off to one side of the line of sight, hiding part of the subject
        shift = (0.1 if heavy else 0.22) * size * (1 if rng.random() < 0.5 else -1)
        mid = (mid[0] - uz * shift, mid[1] + ux * shift)
    if lead.kind == "vehicle" and any(a.kind == "person" and a.role == "subject" for a in r.cast.actors):
        height = min(height, 1.2)   # a driver getting out or a rider still shows head and shoulders
    _build(r, rng, kind, mid, (-uz, ux), half, height, math.atan2(-ux, -uz), heavy)


def longest_walk(timeline: object, until: float = math.inf) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """The longest visible walk of a script (at least 2 m, before `until`), wherever it stands otherwise."""
    if not isinstance(timeline, Script):
        return None
    walks = [b for b in timeline.beats if not b.hidden and b.distance > 2.0 and b.t0 < until]
    b = max(walks, key=lambda b: b.distance) if walks else None
    return (b.a, b.b) if b else None


def _toward_camera(r: Renderer, line: tuple[tuple[float, float], tuple[float, float]]) -> bool:
    """Does the walk run mostly along the line of sight (toward or away from the lens)?"""
    (ax, az), (bx, bz) = line
    mx, mz = (ax + bx) / 2 - r.cam.position[0], (az + bz) / 2 - r.cam.position[2]
    wx, wz = bx - ax, bz - az
    n = math.hypot(mx, mz) * math.hypot(wx, wz)
    return n > 1e-6 and abs(mx * wx + mz * wz) / n > 0.8


def _seen_part(r: Renderer, line: tuple[tuple[float, float], tuple[float, float]]) -> tuple[tuple[float, float], tuple[float, float]]:
    """The part of a walk whose ground points are inside the picture (the whole walk if none is)."""
    (ax, az), (bx, bz) = line
    inside = []
    for u in np.linspace(0.0, 1.0, 41):
        x, z = ax + (bx - ax) * u, az + (bz - az) * u
        pu, pv = r.cam.point(x, 0.0, z)
        if r.cam.depth_of(x, z) > 0.5 and 0 < pu < r.cam.width and 0 < pv < r.cam.height:
            inside.append(u)
    lo, hi = (min(inside), max(inside)) if inside else (0.0, 1.0)
    return (ax + (bx - ax) * lo, az + (bz - az) * lo), (ax + (bx - ax) * hi, az + (bz - az) * hi)


def _place_beside(r: Renderer, rng: np.random.Generator, lead: Actor | None,
                  line: tuple[tuple[float, float], tuple[float, float]], kind: str) -> None:
    """An occluder beside a walk that comes toward the camera, on the camera's side of it and in
    its far part: the elevated lens looks over it at the walker's legs while they are far."""
    cx, cz = r.cam.position[0], r.cam.position[2]
    a, b = _seen_part(r, line)
    far, near = (a, b) if math.hypot(a[0] - cx, a[1] - cz) > math.hypot(b[0] - cx, b[1] - cz) else (b, a)
    length = math.hypot(near[0] - far[0], near[1] - far[1]) or 1.0
    ux, uz = (near[0] - far[0]) / length, (near[1] - far[1]) / length
    nx, nz = -uz, ux
    base = (far[0] + ux * 0.3 * length, far[1] + uz * 0.3 * length)
    if (cx - base[0]) * nx + (cz - base[1]) * nz < 0:
        nx, nz = -nx, -nz
    subject_h, size = subject_size(lead)
    heavy = r.plan.occlusion == "heavy"
    height = subject_h * (float(rng.uniform(0.8, 0.9)) if heavy else float(rng.uniform(0.55, 0.65)))
    # a short piece across the way, its inner end at the walker's shoulder: passed closely, it
    # stands between the lens and the walker's legs while they are beyond it
    half = 0.6 * size * float(rng.uniform(0.9, 1.1))
    reach = 0.3 * size + half
    centre = (base[0] + nx * reach, base[1] + nz * reach)
    _build(r, rng, kind, centre, (nx, nz), half, height, math.atan2(ux, uz), heavy)


def _build(r: Renderer, rng: np.random.Generator, kind: str, mid: tuple[float, float], side: tuple[float, float],
           half: float, height: float, yaw: float, heavy: bool) -> None:
    """The occluder of `kind` centred at `mid`, `half` metres to each side along `side`."""
    world, name = r.world, f"occluder_{NAME.get(kind, kind)}"
    a, b = (mid[0] - side[0] * half, mid[1] - side[1] * half), (mid[0] + side[0] * half, mid[1] + side[1] * half)
    if kind == "car":
        vtype = ("van" if rng.random() < 0.5 else "suv") if heavy else ("sedan" if rng.random() < 0.6 else "suv")
        car = r.cast.add("vehicle", "car", (vtype, parse_colour(None, rng, VEHICLE_PAINT)), role="prop")
        car.timeline = Static(Pose(mid[0], mid[1], math.atan2(side[0], side[1])))
        return
    leaf = rgb(55, 95, 50)
    if kind == "hedge":
        world.add(hedge(name, r.cam, a, b, height, leaf, rng))
    elif kind == "railing":
        world.add(fence(name, a, b, height, rgb(200, 195, 185), solid=heavy, step=0.06))
    elif kind == "fence":
        world.add(fence(name, a, b, height, rgb(140, 105, 70)))
    elif kind == "tree":
        thick = bool(re.search(r"thick|big|old|oak", r.plan.occluder or "", re.IGNORECASE)) or heavy
        world.add(tree(name, r.cam, mid[0], mid[1], float(rng.uniform(4.0, 6.0)) if not heavy else 2.6,
                       1.2 if not heavy else 1.5, leaf, rng, trunk_w=0.55 if thick else 0.3))
    elif kind == "box":
        world.add(box(name, r.cam, mid, (2 * half * 0.8, height, 0.5), rgb(120, 95, 70), yaw=-math.atan2(side[1], side[0]),
                      material="wood", texture=8.0))
    elif kind == "post":
        width = (0.9 if heavy else 0.35) * max(1.0, 0.8 * half / 1.8)   # a wider post in front of a car
        world.add(box(name, r.cam, mid, (width, 2.8, width), rgb(170, 165, 155), yaw=yaw))
    else:
        for k in range(3 if heavy else 2):
            spot = (mid[0] + side[0] * (k - 0.5) * 0.75, mid[1] + side[1] * (k - 0.5) * 0.75)
            world.add(box(name, r.cam, spot, (0.66, height, 0.66), rgb(45, 60, 50), material="plastic"))


def _place_along(r: Renderer, rng: np.random.Generator, lead: object, line: tuple[tuple[float, float], tuple[float, float]],
                 kind: str) -> None:
    """A hedge, fence or railing running along a subject's crossing: "partly behind the fence"
    for the whole pass, not for the second it takes to pass one short piece."""
    heavy = r.plan.occlusion == "heavy"
    mid = ((line[0][0] + line[1][0]) / 2, (line[0][1] + line[1][1]) / 2)
    d = math.hypot(mid[0] - r.cam.position[0], mid[1] - r.cam.position[2])
    subject_h, _ = subject_size(lead)
    a, b = _along(r, line, float(np.clip(0.1 * d, 0.8, 2.0)) * max(0.35, min(1.0, subject_h / 1.75)))
    height = subject_h * (float(rng.uniform(0.72, 0.8)) if heavy else float(rng.uniform(0.45, 0.58)))
    leaf = rgb(55, 95, 50)
    for p, q in _pieces(a, b, heavy, rng):
        if kind == "hedge":
            r.world.add(hedge(f"occluder_{NAME.get(kind, kind)}", r.cam, p, q, height, leaf, rng))
        elif kind == "railing" or re.search(r"picket|rail", r.plan.occluder or "", re.IGNORECASE):
            r.world.add(fence(f"occluder_{NAME.get(kind, kind)}", p, q, height, rgb(215, 212, 205), solid=heavy, posts=2.0, step=0.08))
        else:
            r.world.add(fence(f"occluder_{NAME.get(kind, kind)}", p, q, height, rgb(140, 105, 70)))
