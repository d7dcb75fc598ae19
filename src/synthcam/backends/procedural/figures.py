"""Articulated people and animals: a jointed skeleton in metres, projected, drawn as limbs.

Joints are placed in the body's own frame (x right, y up, z forward) from the pose (a gait
phase and amplitude for the legs, a mode for the arms), turned to the heading, projected by
the camera and drawn far limb first, so a figure reads correctly from any side and shrinks
with distance like everything else in the world.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ...manifest import Appearance
from .camera import NEAR, Camera
from .colors import BGR, HAIR, SKIN, parse_colour, rgb, shade
from .raster import Sketch

TAU = 2 * math.pi
BUILD = {"slim": 0.86, "average": 1.0, "heavy": 1.22, "child": 0.9}
STRIKE_S = 1.1           # seconds per blow of a swung bat or bar


@dataclass(frozen=True)
class Pose:
    """What a figure does at one instant."""

    x: float
    z: float
    heading: float                 # radians; 0 faces +z (away from the house), pi faces the house
    legs: str = "stand"            # stand | walk | run | crouch | climb | sit | drive (vehicles)
    arms: str = "swing"            # swing | idle | carry | reach | peer | raise | strike | fight | phone | climb | crouch | ride
    phase: float = 0.0             # gait cycles walked so far
    amp: float = 0.0               # gait amplitude: 1 walk, 1.6 run
    lift: float = 0.0              # metres off the ground (on a fence)
    t: float = 0.0                 # seconds, drives idle sway and jiggles
    was: tuple[str, str] | None = None  # (legs, arms) of the previous beat while changing pose
    blend: float = 1.0             # 0 = still the previous pose, 1 = this one


@dataclass(frozen=True)
class PersonLook:
    height: float
    build: float
    top: BGR
    bottom: BGR
    skin: BGR
    hair: BGR
    shoes: BGR
    hood: bool
    masked: bool

    @classmethod
    def draw(cls, a: Appearance, rng: np.random.Generator) -> PersonLook:
        child = a.build == "child"
        height = float(rng.uniform(1.1, 1.35) if child else rng.normal(1.74, 0.07))
        build = BUILD.get(a.build or "", float(rng.uniform(0.9, 1.12)))
        return cls(height, build * float(rng.uniform(0.95, 1.05)), parse_colour(a.top, rng), parse_colour(a.bottom, rng),
                   SKIN[int(rng.integers(len(SKIN)))], HAIR[int(rng.integers(len(HAIR)))],
                   shade(parse_colour(None, rng, ["black", "brown", "white", "grey"]), 0.8),
                   bool(a.hood), a.face_visible is False)


@dataclass
class Body:
    """Where a drawn figure's parts ended up, so carried things can attach to them."""

    joints: dict[str, np.ndarray]  # world metres
    right: np.ndarray
    forward: np.ndarray
    height: float

    def at(self, dx: float, dy: float, dz: float, origin: str = "root") -> np.ndarray:
        return self.joints[origin] + dx * self.right + dy * np.array([0.0, 1.0, 0.0]) + dz * self.forward


def frame_axes(heading: float) -> tuple[np.ndarray, np.ndarray]:
    return np.array([math.cos(heading), 0.0, -math.sin(heading)]), np.array([math.sin(heading), 0.0, math.cos(heading)])


def _leg(hip: np.ndarray, flex: float, knee: float, thigh: float, shin: float) -> tuple[np.ndarray, np.ndarray]:
    k = hip + thigh * np.array([0.0, -math.cos(flex), math.sin(flex)])
    f = k + shin * np.array([0.0, -math.cos(flex - knee), math.sin(flex - knee)])
    return k, f


def _arm(sh: np.ndarray, flex: float, out: float, elbow: float, upper: float, fore: float, side: float) -> tuple[np.ndarray, np.ndarray]:
    e = sh + upper * np.array([side * math.sin(out), -math.cos(flex) * math.cos(out), math.sin(flex) * math.cos(out)])
    a = flex + elbow
    h = e + fore * np.array([side * math.sin(out) * 0.5, -math.cos(a), math.sin(a)])
    return e, h


def _arm_angles(mode: str, side: float, swing: float, amp: float, t: float) -> tuple[float, float, float]:
    """(flex, out, elbow) for one arm; side is +1 for the right arm."""
    jiggle = 0.12 * math.sin(t * 19.0)
    if mode == "swing":
        return 0.38 * amp * swing * side, 0.08, 0.25 + 0.5 * max(0.0, amp - 1.0) + 0.15 * amp
    if mode == "carry":
        return 0.75, 0.1, 0.85
    if mode == "reach" and side > 0:
        return 1.05 + jiggle, 0.05, 0.15
    if mode == "peer":
        return 2.2, 0.35, 1.7
    if mode == "raise" and side > 0:
        return 1.45 + 0.06 * math.sin(t * 3), 0.0, 0.0
    if mode == "strike":
        # a two-handed overhead blow every STRIKE_S: a slow wind-up, then a fast swing down
        u = (t / STRIKE_S) % 1.0
        flex = 0.45 + 2.35 * (u / 0.65) ** 2 * (3 - 2 * u / 0.65) if u < 0.65 else 2.8 - 2.35 * math.sqrt((u - 0.65) / 0.35)
        return (flex, 0.1, 0.2) if side > 0 else (flex - 0.15, 0.3, 0.7)
    if mode == "fight":
        punch = math.sin(t * 7.0 + (0 if side > 0 else math.pi)) > 0.3
        return (1.5, 0.05, 0.1) if punch else (0.9, 0.2, 1.9)
    if mode == "phone" and side > 0:
        return 0.55, 0.1, 1.45
    if mode == "climb":
        return 2.7, 0.25, 0.25
    if mode == "crouch":
        return 0.9, 0.15, 0.5
    if mode == "ride":
        return 1.0, 0.12, 0.35
    return 0.05 + 0.03 * math.sin(t * 0.9 + side), 0.07, 0.12


def skeleton(look: PersonLook, pose: Pose) -> dict[str, np.ndarray]:
    """Joint positions in the body frame (metres), feet on the ground; a pose change blends
    from the previous beat's pose so a crouch never snaps upright between two frames."""
    joints = _skeleton(look, pose)
    if pose.was is None or pose.blend >= 1.0:
        return joints
    before = _skeleton(look, replace(pose, legs=pose.was[0], arms=pose.was[1]))
    u = pose.blend
    return {k: before[k] + (v - before[k]) * u for k, v in joints.items()}


def _skeleton(look: PersonLook, pose: Pose) -> dict[str, np.ndarray]:
    H, b = look.height, look.build
    c = TAU * pose.phase
    amp = pose.amp if pose.legs in ("walk", "run") else 0.0
    lean = {"run": 0.2, "crouch": 0.45, "climb": 0.1}.get(pose.legs, 0.0) + (0.22 if pose.arms == "peer" else 0.0)
    lean += 0.12 if pose.arms == "fight" else 0.0
    hip_y = 0.53 * H
    thigh = shin = 0.245 * H
    legs = {}
    for name, side, off in (("l", -1.0, 0.0), ("r", 1.0, 0.5)):
        s = math.sin(c + TAU * off)
        flex, knee = 0.42 * amp * s, amp * (0.08 + 0.55 * max(0.0, math.cos(c + TAU * off)))
        if pose.legs == "crouch":
            flex, knee = 1.35 + 0.1 * side, 2.2
        elif pose.legs == "climb":
            flex, knee = (1.4, 1.7) if side > 0 else (0.2, 0.3)
        elif pose.legs == "sit":
            flex, knee = 1.45, 1.45
        elif pose.arms == "fight":
            flex, knee = 0.25 * side, 0.3
        hip = np.array([side * 0.085 * H * b, hip_y, 0.0])
        legs[name] = (hip, *_leg(hip, flex, knee, thigh, shin))
    drop = min(legs["l"][2][1], legs["r"][2][1]) - 0.035 * H
    lean_z = math.sin(lean) * 0.33 * H
    sh_y = hip_y + math.cos(lean) * 0.29 * H
    j: dict[str, np.ndarray] = {"root": np.zeros(3), "pelvis": np.array([0.0, hip_y, 0.0])}
    for name, (hip, knee, foot) in legs.items():
        j[f"hip_{name}"], j[f"knee_{name}"], j[f"foot_{name}"] = hip, knee, foot
    j["neck"] = np.array([0.0, sh_y + 0.05 * H, lean_z * 1.1])
    j["head"] = np.array([0.0, sh_y + 0.12 * H, lean_z * 1.2 + 0.01 * H])
    swing = math.sin(c)
    for name, side in (("l", -1.0), ("r", 1.0)):
        sh = np.array([side * 0.12 * H * b, sh_y, lean_z])
        flex, out, elbow = _arm_angles(pose.arms, side, swing, amp, pose.t)
        j[f"sh_{name}"] = sh
        j[f"elbow_{name}"], j[f"hand_{name}"] = _arm(sh, flex, out, elbow, 0.175 * H, 0.17 * H, side)
    for k in j:
        if k != "root":
            j[k] = j[k] - np.array([0.0, drop, 0.0])
    return j


def person(look: PersonLook, pose: Pose, cam: Camera) -> tuple[Sketch, Body] | None:
    """Sketch one person; None when they are behind the camera."""
    right, forward = frame_axes(pose.heading)
    base = np.array([pose.x, pose.lift, pose.z])
    local = skeleton(look, pose)
    names = list(local)
    world = np.array([base + v[0] * right + v[1] * np.array([0, 1.0, 0]) + v[2] * forward for v in local.values()])
    uv, depth = cam.project(world)
    if depth.min() < NEAR:
        return None
    P = dict(zip(names, uv))
    D = dict(zip(names, depth))
    scale = cam.focal / float(depth.mean())
    H, b = look.height, look.build
    s = Sketch()
    top, bottom = s.part(look.top), s.part(look.bottom)
    top_far, bottom_far = s.part(shade(look.top, 0.8)), s.part(shade(look.bottom, 0.8))
    skin, hair, shoes = s.part(look.skin, "skin"), s.part(look.hair, "hair"), s.part(look.shoes)
    limbs = []
    for n in ("l", "r"):
        far = D[f"knee_{n}"] > D["pelvis"]
        legc = bottom_far if far else bottom
        limbs.append((D[f"knee_{n}"], [("line", P[f"hip_{n}"], P[f"knee_{n}"], 0.1 * H * b * scale, legc),
                                       ("line", P[f"knee_{n}"], P[f"foot_{n}"], 0.085 * H * b * scale, legc),
                                       ("circle", P[f"foot_{n}"], 0.04 * H * scale, shoes)]))
        armc = top_far if D[f"elbow_{n}"] > D["neck"] else top
        limbs.append((D[f"elbow_{n}"] - 0.01, [("line", P[f"sh_{n}"], P[f"elbow_{n}"], 0.07 * H * b * scale, armc),
                                               ("line", P[f"elbow_{n}"], P[f"hand_{n}"], 0.06 * H * b * scale, armc),
                                               ("circle", P[f"hand_{n}"], 0.028 * H * scale, skin)]))
    torso = np.array([P["sh_l"], P["sh_r"], P["hip_r"], P["hip_l"]])
    mid_hip = (P["hip_l"] + P["hip_r"]) / 2
    body = [("line", (P["sh_l"] + P["sh_r"]) / 2, mid_hip, 0.15 * H * b * scale, top),
            ("poly", torso, 0, top), ("line", P["hip_l"], P["hip_r"], 0.09 * H * b * scale, bottom)]
    limbs.append((D["pelvis"], body))
    limbs.sort(key=lambda item: -item[0])
    for _, prims in limbs:
        for kind, *args in prims:
            if kind == "line":
                s.line(args[0], args[1], args[2], args[3])
            elif kind == "circle":
                s.circle(args[0], args[1], args[2])
            else:
                s.poly(args[0], args[2])
    _head(s, look, P, local, base, right, forward, cam, scale, skin, hair, top)
    joints = {n: w for n, w in zip(names, world)}
    return s, Body(joints, right, forward, H)


def _head(s: Sketch, look: PersonLook, P: dict, local: dict, base: np.ndarray, right: np.ndarray, forward: np.ndarray,
          cam: Camera, scale: float, skin: int, hair: int, top: int) -> None:
    H = look.height
    r = 0.066 * H * scale
    s.line(P["neck"], P["head"], 0.05 * H * scale, skin)
    head_w = base + local["head"][0] * right + local["head"][1] * np.array([0, 1.0, 0]) + local["head"][2] * forward
    back = cam.project(np.array([head_w - forward * 0.03 * H + np.array([0, 0.012 * H, 0])]))[0][0]
    front = cam.project(np.array([head_w + forward * 0.035 * H - np.array([0, 0.01 * H, 0])]))[0][0]
    to_cam = np.array(cam.position) - head_w
    facing = float(forward @ to_cam / (np.linalg.norm(to_cam) + 1e-9))
    if look.hood:
        s.circle(back * 0.6 + P["head"] * 0.4, r * 1.18, top)
        if facing > 0.2:
            s.circle(front, r * 0.62, skin)
    else:
        s.circle(P["head"], r, skin)
        s.circle(back, r * 0.96, hair)
        if facing < -0.2:
            s.circle(P["head"] + (back - P["head"]) * 0.3, r * 0.98, hair)
    if look.masked and facing > 0.2:
        mask = s.part(rgb(25, 25, 28))
        s.circle(front + np.array([0.0, r * 0.25]), r * 0.55, mask)


ANIMALS = {  # length, shoulder height, girth, leg width, colours
    "dog": (0.85, 0.55, 0.26, 0.07, [rgb(120, 85, 50), rgb(30, 28, 26), rgb(200, 170, 110), rgb(225, 220, 210)]),
    "cat": (0.45, 0.27, 0.14, 0.04, [rgb(110, 110, 112), rgb(200, 120, 60), rgb(30, 30, 30)]),
    "deer": (1.5, 1.0, 0.5, 0.09, [rgb(150, 110, 70), rgb(130, 95, 60)]),
    "raccoon": (0.6, 0.3, 0.22, 0.06, [rgb(115, 110, 105), rgb(95, 90, 88)]),
    "coyote": (1.05, 0.6, 0.26, 0.065, [rgb(150, 130, 100), rgb(125, 110, 90)]),
}


def animal_look(kind: str, colour: str | None, rng: np.random.Generator) -> tuple[str, BGR]:
    spec = ANIMALS.get(kind, ANIMALS["dog"])
    fallback = spec[4][int(rng.integers(len(spec[4])))]
    return (kind if kind in ANIMALS else "dog"), (parse_colour(colour, rng) if colour else fallback)


def animal(kind: str, coat: BGR, pose: Pose, cam: Camera, size: float = 1.0) -> tuple[Sketch, Body] | None:
    """Sketch a four-legged animal: body, neck, head, tail, legs in a diagonal-pair gait."""
    length, height, girth, leg_w, _ = ANIMALS.get(kind, ANIMALS["dog"])
    length, height, girth = length * size, height * size, girth * size
    right, forward = frame_axes(pose.heading)
    up = np.array([0.0, 1.0, 0.0])
    base = np.array([pose.x, pose.lift, pose.z])
    c = TAU * pose.phase
    amp = pose.amp if pose.legs in ("walk", "run") else 0.0
    crouch = 0.65 if pose.legs == "crouch" else 1.0
    if pose.was is not None and pose.blend < 1.0:
        before = 0.65 if pose.was[0] == "crouch" else 1.0
        crouch = before + (crouch - before) * pose.blend
    pts = {"hip": base + up * height * crouch - forward * length * 0.4, "shoulder": base + up * height * crouch + forward * length * 0.35}
    pts["head"] = pts["shoulder"] + forward * length * 0.22 + up * height * (0.35 if kind != "deer" else 0.7)
    pts["nose"] = pts["head"] + forward * length * (0.14 if kind != "cat" else 0.08) - up * height * 0.06
    pts["tail"] = pts["hip"] - forward * length * 0.35 + up * height * (0.25 if kind in ("dog", "cat") else -0.1)
    for name, anchor, side, off in (("fl", "shoulder", -1, 0.0), ("fr", "shoulder", 1, 0.5), ("bl", "hip", -1, 0.5), ("br", "hip", 1, 0.0)):
        swing = 0.45 * amp * math.sin(c + TAU * off)
        hip = pts[anchor] + right * side * girth * 0.35
        pts[f"{name}0"] = hip
        pts[f"{name}1"] = hip - up * height * crouch * math.cos(swing) + forward * height * math.sin(swing)
    names = list(pts)
    uv, depth = cam.project(np.array([pts[n] for n in names]))
    if depth.min() < NEAR:
        return None
    P, D = dict(zip(names, uv)), dict(zip(names, depth))
    scale = cam.focal / float(depth.mean())
    s = Sketch()
    near, far, dark = s.part(coat), s.part(shade(coat, 0.75)), s.part(shade(coat, 0.45))
    legs = sorted(("fl", "fr", "bl", "br"), key=lambda n: -D[f"{n}0"])
    order = [("leg", n) for n in legs[:2]] + [("body", "")] + [("leg", n) for n in legs[2:]]
    for kind_, n in order:
        if kind_ == "leg":
            s.line(P[f"{n}0"], P[f"{n}1"], leg_w * size * scale, far if D[f"{n}0"] > D["hip"] else near)
        else:
            s.line(P["tail"], P["hip"], girth * 0.3 * scale, dark if kind == "raccoon" else near)
            s.line(P["hip"], P["shoulder"], girth * scale, near)
            s.line(P["hip"], P["shoulder"], girth * 0.45 * scale, dark if kind != "deer" else near)  # darker back
            s.line(P["shoulder"], P["head"], girth * 0.55 * scale, near)
            s.circle(P["head"], girth * 0.42 * scale, near)
            s.line(P["head"], P["nose"], girth * 0.25 * scale, dark if kind == "raccoon" else near)
    joints = {n: p for n, p in pts.items()}
    joints["root"] = base
    joints["collar"] = pts["shoulder"] + forward * length * 0.1 + up * height * 0.15
    return s, Body(joints, right, forward, height)
