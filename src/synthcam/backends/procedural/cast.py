"""Who is in the clip: one actor per figure, item and prop, each with its own track id.

Subjects expand to as many figures as their class count says ("two people" is one subject
with person: 2). Actions that need something the subjects do not name get it (a delivery
gets a parcel, exit_vehicle gets a car, a fight gets a second person); it is visible, so
it is labelled like everything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...manifest import Appearance
from .colors import BGR, VEHICLE_PAINT, parse_colour
from .figures import PersonLook, animal_look
from .plan import ClipPlan, Item, SubjectPlan

VEHICLE_KIND = {"car": "sedan", "truck": "pickup", "van": "van", "suv": "suv", "bus": "box_truck", "bicycle": "bicycle",
                "bike": "bicycle", "motorcycle": "motorcycle", "vehicle": "sedan", "pickup": "pickup"}


@dataclass
class Actor:
    kind: str                         # person | vehicle | animal | parcel | item
    label: str | None                 # detector class; None: drawn but unlabelled
    track: int                        # 1-based track id; 0 when unlabelled
    look: Any                         # PersonLook | (vehicle type, paint) | (animal, coat) | item name
    role: str = "subject"             # subject | item | prop
    timeline: Any = None              # .at(t) -> (Pose, hidden)
    carrier: Actor | None = None      # items: who holds it
    leash: Actor | None = None        # people walking an animal
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.label or self.kind}#{self.track}"


@dataclass
class Cast:
    actors: list[Actor] = field(default_factory=list)
    next_track: int = 1

    def add(self, kind: str, label: str | None, look: Any, role: str = "subject") -> Actor:
        track = 0
        if label:
            track, self.next_track = self.next_track, self.next_track + 1
        actor = Actor(kind, label, track, look, role)
        self.actors.append(actor)
        return actor

    def of(self, kind: str) -> list[Actor]:
        return [a for a in self.actors if a.kind == kind and a.role != "item"]

    def labels(self) -> list[str]:
        return sorted({a.label for a in self.actors if a.label})


def _vehicle_look(subject: SubjectPlan, rng: np.random.Generator) -> tuple[str, BGR]:
    a = subject.appearance
    kind = a.vehicle or VEHICLE_KIND.get(subject.label, "sedan")
    return kind, parse_colour(a.colour, rng, VEHICLE_PAINT)


def _item(cast: Cast, carrier: Actor, item: Item) -> Actor:
    actor = cast.add("item", item.label, item.kind, role="item")
    actor.carrier = carrier
    return actor


def build_cast(plan: ClipPlan, rng: np.random.Generator) -> Cast:
    cast = Cast()
    for subject in plan.subjects:
        for k in range(subject.count):
            if subject.kind == "person":
                actor = cast.add("person", subject.label, PersonLook.draw(subject.appearance, rng))
                for name, n in subject.animals if k == 0 else ():  # a dog walker's dog
                    for _ in range(n):
                        kind = subject.appearance.animal or (name if name != "animal" else "dog")
                        cast.add("animal", name, animal_look(kind, subject.animal_colour, rng))
                    actor.extras["leash"] = True
                for item in subject.items if k == 0 else ():
                    if item.kind == "leash":
                        actor.extras["leash"] = True
                    else:
                        _item(cast, actor, item)
            elif subject.kind == "vehicle":
                ride = cast.add("vehicle", subject.label, _vehicle_look(subject, rng))
                for _ in range(subject.people if k == 0 else 0):  # the driver or rider it names
                    look = Appearance(top=subject.appearance.top, bottom=subject.appearance.bottom)
                    cast.add("person", subject.people_label, PersonLook.draw(look, rng)).extras["vehicle"] = ride
            elif subject.kind == "animal":
                cast.add("animal", subject.label, animal_look(subject.appearance.animal or subject.label, subject.appearance.colour, rng))
            else:  # a parcel; "two stacked boxes" (count 2) sit one on the other; loose objects blow about in wind
                parcel = cast.add("parcel", subject.label, parse_colour(subject.appearance.colour, rng, ["cardboard"]))
                parcel.extras["stack"] = k
                if subject.kind == "object" and (plan.path == "wander" or plan.weather == "wind"):
                    parcel.extras["debris"] = True
    _implied(plan, cast, rng)
    people = cast.of("person")
    for animal in cast.of("animal"):
        walker = next((p for p in people if p.extras.get("leash")), None)
        if walker is not None and walker.leash is None:
            walker.leash = animal
    return cast


def _implied(plan: ClipPlan, cast: Cast, rng: np.random.Generator) -> None:
    """Add what the action needs and the subjects do not name."""
    people = cast.of("person")
    path = plan.path
    if path in ("deliver_package", "carry_off") and not people:
        people.append(cast.add("person", "person", PersonLook.draw(Appearance(), rng)))
    has_parcel = any(a.kind == "parcel" or (a.role == "item" and a.look in ("package", "box")) for a in cast.actors)
    if path == "deliver_package" and not has_parcel:
        _item(cast, people[0], Item("package", "package"))
    if path == "carry_off" and not has_parcel:
        cast.add("parcel", "package", parse_colour(None, rng, ["cardboard"]), role="prop")
    if path == "exit_vehicle" and not cast.of("vehicle"):
        look = Appearance(vehicle=["sedan", "suv", "van", "pickup"][int(rng.integers(4))])  # type: ignore[arg-type]
        cast.add("vehicle", "car" if look.vehicle != "pickup" else "truck", _vehicle_look(SubjectPlan("vehicle", "car", 1, look), rng))
    if path == "exit_vehicle" and not people:
        cast.add("person", "person", PersonLook.draw(Appearance(), rng))
    if path == "fight" and len(cast.of("person")) == 1:
        cast.add("person", "person", PersonLook.draw(Appearance(), rng))
