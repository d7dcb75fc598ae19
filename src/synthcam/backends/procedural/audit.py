"""Does the clip show what its manifest says? A fidelity audit from the renderer's own truth.

A generative model's clip can only be judged from its pixels. A procedural clip comes with
its plan (who is in it, where the scripts put them, when each key moment happens) and with
exact per-frame masks, so the audit can ask direct questions: is every subject the manifest
names in frame, large enough and distinct enough from its background for a detector, for the
part of the clip its action needs; does the action's key moment (the parcel set down, the car
parked, the door reached, the weapon raised toward its target) happen inside the clip while
the subject is in view; are the props and scene elements the description names in view; does
the description promise what the scene cannot show (a colour in a night infrared image).

Findings use the verifier's vocabulary (`synthcam.verify.report.Finding`); their kinds follow
the content kinds in `KINDS`. The thresholds are stated and justified in docs/procedural.md.
The auditor watches the frame loop (`observe`, `sample`) and judges at the end (`findings`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from ...verify.report import Finding
from .motion import Follower, Script
from .occluders import script_of
from .stage import Static
from .truth import MIN_PIXELS, MIN_VISIBILITY

if TYPE_CHECKING:  # pragma: no cover
    from .cast import Actor
    from .render import Renderer

__all__ = ["AUDIT_KINDS", "Auditor", "Thresholds"]

AUDIT_KINDS = ("out_of_frame", "cut_short", "prop_missing", "too_small", "low_contrast", "ir_colour")
REFERENCE_HEIGHT = 704          # sizes are stated for a 1280x704 frame and scale with the frame height
CONTRAST_EVERY = 8              # frames between contrast samples (3 per second at 24 fps)
EDGE = 2                        # px (at 704 rows) across the silhouette at which inside and outside are compared


@dataclass(frozen=True)
class Thresholds:
    """What a detector needs (docs/procedural.md, "Fidelity audit", says why)."""

    min_side: float = 6.0            # px, shorter side of the object's box in the frame
    min_area: float = 16.0 * 16.0    # px^2, the object's box in the frame
    min_contrast: float = 12.0       # mean CIE76 colour difference (delta E) across its silhouette (inside vs just outside)
    min_prop_px: float = 150.0       # px of a named scene element inside the frame
    event_margin_s: float = 0.4      # a key moment must start at least this long before the clip ends

    def scaled(self, height: int) -> Thresholds:
        k = height / REFERENCE_HEIGHT
        return Thresholds(self.min_side * k, self.min_area * k * k, self.min_contrast, self.min_prop_px * k * k,
                          self.event_margin_s)


# The part of the clip (a fraction of its length) a subject must be in view and detectable for.
NEED = {"default": 0.6, "enter_house": 0.4, "leave_house": 0.4, "circle_house": 0.45, "run_off": 0.45,
        "drive_past": 0.4, "driver": 0.0, "second_vehicle": 0.2, "carried_off": 0.3}
# "Mostly hidden, only glimpses visible" (heavy occlusion) needs less of the clip by design.
OCCLUDED = {"none": 1.0, "partial": 0.85, "heavy": 0.5}

# Colour words a monochrome infrared image cannot show (tones such as black, white, grey can).
CHROMATIC = (r"red|orange|yellow|green|blue|navy|purple|violet|pink|teal|turquoise|brown|tan|khaki|olive|camel|lavender"
             r"|maroon|burgundy|golden|gold|tawny|beige|mustard|lime|crimson|scarlet|magenta|cyan|ginger|bronze|copper")
COLOUR_RE = re.compile(rf"\b(?:{CHROMATIC})(?:-(?:\w+))?\b", re.IGNORECASE)

# Scene elements a description may name, and what in the world shows them:
# ("element", name patterns) or ("anchor", anchor names) or ("glass", None) for a window pane.
PROPS: list[tuple[str, str, tuple[str, tuple[str, ...]]]] = [
    ("doormat", r"door ?mats?|\bmat\b", ("anchor", ("mat",))),
    ("door", r"\bdoors?\b(?!\s?mat)|doorstep|doorway|\bjamb\b|deadbolt|\block\b|\bbell\b|\bstoop\b", ("anchor", ("door",))),
    ("window", r"(?<!tinted )\bwindows?\b|\bsash\b", ("glass", ())),
    ("fence", r"\bfences?\b|fence line|picket|split-rail|chain-link", ("element", ("fence", "picket", "rail"))),
    ("gate", r"\bgates?\b", ("element", ("gate",))),
    ("hedge", r"\bhedges?\b|hedge row|\bshrubs?\b|\bbush(?:es)?\b", ("element", ("hedge", "bush"))),
    ("railing", r"\brailings?\b|banister", ("element", ("rail",))),
    ("lamp post", r"lamp ?post|street ?light", ("element", ("lamp", "pole"))),
    ("bins", r"\bbins?\b|trash can|garbage can", ("element", ("bin",))),
    ("utility box", r"utility box|air-conditioning|\bac unit", ("element", ("utility",))),
    ("meter", r"\bmeter\b", ("element", ("meter",))),
    ("workbench", r"work ?bench|\bbench\b", ("element", ("bench",))),
    ("shelves", r"\bshel(?:f|ves)\b", ("element", ("shelf",))),
    ("shed", r"\bshed\b", ("element", ("shed",))),
    ("grill", r"\bgrill\b|barbecue", ("element", ("grill",))),
    ("mailbox", r"mail ?box", ("element", ("mailbox",))),
    ("patio", r"\bpatio\b", ("element", ("patio",))),
    ("sidewalk", r"sidewalk|pavement|\bcurb\b", ("element", ("sidewalk",))),
    ("street", r"\bstreet\b|\broad\b|cul-de-sac|\blane\b", ("element", ("street", "alley"))),
    ("driveway", r"drive ?ways?|(?:the|gravel|long|farm|wet) drive\b|\bapron\b", ("element", ("driveway", "drive"))),
    ("path", r"\bpath\b|walkway|front walk|\bpassage\b", ("element", ("walk", "path", "stones", "gravel"))),
    ("porch", r"\bporch\b(?!\s+(?:door|lamp|light|plants|swing))", ("element", ("porch", "step"))),
    ("lawn", r"\blawn\b|\bgrass\b", ("element", ("lawn",))),
]


@dataclass
class Track:
    """What the frames showed of one labelled actor."""

    actor: Actor
    frames: int
    shown: np.ndarray = field(init=False)       # bool: visible by the counting rule
    big: np.ndarray = field(init=False)         # bool: its box in the frame is large enough
    centre: np.ndarray = field(init=False)      # (frames, 2) centre of the box in the frame, nan when absent
    vis: np.ndarray = field(init=False)
    edge: np.ndarray = field(init=False)        # bool: its box touches the left or right frame edge
    box: np.ndarray = field(init=False)         # (frames, 2) width, height of its box in the frame
    contrast: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = self.frames
        self.shown, self.big, self.edge = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, bool)
        self.centre = np.full((n, 2), np.nan)
        self.vis = np.zeros(n)
        self.box = np.zeros((n, 2))


class Auditor:
    """Collects what the frame loop drew, then checks the clip against its plan."""

    def __init__(self, r: Renderer, thresholds: Thresholds = Thresholds()) -> None:
        self.r = r
        p = r.plan
        self.th = thresholds.scaled(p.height)
        self.frames, self.fps, self.T = p.frames, p.fps, float(p.duration_s)
        self.sampled = np.zeros(self.frames, bool)
        self.tracks: dict[int, Track] = {}
        self.edge = max(1, round(EDGE * p.height / REFERENCE_HEIGHT))

    # --- during the frame loop ----------------------------------------------------------

    def observe(self, index: int, actor: Actor, seen: int, vis: float, box: tuple[int, int, int, int]) -> None:
        """One labelled actor in frame `index`: visible pixels, visibility, and its box in the frame."""
        t = self.tracks.get(actor.track)
        if t is None:
            t = self.tracks[actor.track] = Track(actor, self.frames)
        x0, y0, x1, y1 = box
        w, h = x1 - x0, y1 - y0
        t.shown[index] = seen >= MIN_PIXELS and vis >= MIN_VISIBILITY
        t.big[index] = min(w, h) >= self.th.min_side and w * h >= self.th.min_area
        t.centre[index] = ((x0 + x1) / 2, (y0 + y1) / 2)
        t.vis[index] = vis
        t.box[index] = (w, h)
        t.edge[index] = x0 <= 0 or x1 >= self.r.plan.width

    def frame_done(self, index: int) -> None:
        self.sampled[index] = True
        if index % CONTRAST_EVERY == 0:
            self._contrast(index)

    def _contrast(self, index: int) -> None:
        """Each shown subject's edge contrast: the mean colour difference (CIE76 delta E) between
        its pixels on the silhouette and the pixels just outside it (whatever they are), which is
        what separates a figure from its surroundings for the eye and for a detector."""
        frame, ids = self.r.frame, self.r.ids
        h, w = ids.shape
        for t in self.tracks.values():
            if t.actor.role != "subject" or not t.shown[index]:
                continue
            cx, cy = t.centre[index]
            bw, bh = t.box[index]
            edge = self.edge
            x0, x1 = int(max(0, cx - bw / 2 - edge)), int(min(w, cx + bw / 2 + edge + 1))
            y0, y1 = int(max(0, cy - bh / 2 - edge)), int(min(h, cy + bh / 2 + edge + 1))
            mine = ids[y0:y1, x0:x1] == t.actor.track
            if np.count_nonzero(mine) < MIN_PIXELS:
                continue
            lab = cv2.cvtColor(frame[y0:y1, x0:x1], cv2.COLOR_BGR2Lab).astype(np.float32)
            lab[..., 0] *= 100.0 / 255.0
            diffs = []
            for dy, dx in ((0, edge), (0, -edge), (edge, 0), (-edge, 0)):
                a = (slice(max(0, -dy), mine.shape[0] - max(0, dy)), slice(max(0, -dx), mine.shape[1] - max(0, dx)))
                b = (slice(max(0, dy), mine.shape[0] - max(0, -dy)), slice(max(0, dx), mine.shape[1] - max(0, -dx)))
                pair = mine[a] & ~mine[b]          # inside here, outside EDGE pixels away
                if pair.any():
                    diffs.append(np.linalg.norm(lab[a][pair] - lab[b][pair], axis=1))
            if diffs:
                t.contrast.append(float(np.concatenate(diffs).mean()))

    # --- the verdict ----------------------------------------------------------------------

    def findings(self) -> list[Finding]:
        out: list[Finding] = []
        out += self._subjects()
        out += self._events()
        out += self._props()
        out += self._colours()
        return out

    def metrics(self) -> dict[str, Any]:
        """Per-track numbers behind the verdict, for counts.json and the sweep report."""
        rows = {}
        for track, t in sorted(self.tracks.items()):
            sel = t.shown & self.sampled
            boxes = t.box[sel]
            rows[str(track)] = {
                "name": t.actor.name, "role": t.actor.role,
                "shown_s": round(self._seconds(t.shown), 2), "detectable_s": round(self._seconds(t.shown & t.big), 2),
                "median_box": [int(v) for v in np.median(boxes, axis=0)] if len(boxes) else None,
                "contrast": round(float(np.median(t.contrast)), 1) if t.contrast else None}
        return {"thresholds": {"min_side_px": round(self.th.min_side, 1), "min_area_px": round(self.th.min_area),
                               "min_contrast_delta_e": self.th.min_contrast}, "tracks": rows}

    def _seconds(self, mask: np.ndarray) -> float:
        n = int(np.count_nonzero(self.sampled))
        return self.T * int(np.count_nonzero(mask & self.sampled)) / n if n else 0.0

    def _at(self, t: Track, when: float, window: float = 0.3, glimpse: bool = False) -> bool:
        """Shown at (or within `window` s of) time `when`; `glimpse`: any of it visible (a small item)."""
        a, b = max(0, int((when - window) * self.fps)), min(self.frames, int(math.ceil((when + window) * self.fps)) + 1)
        seen = t.vis[a:b] > 0 if glimpse else t.shown[a:b]
        return bool(np.any(seen & self.sampled[a:b]))

    def _track(self, actor: Actor | None) -> Track | None:
        return self.tracks.get(actor.track) if actor is not None and actor.track else None

    # subjects: in view, large enough, distinct enough -------------------------------------

    def _need(self, actor: Actor) -> float:
        """The part of the clip (seconds) this subject must be in view and detectable."""
        return self._share(actor) * OCCLUDED[self.r.plan.occlusion]

    def _share(self, actor: Actor) -> float:
        path = self.r.plan.path
        if actor.kind == "parcel" and not actor.extras.get("debris"):
            return NEED["carried_off" if "pickup_t" in actor.extras else "default"] * self.T
        timeline = actor.timeline
        script = script_of(timeline)
        if isinstance(script, Script) and "out" in script.marks and path != "leave_house":
            # a driver, a passenger or one who follows them: from the moment they get out
            return NEED["default"] * max(0.0, self.T - script.time_of("out"))
        if actor.kind == "person" and "vehicle" in actor.extras and not hasattr(timeline, "vehicle"):
            return NEED["driver"] * self.T                # stays in the car
        riding = actor.kind == "vehicle" or hasattr(timeline, "vehicle")
        if riding and isinstance(script, Script) and script.beats and script.beats[0].hidden:
            return NEED["second_vehicle"] * self.T       # the second car on the other lane, a little later
        if actor.kind == "vehicle" and path != "drive_past" and not isinstance(timeline, (Script, Follower)):
            return NEED["default"] * self.T
        share = NEED.get(path if path in NEED else "default", NEED["default"]) * self.T
        return 0.85 * share if hasattr(timeline, "vehicle") else share   # a rider: partly behind the machine

    def _subjects(self) -> list[Finding]:
        out = []
        for actor in self.r.cast.actors:
            if actor.role != "subject" or not actor.track:
                continue
            t = self.tracks.get(actor.track)
            need = self._need(actor)
            shown = self._seconds(t.shown) if t else 0.0
            what = _name(actor)
            if shown + 1e-6 < need:
                where = "never in view" if shown == 0 else f"in view for {shown:.1f} s of the {self.T:g} s clip"
                out.append(Finding(kind="out_of_frame", detail=f"{what} is {where}; its action ({self.r.plan.path}) needs "
                                                                f"{need:.1f} s"))
                continue
            assert t is not None
            big = self._seconds(t.shown & t.big)
            if big + 1e-6 < need:
                sel = t.shown & self.sampled
                bw, bh = np.median(t.box[sel], axis=0)
                out.append(Finding(kind="too_small", detail=(
                    f"{what} is at least {self.th.min_side:.0f} px wide and {self.th.min_area:.0f} px^2 for only {big:.1f} s "
                    f"(needs {need:.1f} s); median box {bw:.0f}x{bh:.0f} px")))
                continue
            if t.contrast:
                c = float(np.median(t.contrast))
                if c < self.th.min_contrast:
                    out.append(Finding(kind="low_contrast", detail=(
                        f"{what} differs from its background by delta E {c:.1f} (median of {len(t.contrast)} samples); "
                        f"a detector needs {self.th.min_contrast:g}")))
        return out

    # key events ----------------------------------------------------------------------------

    def _lead(self) -> tuple[Actor | None, Script | None]:
        """The actor whose script carries the action (the first person with a script)."""
        for actor in self.r.cast.actors:
            if actor.kind == "person" and actor.role == "subject" and isinstance(actor.timeline, Script):
                return actor, actor.timeline
        return None, None

    def _late(self, when: float, what: str, margin: float | None = None) -> Finding | None:
        if when > self.T - (self.th.event_margin_s if margin is None else margin):
            return Finding(kind="cut_short", detail=f"{what} at {when:.1f} s, too late for the {self.T:g} s clip")
        return None

    def _event(self, actor: Actor | None, script: Script | None, mark: str, what: str) -> list[Finding]:
        """A marked moment of a script: inside the clip, with its actor in view."""
        if actor is None or script is None or mark not in script.marks:
            return [Finding(kind="cut_short", detail=f"the clip never shows {what} ({self.r.plan.path} has no '{mark}')")]
        when = script.time_of(mark)
        late = self._late(when, what)
        if late:
            return [late]
        t = self._track(actor)
        if t is not None and not self._at(t, when + 0.2, 0.4):
            return [Finding(kind="cut_short", detail=f"{what} at {when:.1f} s happens out of view ({_name(actor)} is not visible)")]
        return []

    def _events(self) -> list[Finding]:
        p = self.r.plan
        path = p.path
        lead, script = self._lead()
        check = EVENTS.get(path)
        return check(self, lead, script) if check else []

    def _near(self, script: Script, mark: str, anchor: str, metres: float, what: str) -> list[Finding]:
        pose, _ = script.at(script.time_of(mark) + 0.05)
        a = self.r.world.anchors.get(anchor)
        if a is not None and math.hypot(pose.x - a[0], pose.z - a[1]) > metres:
            d = math.hypot(pose.x - a[0], pose.z - a[1])
            return [Finding(kind="cut_short", detail=f"{what} {d:.1f} m from the {anchor}, not at it")]
        return []

    def _moves(self, actor: Actor | None, what: str, share: float) -> list[Finding]:
        """The subject travels across the picture: its box centre spans `share` of the frame's diagonal."""
        t = self._track(actor)
        if t is None:
            return []
        pts = t.centre[t.shown & self.sampled]
        if len(pts) < 2:
            return [Finding(kind="cut_short", detail=f"the clip never shows {what}")]
        span = float(np.hypot(*(pts.max(axis=0) - pts.min(axis=0))))
        diag = math.hypot(self.r.plan.width, self.r.plan.height)
        if span < share * diag:
            return [Finding(kind="cut_short", detail=f"{what}: it moves {span:.0f} px across the picture, "
                                                     f"less than {share:.0%} of the frame diagonal ({share * diag:.0f} px)")]
        return []

    def _vehicles(self) -> list[Actor]:
        return [a for a in self.r.cast.actors if a.kind == "vehicle" and a.role == "subject" and a.track]

    def _props(self) -> list[Finding]:
        p = self.r.plan
        out = []
        text = p.description or ""
        named = []
        for label, pattern, how in PROPS:
            if re.search(pattern, text, re.IGNORECASE):
                named.append((label, how))
        for label, how in named:
            pattern = next(pat for lab, pat, _ in PROPS if lab == label)
            if re.search(pattern, p.occluder or "", re.IGNORECASE) and p.occlusion != "none":
                continue  # the occluder itself ("behind the grill"): checked below
            if not self._in_view(how):
                out.append(Finding(kind="prop_missing", detail=f"the description names the {label}, which is not in view"))
        if p.occlusion != "none":
            out += self._occluder()
        return out

    def _in_view(self, how: tuple[str, tuple[str, ...]]) -> bool:
        kind, names = how
        world, cam = self.r.world, self.r.cam
        if kind == "anchor":
            for name in names:
                a = world.anchors.get(name)
                if a is not None and cam.depth_of(*a) > 0.3:
                    u, v = cam.point(a[0], 0.0, a[1])
                    if 0 <= u < cam.width and 0 <= v < cam.height:
                        return True
            return False
        polys = []
        for el in world.elements:
            if el.name in ("house", "neighbour"):       # houses across the street are not this house
                continue
            if kind == "glass":
                polys += [poly.points for poly in el.polys if poly.material in ("glass", "light") and not el.ground]
            elif any(n in el.name for n in names):
                polys += [poly.points for poly in el.polys]
        return self._pixels(polys) >= self.th.min_prop_px

    def _pixels(self, polys: list[np.ndarray]) -> int:
        """How many frame pixels these world polygons cover (at quarter resolution, scaled back)."""
        cam = self.r.cam
        w, h = cam.width // 4 + 1, cam.height // 4 + 1
        mask = np.zeros((h, w), np.uint8)
        for pts in polys:
            uv = cam.polygon(pts)
            if uv is not None:
                cv2.fillPoly(mask, [np.round(uv * 4).astype(np.int32)], 1, cv2.LINE_8, 4)
        return int(np.count_nonzero(mask)) * 16

    def _occluder(self) -> list[Finding]:
        """The named occluder is in view and hides part of the subject for part of the time."""
        r = self.r
        what = r.plan.occluder or "the occluder"
        props = [a for a in r.cast.actors if a.role == "prop" and a.kind == "vehicle"]
        if props:
            t = self._track(props[0])
            if t is None or self._seconds(t.shown) < 0.5 * self.T:
                return [Finding(kind="prop_missing", detail=f"{what} (a parked car) is not in view")]
        elif self._pixels([poly.points for el in r.world.elements if el.name.startswith("occluder") for poly in el.polys]) < self.th.min_prop_px:
            return [Finding(kind="prop_missing", detail=f"{what} is not in view")]
        subjects = [a for a in r.cast.actors if a.role == "subject" and a.track]
        lead = next((a for a in subjects if a.kind != "parcel"), subjects[0] if subjects else None)
        t = self._track(lead)
        if t is None:
            return []
        sel = t.shown & self.sampled
        if not sel.any():
            return []
        hidden = self._seconds(t.shown & (t.vis < 0.95))   # some of it behind the occluder
        need = min(0.2 * self._seconds(t.shown), 0.5 if lead.kind != "vehicle" else 0.25)  # a car passes a bush quickly
        if hidden < need:
            return [Finding(kind="prop_missing", detail=f"{what} hides {_name(lead)} for only {hidden:.1f} s "
                                                        f"(needs {need:.1f} s)")]
        return []

    def _colours(self) -> list[Finding]:
        p = self.r.plan
        if p.time_of_day != "night":
            return []
        words = sorted({m.group(0).lower() for m in COLOUR_RE.finditer(p.description or "")})
        if words:
            return [Finding(kind="ir_colour", detail=f"the description names {', '.join(words)}, which a night infrared "
                                                     "(monochrome) picture cannot show")]
        return []


def _name(actor: Actor) -> str:
    label = actor.label or actor.kind
    return f"the {label} (track {actor.track})" if actor.track else f"the {label}"


# --- the key event of each action path ------------------------------------------------------


def _deliver(a: Auditor, lead: Actor | None, script: Script | None) -> list[Finding]:
    out = a._event(lead, script, "drop", "the parcel being set down")
    if out:
        return out
    parcel = next((x for x in a.r.cast.actors if x.kind == "item" and "drop_t" in x.extras), None)
    t = a._track(parcel)
    if parcel is not None and t is not None:
        start = int(parcel.extras["drop_t"] * a.fps) + 1
        after = t.shown[start:] & a.sampled[start:]
        n = int(np.count_nonzero(a.sampled[start:]))
        if n and np.count_nonzero(after) < 0.7 * n:
            return [Finding(kind="cut_short", detail=f"the parcel set down at {parcel.extras['drop_t']:.1f} s is in view for "
                                                     f"only {np.count_nonzero(after) / n:.0%} of the rest of the clip")]
    return []


def _carry_off(a: Auditor, lead: Actor | None, script: Script | None) -> list[Finding]:
    out = a._event(lead, script, "pickup", "the parcel being picked up")
    if out:
        return out
    parcel = next((x for x in a.r.cast.actors if x.kind == "parcel" and "pickup_t" in x.extras), None)
    t = a._track(parcel)
    if t is not None and parcel is not None:
        before = t.shown.copy()
        before[int(parcel.extras["pickup_t"] * a.fps) + 1:] = False
        if a._seconds(before) < 0.3:
            return [Finding(kind="cut_short", detail="the parcel is not in view before it is picked up")]
    return []


def _at_door(a: Auditor, lead: Actor | None, script: Script | None) -> list[Finding]:
    return a._event(lead, script, "door", "reaching the door") or (a._near(script, "door", "door", 1.5, "they stop") if script else [])


def _handle(a: Auditor, lead: Actor | None, script: Script | None) -> list[Finding]:
    return a._event(lead, script, "handle", "the hand on the door handle")


def _peer(a: Auditor, lead: Actor | None, script: Script | None) -> list[Finding]:
    return a._event(lead, script, "peer", "peering in at the window") or (
        a._near(script, "peer", "window", 2.5, "they peer in") if script else [])


def _circle(a: Auditor, lead: Actor | None, script: Script | None) -> list[Finding]:
    out = _peer(a, lead, script) if script is not None and "peer" in script.marks else a._moves(lead, "walking round", 0.1)
    if out or a.T < 20 or script is None:
        return out
    if "behind" not in script.marks:
        return [Finding(kind="cut_short", detail="they never go round the house")]
    back = next((b.t0 + b.seconds for b in script.beats[script.marks["behind"]:] if b.hidden), None)
    if back is None or back > a.T - 1.0:
        return [Finding(kind="cut_short", detail="they go round the back of the house and do not come back in the clip")]
    return []


def _run(a: Auditor, lead: Actor | None, script: Script | None) -> list[Finding]:
    return a._event(lead, script, "run", "running off")


def _enter(a: Auditor, lead: Actor | None, script: Script | None) -> list[Finding]:
    out = a._event(lead, script, "door", "reaching the door")
    if not out and script is not None:
        late = a._late(script.time_of("inside"), "going inside", 0.15)
        out = [late] if late else []
    return out


def _leave(a: Auditor, lead: Actor | None, script: Script | None) -> list[Finding]:
    return a._event(lead, script, "out", "coming out of the door")


def _crouch(a: Auditor, lead: Actor | None, script: Script | None) -> list[Finding]:
    return a._event(lead, script, "crouch", "crouching")


def _climb(a: Auditor, lead: Actor | None, script: Script | None) -> list[Finding]:
    return a._event(lead, script, "climb", "climbing the fence")


def _fight(a: Auditor, lead: Actor | None, script: Script | None) -> list[Finding]:
    out = a._event(lead, script, "fight", "the fight")
    if out:
        return out
    people = [x for x in a.r.cast.of("person") if x.track]
    tracks = [a._track(x) for x in people[:2]]
    if len(tracks) < 2 or any(t is None for t in tracks):
        return [Finding(kind="cut_short", detail="the fight needs two people in view")]
    both = tracks[0].shown & tracks[1].shown & a.sampled  # type: ignore[union-attr]
    if a._seconds(both) < min(1.0, 0.2 * a.T):
        return [Finding(kind="cut_short", detail=f"both fighters are in view together for only {a._seconds(both):.1f} s")]
    return []


def _brandish(a: Auditor, lead: Actor | None, script: Script | None) -> list[Finding]:
    out = a._event(lead, script, "raise", "the weapon being raised")
    if out or script is None or lead is None:
        return out
    when = script.time_of("raise")
    beat = script.beats[script.marks["raise"]]
    pose, _ = script.at(min(when + min(beat.seconds, 1.0), a.T - 0.05))
    st_target = _target_point(a)
    bearing = math.atan2(st_target[0] - pose.x, st_target[1] - pose.z)
    off = abs((pose.heading - bearing + math.pi) % (2 * math.pi) - math.pi)
    target = a.r.plan.target
    if math.degrees(off) > 30:
        return [Finding(kind="cut_short", detail=f"the weapon is raised {math.degrees(off):.0f} degrees away from the {target}")]
    weapon = next((x for x in a.r.cast.actors if x.role == "item" and x.carrier is lead and x.track), None)
    t = a._track(weapon)
    if weapon is not None and (t is None or not a._at(t, when + 0.5, 0.5, glimpse=True)):
        return [Finding(kind="cut_short", detail=f"the {weapon.label} is not in view when it is raised at {when:.1f} s")]
    return []


def _target_point(a: Auditor) -> tuple[float, float]:
    from .stage import Stage

    st = Stage(a.r.world, a.T, np.random.default_rng(0), 1.0, a.r.plan.distance, target=a.r.plan.target)
    return st.target_point()


def _dwell(a: Auditor, lead: Actor | None, script: Script | None) -> list[Finding]:
    """Loiter and stand: they stay put in view for a while."""
    if script is None:
        return []
    t = a._track(lead)
    longest, run = 0.0, 0.0
    for b in script.beats:  # consecutive waits in one spot (looking about, a phone) are one stay
        if b.distance < 1e-6 and not b.hidden and b.t0 < a.T:
            seen = min(b.t0 + b.seconds, a.T) - b.t0
            run = run + seen if t is None or a._at(t, b.t0 + seen / 2, seen / 2) else 0.0
            longest = max(longest, run)
        elif b.distance > 0.6 or b.hidden:  # a step aside does not end a stay
            run = 0.0
    need = min(2.0, 0.3 * a.T)
    if longest < need:
        return [Finding(kind="cut_short", detail=f"they stand still in view for {longest:.1f} s at most; lingering needs {need:.1f} s")]
    return []


def _passes(a: Auditor, lead: Actor | None, script: Script | None) -> list[Finding]:
    first = next((x for x in a.r.cast.actors if x.role == "subject" and x.track), None)
    return a._moves(first, "passing through", 0.1 if a.T < 20 else 0.15)


def _wander(a: Auditor, lead: Actor | None, script: Script | None) -> list[Finding]:
    first = next((x for x in a.r.cast.actors if x.role == "subject" and x.track), None)
    return a._moves(first, "wandering about", 0.05)


def _drive_past(a: Auditor, lead: Actor | None, script: Script | None) -> list[Finding]:
    vehicles = a._vehicles()
    if not vehicles:
        return _passes(a, lead, script)
    t = a._track(vehicles[0])
    if t is None:
        return []
    sel = t.shown & a.sampled
    idx = np.flatnonzero(sel)
    if not len(idx):
        return [Finding(kind="cut_short", detail="the vehicle never drives through the view")]
    enters = idx[0] > 0 or t.edge[idx[0]]
    leaves = idx[-1] < a.frames - 1 or t.edge[idx[-1]]
    out = a._moves(vehicles[0], "the vehicle driving past", 0.3)
    if not enters:
        out.append(Finding(kind="cut_short", detail="the vehicle is already in the middle of the view when the clip starts"))
    elif not leaves:
        out.append(Finding(kind="cut_short", detail="the vehicle has not left the view when the clip ends"))
    return out


def _parks(a: Auditor, lead: Actor | None, script: Script | None) -> list[Finding]:
    """Drive in, park, exit_vehicle: the vehicle comes to a stop in view (and the driver gets out)."""
    vehicles = a._vehicles() or [x for x in a.r.cast.actors if x.kind == "vehicle" and x.track]
    if not vehicles:
        return []
    car = vehicles[0]
    timeline = car.timeline
    t = a._track(car)
    out: list[Finding] = []
    if isinstance(timeline, Script) and "stop" in timeline.marks:
        when = timeline.time_of("stop")
        late = a._late(when, "the vehicle stopping")
        if late:
            return [late]
        if t is not None and not a._at(t, when + 0.2, 0.3):
            return [Finding(kind="cut_short", detail=f"the vehicle stops at {when:.1f} s out of view")]
    elif not isinstance(timeline, Static):
        return [Finding(kind="cut_short", detail="the vehicle never stops")]
    if a.r.plan.path == "exit_vehicle":
        driver = next((x for x in a.r.cast.actors if x.kind == "person" and x.track and isinstance(x.timeline, Script)
                       and "out" in x.timeline.marks), None)
        if driver is None:
            return out + [Finding(kind="cut_short", detail="nobody gets out of the vehicle")]
        out += a._event(driver, driver.timeline, "out", "the driver getting out")
    return out


EVENTS = {
    "deliver_package": _deliver, "carry_off": _carry_off, "approach_door": _at_door, "test_handle": _handle,
    "peer_window": _peer, "circle_house": _circle, "run_off": _run, "enter_house": _enter, "leave_house": _leave,
    "crouch": _crouch, "climb_fence": _climb, "fight": _fight, "brandish": _brandish, "loiter": _dwell, "stand": _dwell,
    "walk_past": _passes, "cross": _passes, "wander": _wander, "drive_past": _drive_past, "drive_in": _parks,
    "park": _parks, "exit_vehicle": _parks,
}
