"""Give every actor a timeline: the lead does the action, the rest play their part.

Vehicles drive their lane, pull in or park; people ride or get out once the vehicle has
stopped; companions follow the lead a step behind; a fight gets an opponent; animals walk
on a leash or roam alone; parcels sit where they were left until picked up; carried items
ride in their carrier's hands.
"""

from __future__ import annotations

import math

import numpy as np

from .cast import Actor, Cast
from .figures import Pose
from .motion import Follower, Script
from .paths import PERSON_PATHS, follower, opponent
from .plan import ClipPlan
from .stage import PACE, Stage, Static, arrive, tail
from .vehicles import TWO_WHEELERS
from .world import World

VEHICLE_PATHS = ("drive_in", "drive_past", "park", "exit_vehicle")
EXITS = ("exit_vehicle", "drive_in", "park")
VEHICLE_FOR = {"walk_past": "drive_past", "cross": "drive_past", "run_off": "drive_past", "wander": "drive_past"}
ANIMAL_PATHS = ("wander", "walk_past", "run_off", "cross", "loiter", "stand", "crouch")
WEAPONS = ("handgun", "knife", "bat", "crowbar", "tool")


def _heading(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.atan2(b[0] - a[0], b[1] - a[1])


def drive_past(st: Stage, lane: str | None = None, delay: float = 0.0) -> Script:
    """Along a lane from one side of the frame to the other; long clips slow, stop, go on,
    and come back the other way. `delay` keeps it off screen for a while first."""
    route = st.route(lane or ("far_lane" if st.distance == "far" else "lane"))
    z = route[0][1]
    left, right = st.cam.x_at_u(-0.1 * st.cam.width, z) - 8, st.cam.x_at_u(1.1 * st.cam.width, z) + 8
    a, b = ((left, z), (right, z)) if route[1][0] > route[0][0] else ((right, z), (left, z))
    length = abs(b[0] - a[0])
    speed = float(np.clip(length / (0.75 * st.T), 4.0, 11.0))
    if st.T < 20 and not delay:
        # a short clip starts just out of view and crosses at a pace that fills the clip
        way = float(np.sign(b[0] - a[0]))
        a = (st.cam.x_at_u(0.0 if way > 0 else st.cam.width, z) - 3.2 * way, z)
        far_edge = st.cam.x_at_u(st.cam.width if way > 0 else 0.0, z)
        speed = float(np.clip((abs(far_edge - a[0]) + 3.2) / (0.85 * st.T), 4.0, 12.5))
    s = Script(a, _heading(a, b), speed)
    if delay:
        s.hold(delay, legs="drive", hidden=True)
    if st.T >= 20:
        mid = ((a[0] + b[0]) / 2 + st.u(-3, 3), z)
        s.walk(mid, speed * 0.5, legs="drive", ease=True).hold(0.2 * st.T, legs="drive", flex=1.0)
        s.walk(b, speed * 0.6, legs="drive", ease=True)
        s.hold(1.5, legs="drive", hidden=True).walk(a, speed, legs="drive", heading=_heading(b, a))
    else:
        s.walk(b, legs="drive")
    return s


def pull_in(st: Stage, arrive_s: float) -> Script:
    """Drive along the lane and into the parking spot, stopping smoothly."""
    park = st.anchor("park")
    face = st.world.facing("park")
    route = st.world.routes.get("drive_in")
    if route is None:
        lane_z = park[1] + 0.8
        back = (park[0] - 8 * math.sin(face), lane_z)
        route = [(park[0] - 40 * math.sin(face), lane_z), back, park]
    path = tail(route, max(6.0, 7.0 * arrive_s))
    s = Script(path[0], _heading(path[0], path[1]), max(2.5, min(9.0, 1.2 * sum(
        math.hypot(q[0] - p[0], q[1] - p[1]) for p, q in zip(path, path[1:])) / max(arrive_s, 1.0))))
    for p in path[1:-1]:
        s.walk(p, legs="drive")
    s.walk(path[-1], s.speed * 0.6, legs="drive", ease=True, heading=None)
    return s.mark("stop")


def _vehicle_script(st: Stage, path: str) -> Script | Static:
    park, face = st.anchor("park"), st.world.facing("park")
    if path == "drive_past":
        return drive_past(st)
    if path in ("drive_in", "park", "exit_vehicle"):
        # a short exit_vehicle still shows the stop: the car is already rolling in
        share = 0.35 if path == "exit_vehicle" and st.T < 10 else 0.45
        return pull_in(st, min(share * st.T, 9.0)).hold(1.0, legs="drive", flex=1.0)
    return Static(Pose(park[0], park[1], face))


def _driver(st: Stage, vehicle: Script | Static, person: Actor) -> Script:
    """Hidden in the vehicle until it stops, then out of the driver's door and to the house."""
    stop = 0.0 if isinstance(vehicle, Static) else vehicle.time_of("stop")
    pose, _ = vehicle.at(stop + 0.01)
    h = pose.heading
    door = (pose.x + 1.35 * math.cos(h) + 0.3 * math.sin(h), pose.z - 1.35 * math.sin(h) + 0.3 * math.cos(h))
    route = [door] + (st.world.routes.get("from_park") or st.route("approach")[-2:])
    if isinstance(vehicle, Static) and st.T < 10:   # short clip: already out of the parked car, walking
        s = arrive(st, route, 0.6 * st.T)
    else:
        s = Script(door, h, st.pace)
        s.hold(stop + st.u(0.5, 0.9 if st.T < 10 else 1.2), hidden=True, flex=0.0)
        s.mark("out").hold(0.6, heading=h + math.pi / 2, flex=0.5)
        if st.T - s.duration > 3:
            s.route(route[1:])
    if st.T - s.duration > 1.5:
        s.hold(1.0, arms="reach", heading=st.world.facing("door"), flex=1.0)
    return s


class Riding:
    """A rider sits on a two-wheeler: the vehicle's pose, lifted to the saddle."""

    def __init__(self, vehicle: Script | Static, lift: float) -> None:
        self.vehicle, self.lift = vehicle, lift

    def at(self, t: float) -> tuple[Pose, bool]:
        pose, hidden = self.vehicle.at(t)
        return Pose(pose.x - 0.1 * math.sin(pose.heading), pose.z - 0.1 * math.cos(pose.heading), pose.heading,
                    "sit", "ride", 0.0, 0.0, self.lift, t), hidden


def direct(world: World, plan: ClipPlan, cast: Cast, rng: np.random.Generator) -> None:
    """Assign a timeline to every actor (in place)."""
    weapon = next((i.kind for s in plan.subjects for i in s.items if i.kind in WEAPONS), None)
    st = Stage(world, float(plan.duration_s), rng, PACE.get(plan.motion, 1.35), plan.distance, target=plan.target, weapon=weapon)
    people, vehicles, animals = cast.of("person"), cast.of("vehicle"), cast.of("animal")
    path = plan.path
    def pushes(p: Actor) -> bool:  # a cyclist in a walking action walks the bicycle
        return path not in VEHICLE_PATHS and p.extras["vehicle"].look[0] in TWO_WHEELERS

    free = [p for p in people if "vehicle" not in p.extras or pushes(p)]
    moving = path in VEHICLE_PATHS or not free
    for k, v in enumerate(vehicles):
        if not moving:
            if v.look[0] not in TWO_WHEELERS:
                spot = st.near(st.anchor("park"), 6.0) if k else st.anchor("park")
                v.timeline = Static(Pose(spot[0], spot[1], world.facing("park")))
            continue  # bicycles are pushed along by their walker, set below
        mode = path if path in VEHICLE_PATHS else VEHICLE_FOR.get(path, "park")
        if k == 0:
            v.timeline = _vehicle_script(st, mode)
        elif mode == "drive_past":  # another vehicle on the other lane, a little later
            v.timeline = drive_past(st, ("far_lane", "lane")[k % 2], st.u(0.15, 0.45) * st.T)
        else:
            spot = st.near(st.anchor("park"), 6.0)
            v.timeline = Static(Pose(spot[0], spot[1], world.facing("park")))
        if isinstance(v.timeline, Script):
            v.timeline.fit(st.T)
    lead, lead_actor, followers = None, None, 0
    for p in people:
        ride = p.extras.get("vehicle")
        walker = ride is None or pushes(p)
        if not walker and ride.timeline is not None and ride.look[0] in TWO_WHEELERS:
            p.timeline = Riding(ride.timeline, 0.4 if ride.look[0] == "bicycle" else 0.28)
        elif not walker and ride.timeline is not None:
            p.timeline = _driver(st, ride.timeline, p).settle(st.T, st.in_view) if path in EXITS else Static(Pose(0, 0, 0), True)
        elif lead is None and moving and vehicles and vehicles[0].look[0] not in TWO_WHEELERS and path in EXITS:
            lead, lead_actor = _driver(st, vehicles[0].timeline, p).settle(st.T, st.in_view), p
        elif lead is None:
            lead, lead_actor = PERSON_PATHS.get(path, PERSON_PATHS["walk_past"])(st).settle(st.T, st.in_view), p
        elif path == "fight" and followers == 0 and isinstance(lead, Script):
            p.timeline, followers = opponent(st, lead).fit(st.T), 1
        else:
            followers += 1
            p.timeline = follower(lead, followers)
        if p is lead_actor:
            p.timeline = lead
        if ride is not None and ride.timeline is None:  # walking a bicycle: it goes where they go
            ride.timeline = Follower(p.timeline, 0.55, -0.25, 0.0)
    for v in vehicles:
        if v.timeline is None and lead is not None:
            v.timeline = Follower(lead, 0.55, -0.25, 0.0)
    for k, a in enumerate(animals):
        walker = next((p for p in people if p.leash is a), None)
        if walker is not None or (lead is not None and path not in ANIMAL_PATHS):
            guide = walker.timeline if walker is not None else lead
            a.timeline = Follower(guide, 0.9 + 0.5 * k, -0.4, 0.0)
        else:
            build = PERSON_PATHS[path if path in ANIMAL_PATHS else "wander"]
            # a cat 20 m away is a few pixels: small animals keep close, others no farther than mid
            small = a.look[0] in ("cat", "raccoon")
            distance = "mid" if plan.distance == "far" and a.look[0] != "deer" else plan.distance
            stage = Stage(world, st.T, rng, 1.6 if small else 1.1, distance, small,
                          room=2.0 if plan.occlusion != "none" else 0.0)
            a.timeline = build(stage).settle(st.T, stage.in_view)
    for k, d in enumerate(a for a in cast.actors if a.extras.get("debris")):  # a bag tumbling on the wind
        stage = Stage(world, st.T, rng, 1.9, "mid", True, room=2.0 if plan.occlusion != "none" else 0.0)
        d.timeline = PERSON_PATHS["wander"](stage).settle(st.T, stage.in_view)
    _props(st, cast, lead_actor)


def _parcel_spot(st: Stage, by_door: tuple[float, float]) -> tuple[float, float]:
    """Where a parcel left unattended sits: by the door when near, along the way in (by the
    gate, at the end of the drive) when mid or far, wherever that is in view."""
    route = st.route("approach")
    if st.distance == "near":  # by the door, or the nearest place on the way in that the camera sees
        for k in range(12):
            p = (by_door[0], by_door[1] + 0.35 * k)
            if st.visible(p, 0.08):
                return p
        return by_door
    lengths = [math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(route, route[1:])]
    total = sum(lengths) or 1.0
    for u in ((0.3, 0.4, 0.2, 0.5) if st.distance == "far" else (0.65, 0.75, 0.55)):
        left, k = u * total, 0
        while k < len(lengths) - 1 and left > lengths[k]:
            left -= lengths[k]
            k += 1
        f = min(1.0, left / (lengths[k] or 1.0))
        a, b = route[k], route[k + 1]
        p = (a[0] + (b[0] - a[0]) * f + 0.6, a[1] + (b[1] - a[1]) * f)   # beside the path, not on it
        if st.visible(p, 0.08) and st.seen(p) and st.clear(p, 0.3):
            return p
    return by_door


def _props(st: Stage, cast: Cast, lead_actor: Actor | None) -> None:
    """Parcels on the ground and items in hands (drop and pick-up moments from the lead's script)."""
    lead = lead_actor.timeline if lead_actor is not None else None
    door = st.world.facing("door")
    mat = st.anchor("mat")
    ground = (mat[0] + 0.45 * math.sin(door), mat[1] + 0.45 * math.cos(door))
    parcels = 0
    left = ground if isinstance(lead, Script) and "pickup" in lead.marks else _parcel_spot(st, ground)
    below: tuple[float, float] | None = None
    for a in cast.actors:
        if a.extras.get("debris"):
            continue
        if a.kind == "parcel" and a.extras.get("stack") and below is not None:  # on top of the one before, set askew
            shift = 0.3 * a.extras["stack"] * (1 if st.rng.random() < 0.5 else -1)
            cx, cz = st.cam.position[0], st.cam.position[2]   # to one side as the camera sees it: both boxes show
            d = math.hypot(below[0] - cx, below[1] - cz) or 1.0
            a.extras["ground"] = (below[0] - shift * (below[1] - cz) / d, below[1] + shift * (below[0] - cx) / d)
            a.extras["lift"] = 0.3 * a.extras["stack"]
            a.timeline = Static(Pose(*a.extras["ground"], door + st.u(-0.25, 0.25)))
        elif a.kind == "parcel":  # by the door (or, left unattended, where the distance puts it); side by side
            side = 0.5 * ((parcels + 1) // 2) * (1 if parcels % 2 else -1)
            spot = (left[0] + side * math.cos(door), left[1] - side * math.sin(door))
            a.extras["ground"] = spot if parcels or st.rng.random() < 0.8 or not isinstance(lead, Script) else st.near(mat, 1.0)
            below = a.extras["ground"]
            parcels += 1
            a.timeline = Static(Pose(*a.extras["ground"], door + st.u(-0.3, 0.3)))
        if a.kind == "parcel":
            if isinstance(lead, Script) and "pickup" in lead.marks:
                a.carrier, a.extras["pickup_t"] = lead_actor, lead.time_of("pickup")
        elif a.role == "item" and a.carrier is not None:
            script = a.carrier.timeline
            if a.look in ("package", "box") and isinstance(script, Script) and "drop" in script.marks:
                t = script.time_of("drop")
                pose, _ = script.at(t)
                a.extras["drop_t"] = t
                a.extras["ground"] = (pose.x + 0.45 * math.sin(pose.heading), pose.z + 0.45 * math.cos(pose.heading))
