"""Choreography: each action path as beats placed in the layout, paced to the clip length.

A 5 s clip gets the core of the action (the courier is already near the door); a 30 s clip
gets the whole event with its waits, looks around, second tries and exit. Every choice
(start side, spots, wait lengths) comes from the clip's seeded generator, so another seed
or duration is another take of the same event, not a prefix or a copy.
"""

from __future__ import annotations

import math

from .motion import XZ, Follower, Script
from .stage import PACE, RUN, STRIKERS, Stage, arrive, head, leave, look_around, middle, walk_in

__all__ = ["PERSON_PATHS", "follower", "opponent"]


def _door(st: Stage, s: Script, arms: str = "reach", seconds: float = 1.2) -> None:
    s.hold(seconds, arms=arms, heading=st.world.facing("door"), flex=0.3)


def approach_door(st: Stage) -> Script:
    T = st.T
    s = arrive(st, st.route("approach"), min(0.45 * T, 14.0))
    s.mark("door")
    _door(st, s)
    s.hold(0.8, heading=st.world.facing("door"), flex=2.0)
    if T >= 10:
        look_around(st, s, 0.12 * T, st.world.facing("door"))
        _door(st, s)
    if T >= 20:
        s.hold(0.1 * T, arms="phone", heading=st.world.facing("door"), flex=1.0)
        leave(st, s, 0.2 * T)
    return s


def deliver_package(st: Stage) -> Script:
    T = st.T
    s = arrive(st, st.route("approach"), min(0.38 * T, 12.0))
    for b in s.beats:
        b.arms = "carry"
    door = st.world.facing("door")
    if T >= 10:
        s.hold(0.08 * T, arms="phone", heading=door, flex=0.5)
    s.walk(st.anchor("mat"), 0.8, arms="carry", heading=door)
    s.hold(0.9, legs="crouch", arms="crouch", heading=door, flex=0.2).mark("drop")
    s.hold(0.4, heading=door, flex=0.5)
    if T >= 10:
        s.hold(0.06 * T, arms="phone", heading=door, flex=0.5)
    if T >= 20:
        _door(st, s)
        s.hold(0.12 * T, heading=door, flex=1.5)
    back = st.route("approach")[::-1]
    s.route(head(back, 60.0)[1:])
    return s


def loiter(st: Stage) -> Script:
    """Walk up and stay: long waits looking about or at a phone, a step this way or that."""
    spot = st.near(st.anchor("loiter"), 1.5)
    s = walk_in(st, spot, 0.25, 6.0)
    while s.duration < st.T * 0.9:
        look_around(st, s, st.u(2.0, 4.5), st.u(0, 2 * math.pi))
        if st.rng.random() < 0.35:
            s.hold(st.u(1.5, 3.0), arms="phone", flex=1.0)
        step = st.near(s.pos, 0.4)
        s.walk(step if math.hypot(step[0] - spot[0], step[1] - spot[1]) < 1.5 else spot, st.pace * 0.6)
    if st.T >= 20:
        leave(st, s, 0.1 * st.T)
    return s


def test_handle(st: Stage) -> Script:
    T, door = st.T, st.world.facing("door")
    s = arrive(st, st.route("approach"), min(0.35 * T, 10.0))
    s.mark("handle")
    _door(st, s, seconds=1.6)
    look_around(st, s, max(0.8, 0.08 * T), door)
    _door(st, s, seconds=1.4)
    if T >= 10:
        s.walk(st.anchor("window")).hold(0.1 * T, arms="peer", heading=st.world.facing("window"), flex=1.0)
    if T >= 20:
        s.walk(st.anchor("door")).hold(0.08 * T, legs="crouch", arms="crouch", heading=door, flex=1.0)
        leave(st, s, 0.1 * T, run=st.rng.random() < 0.5)
    return s


def peer_window(st: Stage) -> Script:
    T, face = st.T, st.world.facing("window")
    win = st.anchor("window")
    s = arrive(st, [st.exit_from(win), st.near(win, 2.5), win], min(0.35 * T, 9.0))
    s.mark("peer").hold(max(2.0, 0.15 * T), arms="peer", heading=face, flex=1.0)
    if T >= 10:
        s.walk((win[0] + 0.03 * math.cos(face + 1.57), win[1] + 0.9), 0.7).hold(0.12 * T, arms="peer", heading=face, flex=1.0)
    if T >= 20:
        s.walk(st.anchor("door"))
        _door(st, s, seconds=1.5)
        s.walk(win).hold(0.1 * T, arms="peer", heading=face, flex=1.0)
        leave(st, s, 0.1 * T)
    return s


def circle_house(st: Stage) -> Script:
    """Along the house to the window and look in (where the window is in view), try the door;
    a long clip goes out of sight round the back and comes back from the other side. Where
    no window is in view, a walk round the edge of the property (a fence line)."""
    T, loop = st.T, st.route("loop")
    win, face = st.anchor("window"), st.world.facing("window")
    if st.seen(win):
        s = arrive(st, [st.exit_from(win), st.near(win, 0.6)], min(0.25 * T, 4.0), st.pace * 0.8)
        s.mark("peer").hold(max(1.6, 0.1 * T), arms="peer", heading=face, flex=1.0)
        if T >= 10 and st.seen(st.anchor("door")):
            s.walk(st.anchor("door"), st.pace * 0.8)
            _door(st, s, seconds=1.2)
    else:
        start = next((p for p in loop if st.seen(p)), loop[0])
        s = arrive(st, [st.exit_from(start), start], min(0.2 * T, 4.0))
        look_around(st, s, st.u(0.8, 1.6), math.pi)
        s.route([p for p in loop[1:] if st.seen(p)][:2] or loop[1:2])
    if T < 20:
        look_around(st, s, 0.8, face)
        return s
    # round the back: out of sight for a fifth of the clip, back in view from the other side
    gone = next((p for p in loop[1:] if not st.seen(p)), loop[2])
    back = next((p for p in reversed(loop) if st.seen(p)), loop[-1])
    s.walk(gone).mark("behind").hold(0.2 * T, hidden=True, flex=0.3, to=back)
    look_around(st, s, st.u(1.0, 2.0), math.pi)
    s.walk(st.near(back, 3.0))
    return s


def run_off(st: Stage) -> Script:
    T = st.T
    spot = st.anchor("door") if st.rng.random() < 0.6 else st.anchor("crouch")
    if T >= 20:
        s = arrive(st, st.route("approach"), 0.3 * T)
        s.hold(0.1 * T, legs="crouch", arms="crouch", flex=1.0)
    else:
        s = Script(spot, st.world.facing("door"), st.pace)
        s.hold(max(0.6, 0.15 * T), arms="reach", heading=st.world.facing("door"), flex=1.0)
    look_around(st, s, max(0.6, 0.08 * T), 0.0)
    s.mark("run")
    leave(st, s, 0.4 * T, run=True)
    return s


def walk_past(st: Stage) -> Script:
    a, b = st.passing()
    a, b = middle(st, a, b, st.pace * (0.9 * st.T if st.T < 20 else 0.6 * st.T))
    s = Script(a, 0.0, st.pace)
    if st.T >= 20:  # a stop on the way, in the open (a dog beside them is not tucked behind the shed)
        mid = ((a[0] + b[0]) / 2 + st.u(-2, 2), (a[1] + b[1]) / 2)
        for u in (0.5, 0.35, 0.65, 0.2, 0.8):
            q = (a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u)
            if st.clear(q, 0.6) and all(st.seen((q[0] + dx, q[1])) for dx in (-1.1, 0.0, 1.1)):
                mid = q
                break
        s.walk(mid).hold(0.15 * st.T, heading=math.pi, flex=1.0).hold(0.08 * st.T, arms="phone", flex=1.0)
    return back_and_forth(st, s.walk(b), a, b)


def back_and_forth(st: Stage, s: Script, a: XZ, b: XZ) -> Script:
    """Long clips: after crossing, pause and cross back (and again) rather than one long wait."""
    ends = [a, b]
    while s.duration < 0.75 * st.T:
        s.hold(st.u(1.5, 3.5), heading=math.pi + st.u(-0.8, 0.8), flex=1.0)
        s.walk(ends[0])
        ends.reverse()
    return s


def wander(st: Stage) -> Script:
    spot = st.near(st.anchor("loiter"), 3.0)
    s = arrive(st, [st.exit_from(spot), spot], min(0.2 * st.T, 5.0), st.pace * 0.8)
    while s.duration < st.T:
        s.hold(st.u(0.6, 1.8), legs="crouch" if st.rng.random() < 0.3 else "stand", flex=1.0)
        s.walk(st.near(s.pos, 3.0), st.pace * 0.8)
    return s


def indoors(st: Stage, door: XZ, face: float) -> XZ:
    """A point through the door: behind its wall, or (door under the camera) out of frame."""
    step = (math.sin(face), math.cos(face))
    for k in range(3, 16):
        p = (door[0] + 0.4 * k * step[0], door[1] + 0.4 * k * step[1])
        if not any(st.head_in_frame(p, y) for y in (0.0, 0.9, 1.7)) or (k >= 4 and not st.seen(p)):
            # a step further in: coming out, the figure walks into the picture rather than appearing in it
            return (p[0] + 0.8 * step[0], p[1] + 0.8 * step[1])
    return p


def enter_house(st: Stage) -> Script:
    s = arrive(st, st.route("approach"), min(0.5 * st.T, 12.0))
    s.mark("door")
    _door(st, s, seconds=1.0)
    inside = indoors(st, s.pos, st.world.facing("door"))
    s.walk(inside, 0.9).mark("inside").hold(1.0, hidden=True, flex=1.0)
    return s


def leave_house(st: Stage) -> Script:
    door, face = st.anchor("door"), st.world.facing("door")
    inside = indoors(st, door, face)
    s = Script(inside, face + math.pi, st.pace)
    s.hold(st.u(0.3, 0.15 * st.T + 0.3), hidden=True, flex=0.5).mark("out").walk(door, 0.9, hidden=False)
    if st.T >= 10:
        look_around(st, s, 0.1 * st.T, face + math.pi)
    s.route(head(st.route("approach")[::-1], 80.0)[1:])
    return s


def crouch(st: Stage) -> Script:
    spot = st.near(st.anchor("crouch"), 0.8)
    s = walk_in(st, spot, 0.3, 7.0)
    s.mark("crouch").hold(max(1.5, 0.3 * st.T), legs="crouch", arms="crouch", flex=2.0)
    if st.T >= 10:
        look_around(st, s, 0.08 * st.T, 0.0)
        s.hold(0.15 * st.T, legs="crouch", arms="crouch", flex=1.0)
    if st.T >= 20:
        leave(st, s, 0.1 * st.T)
    return s


def brandish(st: Stage) -> Script:
    """Walk up to the target (door, window, utility box, house) and raise the weapon toward it:
    a gun or knife is aimed from a few metres, a bat or bar is swung at it from arm's length.
    Longer clips lower it, glance round, aim again, and leave."""
    strike = st.weapon in STRIKERS
    target = st.target_point()
    spot = st.standoff(target, 0.8 if strike else st.u(2.4, 3.4))
    s = walk_in(st, spot, 0.25, 6.0)
    arms = "strike" if strike else "raise"
    for k in range(max(1, int(st.T // 8))):
        if k:
            look_around(st, s, st.u(0.8, 1.6), st.bearing(s.pos, target))
            s.walk(st.standoff(target, 0.8 if strike else st.u(2.0, 3.4)), st.pace * 0.8)
        s.mark("raise" if k == 0 else f"raise{k}")
        s.hold(st.u(1.8, 3.0), arms=arms, heading=st.bearing(s.pos, target), flex=1.0)
    if st.T >= 20:
        leave(st, s, 0.1 * st.T, run=True)
    return s


def carry_off(st: Stage) -> Script:
    s = arrive(st, st.route("approach"), min(0.35 * st.T, 9.0))
    door = st.world.facing("door")
    if st.T >= 10:
        look_around(st, s, 0.1 * st.T, door)
    s.walk(st.anchor("mat"), 0.9, heading=door)
    s.hold(0.9, legs="crouch", arms="crouch", heading=door, flex=0.2).mark("pickup")
    s.hold(0.3, arms="carry", heading=door, flex=0.2)
    s.walk(st.exit_from(s.pos), RUN if st.rng.random() < 0.5 else st.pace * 1.2, legs="walk", arms="carry")
    return s


def climb_fence(st: Stage) -> Script:
    fence = st.anchor("fence")
    cx, cz = st.cam.position[0], st.cam.position[2]
    d = math.hypot(fence[0] - cx, fence[1] - cz) or 1.0
    ux, uz = (fence[0] - cx) / d, (fence[1] - cz) / d
    out, inn = (fence[0] + 0.8 * ux, fence[1] + 0.8 * uz), (fence[0] - 0.8 * ux, fence[1] - 0.8 * uz)
    s = walk_in(st, out, 0.2, 4.0)
    face = math.atan2(-ux, -uz)
    s.mark("climb").hold(1.2, legs="climb", arms="climb", heading=face, lift=(0.0, 1.1), flex=0.3, to=fence)
    s.hold(0.8, legs="climb", arms="climb", heading=face, lift=(1.1, 0.0), flex=0.3, to=inn)
    s.hold(0.6, legs="crouch", arms="crouch", heading=face, flex=0.5)
    if st.T >= 10:
        look_around(st, s, 0.1 * st.T, face)
        s.walk(st.near(st.anchor("loiter"), 2.0))
    if st.T >= 20:
        s.walk(st.anchor("door"))
        _door(st, s, seconds=1.5)
    return s


def cross(st: Stage) -> Script:
    lines = {"near": ("pass_near", "pass_mid"), "mid": ("pass_near", "pass_far"), "far": ("pass_mid", "pass_far")}[st.distance]
    near, far = st.route(lines[0]), st.route(lines[1])
    a, b = (near[0], far[1]) if st.rng.random() < 0.5 else (far[0], near[1])
    if "cross" in st.world.routes and not st.small:  # a layout with one sensible way across (a passage)
        a, b = st.world.routes["cross"][:: 1 if st.rng.random() < 0.5 else -1]
    a, b = middle(st, a, b, st.pace * (0.9 * st.T if st.T < 20 else 0.65 * st.T))
    s = Script(a, 0.0, st.pace)
    if st.T >= 20:
        mid = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
        s.walk(mid)
        look_around(st, s, 0.2 * st.T, 0.0)
    return back_and_forth(st, s.walk(b), a, b)


def stand(st: Stage) -> Script:
    spot = st.near(st.anchor("loiter"), 2.0)
    if st.pace <= PACE["none"]:        # motion "none": someone already there, barely moving
        s = Script(spot, math.pi + st.u(-0.5, 0.5), st.pace)
    else:                              # walk in, stand about (a step now and then), leave in long clips
        s = walk_in(st, spot, 0.3, 6.0)
    while s.duration < (0.8 if st.T >= 20 else 1.0) * st.T:
        s.hold(st.u(1.5, 4.0), heading=math.pi + st.u(-0.9, 0.9), flex=1.0)
        if st.rng.random() < 0.3:
            s.hold(st.u(1.5, 3.0), arms="phone", flex=1.0)
        if st.pace > PACE["none"] and st.rng.random() < 0.5:
            s.walk(st.near(s.pos, 1.2), st.pace * 0.6)
    if st.T >= 20 and st.pace > PACE["none"]:
        leave(st, s, 0.1 * st.T)
    return s


def fight(st: Stage) -> Script:
    spot = st.near(st.anchor("loiter"), 1.0)
    s = walk_in(st, spot, 0.3, 6.0)
    s.mark("fight")
    for _ in range(max(1, int(st.T // 6))):
        s.hold(st.u(1.5, 3.0), arms="fight", heading=math.pi / 2, flex=1.0)
        s.walk((s.pos[0] + st.u(-0.6, 0.6), s.pos[1] + st.u(-0.5, 0.5)), 0.8, arms="fight", heading=math.pi / 2)
    if st.T >= 10:
        leave(st, s, 0.15 * st.T, run=True)
    return s


PERSON_PATHS = {
    "approach_door": approach_door, "deliver_package": deliver_package, "loiter": loiter, "test_handle": test_handle,
    "peer_window": peer_window, "circle_house": circle_house, "run_off": run_off, "walk_past": walk_past, "wander": wander,
    "enter_house": enter_house, "leave_house": leave_house, "crouch": crouch, "fight": fight, "brandish": brandish,
    "carry_off": carry_off, "climb_fence": climb_fence, "cross": cross, "stand": stand,
}


def opponent(st: Stage, lead: Script) -> Script:
    """The second person in a fight: arrives from the other side and squares up."""
    spot = lead.beats[len(lead.beats) // 3].a if lead.beats else lead.start
    target = (spot[0] + 0.9, spot[1])
    s = arrive(st, [st.exit_from((target[0] + 6, target[1])), target], min(0.3 * st.T, 6.0))
    while s.duration < st.T:
        s.hold(st.u(1.0, 2.5), arms="fight", heading=-math.pi / 2, flex=1.0)
    return s


def follower(lead: Script, k: int) -> Follower:
    side = 0.75 * (1 if k % 2 else -1) * ((k + 1) // 2)
    return Follower(lead, side, 0.35 * k, 0.22 * k)
