"""One world per scene layout, with the camera, anchors and routes that actions use.

Every layout varies with the seed (camera height, tilt, turn and field of view, sizes and
colours), so two variants of one clip never share a background: the verifier's
near-duplicate check compares perceptual hashes, which the static background dominates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .camera import Camera
from .colors import BGR, jitter, rgb, shade
from .world import Element, Line, Poly, World, box, far_house, fence, ground_rect, hedge, stripes, tree, wall

SIDING = [rgb(205, 200, 185), rgb(175, 185, 190), rgb(150, 120, 95), rgb(120, 130, 110), rgb(220, 215, 205),
          rgb(160, 60, 50), rgb(95, 105, 120), rgb(190, 170, 135)]
ROOF = [rgb(60, 60, 65), rgb(90, 60, 50), rgb(70, 75, 85), rgb(110, 90, 80)]
CAMERA_NAMES = {"front_porch": "FRONT PORCH", "driveway": "DRIVEWAY", "backyard": "BACKYARD", "side_yard": "SIDE YARD",
                "street": "STREET", "garage": "GARAGE", "walkway": "FRONT WALK"}
ZOOM = {"near": 1.3, "mid": 1.0, "far": 0.85}


@dataclass
class Palette:
    lawn: BGR
    leaf: BGR
    concrete: BGR
    asphalt: BGR
    wood: BGR
    siding: BGR
    roof: BGR

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Palette:
        pick = lambda options: options[int(rng.integers(len(options)))]  # noqa: E731
        return cls(jitter(rgb(85, 120, 60), rng, 0.15), jitter(rgb(55, 95, 50), rng, 0.15), jitter(rgb(165, 162, 155), rng),
                   jitter(rgb(70, 72, 75), rng), jitter(rgb(125, 90, 60), rng), jitter(pick(SIDING), rng, 0.06),
                   jitter(pick(ROOF), rng))


def _camera(rng: np.random.Generator, w: int, h: int, x: float, height: tuple[float, float], yaw: tuple[float, float],
            pitch: tuple[float, float], zoom: float, z: float = 0.2) -> Camera:
    hfov = float(rng.uniform(76, 90))
    hfov = float(np.degrees(2 * np.arctan(np.tan(np.radians(hfov) / 2) / zoom)))
    return Camera(w, h, (x + float(rng.uniform(-0.5, 0.5)), float(rng.uniform(*height)), z),
                  float(rng.uniform(*yaw)), float(rng.uniform(*pitch)), hfov)


def _nearest_ground(cam: Camera) -> float:
    """Depth (z) of the ground seen at the bottom centre of the frame."""
    hit = cam.ground_at(cam.width / 2, cam.height - 1)
    return hit[1] if hit else 2.0


def _edges(cam: Camera, z: float, margin: float = 0.12) -> tuple[float, float]:
    """World x just off the left and right frame edges at depth z."""
    return cam.x_at_u(-margin * cam.width, z), cam.x_at_u((1 + margin) * cam.width, z)


def _street_block(world: World, pal: Palette, rng: np.random.Generator, z: float, lit: bool, houses_at: float) -> None:
    """Sidewalk, street with a centre line, and houses with trees across it, starting at depth z."""
    cam = world.camera
    add = world.add
    add(ground_rect("sidewalk", -60, 60, z, z + 1.5, pal.concrete, "concrete", 5.0))
    add(ground_rect("verge", -60, 60, z + 1.5, z + 2.2, pal.lawn, "grass", 10.0))
    add(ground_rect("street", -60, 60, z + 2.2, z + 9.4, pal.asphalt, "road", 6.0))
    dash = rgb(200, 190, 120)
    for x in np.arange(-60, 60, 6.0):
        add(ground_rect("dash", x, x + 3.0, z + 5.75, z + 5.85, dash, "paint"))
    add(ground_rect("far_sidewalk", -60, 60, z + 9.4, z + 10.9, pal.concrete, "concrete", 5.0))
    add(ground_rect("far_lawn", -60, 60, z + 10.9, houses_at + 8, shade(pal.lawn, 0.95), "grass", 10.0))
    x = float(rng.uniform(-40, -30))
    while x < 40:
        width = float(rng.uniform(7, 11))
        colour = jitter(SIDING[int(rng.integers(len(SIDING)))], rng)
        roof = ROOF[int(rng.integers(len(ROOF)))]
        add(far_house("house", x, x + width, houses_at + float(rng.uniform(0, 2)), float(rng.uniform(2.8, 5.6)), colour, roof,
                      rng, lit=lit and rng.random() < 0.6))
        if rng.random() < 0.7:
            add(tree("tree", cam, x + width + 1.5, houses_at - 1.5, float(rng.uniform(5, 8)), float(rng.uniform(1.6, 2.6)),
                     pal.leaf, rng, occludes=False))
        x += width + float(rng.uniform(3, 6))
    world.routes["lane"] = [(-60.0, z + 4.0), (60.0, z + 4.0)]
    world.routes["far_lane"] = [(60.0, z + 7.6), (-60.0, z + 7.6)]
    # where a car pulls up: at the kerb, in the middle part of the picture (not at its edge), under a street lamp
    world.anchors["curb"] = (cam.x_at_u(float(rng.uniform(0.35, 0.65)) * cam.width, z + 3.2), z + 3.2)
    lamp = (world.anchors["curb"][0] + 2.2, z + 1.85)
    add(box("lamp_post", cam, lamp, (0.12, 4.6, 0.12), rgb(70, 70, 72)))
    add(box("lamp_head", cam, (lamp[0], lamp[1] + 0.5), (0.25, 0.18, 0.6), rgb(235, 225, 190), y0=4.5, material="light"))
    world.pools.append(lamp)


def _bush(world: World, pal: Palette, rng: np.random.Generator, x: float, z: float, size: float) -> None:
    from .world import billboard

    el = Element("bush", [Poly(billboard(world.camera, (x, size * 0.6, z), size, rng, 12, 0.75), shade(pal.leaf, 0.9), "foliage",
                              16.0)], footprint=[((x - size / 2, z), (x + size / 2, z))], ref=(x, z))
    world.add(el)


def _pass_routes(world: World, depths: dict[str, float]) -> None:
    for key, z in depths.items():
        left, right = _edges(world.camera, z)
        world.routes[f"pass_{key}"] = [(left, z), (right, z)]


def front_porch(rng: np.random.Generator, cam: Camera, pal: Palette, lit: bool) -> World:
    world = World(cam, [], {}, {}, CAMERA_NAMES["front_porch"], (-12, 12, 1.5, 14))
    add = world.add
    z0 = _nearest_ground(cam)
    add(ground_rect("lawn", -60, 60, -5, 14.5, pal.lawn, "grass", 12.0))
    porch = ground_rect("porch", -2.6, 2.6, -1, 2.9, pal.wood, "wood", 4.0)
    porch.lines = [Line((x, 0, -1), (x, 0, 2.9), shade(pal.wood, 0.75), 0.015) for x in np.arange(-2.6, 2.6, 0.16)]
    add(porch)
    add(ground_rect("step", -1.1, 1.1, 2.9, 3.7, shade(pal.concrete, 0.9), "concrete", 4.0))
    add(ground_rect("walk", -0.65, 0.65, 3.7, 14.5, pal.concrete, "concrete", 5.0))
    add(ground_rect("mat", -0.45, 0.45, z0 + 0.05, z0 + 0.65, rgb(60, 50, 40), "cloth", 6.0))
    _street_block(world, pal, rng, 14.5, lit, float(rng.uniform(30, 34)))
    wing_x = float(rng.uniform(-6.5, -4.8))
    add(wall("wing", (wing_x, 8.0), (wing_x, -1.0), 3.0, pal.siding, siding=0.22, windows=[(0.25, 0.42)], lit=lit))
    for side in (-1, 1):
        add(box("post", cam, (side * 2.5, 2.8), (0.14, 2.9, 0.14), jitter(rgb(205, 200, 190), rng)))
        add(fence("rail", (side * 2.5, 2.8), (side * 1.15, 2.8), 0.9, rgb(215, 210, 200), solid=False))
        add(fence("rail", (side * 2.55, 0.0), (side * 2.5, 2.75), 0.9, rgb(215, 210, 200), solid=False))
        _bush(world, pal, rng, side * float(rng.uniform(1.6, 2.2)), 3.6, float(rng.uniform(0.45, 0.7)))
    world.lights.append((0.0, 2.5, 0.3))
    a = world.anchors
    a.update(door=(float(rng.uniform(-0.2, 0.2)), z0 + 0.85), mat=(float(rng.uniform(-0.25, 0.25)), z0 + 0.35),
             window=(wing_x + 0.45, 8.0 - 9.0 * 0.335), loiter=(float(rng.uniform(-2.5, 2.5)), float(rng.uniform(6, 9))),
             fence=(2.5 - 0.65, 2.8), crouch=(1.6, 4.2))
    a["park"] = a["curb"]
    world.headings.update(window=-np.pi / 2, park=np.pi / 2)
    left, right = _edges(cam, 15.2)
    world.routes["approach"] = [(left if rng.random() < 0.5 else right, 15.2), (0.0, 15.2), (0.0, 3.3), a["door"]]
    world.routes["loop"] = [(wing_x + 0.6, 9.0), (wing_x - 1.5, 9.0), (wing_x - 1.5, -3.0), (8.0, -3.0), (8.0, 6.0), (2.0, 8.0)]
    _pass_routes(world, {"near": 5.5, "mid": 15.2, "far": 17.6})
    return world


def walkway(rng: np.random.Generator, cam: Camera, pal: Palette, lit: bool) -> World:
    world = World(cam, [], {}, {}, CAMERA_NAMES["walkway"], (-10, 10, 1.5, 11.5))
    add = world.add
    z0 = _nearest_ground(cam)
    gate = float(rng.uniform(11, 13))
    add(ground_rect("lawn", -60, 60, -5, gate + 0.5, pal.lawn, "grass", 12.0))
    walk = ground_rect("walk", -0.7, 0.7, -1, gate + 0.5, shade(pal.concrete, 0.95), "concrete", 5.0)
    walk.lines = [Line((-0.7, 0, z), (0.7, 0, z), shade(pal.concrete, 0.7), 0.015) for z in np.arange(0, gate, 0.9)]
    add(walk)
    _street_block(world, pal, rng, gate + 0.5, lit, gate + float(rng.uniform(17, 21)))
    white = rgb(225, 222, 215)
    add(fence("picket", (-30, gate), (-0.8, gate), 0.9, white, solid=False, posts=2.0))
    add(fence("picket", (0.8, gate), (30, gate), 0.9, white, solid=False, posts=2.0))
    for side in (-1, 1):  # the gateway in the picket fence
        add(box("gate", cam, (side * 0.86, gate), (0.13, 1.2, 0.13), white))
    hedge_h = float(rng.uniform(0.6, 0.9))
    for side in (-1, 1):
        add(hedge("hedge", cam, (side * 1.3, float(z0 + 2.5)), (side * 1.3, gate - 2.0), hedge_h, pal.leaf, rng))
    add(box("lamp", cam, (1.9, gate - 3.0), (0.1, 2.3, 0.1), rgb(40, 40, 42)))
    add(box("lamp_head", cam, (1.9, gate - 3.0), (0.3, 0.35, 0.3), rgb(235, 225, 190), y0=2.3, material="light"))
    garage_x = float(rng.uniform(5.5, 7.5))
    add(wall("garage_side", (garage_x, -1.0), (garage_x, 7.0), 2.8, pal.siding, siding=0.2, windows=[(0.5, 0.7)], lit=lit))
    world.lights += [(1.9, 2.45, gate - 3.0), (0.0, 2.6, 0.3)]
    a = world.anchors
    a.update(door=(float(rng.uniform(-0.2, 0.2)), z0 + 0.8), mat=(float(rng.uniform(-0.2, 0.2)), z0 + 0.35),
             window=(garage_x - 0.45, 3.0), loiter=(float(rng.uniform(-0.4, 0.4)), gate - 3.5), fence=(3.0, gate),
             crouch=(0.0, gate - 4.0))
    a["park"] = a["curb"]
    world.headings.update(window=np.pi / 2, park=np.pi / 2)
    left, right = _edges(cam, gate + 1.2)
    world.routes["approach"] = [(left if rng.random() < 0.5 else right, gate + 1.2), (0.0, gate + 1.2), a["door"]]
    world.routes["loop"] = [(-2.5, 6.0), (-8.0, 6.0), (-8.0, -3.0), (garage_x + 2.0, -3.0), (garage_x + 2.0, 9.0), (2.0, 9.0)]
    _pass_routes(world, {"near": 4.5, "mid": gate + 1.2, "far": gate + 4.2})
    return world


def driveway(rng: np.random.Generator, cam: Camera, pal: Palette, lit: bool) -> World:
    world = World(cam, [], {}, {}, CAMERA_NAMES["driveway"], (-6, 9, 1.5, 15))
    add = world.add
    end = float(rng.uniform(14, 17))
    add(ground_rect("lawn", -60, 60, -5, end, pal.lawn, "grass", 12.0))
    drive = ground_rect("driveway", -1.8, 4.2, -1, end, shade(pal.concrete, 1.04), "concrete", 5.0)
    drive.lines = [Line((-1.8, 0, z), (4.2, 0, z), shade(pal.concrete, 0.72), 0.02) for z in np.arange(3, end, 3.0)]
    drive.lines.append(Line((1.2, 0, -1), (1.2, 0, end), shade(pal.concrete, 0.72), 0.02))
    add(drive)
    _street_block(world, pal, rng, end, lit, end + float(rng.uniform(16, 20)))
    side_x = float(rng.uniform(-4.6, -3.6))
    door_z = 7.5 - 8.5 * 0.325
    add(ground_rect("path", side_x, -1.8, door_z - 0.6, door_z + 0.6, pal.concrete, "concrete", 5.0))
    add(wall("house_side", (side_x, 7.5), (side_x, -1.0), 3.1, pal.siding, siding=0.22, windows=[(0.05, 0.18)],
             door=(0.27, 0.38), lit=lit))
    add(box("mailbox", cam, (5.0, end - 0.3), (0.12, 1.1, 0.12), rgb(50, 50, 52)))
    add(box("mailbox_top", cam, (5.0, end - 0.3), (0.25, 0.25, 0.5), rgb(40, 40, 45), y0=1.1))
    for z in np.arange(1.5, 7.0, 1.4):
        size = float(rng.uniform(0.35, 0.5))
        if abs(z - door_z) > 0.8:  # not in front of the door
            _bush(world, pal, rng, side_x + 0.55, float(z), size)
    world.lights.append((side_x + 0.2, 2.4, door_z))
    a = world.anchors
    a.update(door=(side_x + 0.5, door_z), window=(side_x + 0.5, 6.5), park=(1.2, float(rng.uniform(6.5, 8.0))),
             loiter=(float(rng.uniform(0, 3)), float(rng.uniform(8, 11))), fence=(6.5, 5.0), crouch=(3.0, 6.0))
    a["mat"] = (side_x + 0.75, door_z - 0.2)
    world.headings.update(door=-np.pi / 2, window=-np.pi / 2, park=np.pi)
    left, right = _edges(cam, end + 0.7)
    world.routes["approach"] = [(right, end + 0.7), (2.0, end + 0.7), (1.0, 4.0), a["door"]]
    world.routes["drive_in"] = [(-60.0, end + 4.0), (-6.0, end + 4.0), (0.0, end + 3.0), (1.2, end), a["park"]]
    world.routes["loop"] = [(5.0, 8.0), (9.0, 5.0), (9.0, -3.0), (side_x - 3.0, -3.0), (side_x - 3.0, 9.0), (0.0, 10.0)]
    _pass_routes(world, {"near": 4.0, "mid": end + 0.7, "far": end + 4.2})
    return world


def street(rng: np.random.Generator, cam: Camera, pal: Palette, lit: bool) -> World:
    world = World(cam, [], {}, {}, CAMERA_NAMES["street"], (-15, 15, 1.5, 20))
    add = world.add
    walk = float(rng.uniform(3.5, 5.0))
    add(ground_rect("lawn", -60, 60, -5, walk, pal.lawn, "grass", 12.0))
    add(ground_rect("path", -0.6, 0.6, -1, walk, pal.concrete, "concrete", 5.0))
    _street_block(world, pal, rng, walk, lit, walk + float(rng.uniform(16, 19)))
    add(hedge("hedge", cam, (-14, walk - 0.6), (-1.5, walk - 0.6), float(rng.uniform(0.7, 1.0)), pal.leaf, rng))
    add(tree("tree", cam, float(rng.uniform(4, 7)), walk + 1.85, float(rng.uniform(5, 7)), 1.8, pal.leaf, rng))
    add(box("pole", cam, (-5.0, walk + 1.7), (0.14, 5.0, 0.14), rgb(70, 70, 72)))
    world.lights.append((-5.0, 5.0, walk + 1.7))
    a = world.anchors
    z0 = _nearest_ground(cam)
    a.update(door=(0.0, z0 + 0.9), mat=(0.2, z0 + 0.4), window=(-4.0, z0 + 1.0), park=a["curb"],
             loiter=(float(rng.uniform(-3, 3)), walk + 0.6), fence=(-6.0, walk - 0.6), crouch=(2.0, walk + 0.6))
    world.headings.update(park=np.pi / 2)
    left, right = _edges(cam, walk + 0.7)
    world.routes["approach"] = [(right, walk + 0.7), (0.0, walk + 0.7), a["door"]]
    world.routes["loop"] = [(-3.0, 4.0), (-12.0, 3.0), (-12.0, -3.0), (12.0, -3.0), (12.0, 4.0), (3.0, 5.0)]
    _pass_routes(world, {"near": max(z0 + 1.2, walk - 1.2), "mid": walk + 0.7, "far": walk + 5.6})
    return world


def backyard(rng: np.random.Generator, cam: Camera, pal: Palette, lit: bool) -> World:
    world = World(cam, [], {}, {}, CAMERA_NAMES["backyard"], (-8, 8, 1.5, 13))
    add = world.add
    back = float(rng.uniform(10, 13))
    add(ground_rect("beyond", -60, 60, back, back + 40, shade(pal.lawn, 0.8), "grass", 12.0))
    add(ground_rect("alley", -60, 60, back + 4, back + 8, pal.asphalt, "road", 6.0))
    add(ground_rect("lawn", -60, 60, -5, back, pal.lawn, "grass", 12.0))
    patio = ground_rect("patio", -4.0, 4.0, -1, 5.0, rgb(150, 135, 120), "concrete", 6.0)
    patio.lines = ([Line((x, 0, -1), (x, 0, 5.0), rgb(110, 100, 90), 0.015) for x in np.arange(-4, 4.01, 0.6)]
                   + [Line((-4, 0, z), (4, 0, z), rgb(110, 100, 90), 0.015) for z in np.arange(-1, 5.01, 0.6)])
    add(patio)
    for _ in range(int(rng.integers(2, 4))):
        add(tree("tree", cam, float(rng.uniform(-14, 14)), back + float(rng.uniform(2.5, 9)), float(rng.uniform(6, 9)),
                 float(rng.uniform(2.0, 3.0)), pal.leaf, rng, occludes=False))
    wood = jitter(rgb(140, 105, 70), rng)
    add(fence("back_fence", (-30, back), (30, back), 1.8, wood))
    wing_x = float(rng.uniform(-7, -5))
    add(fence("side_fence", (8.5, back), (8.5, -1), 1.8, shade(wood, 0.95)))
    add(box("shed", cam, (float(rng.uniform(-3.5, -2)), back - 2.0), (2.4, 2.3, 1.8), jitter(rgb(150, 140, 120), rng),
            material="wood", texture=4.0))
    add(wall("wing", (wing_x, 6.0), (wing_x, -1.0), 3.0, pal.siding, siding=0.22, windows=[(0.3, 0.5)], lit=lit))
    add(box("grill", cam, (2.8, 2.2), (0.9, 1.0, 0.6), rgb(45, 45, 48), material="metal"))
    world.lights.append((0.0, 2.6, 0.3))
    z0 = _nearest_ground(cam)
    fx = float(rng.uniform(0.0, 5.0))
    add(fence("gate", (fx - 0.55, back - 0.03), (fx + 0.55, back - 0.03), 1.85, shade(wood, 1.18)))
    a = world.anchors
    a.update(door=(0.0, z0 + 0.85), mat=(0.3, z0 + 0.35), window=(wing_x + 0.45, 3.5),
             loiter=(float(rng.uniform(-2, 3)), float(rng.uniform(6, 9))), fence=(fx, back), crouch=(2.0, 3.2),
             park=(float(rng.uniform(-3, 3)), back + 6.0))
    world.headings.update(window=-np.pi / 2, park=np.pi / 2)
    world.routes["approach"] = [(fx, back - 0.3), (fx, back - 1.2), (0.5, 4.0), a["door"]]  # in through a gate
    world.routes["loop"] = [(wing_x + 0.6, 8.0), (wing_x - 1.5, 8.0), (wing_x - 1.5, -3.0), (7.5, -3.0), (7.5, 6.0), (2.0, 7.0)]
    world.routes["lane"] = [(-60.0, back - 2.5), (60.0, back - 2.5)]  # across the lawn; the alley is hidden by the fence
    world.routes["far_lane"] = [(60.0, back + 6.0), (-60.0, back + 6.0)]
    _pass_routes(world, {"near": 4.5, "mid": back - 4.0, "far": back - 1.1})  # far: along the inside of the back fence
    return world


def side_yard(rng: np.random.Generator, cam: Camera, pal: Palette, lit: bool) -> World:
    world = World(cam, [], {}, {}, CAMERA_NAMES["side_yard"], (-0.8, 2.4, 1.5, 13))
    add = world.add
    end = float(rng.uniform(13, 16))
    add(ground_rect("beyond", -60, 60, -5, end + 30, shade(pal.lawn, 0.85), "grass", 12.0))
    gravel = ground_rect("gravel", -1.4, 3.0, -1, end, rgb(150, 145, 138), "gravel", 22.0)
    add(gravel)
    add(ground_rect("stones", -0.2, 0.9, -1, end, shade(pal.concrete, 0.92), "concrete", 6.0))
    for _ in range(2):
        add(tree("tree", cam, float(rng.uniform(-8, 8)), end + float(rng.uniform(4, 9)), float(rng.uniform(6, 8)), 2.4,
                 pal.leaf, rng, occludes=False))
    add(far_house("neighbour", -9, 1.0, end + float(rng.uniform(9, 12)), 4.6, jitter(SIDING[1], rng), ROOF[0], rng, lit=lit))
    wood = jitter(rgb(135, 100, 65), rng)
    add(fence("end_fence", (-1.2, end), (3.0, end), 1.25, wood))     # low enough to see a car or a walker beyond
    add(fence("gate", (0.35, end - 0.03), (1.45, end - 0.03), 1.3, shade(wood, 1.18)))
    add(fence("right_fence", (3.0, end * 0.45), (3.0, -1.0), 1.9, shade(wood, 0.92)))
    add(ground_rect("driveway", 3.1, 6.6, end * 0.45, end + 4.0, shade(pal.concrete, 0.98), "concrete", 5.0))  # the open side
    add(wall("house_side", (-1.2, end + 2.0), (-1.2, -1.0), 3.0, pal.siding, siding=0.2,
             windows=[(0.18, 0.28), (0.62, 0.72)], door=(0.45, 0.52), lit=lit))
    bins_z = float(rng.uniform(3, 5))
    add(box("bin", cam, (-0.85, bins_z), (0.6, 1.05, 0.6), rgb(40, 60, 45), material="plastic"))
    add(box("bin", cam, (-0.85, bins_z + 0.7), (0.6, 1.05, 0.6), rgb(45, 45, 50), material="plastic"))
    add(box("utility", cam, (-0.9, end * 0.75), (0.6, 0.7, 0.7), rgb(170, 170, 165), material="metal"))  # AC unit
    add(box("meter", cam, (-1.13, end * 0.6), (0.1, 0.36, 0.3), rgb(150, 152, 150), y0=1.25, material="metal"))
    world.lights.append((-1.1, 2.3, end * 0.5))
    a = world.anchors
    door_z = end + 2.0 - (end + 3.0) * 0.485
    a.update(door=(-0.7, door_z), mat=(-0.55, door_z - 0.4), window=(-0.7, end + 2.0 - (end + 3.0) * 0.67),
             loiter=(0.9, float(rng.uniform(6, 9))), fence=(3.0, float(rng.uniform(2, end * 0.4))), crouch=(0.6, bins_z + 1.5),
             park=(4.85, end * 0.72))
    a["utility"] = (-0.6, end * 0.75)
    world.headings.update(door=-np.pi / 2, window=-np.pi / 2, park=np.pi, utility=-np.pi / 2)
    world.routes["drive_in"] = [(60.0, end + 6.0), (10.0, end + 6.0), (4.85, end + 2.0), a["park"]]
    world.routes["approach"] = [(1.2, end - 0.3), (1.9, door_z + 2.0), (0.9, door_z + 0.8), a["door"]]
    # walks keep to the fence side of the passage: the camera on the house side sees them at an angle
    world.routes["pass_near"] = world.routes["pass_mid"] = [(1.3, end - 0.3), (2.0, 0.2)]
    world.routes["pass_far"] = [(1.9, end - 0.4), (0.2, end * 0.45)]  # the far half of the passage
    world.routes["from_park"] = [(2.2, end * 0.6), (0.9, door_z + 0.8), a["door"]]
    world.routes["cross"] = [(1.0, end - 0.3), (2.1, 0.4)]
    world.routes["loop"] = [(0.9, end - 1.0), (0.9, 4.0), (0.9, -3.0), (-12.0, -3.0), (-12.0, end + 3.0), (0.9, end - 0.5)]
    world.routes["lane"] = [(-60.0, end + 6.0), (60.0, end + 6.0)]
    return world


def garage(rng: np.random.Generator, cam: Camera, pal: Palette, lit: bool) -> World:
    world = World(cam, [], {}, {}, CAMERA_NAMES["garage"], (-2.5, 2.5, 1.5, 12))
    add = world.add
    depth = float(rng.uniform(6.0, 7.0))
    world.indoor_within = depth + 0.8
    add(ground_rect("drive", -60, 60, depth, depth + 40, pal.lawn, "grass", 12.0))
    add(ground_rect("drive", -3.0, 3.0, depth, depth + 11, pal.concrete, "concrete", 5.0))
    _street_block(world, pal, rng, depth + 11, lit, depth + float(rng.uniform(27, 31)))
    floor = ground_rect("floor", -3.2, 3.2, -1, depth, rgb(125, 122, 118), "concrete", 7.0)
    floor.lines = [Line((-3.2, 0, depth * 0.5), (3.2, 0, depth * 0.5), rgb(95, 92, 90), 0.02)]
    add(floor)
    inside = jitter(rgb(185, 180, 170), rng)
    header = np.array([[-3.2, 2.2, depth], [3.2, 2.2, depth], [3.2, 2.9, depth], [-3.2, 2.9, depth]])
    add(Element("header", [Poly(header, shade(inside, 0.8), "wall", 3.0)], ref=(0.0, depth)))
    ceiling = np.array([[-3.2, 2.9, -1.0], [3.2, 2.9, -1.0], [3.2, 2.9, depth], [-3.2, 2.9, depth]])
    add(Element("ceiling", [Poly(ceiling, shade(inside, 0.7), "wall", 3.0)], ref=(0.0, depth * 0.6)))
    add(wall("left_wall", (-3.2, depth), (-3.2, -1.0), 2.9, inside))
    add(wall("right_wall", (3.2, -1.0), (3.2, depth), 2.9, shade(inside, 0.92), door=(0.62, 0.75)))
    add(box("shelf", cam, (-2.85, 2.5), (0.6, 1.9, 2.4), rgb(90, 80, 70), material="wood", texture=8.0))
    add(box("bench", cam, (-2.8, depth - 1.6), (0.7, 0.95, 1.6), rgb(110, 85, 60), material="wood"))
    world.elements[-1].lines = stripes((-2.55, 1.3), (-2.55, 3.7), 0.0, 1.9, 0.45, rgb(60, 50, 45), 0.03)
    world.lights.append((0.0, 2.7, 2.5))
    a = world.anchors
    door_z = -1.0 + (depth + 1.0) * 0.685
    a.update(door=(2.75, door_z), window=(0.0, depth + 8.0), park=(0.3, depth + float(rng.uniform(3.2, 4.2))),
             loiter=(0.0, depth + 3.0), fence=(-3.0, depth + 6.0), crouch=(-1.6, 2.6), mat=(2.4, door_z))
    world.headings.update(door=np.pi / 2, window=0.0, park=np.pi)
    world.routes["approach"] = [(0.5, depth + 9.0), (0.5, depth - 1.0), a["door"]]
    world.routes["drive_in"] = [(-60.0, depth + 15.0), (-5.0, depth + 15.0), (0.0, depth + 10.0), a["park"]]
    world.routes["loop"] = [(0.0, depth + 2.0), (-5.0, depth + 2.0), (-5.0, -3.0), (5.0, -3.0), (5.0, depth + 2.0), (0.5, depth + 3.0)]
    _pass_routes(world, {"near": depth + 1.5, "mid": depth + 6.0, "far": depth + 11.0})
    return world


# layout -> (builder, camera x, height range, yaw range, pitch range)
LAYOUTS = {
    "front_porch": (front_porch, 0.0, (2.9, 3.4), (-8, 8), (24, 30)),
    "walkway": (walkway, 0.0, (3.3, 3.9), (-7, 7), (25, 31)),
    "driveway": (driveway, 0.0, (3.3, 3.9), (-4, 12), (24, 30)),
    "street": (street, 0.0, (4.4, 5.4), (-22, -12), (26, 31)),
    "backyard": (backyard, 0.0, (3.0, 3.5), (-8, 8), (19, 25)),
    "side_yard": (side_yard, 0.0, (2.8, 3.3), (-4, 6), (22, 28)),
    "garage": (garage, 0.0, (2.4, 2.7), (-6, 6), (12, 18)),
}


def _in_frame(cam: Camera, p: tuple[float, float]) -> bool:
    if cam.depth_of(*p) < 1.0:
        return False
    u, v = cam.point(p[0], 0.0, p[1])
    return 0.05 * cam.width < u < 0.95 * cam.width and 0.12 * cam.height < v < 0.97 * cam.height


def build_world(layout: str, rng: np.random.Generator, width: int, height: int, distance: str, lit: bool) -> World:
    """The seeded world for one clip: a few camera draws, keeping the first that shows the
    places actions use (door, mat, window, loiter spot; parking and fence count as a bonus)."""
    builder, x, h, yaw, pitch = LAYOUTS[layout]
    best: tuple[int, World] | None = None
    for _ in range(8):
        sub = np.random.Generator(np.random.PCG64(int(rng.integers(2**63))))
        cam = _camera(sub, width, height, x, h, yaw, pitch, ZOOM.get(distance, 1.0))
        world = builder(sub, cam, Palette.draw(sub), lit)
        world.lights += [(x, 4.6, z + 0.5) for x, z in world.pools]   # after the porch light (lights[0])
        a = world.anchors
        must = sum(_in_frame(cam, a[k]) for k in ("door", "mat", "window", "loiter") if k in a)
        score = 10 * must + sum(_in_frame(cam, a[k]) for k in ("park", "fence", "crouch") if k in a)
        if best is None or score > best[0]:
            best = (score, world)
        if must == 4:
            break
    return best[1]  # type: ignore[index]
