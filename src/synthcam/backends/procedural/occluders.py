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
from typing import TYPE_CHECKING

import numpy as np

from .colors import VEHICLE_PAINT, parse_colour, rgb
from .figures import Pose
from .motion import Script
from .stage import Static
from .world import box, fence, hedge, tree

if TYPE_CHECKING:  # pragma: no cover
    from .render import Renderer

KINDS = [("car", r"\b(?:car|vehicle|truck|van|suv|sedan|pickup)s?\b"), ("hedge", r"hedge|bush|shrub|plant|foliage|garden"),
         ("railing", r"rail|banister|balust|balcony|chain"), ("fence", r"fence|gate|wall"), ("tree", r"tree|trunk"),
         ("post", r"post|pillar|column|pole"), ("bin", r"\bbins?\b|trash|garbage|recycling|can\b"),
         ("box", r"firewood|workbench|bench|grill|crate|box|stack|table|shelf|cabinet|mailbox|planter|wheelbarrow|cooler")]


def occluder_kind(text: str) -> str:
    for kind, pattern in KINDS:
        if re.search(pattern, text or "", re.IGNORECASE):
            return kind
    return "hedge"


def dwell_point(timeline: object) -> tuple[float, float] | None:
    """Where a script spends its longest visible wait (or the middle of its longest walk)."""
    if not isinstance(timeline, Script) or not timeline.beats:
        pose = getattr(timeline, "pose", None)
        return (pose.x, pose.z) if isinstance(pose, Pose) else None
    visible = [b for b in timeline.beats if not b.hidden]
    holds = [b for b in visible if b.distance < 1e-6]
    if holds:
        b = max(holds, key=lambda b: b.seconds)
        return b.a
    b = max(visible or timeline.beats, key=lambda b: b.seconds)
    return ((b.a[0] + b.b[0]) / 2, (b.a[1] + b.b[1]) / 2)


def place_occluder(r: Renderer, rng: np.random.Generator) -> None:
    plan = r.plan
    if plan.occlusion == "none":
        return
    lead = next((a for a in r.cast.actors if a.role == "subject" and a.timeline is not None), None)
    target = dwell_point(lead.timeline) if lead else None
    if target is None:
        return
    cx, cz = r.cam.position[0], r.cam.position[2]
    d = math.hypot(target[0] - cx, target[1] - cz)
    if d < 0.5:
        return
    ux, uz = (target[0] - cx) / d, (target[1] - cz) / d
    gap = float(np.clip(0.35 * d, 0.7, 1.8))
    mid = (target[0] - ux * gap, target[1] - uz * gap)
    half = float(rng.uniform(1.4, 2.2)) * (1.6 if lead and lead.kind == "vehicle" else 1.0)
    a, b = (mid[0] - uz * half, mid[1] + ux * half), (mid[0] + uz * half, mid[1] - ux * half)
    heavy = plan.occlusion == "heavy"
    subject_h = 1.75 if not lead or lead.kind != "vehicle" else 1.5
    height = subject_h * (float(rng.uniform(0.86, 0.95)) if heavy else float(rng.uniform(0.45, 0.58)))
    kind = occluder_kind(plan.occluder)
    world = r.world
    if kind == "car":
        vtype = ("van" if rng.random() < 0.5 else "suv") if heavy else ("sedan" if rng.random() < 0.6 else "suv")
        car = r.cast.add("vehicle", "car", (vtype, parse_colour(None, rng, VEHICLE_PAINT)), role="prop")
        far = (mid[0] - ux * 0.6, mid[1] - uz * 0.6)
        car.timeline = Static(Pose(far[0], far[1], math.atan2(-uz, ux)))
        return
    leaf = rgb(55, 95, 50)
    if kind == "hedge":
        world.add(hedge("occluder", r.cam, a, b, height, leaf, rng))
    elif kind == "railing":
        world.add(fence("occluder", a, b, height, rgb(200, 195, 185), solid=heavy))
    elif kind == "fence":
        world.add(fence("occluder", a, b, height, rgb(140, 105, 70)))
    elif kind == "tree":
        world.add(tree("occluder", r.cam, mid[0], mid[1], float(rng.uniform(4.0, 6.0)) if not heavy else 2.6,
                       1.2 if not heavy else 1.5, leaf, rng))
    elif kind == "box":
        width = 2 * half * (0.8 if heavy else 0.55)
        world.add(box("occluder", r.cam, mid, (width, height, 0.7), rgb(120, 95, 70), yaw=math.atan2(-ux, -uz),
                      material="wood", texture=8.0))
    elif kind == "post":
        width = 0.9 if heavy else 0.35
        world.add(box("occluder", r.cam, mid, (width, 2.8, width), rgb(170, 165, 155), yaw=math.atan2(ux, uz)))
    else:
        for k in range(3 if heavy else 2):
            spot = (mid[0] - uz * (k - 0.5) * 0.75, mid[1] + ux * (k - 0.5) * 0.75)
            world.add(box("occluder", r.cam, spot, (0.66, height, 0.66), rgb(45, 60, 50), material="plastic"))
