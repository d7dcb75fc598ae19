"""What to draw for one variant: the manifest's components resolved into plain values.

Clips built from components say everything directly. Clips with only an explicit prompt
still render something sensible: the layout, light, weather, subjects, carried things and
action are read from keywords in the prompt, description, scenario, purpose and declared
objects; anything still unknown falls back to a day-time front porch with one person
walking past. `ClipPlan.inferred` lists what was guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ...manifest import Appearance, Clip, Manifest, Subject
from ...prompts import CompiledClip

MAX_PER_SUBJECT = 6

# Keyword tables for prompt-only clips: the first table entry with a hit wins.
LAYOUT_WORDS = [
    ("garage", r"\bgarage\b"), ("driveway", r"\bdrive ?way\b"), ("side_yard", r"side ?yard|side of the house|passage|alley"),
    ("backyard", r"back ?yard|back garden|patio|\bpool\b"), ("front_porch", r"porch|doorstep|front door|doorbell"),
    ("walkway", r"walkway|front walk|\bpath\b"), ("street", r"\bstreet\b|sidewalk|\broad\b|pavement"),
]
TIME_WORDS = [("night", r"night|\bdark\b|infrared|\bir\b|midnight"), ("dusk", r"dusk|sunset|evening|twilight"),
              ("dawn", r"dawn|sunrise|early morning")]
WEATHER_WORDS = [("snow", r"snow"), ("rain", r"rain|downpour|drizzle|storm"), ("fog", r"fog|mist|haze"),
                 ("wind", r"wind|gust"), ("overcast", r"overcast|cloudy|grey sky|gray sky")]
EFFECT_WORDS = [("headlights", r"headlight"), ("sun_glare", r"glare|low sun"), ("porch_light", r"porch light|porch lamp"),
                ("flashlight", r"flashlight|torch"), ("lightning", r"lightning")]
PATH_WORDS = [
    ("deliver_package", r"deliver|drops? off|courier"), ("carry_off", r"steal|takes? the (?:package|parcel)|carr(?:y|ies) off"),
    ("test_handle", r"handle|tries the door"), ("peer_window", r"peer|window"), ("climb_fence", r"climb"),
    ("circle_house", r"circles?|around the house"), ("exit_vehicle", r"gets? out of|exits? the"),
    ("fight", r"fight|scuffle|punch|brawl"), ("brandish", r"brandish|waves? a|points? a"),
    ("run_off", r"runs? off|flees?|sprints? away|runs? away"), ("drive_in", r"pulls? into|drives? in"),
    ("drive_past", r"drives? (?:past|by)"), ("park", r"\bparks?\b"), ("enter_house", r"enters|goes inside"),
    ("leave_house", r"leaves the house|comes out|steps out"), ("crouch", r"crouch|kneel"), ("loiter", r"loiter|linger"),
    ("approach_door", r"approach|knocks?|rings? the"), ("wander", r"wander|sniff|roam"), ("cross", r"cross"),
    ("walk_past", r"walks? (?:past|by)|passes"), ("stand", r"stands?"),
]
CARRY_WORDS = [("crowbar", r"crowbar|pry bar"), ("handgun", r"\bgun\b|pistol|handgun"), ("knife", r"knife"),
               ("bat", r"\bbat\b"), ("flashlight", r"flashlight|torch"), ("phone", r"phone"), ("umbrella", r"umbrella"),
               ("backpack", r"backpack"), ("ladder", r"ladder"), ("groceries", r"groceries|grocery"),
               ("package", r"package|parcel|box"), ("bag", r"\bbag\b"), ("tool", r"\btool")]

# Detector class names a subject may contribute, most specific first.
PERSON_CLASSES = ("person", "pedestrian", "people", "man", "woman", "child", "human")
VEHICLE_CLASSES = {"sedan": "car", "suv": "car", "van": "car", "pickup": "truck", "box_truck": "truck",
                   "bicycle": "bicycle", "motorcycle": "motorcycle"}
VEHICLE_NAMES = ("car", "truck", "vehicle", "van", "suv", "pickup", "bus", "bicycle", "motorcycle", "bike")
ANIMAL_NAMES = ("dog", "cat", "deer", "raccoon", "coyote", "animal")
ITEM_CLASSES = {
    "package": ("package", "parcel", "box"), "box": ("box", "package", "parcel"), "bag": ("bag", "handbag"),
    "backpack": ("backpack",), "handgun": ("handgun", "gun", "pistol", "firearm", "weapon"),
    "knife": ("knife", "weapon"), "bat": ("bat", "baseball_bat", "weapon"), "crowbar": ("crowbar", "tool", "weapon"),
    "tool": ("tool",), "flashlight": ("flashlight",), "phone": ("phone", "cell_phone"), "umbrella": ("umbrella",),
    "leash": (), "groceries": ("groceries", "bag"), "ladder": ("ladder",),
}
ANIMAL_COAT = re.compile(r"\b(black|white|brown|golden|grey|gray|tan|chocolate|ginger|tabby)\b[\w\s-]{0,16}?"
                         r"\b(?:labrador|lab|terrier|retriever|dog|spaniel|poodle|shepherd|puppy|collie|cat|kitten)\b", re.I)
OBJECT_CLASSES = {"person": PERSON_CLASSES, "vehicle": VEHICLE_NAMES, "animal": ANIMAL_NAMES,
                  "package": ("package", "parcel", "box")}
# What a weapon is raised toward, read from the action's text: the earliest mention wins.
TARGET_WORDS = [("utility", r"utility box|air-conditioning|\bac unit|meter"), ("window", r"\bwindows?\b|\bsash\b"),
                ("door", r"\bdoors?\b|jamb|\block\b|doorstep|\bstoop\b"), ("house", r"\bhouse\b|\bhome\b|garage"),
                ("street", r"\bstreet\b|\broad\b|sidewalk")]


@dataclass(frozen=True)
class Item:
    """Something a figure carries; `label` is its detector class, None when unlabelled."""

    kind: str
    label: str | None


@dataclass(frozen=True)
class SubjectPlan:
    kind: str                       # person | vehicle | animal | package | object
    label: str                      # detector class of the figure itself
    count: int                      # how many such figures this subject stands for
    appearance: Appearance
    items: tuple[Item, ...] = ()
    people: int = 0                 # a vehicle subject's driver or riders ({bicycle: 1, person: 1})
    people_label: str = "person"
    animals: tuple[tuple[str, int], ...] = ()  # a person subject's animals ({person: 1, dog: 1}): on a leash
    animal_colour: str | None = None           # from the description: "a black Labrador"


@dataclass(frozen=True)
class ClipPlan:
    name: str
    clip_id: str
    duration_s: int
    fps: int
    width: int
    height: int
    seed: int
    layout: str
    time_of_day: str
    weather: str
    effects: tuple[str, ...]
    path: str
    motion: str
    distance: str
    occlusion: str
    occluder: str
    subjects: tuple[SubjectPlan, ...]
    inferred: tuple[str, ...] = field(default=())
    target: str = "door"            # what a raised weapon points at (TARGET_WORDS)
    description: str = ""           # the clip's description: the audit checks what it names

    @property
    def frames(self) -> int:
        return self.fps * self.duration_s

    @property
    def is_night(self) -> bool:
        return self.time_of_day == "night"


def _first(table: list[tuple[str, str]], text: str, default: str | None) -> str | None:
    for value, pattern in table:
        if re.search(pattern, text, re.IGNORECASE):
            return value
    return default


def _all(table: list[tuple[str, str]], text: str) -> list[str]:
    return [value for value, pattern in table if re.search(pattern, text, re.IGNORECASE)]


def target_of(*texts: str) -> str:
    """The first thing a text aims at (door, window, utility box, house, street); door if none."""
    for text in texts:
        hits = [(m.start(), value) for value, pattern in TARGET_WORDS for m in [re.search(pattern, text or "", re.I)] if m]
        if hits:
            return min(hits)[1]
    return "door"


def clip_text(clip: Clip) -> str:
    prompt = clip.prompt if isinstance(clip.prompt, str) else " ".join((clip.prompt or {}).values())
    return " ".join([prompt, clip.description, clip.scenario.replace("_", " "), clip.purpose])


def _label(kind: str, subject: Subject) -> str:
    """The subject's own detector class: a matching key of `classes`, else a sensible default."""
    names = OBJECT_CLASSES.get(kind, ())
    for name in subject.classes:
        if name in names or (kind == "object" and subject.classes[name] > 0):
            return name
    a = subject.appearance
    if kind == "vehicle":
        return VEHICLE_CLASSES.get(a.vehicle or "sedan", "car")
    if kind == "animal":
        return a.animal or "dog"
    return {"person": "person", "package": "package"}.get(kind, "object")


def subject_plan(subject: Subject) -> SubjectPlan:
    label = _label(subject.kind, subject)
    count = min(MAX_PER_SUBJECT, subject.classes.get(label, 1)) if subject.classes else 1
    items = []
    for carried in subject.appearance.carries:
        names = ITEM_CLASSES.get(carried, ())
        items.append(Item(carried, next((n for n in names if subject.classes.get(n, 0) > 0), None)))
    people = [(n, c) for n, c in subject.classes.items() if n in PERSON_CLASSES and c > 0] if subject.kind == "vehicle" else []
    animals = tuple((n, min(c, 3)) for n, c in subject.classes.items() if n in ANIMAL_NAMES and c > 0) \
        if subject.kind == "person" else ()
    coat = ANIMAL_COAT.search(subject.description) if animals else None
    return SubjectPlan(subject.kind, label, max(count, 0), subject.appearance, tuple(items),
                       min(sum(c for _, c in people), 4), people[0][0] if people else "person", animals,
                       coat.group(1).lower() if coat else None)


def _inferred_subjects(clip: Clip, text: str) -> list[SubjectPlan]:
    """Subjects for a prompt-only clip, from its declared objects first, then its words."""
    declared = dict(clip.expected_objects or {})
    carries = [c for c in _all(CARRY_WORDS, text) if c != "package"]
    out: list[SubjectPlan] = []
    people = sum(declared.get(n, 0) for n in PERSON_CLASSES)
    if not declared and re.search(r"person|people|\bman\b|woman|courier|figure|someone|intruder|child|teen|driver", text, re.I):
        people = 2 if re.search(r"\btwo\b|pair|couple|\bpeople\b", text, re.I) else 1
    package = declared.get("package", 0) or (1 if re.search(r"package|parcel", text, re.I) else 0)
    for name, count in declared.items():
        if count <= 0:
            continue
        if name in VEHICLE_NAMES:
            vtype = {"truck": "pickup", "bicycle": "bicycle", "bike": "bicycle", "motorcycle": "motorcycle"}.get(name, "sedan")
            out.append(SubjectPlan("vehicle", name, min(count, MAX_PER_SUBJECT), Appearance(vehicle=vtype)))  # type: ignore[arg-type]
        elif name in ANIMAL_NAMES:
            animal = name if name != "animal" else "dog"
            out.append(SubjectPlan("animal", name, min(count, MAX_PER_SUBJECT), Appearance(animal=animal)))  # type: ignore[arg-type]
    if not declared:
        for name in ("car", "truck", "van", "dog", "cat", "deer", "raccoon", "coyote"):
            if re.search(rf"\b{name}s?\b", text, re.I):
                kind = "vehicle" if name in VEHICLE_NAMES else "animal"
                look = Appearance(vehicle="sedan") if kind == "vehicle" else Appearance(animal=name)  # type: ignore[arg-type]
                out.append(SubjectPlan(kind, "car" if name == "van" else name, 1, look))
    if people or not out:
        items = tuple(Item(c, None) for c in carries)
        if package:
            items = (Item("package", "package"),) + items
        out.insert(0, SubjectPlan("person", "person", max(people, 1), Appearance(carries=[i.kind for i in items]), items))  # type: ignore[misc]
    elif package:
        out.append(SubjectPlan("package", "package", 1, Appearance()))
    return out


def plan_clip(manifest: Manifest, compiled: CompiledClip, seed: int | None = None) -> ClipPlan:
    """Resolve one compiled variant into a ClipPlan (components first, words second)."""
    variant = compiled.variant
    clip = variant.clip
    comps = manifest.components
    text = clip_text(clip)
    inferred: list[str] = []
    scene = comps.scenes.get(clip.scene) if clip.scene else None
    env = comps.environments.get(clip.environment) if clip.environment else None
    action = comps.actions.get(clip.action) if clip.action else None

    if scene is not None:
        layout = scene.layout
    else:
        layout = _first(LAYOUT_WORDS, text, "front_porch") or "front_porch"
        inferred.append("layout")
    if env is not None:
        time_of_day, weather, effects = env.time_of_day, env.weather, tuple(env.effects)
    else:
        time_of_day = _first(TIME_WORDS, text, "day") or "day"
        weather = _first(WEATHER_WORDS, text, "clear") or "clear"
        effects = tuple(_all(EFFECT_WORDS, text))
        inferred += ["time_of_day", "weather", "effects"]
    if clip.subjects:
        subjects = tuple(subject_plan(comps.subjects[s]) for s in clip.subjects)
    else:
        subjects = tuple(_inferred_subjects(clip, text))
        inferred.append("subjects")
    if action is not None:
        path, motion = action.path, action.motion
        target = target_of(action.text_for(variant.duration_s)[1], clip.description)
    else:
        default = {"vehicle": "drive_past", "animal": "wander"}.get(subjects[0].kind, "walk_past")
        path = _first(PATH_WORDS, text, default) or default
        motion = "high" if path == "run_off" else "normal"
        inferred += ["path", "motion"]
        target = target_of(text)
    d = manifest.defaults
    return ClipPlan(
        name=variant.name, clip_id=clip.id, duration_s=variant.duration_s, fps=variant.fps,
        width=d.resolution.width, height=d.resolution.height, seed=compiled.seed if seed is None else seed,
        layout=layout, time_of_day=time_of_day, weather=weather, effects=effects, path=path, motion=motion,
        distance=clip.distance, occlusion=clip.occlusion, occluder=clip.occluder or "", subjects=subjects,
        inferred=tuple(inferred), target=target, description=clip.description,
    )
