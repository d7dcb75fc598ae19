"""Carried and dropped things: parcels, bags, tools, weapons, phones, umbrellas, ladders.

Each item is its own sketch (its own mask), placed from the carrier's joints: in the hands,
on the back, over the head. Items the subject declares as a detector class get their own
track; the rest are drawn the same way but stay unlabelled, like any other clutter.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .camera import NEAR, Camera
from .colors import BGR, rgb, shade
from .figures import Body, frame_axes
from .raster import Sketch
from .vehicles import visible_faces

UP = np.array([0.0, 1.0, 0.0])
CARDBOARD = rgb(170, 128, 82)
ITEM_COLOURS = {"bag": rgb(40, 38, 40), "groceries": rgb(215, 205, 185), "backpack": rgb(45, 55, 70), "crowbar": rgb(60, 60, 65),
                "bat": rgb(150, 110, 70), "tool": rgb(200, 60, 40), "knife": rgb(200, 200, 205), "handgun": rgb(25, 25, 27),
                "flashlight": rgb(35, 35, 38), "phone": rgb(20, 20, 22), "umbrella": rgb(30, 30, 50), "ladder": rgb(185, 188, 192)}
LENGTHS = {"crowbar": (0.65, 0.03), "bat": (0.8, 0.055), "tool": (0.32, 0.035), "knife": (0.24, 0.02), "handgun": (0.17, 0.05),
           "flashlight": (0.24, 0.04), "phone": (0.14, 0.07)}


def _projected(cam: Camera, pts: np.ndarray) -> np.ndarray | None:
    uv, depth = cam.project(pts)
    return None if depth.min() < NEAR else uv


def parcel(cam: Camera, centre: np.ndarray, heading: float, size: tuple[float, float, float] = (0.42, 0.3, 0.32),
           colour: BGR = CARDBOARD) -> Sketch | None:
    """A cardboard box with a tape stripe, any orientation about the vertical."""
    right, forward = frame_axes(heading)
    w, h, d = size
    corners = np.array([centre + dx * right + dy * UP + dz * forward
                        for dy in (-h / 2, h / 2) for dx, dz in ((-w / 2, -d / 2), (w / 2, -d / 2), (w / 2, d / 2), (-w / 2, d / 2))])
    if _projected(cam, corners) is None:
        return None
    s = Sketch()
    tones = {"top": s.part(shade(colour, 1.1)), "side": s.part(shade(colour, 0.88)), "end": s.part(shade(colour, 0.75))}
    tape = s.part(rgb(190, 170, 130))
    for face, quad in visible_faces(corners, np.array(cam.position)):
        s.poly(cam.project(quad)[0], tones["top" if face == "top" else ("side" if face in ("left", "right") else "end")])
        if face == "top":
            a, b = (quad[0] + quad[1]) / 2, (quad[2] + quad[3]) / 2
            uv = cam.project(np.array([a, b]))[0]
            s.line(uv[0], uv[1], max(1.0, 0.05 * cam.focal / max(cam.depth_of(*centre[[0, 2]]), NEAR)), tape)
    return s


def held(kind: str, body: Body, cam: Camera) -> Sketch | None:
    """Sketch an item where the carrier holds or wears it."""
    j = body.joints
    if kind in ("package", "box"):
        centre = (j["hand_l"] + j["hand_r"]) / 2 + body.forward * 0.12 + UP * 0.05
        return parcel(cam, centre, math.atan2(body.forward[0], body.forward[2]))
    colour = ITEM_COLOURS.get(kind, rgb(60, 60, 60))
    s = Sketch()
    part = s.part(colour, "plastic")
    scale = cam.focal / max(cam.depth_of(j["root"][0], j["root"][2]), NEAR)
    if kind in ("bag", "groceries"):
        for hand in (("hand_r", "hand_l") if kind == "groceries" else ("hand_r",)):
            h = j[hand]
            pts = np.array([h - UP * 0.04 + body.right * 0.1, h - UP * 0.04 - body.right * 0.1,
                            h - UP * 0.38 - body.right * 0.14, h - UP * 0.38 + body.right * 0.14])
            uv = _projected(cam, pts)
            if uv is not None:
                s.poly(uv, part)
    elif kind == "backpack":
        c = body.at(0.0, body.height * 0.66, -0.17, "root")
        return parcel(cam, c, math.atan2(body.forward[0], body.forward[2]), (0.32, 0.42, 0.18), colour)
    elif kind in LENGTHS:
        length, width = LENGTHS[kind]
        hand, elbow = j["hand_r"], j["elbow_r"]
        direction = (hand - elbow) / (np.linalg.norm(hand - elbow) + 1e-9)
        uv = _projected(cam, np.array([hand - direction * 0.04, hand + direction * length]))
        if uv is not None:
            s.line(uv[0], uv[1], width * scale, part)
    elif kind == "umbrella":
        hand = j["hand_r"]
        top = j["head"] + UP * 0.35
        ring = [top - UP * 0.25 + 0.6 * (math.cos(a) * body.right + math.sin(a) * body.forward)
                for a in np.linspace(0, 2 * math.pi, 14, endpoint=False)]
        uv = _projected(cam, np.array([hand, top] + ring))
        if uv is not None:
            s.line(uv[0], uv[1], 0.025 * scale, part)
            hull = np.concatenate([uv[2:], uv[1:2]])
            s.poly(cv2.convexHull(hull.astype(np.float32)).reshape(-1, 2), part)
    elif kind == "ladder":
        sh = j["sh_r"] + UP * 0.05 + body.right * 0.1
        rails = [(sh - body.forward * 1.2 - UP * dy, sh + body.forward * 1.2 - UP * dy) for dy in (0.0, 0.4)]
        uv = _projected(cam, np.array([p for rail in rails for p in rail]))
        if uv is not None:
            for k in range(2):
                s.line(uv[2 * k], uv[2 * k + 1], 0.05 * scale, part)
            for u in np.linspace(0.05, 0.95, 8):
                s.line(uv[0] + (uv[1] - uv[0]) * u, uv[2] + (uv[3] - uv[2]) * u, 0.03 * scale, part)
    return s if s.prims else None
