"""The fidelity audit: every rule fires on a clip broken on purpose, and passes the clips that
show their manifest (the quickstart among them).

Broken clips are made by changing a renderer after it has planned the clip and before it
draws: the subject moved out of the picture or far away, its script stretched past the end,
its colours set to its background, its weapon turned away from the target, its occluder
removed, a description naming what the scene does not have.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from synthcam.backends.procedural import audit_renderer, audit_variant, render_variant
from synthcam.backends.procedural.audit import AUDIT_KINDS, COLOUR_RE
from synthcam.backends.procedural.figures import Pose
from synthcam.backends.procedural.overlay import LETTERS, OUTLINE, Overlay
from synthcam.backends.procedural.render import Renderer, make_renderer
from synthcam.backends.procedural.stage import Static
from synthcam.backends.procedural.sweep import audit_dataset
from synthcam.manifest import load_manifest, load_manifest_text
from synthcam.prompts import Compiler
from synthcam.verify.report import KINDS

DATA = Path(__file__).parent / "data" / "procedural.yaml"
MANIFEST = load_manifest(DATA)
FULL = load_manifest_text(DATA.read_text().replace("resolution: 320x176", "resolution: 1280x704"), "full.yaml")


def renderer(clip_id: str, seconds: int = 2, manifest=MANIFEST) -> Renderer:
    variant = next(v for v in manifest.variants() if v.clip_id == clip_id and v.duration_s == seconds)
    return make_renderer(manifest, Compiler(manifest).compile(variant))


def kinds(r: Renderer, stride: int = 2) -> dict[str, str]:
    return {f.kind: f.detail for f in audit_renderer(r, stride=stride).findings}


def lead(r: Renderer):
    return next(a for a in r.cast.actors if a.role == "subject")


def test_audit_kinds_follow_the_content_kinds() -> None:
    assert KINDS[KINDS.index("scene_cut") + 1:] == AUDIT_KINDS


@pytest.mark.parametrize("clip_id", ["A01", "A02", "A10", "A19", "O01"])
def test_clips_that_show_their_manifest_pass(clip_id: str) -> None:
    assert kinds(renderer(clip_id)) == {}


def test_subject_out_of_frame() -> None:
    r = renderer("A01")
    x = r.cam.x_at_u(-0.6 * r.cam.width, 8.0)             # well left of the picture
    lead(r).timeline = Static(Pose(x, 8.0, 0.0))
    found = kinds(r)
    assert "out_of_frame" in found and "never in view" in found["out_of_frame"]


def test_action_cut_short() -> None:
    r = renderer("A02")
    script = lead(r).timeline
    assert script.time_of("drop") < 2.0
    for b in script.beats:                                  # the same delivery, three times slower
        b.seconds *= 3
    script.fit(script.duration)
    assert script.time_of("drop") > 2.0
    found = kinds(r)
    assert "cut_short" in found and "parcel being set down" in found["cut_short"]


def test_weapon_raised_away_from_its_target() -> None:
    r = renderer("A19")
    script = lead(r).timeline
    raise_beat = script.beats[script.marks["raise"]]
    assert kinds(r) == {}
    r = renderer("A19")
    script = lead(r).timeline
    for b in script.beats[script.marks["raise"]:]:
        if b.arms == raise_beat.arms and b.heading is not None:
            b.heading += math.pi / 2                        # aimed sideways, not at the door
    script.fit(script.duration)
    found = kinds(r)
    assert "cut_short" in found and "degrees away from the door" in found["cut_short"]


def test_prop_the_description_names_is_missing() -> None:
    r = renderer("A01")                                     # a front porch: no shed, no grill
    r.plan = replace(r.plan, description="A courier walks past the garden shed to the door.")
    found = kinds(r)
    assert "prop_missing" in found and "shed" in found["prop_missing"]
    r = renderer("A01")
    r.plan = replace(r.plan, description="A courier walks up to the front door past the railing.")
    assert "prop_missing" not in kinds(r)                   # the door and the porch railing are in view


def test_occluder_missing() -> None:
    r = renderer("O01")
    assert any(el.name.startswith("occluder") for el in r.world.elements)
    r.world.elements = [el for el in r.world.elements if not el.name.startswith("occluder")]
    r.plate = __import__("synthcam.backends.procedural.plate", fromlist=["render_plate"]).render_plate(
        r.world, r.look, np.random.default_rng(0))
    r._footprints = []
    found = kinds(r)
    assert "prop_missing" in found and "a low hedge is not in view" in found["prop_missing"]


def test_subject_too_small() -> None:
    r = renderer("A01", manifest=FULL)
    cam = r.cam
    z = 1.75 * cam.focal / 14.0                             # about 14 px tall: a speck for a detector
    lead(r).timeline = Static(Pose(cam.x_at_u(cam.width / 2, z), z, math.pi))
    found = kinds(r, stride=6)
    assert "too_small" in found and "median box" in found["too_small"]


def test_subject_too_low_contrast() -> None:
    r = renderer("A01")
    person = lead(r)
    r.cast.actors = [a for a in r.cast.actors if a.role != "item"]   # just the person, in the colour of the lawn
    spot = r.cam.ground_at(r.cam.width * 0.3, r.cam.height * 0.6)
    person.timeline = Static(Pose(spot[0], spot[1], math.pi))
    u, v = r.cam.point(spot[0], 0.8, spot[1])
    ground = tuple(int(c) for c in r.plate.image[int(v) - 6:int(v) + 6, int(u) - 6:int(u) + 6].reshape(-1, 3).mean(axis=0))
    person.look = replace(person.look, top=ground, bottom=ground, skin=ground, hair=ground, shoes=ground)
    found = kinds(r)
    assert "low_contrast" in found and "delta E" in found["low_contrast"]


def test_colour_a_night_picture_cannot_show() -> None:
    r = renderer("A03")                                     # night, infrared
    r.plan = replace(r.plan, description="A courier in an orange jacket leaves a parcel at the door.")
    found = kinds(r, stride=4)
    assert "ir_colour" in found and "orange" in found["ir_colour"]
    r = renderer("A02")                                     # the same words by day are fine
    r.plan = replace(r.plan, description="A courier in an orange jacket leaves a parcel at the door.")
    assert "ir_colour" not in kinds(r, stride=4)


def test_no_built_in_night_description_names_a_colour() -> None:
    m = load_manifest()
    envs = m.components.environments
    named = [(c.id, COLOUR_RE.findall(c.description)) for c in m.clips if envs[c.environment].time_of_day == "night"]
    assert [x for x in named if x[1]] == []


def test_render_records_the_audit(tmp_path: Path) -> None:
    compiled = Compiler(MANIFEST).compile(next(v for v in MANIFEST.variants() if v.name == "A02_2s"))
    result = render_variant(MANIFEST, compiled, tmp_path / "A02_2s.mp4")
    counts = json.loads(result.files["counts"].read_text())
    assert counts["audit"]["findings"] == [] and result.audit == []
    assert counts["audit"]["thresholds"]["min_contrast_delta_e"] == 12.0
    assert audit_variant(MANIFEST, compiled).findings == result.audit   # the same verdict without encoding


def test_dataset_report_has_a_row_per_series() -> None:
    report = audit_dataset(MANIFEST, ["A01", "A02", "N0*"], [2], stride=4)
    table = report.by_series()
    assert set(table) == {"A", "N", "all"}
    assert table["all"]["variants"] == 4 == table["all"]["passed"] + table["all"]["failed"]
    assert json.loads(json.dumps(report.to_json()))["variants"][0]["name"] == "A01_2s"


def test_burn_in_reads_on_any_background() -> None:
    """Pasted on a white (snow, pale sky) or a black (night) picture, every letter pixel is ringed
    by dark outline: the picture never touches the letters, so they read on both."""
    o = Overlay.for_clip("day", "FRONT PORCH", 3, 1280, 704, np.random.default_rng(1))
    pixels, mask = o.band(5.0, 1280)
    letters = pixels[..., 1] >= 200
    assert letters.sum() > 500 and (pixels[mask][:, 1] <= OUTLINE[1] + 2).sum() > letters.sum() / 2
    ring = np.zeros_like(letters)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            ring |= np.roll(np.roll(letters, dy, 0), dx, 1)
    ring &= ~letters
    assert not (ring & ~mask).any()                         # letters never meet the picture
    for level in (255, 0):
        picture = np.full_like(pixels, level)
        picture[mask] = pixels[mask]
        grey = picture[..., 1].astype(int)
        assert np.median(grey[letters]) >= LETTERS[1] - 10 and np.median(grey[ring]) <= 80


def test_coverage_descriptions_drop_colours_at_night() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("coverage_matrix", Path(__file__).parents[2] / "scripts" / "coverage_matrix.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.without_colours("a courier with a box, in a brown uniform shirt and an orange vest") == \
        "a courier with a box, in a uniform shirt and a vest"
    assert module.without_colours("a woman in a mustard-yellow coat and black boots") == "a woman in a coat and black boots"
    assert not re.search(r"\s{2}", module.without_colours("a small blue hatchback"))


@pytest.mark.slow
def test_quickstart_shows_its_manifest() -> None:
    report = audit_dataset(load_manifest("quickstart"), stride=2)
    assert report.ok, [(r.name, [f.detail for f in r.findings]) for r in report.rows if r.findings]
