"""The frame loop: plate, shadows, figures far to near with occluders pasted back, light
beams, weather, moths, burn-in; then YUV 4:2:0 with cloud shadows and grain, and the masks
measured for the labels.

Per frame the work is a plate copy, a few small rasters and region-limited effects; the
full-frame steps are one BGR->I420 conversion and two saturating adds of pre-made grain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from ...manifest import Manifest
from ...prompts import CompiledClip
from .cast import Actor, build_cast
from .direct import direct
from .figures import ANIMALS, Body, Pose, animal, frame_axes, person
from .items import held, parcel
from .layouts import build_world
from .lighting import MAT, Look
from .occluders import place_occluder
from .overlay import Overlay
from .plan import ClipPlan, plan_clip
from .plate import render_plate
from .raster import Raster, Sketch, poly_mask, rasterize, window
from .motion import Script
from .stage import Static
from .vehicles import MODELS, TWO_WHEELERS, vehicle
from .weather import Clouds, Grain, Moths, Sky, beam
from .world import segments, sight_blocked

# Limited-range luma for grey frames: what cv2's BGR->I420 gives for R = G = B.
GREY_TO_Y = np.array([16 + round(v * 219 / 255) for v in range(256)], dtype=np.uint8)
SHADOW = {"day": 0.55, "dawn": 0.75, "dusk": 0.82}
SEPARATE = 40.0          # delta E a subject's colours keep from their background (the audit asks 10)


@dataclass
class Drawn:
    """One actor as drawn in the current frame."""

    actor: Actor
    raster: Raster
    palette: np.ndarray
    depth: float
    ground: tuple[float, float]
    body: Body | None = None


@dataclass
class Instance:
    """What the labels need about one labelled actor in one frame."""

    actor: Actor
    raster: Raster


@dataclass
class Renderer:
    """Everything fixed for one clip, and the buffers the frame loop reuses."""

    plan: ClipPlan
    streams: list[np.random.Generator] = field(init=False)

    def __post_init__(self) -> None:
        p = self.plan
        self.streams = [np.random.Generator(np.random.PCG64(s)) for s in np.random.SeedSequence(p.seed).spawn(8)]
        scene_rng, look_rng, cast_rng, path_rng, fx_rng, noise_rng, cloud_rng, moth_rng = self.streams
        night_ish = p.time_of_day in ("dusk", "night")
        self.world = build_world(p.layout, scene_rng, p.width, p.height, p.distance, night_ish)
        self.look = Look.for_plan(p.time_of_day, p.weather, look_rng)
        self.cast = build_cast(p, cast_rng)
        self.cam = self.world.camera
        direct(self.world, p, self.cast, path_rng)
        place_occluder(self, scene_rng)
        self.plate = render_plate(self.world, self.look, scene_rng, porch_light="porch_light" in p.effects)
        self._contrast_subjects()
        self.sky = Sky(p.weather, p.effects, self.look, self.cam, fx_rng, p.duration_s, p.fps)
        self.overlay = Overlay.for_clip(p.time_of_day, self.world.camera_name, int(fx_rng.integers(1, 9)), p.width, p.height, fx_rng)
        self.grain = Grain(self.look.noise, p.width, p.height, noise_rng)
        strength = {"day": 0.2, "dawn": 0.12, "dusk": 0.1}.get(p.time_of_day, 0.0) * (0.5 if p.weather == "overcast" else 1.0)
        if p.weather in ("rain", "snow"):
            strength = 0.0                   # falling particles already keep every frame different
        elif p.weather == "fog":
            strength = -0.09                 # drifting banks of brighter fog instead of cloud shadows
        self.clouds = Clouds(p.width, p.height, cloud_rng, strength, self.plate.outdoor) if strength else None
        self.moths = Moths(p.width, p.height, moth_rng) if self.look.ir else None
        self.lights_on = self.look.ir or self.look.lamps > 0.3 or "headlights" in p.effects
        self.sweeps = sorted(float(t) for t in fx_rng.uniform(0.1, 0.8, max(1, p.duration_s // 10)) * p.duration_s) \
            if "headlights" in p.effects and not self.cast.of("vehicle") else []
        self.sun = float(fx_rng.uniform(-1.2, 1.2))
        self.frame = np.empty((p.height, p.width, 3), np.uint8)
        self.ids = np.zeros((p.height, p.width), np.uint8)
        self._band: tuple[int, np.ndarray, np.ndarray] | None = None
        self._still: dict[int, Drawn] = {}
        self._footprints = [(c, segments(c.footprint)) for c in self.plate.cutouts]
        self._campos = (self.cam.position[0], self.cam.position[2])

    def _contrast_subjects(self) -> None:
        """A grey tracksuit on a grey sidewalk, a grey cat on concrete in fog, a dark car on
        asphalt at dusk: a few barely distinct pixels. Shade a subject's colours away from the
        background it is seen against along its path (the same colour, darker or lighter), so
        a detector has something to find while the manifest's colour words still hold."""
        order = sorted(self.cast.actors, key=lambda a: a.kind == "person")   # cars first: a driver then keeps clear of the car
        for actor in order:
            if actor.role != "subject" or actor.timeline is None or actor.kind not in ("person", "vehicle", "animal", "parcel"):
                continue
            seen = self._background(actor)
            if seen is None:
                continue
            back, distance = seen
            back = np.vstack([back] + self._beside(actor, distance))
            if actor.kind == "person":
                look = actor.look
                actor.look = replace(look, top=self._apart(look.top, "cloth", back, distance),
                                     bottom=self._apart(look.bottom, "cloth", back, distance))
            elif actor.kind == "vehicle":
                actor.look = (actor.look[0], self._apart(actor.look[1], "paint", back, distance))
            elif actor.kind == "parcel":
                actor.look = self._apart(actor.look, "cloth", back, distance)
            else:
                actor.look = (actor.look[0], self._apart(actor.look[1], "cloth", back, distance))

    def _background(self, actor: Actor) -> tuple[np.ndarray, float] | None:
        """Median Lab colour of the plate around where the actor will be drawn (the same kind of
        ring the audit measures against), and its median distance."""
        tall = {"person": 1.7, "vehicle": 1.4, "parcel": 0.35}.get(actor.kind, 0.5)
        if actor.kind == "animal":
            tall = 1.4 * ANIMALS.get(actor.look[0], ANIMALS["dog"])[1]
        wide = {"person": 0.45, "vehicle": 2.6, "parcel": 1.3}.get(actor.kind, 1.6)   # width over height in the picture
        cam, h, w = self.cam, self.plan.height, self.plan.width
        rings, dists = [], []
        for t in np.linspace(0.0, self.plan.duration_s, 9):
            pose, hidden = actor.timeline.at(float(t))
            if hidden or cam.depth_of(pose.x, pose.z) < 1.0:
                continue
            lift = actor.extras.get("lift", 0.0)
            (u0, v0), (_, v1) = cam.point(pose.x, lift, pose.z), cam.point(pose.x, lift + tall, pose.z)
            bh = max(2.0, v0 - v1)
            bw = wide * bh
            pad = max(4.0, 0.4 * max(bw, bh))
            x0, x1 = int(max(0, u0 - bw / 2 - pad)), int(min(w, u0 + bw / 2 + pad))
            y0, y1 = int(max(0, v1 - pad)), int(min(h, v0 + pad))
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            rings.append(self.plate.image[y0:y1, x0:x1].reshape(-1, 3))
            dists.append(math.hypot(pose.x - cam.position[0], pose.z - cam.position[2], cam.position[1]))
        if not rings:
            return None
        lab = _lab(np.concatenate(rings)[None])[0]
        return np.median(lab, axis=0), float(np.median(dists))

    def _beside(self, actor: Actor, distance: float) -> list[np.ndarray]:
        """The graded paint of the vehicles a person is right beside (a driver at the car door, a rider on the bike)."""
        if actor.kind != "person":
            return []
        others = self.cast.of("vehicle")
        out = []
        for o in others:
            if o.timeline is None:
                continue
            close = False
            for t in np.linspace(0.0, self.plan.duration_s, 9):
                (p, hidden), (q, other_hidden) = actor.timeline.at(float(t)), o.timeline.at(float(t))
                close = close or (not hidden and not other_hidden and math.hypot(p.x - q.x, p.z - q.z) < 3.0)
            if close:
                graded = self.look.palette(np.array([o.look[1]], np.float32), distance, np.array([MAT["paint"]], np.uint8))
                out.append(_lab(graded[None])[0, 0])
        return out

    def _apart(self, colour: tuple[int, int, int], material: str, back: np.ndarray, distance: float) -> tuple[int, int, int]:
        """The colour, darker or lighter until its graded look differs from every colour in `back`
        (rows of Lab) by SEPARATE."""
        mat = np.array([MAT[material]], np.uint8)
        back = np.atleast_2d(back)

        def diff(c: np.ndarray) -> float:
            graded = self.look.palette(c[None].astype(np.float32), distance, mat)
            return float(np.linalg.norm(_lab(graded[None])[0, 0] - back, axis=1).min())

        base = np.array(colour, np.float64)
        score = diff(base)
        if score >= SEPARATE:
            return colour
        lighter = float(_lab(self.look.palette(base[None].astype(np.float32), distance, mat)[None])[0, 0, 0]) >= back[0, 0]
        best = base
        # the smallest change that separates it, away from the background first; the other way
        # only part of the way (a black coat may turn dark grey, never white)
        tone = float(base.mean())
        for k, up in ((0.25, lighter), (0.45, lighter), (0.25, not lighter), (0.65, lighter), (0.45, not lighter), (0.85, lighter),
                      (0.65, not lighter), (1.0, lighter)):
            c = base + (255 - base) * k if up else base * (1 - k)
            if (tone < 80 and c.mean() > 140) or (tone > 170 and c.mean() < 125):
                continue  # a black coat may turn charcoal, a white van light grey, never the other way round
            got = diff(c)
            if got > score:
                best, score = c, got
            if got >= SEPARATE:
                break
        return tuple(int(v) for v in np.clip(best, 0, 255))  # type: ignore[return-value]

    # --- drawing one actor ---------------------------------------------------------------

    def _sketch(self, actor: Actor, pose: Pose, bodies: dict[int, Body]) -> tuple[Sketch, Body | None, tuple[float, float]] | None:
        cam = self.cam
        if actor.kind == "person":
            got = person(actor.look, pose, cam)
        elif actor.kind == "vehicle":
            got = vehicle(actor.look[0], actor.look[1], pose, cam, self._lit(actor, pose.t))
        elif actor.kind == "animal":
            got = animal(actor.look[0], actor.look[1], pose, cam)
        else:
            got = None
        if got is not None:
            return got[0], got[1], (pose.x, pose.z)
        if actor.kind in ("parcel", "item"):
            return self._prop(actor, pose, bodies)
        return None

    def _prop(self, actor: Actor, pose: Pose, bodies: dict[int, Body]) -> tuple[Sketch, None, tuple[float, float]] | None:
        t = pose.t
        ex = actor.extras
        carried = actor.carrier is not None and (
            (actor.kind == "parcel" and t >= ex.get("pickup_t", math.inf)) or (actor.kind == "item" and t < ex.get("drop_t", math.inf)))
        if carried:
            body = bodies.get(id(actor.carrier))
            if body is None:
                return None
            sk = held(actor.look if actor.kind == "item" else "package", body, self.cam)
            root = body.joints["root"]
            return (sk, None, (float(root[0]), float(root[2]))) if sk is not None else None
        spot = ex.get("ground") or (pose.x, pose.z)
        colour = actor.look if actor.kind == "parcel" else (170, 128, 82)[::-1]
        if ex.get("debris"):  # tumbling and hopping along the ground
            sk = parcel(self.cam, np.array([pose.x, 0.13 + 0.12 * abs(math.sin(6.0 * t)), pose.z]), pose.heading + 5.0 * t,
                        (0.34, 0.22, 0.28), tuple(int(c) for c in colour))
            return (sk, None, (pose.x, pose.z)) if sk is not None else None
        sk = parcel(self.cam, np.array([spot[0], 0.16 + ex.get("lift", 0.0), spot[1]]), pose.heading, colour=tuple(int(c) for c in colour))
        return (sk, None, spot) if sk is not None else None

    def _draw_actors(self, t: float) -> list[Drawn]:
        bodies: dict[int, Body] = {}
        drawn: list[Drawn] = []
        order = [a for a in self.cast.actors if a.role != "item" and a.kind != "parcel"] + \
                [a for a in self.cast.actors if a.role == "item" or a.kind == "parcel"]
        for actor in order:
            if actor.timeline is None and actor.carrier is None:
                continue
            if actor.timeline is not None:
                pose, hidden = actor.timeline.at(t)
            else:
                pose, hidden = Pose(0.0, 0.0, 0.0, t=t), False
            if actor.carrier is not None and actor.role == "item":
                hidden = id(actor.carrier) not in bodies and t < actor.extras.get("drop_t", math.inf)
            if hidden:
                continue
            still = self._still.get(id(actor))
            if still is not None and _on_ground(actor, t):
                drawn.append(still)
                continue
            got = self._sketch(actor, pose, bodies)
            if got is None:
                continue
            sketch, body, ground = got
            if body is not None:
                bodies[id(actor)] = body
            raster = rasterize(sketch, (self.plan.width, self.plan.height))
            if raster is None:
                continue
            distance = math.hypot(ground[0] - self._campos[0], ground[1] - self._campos[1], self.cam.position[1])
            depth = self.cam.depth_of(*ground)
            if actor.role == "item" and actor.carrier is not None and id(actor.carrier) in bodies:
                cb = bodies[id(actor.carrier)]
                depth = self.cam.depth_of(*_item_point(actor.look, cb)) if t < actor.extras.get("drop_t", math.inf) else depth
            palette = self.look.palette(raster.colours, distance, raster.materials)
            drawn.append(Drawn(actor, raster, palette, depth, ground, body))
            if _on_ground(actor, t):
                self._still[id(actor)] = drawn[-1]
        drawn.sort(key=lambda d: -d.depth)
        return drawn

    # --- the frame -------------------------------------------------------------------------

    def render(self, index: int) -> list[Instance]:
        """Draw frame `index` into self.frame (BGR) and self.ids; returns the labelled instances."""
        p = self.plan
        t = index / p.fps
        frame, ids = self.frame, self.ids
        np.copyto(frame, self.plate.image)
        for sway in self.plate.sways:
            sway.apply(frame, t)
        ids.fill(0)
        drawn = self._draw_actors(t)
        self._shadows(drawn)
        for d in drawn:
            self._paste(d)
        self._beams(drawn, t)
        self.sky.draw(frame, t, index)
        if self.moths is not None:
            self.moths.draw(frame)
        self._burn_in(t)
        return [Instance(d.actor, d.raster) for d in drawn if d.actor.track]

    def _paste(self, d: Drawn) -> None:
        win = window(d.raster, self.plan.width, self.plan.height)
        if win is None:
            return
        fy, fx, ly, lx = win
        local = np.ascontiguousarray(d.raster.parts[ly, lx])
        sel = cv2.compare(local, 0, cv2.CMP_GT)
        lut = np.zeros((256, 1, 3), np.uint8)
        lut[:len(d.palette), 0] = d.palette
        cv2.copyTo(cv2.LUT(cv2.cvtColor(local, cv2.COLOR_GRAY2BGR), lut), sel, self.frame[fy, fx])
        np.putmask(self.ids[fy, fx], sel, d.actor.track)
        spots = [d.ground]
        if d.actor.kind == "vehicle" and d.body is not None:  # a car is long: its nose or tail can be behind a post
            front = d.body.joints["front"]
            spots += [(float(front[0]), float(front[2])), (2 * d.ground[0] - float(front[0]), 2 * d.ground[1] - float(front[2]))]
        for cut, segs in self._footprints:
            x0, y0 = max(fx.start, cut.x0), max(fy.start, cut.y0)
            x1, y1 = min(fx.stop, cut.x1), min(fy.stop, cut.y1)
            if x1 <= x0 or y1 <= y0 or not any(sight_blocked(self._campos, g, segs) for g in spots):
                continue
            hide = cut.mask[y0 - cut.y0:y1 - cut.y0, x0 - cut.x0:x1 - cut.x0] & (sel[y0 - fy.start:y1 - fy.start, x0 - fx.start:x1 - fx.start] > 0)
            self.frame[y0:y1, x0:x1][hide] = self.plate.image[y0:y1, x0:x1][hide]
            self.ids[y0:y1, x0:x1][hide] = 0

    def _shadows(self, drawn: list[Drawn]) -> None:
        factor = SHADOW.get(self.plan.time_of_day)
        if factor is None:
            return
        if self.plan.weather in ("overcast", "rain", "snow", "fog"):
            factor = 1 - (1 - factor) * 0.45
        for d in drawn:
            if d.actor.role == "item" and d.actor.carrier is not None and d.body is None and d.actor.kind == "item":
                continue
            two_wheels = d.actor.kind == "vehicle" and d.actor.look[0] in TWO_WHEELERS
            radius = 0.45 if two_wheels else {"vehicle": 1.4, "person": 0.32}.get(d.actor.kind, 0.25)
            if d.actor.kind == "animal":
                radius = 0.35 * ANIMALS.get(d.actor.look[0], ANIMALS["dog"])[0]
            stretch = (1.6 if two_wheels else 2.6) if d.actor.kind == "vehicle" else 1.0
            x, z = d.ground
            x, z = x + 0.25 * math.sin(self.sun), z + 0.25 * math.cos(self.sun)
            ring = np.array([[x + radius * math.cos(a) * (stretch if d.actor.kind == "vehicle" else 1.0), 0.0, z + radius * math.sin(a)]
                             for a in np.linspace(0, 2 * math.pi, 10, endpoint=False)])
            if d.body is not None and d.actor.kind == "vehicle":
                r, f = d.body.right, d.body.forward
                ring = np.array([[x, 0.0, z] + 1.05 * radius * (math.cos(a) * r * 0.75 + math.sin(a) * f * stretch)
                                 for a in np.linspace(0, 2 * math.pi, 12, endpoint=False)])
            uv = self.cam.polygon(ring)
            if uv is None:
                continue
            _darken(self.frame, np.round(uv).astype(np.int32), factor)

    def _lit(self, vehicle: Actor, t: float) -> bool:
        """Lights on, except a car that has pulled up for its driver to get out: the engine is off
        a second after it stops ("its lights go dark")."""
        if not self.lights_on:
            return False
        timeline = vehicle.timeline
        return not (self.plan.path == "exit_vehicle" and isinstance(timeline, Script) and "stop" in timeline.marks
                    and t > timeline.time_of("stop") + 1.0)

    def _beams(self, drawn: list[Drawn], t: float) -> None:
        night = self.look.ir or self.look.lamps > 0.3
        strength = 40 if self.look.ir else 50
        for v in self.cast.of("vehicle") if self.lights_on and night else ():
            # from the timeline, not the drawing: the beam reaches into view before the car does
            if v.look[0] == "bicycle" or isinstance(v.timeline, Static) or v.timeline is None or not self._lit(v, t):
                continue
            pose, hidden = v.timeline.at(t)
            if hidden:
                continue
            right, forward = frame_axes(pose.heading)
            small = v.look[0] == "motorcycle"
            front = np.array([pose.x, 0.0, pose.z]) + forward * (1.0 if small else MODELS.get(v.look[0], MODELS["sedan"]).length / 2)
            beam(self.frame, self.cam, front, forward, 8.0 if small else 13.0, 1.5 if small else 3.5, strength)
        for d in drawn:
            if d.body is None:
                continue
            if d.actor.kind == "person" and night and (
                    "flashlight" in self.plan.effects and d.actor is self.cast.of("person")[0]
                    or any(i.carrier is d.actor and i.look == "flashlight" for i in self.cast.actors)):
                beam(self.frame, self.cam, d.body.joints["hand_r"], d.body.forward, 6.0, 1.5, strength + 20)
        for when in self.sweeps:  # a passing car's lights sweep the scene, fading in and out
            u = (t - when) / 2.5
            if 0 <= u <= 1:
                edge = self.world.routes.get("pass_mid", [(0.0, 8.0)])[0]
                origin = np.array([edge[0] - 6.0, 0.0, edge[1] + 4.0])
                ang = -0.3 + 1.4 * u
                level = int(60 * math.sin(math.pi * u))
                if level > 1:
                    beam(self.frame, self.cam, origin, np.array([math.cos(ang), 0.0, -math.sin(ang)]), 22.0, 6.0, level)

    def _burn_in(self, t: float) -> None:
        second = int(t)
        if self._band is None or self._band[0] != second:
            pixels, mask = self.overlay.band(t, self.plan.width)
            self._band = (second, pixels, mask.astype(np.uint8))
        _, pixels, mask = self._band
        rows = pixels.shape[0]
        cv2.copyTo(pixels, mask, self.frame[:rows])
        cv2.copyTo(np.zeros_like(mask), mask, self.ids[:rows])

    def yuv(self, index: int) -> np.ndarray:
        """The current frame as limited-range I420 with grain; chroma exactly neutral at night."""
        h = self.plan.height
        if self.look.ir:
            out = np.empty((h * 3 // 2, self.plan.width), np.uint8)
            cv2.LUT(cv2.extractChannel(self.frame, 1), GREY_TO_Y, dst=out[:h])
            out[h:] = 128
        else:
            out = cv2.cvtColor(self.frame, cv2.COLOR_BGR2YUV_I420)
        if self.clouds is not None:
            self.clouds.apply(out[:h], index)
        self.grain.apply(out[:h], index)
        return out


def _lab(bgr: np.ndarray) -> np.ndarray:
    """uint8 BGR (h, w, 3) -> CIE L*a*b* floats, L in 0..100."""
    lab = cv2.cvtColor(np.ascontiguousarray(bgr, dtype=np.uint8), cv2.COLOR_BGR2Lab).astype(np.float32)
    lab[..., 0] *= 100.0 / 255.0
    return lab


def _on_ground(actor: Actor, t: float) -> bool:
    """A parcel or dropped item lying still: drawn once, then reused every frame."""
    if actor.kind == "parcel":
        return not actor.extras.get("debris") and t < actor.extras.get("pickup_t", math.inf)
    return actor.kind == "item" and t >= actor.extras.get("drop_t", math.inf)


def _item_point(kind: str, body: Body) -> tuple[float, float]:
    j = body.joints
    p = (j["hand_l"] + j["hand_r"]) / 2 if kind in ("package", "box") else (body.at(0, 0, -0.2) if kind == "backpack" else j["hand_r"])
    return float(p[0]), float(p[2])


def _darken(frame: np.ndarray, pts: np.ndarray, factor: float) -> None:
    got = poly_mask(pts, frame.shape[1], frame.shape[0])
    if got is not None:
        ys, xs, mask = got
        roi = frame[ys, xs]
        cv2.copyTo(cv2.convertScaleAbs(roi, alpha=factor), mask, roi)


def make_renderer(manifest: Manifest, compiled: CompiledClip, seed: int | None = None) -> Renderer:
    return Renderer(plan_clip(manifest, compiled, seed))

