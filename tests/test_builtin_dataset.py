"""The built-in dataset and the quickstart example: counts, groups, lint, coverage, reuse."""

from __future__ import annotations

import importlib.util
import itertools
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from synthcam.lint import lint_manifest
from synthcam.manifest import Clip, Manifest, load_manifest

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "examples" / "quickstart.yaml"
SCRIPT = ROOT / "scripts" / "coverage_matrix.py"

GROUPS = [  # (series, first, last, group)
    ("P", 1, 12, "threat_escalation"),
    ("P", 13, 24, "cross_camera"),
    ("P", 25, 36, "household_recognition"),
    ("P", 37, 48, "vehicle_person"),
    ("T", 1, 10, "threat_patterns"),
    ("T", 11, 18, "tracking_sequences"),
    ("T", 19, 26, "enrichment_stress"),
    ("T", 27, 34, "edge_cases"),
    ("T", 35, 40, "false_positives"),
]
WEAPONS = {"handgun", "knife", "baseball_bat", "crowbar"}
ANIMALS = {"dog", "cat", "deer", "raccoon", "coyote"}


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return load_manifest()


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location("coverage_matrix", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def _ids(series: str, first: int, last: int) -> list[str]:
    return [f"{series}{n:02d}" for n in range(first, last + 1)]


def _classes(m: Manifest, clip: Clip) -> Counter[str]:
    if clip.expected_objects is not None:
        return Counter(clip.expected_objects)
    total: Counter[str] = Counter()
    for name in clip.subjects:
        total.update(m.components.subjects[name].classes)
    return total


def _factors(m: Manifest, clip: Clip) -> dict[str, str]:
    classes = {k for k, n in _classes(m, clip).items() if n > 0}
    person = "person" in classes
    if "bicycle" in classes:
        obj = "bicycle"
    elif person and classes & {"vehicle", "motorcycle"}:
        obj = "person_vehicle"
    elif person and "package" in classes:
        obj = "person_package"
    elif person and classes & ANIMALS:
        obj = "person_animal"
    elif person:
        obj = "person"
    elif classes & {"vehicle", "motorcycle"}:
        obj = "vehicle"
    elif classes & ANIMALS:
        obj = "animal"
    elif "package" in classes:
        obj = "package"
    else:
        obj = "none"
    env = m.components.environments[clip.environment]
    if "headlights" in env.effects:
        lighting = "headlights"
    elif "sun_glare" in env.effects:
        lighting = "glare"
    else:
        lighting = "night_ir" if env.time_of_day == "night" else env.time_of_day
    return {
        "object": obj,
        "lighting": lighting,
        "weather": env.weather,
        "distance": clip.distance,
        "occlusion": clip.occlusion,
        "layout": m.components.scenes[clip.scene].layout,
    }


def test_counts(manifest: Manifest) -> None:
    counts = manifest.counts()
    assert counts["ids"] == 207
    assert counts["clips"] == 621
    assert counts["by_series"] == {"P": 144, "T": 120, "C": 357}
    assert counts["by_duration"] == {"5": 207, "10": 207, "30": 207}
    ids = [c.id for c in manifest.clips]
    assert ids == _ids("P", 1, 48) + _ids("T", 1, 40) + _ids("C", 1, 119)
    assert manifest.model.name == "synthcam-security"
    d = manifest.defaults
    assert (d.fps, str(d.resolution), d.durations, d.model, d.timing, d.guidance, d.num_steps) == (
        24, "1280x704", [5, 10, 30], "2B/post-trained", "interpolate", 7, 35)


def test_groups_and_metadata(manifest: Manifest) -> None:
    by_id = {c.id: c for c in manifest.clips}
    for series, first, last, group in GROUPS:
        for clip_id in _ids(series, first, last):
            assert by_id[clip_id].group == group, clip_id
    for clip in manifest.clips:
        assert clip.prompt is None, f"{clip.id} must be composed from components"
        assert re.fullmatch(r"[a-z0-9]+(?:_[a-z0-9]+)*", clip.scenario), clip.id
        assert clip.purpose.strip() and clip.description.strip(), clip.id
        if clip.id.startswith("C"):
            assert clip.group.startswith("coverage_"), clip.id
    escalation = [by_id[i].expected_risk for i in _ids("P", 1, 12)]
    assert set(escalation) == {"low", "medium", "high", "critical"}
    assert escalation[0] == "low" and escalation[-1] == "critical"
    assert {by_id[i].expected_risk for i in _ids("T", 1, 10)} <= {"high", "critical"}
    found = set().union(*(_classes(manifest, by_id[i]) for i in _ids("T", 1, 10)))
    assert WEAPONS <= found


def test_lint_is_clean(manifest: Manifest) -> None:
    report = lint_manifest(manifest)
    assert report.clips == 621
    assert report.findings == [], report.by_rule()


def test_every_action_is_paced_for_each_length(manifest: Manifest) -> None:
    for name, action in manifest.components.actions.items():
        assert set(action.pacing) == {5, 10, 30}, name
        words = [len(action.pacing[d].split()) for d in (5, 10, 30)]
        assert words[0] < words[1] < words[2], f"{name}: longer clips need longer actions ({words})"


def test_no_dead_components(manifest: Manifest) -> None:
    used: dict[str, set[str]] = defaultdict(set)
    for clip in manifest.clips:
        used["scenes"].add(clip.scene)
        used["environments"].add(clip.environment)
        used["actions"].add(clip.action)
        used["subjects"].update(clip.subjects)
    comps = manifest.components
    for kind in ("scenes", "environments", "subjects", "actions"):
        unused = set(getattr(comps, kind)) - used[kind]
        assert not unused, f"unused {kind}: {sorted(unused)}"


def test_coverage_matrix_is_pairwise(manifest: Manifest, generator) -> None:
    # Levels come from the generator; each clip's levels are derived here from its components.
    levels: dict[str, list[str]] = generator.FACTORS
    assert [len(v) for v in levels.values()] == [8, 6, 6, 3, 3, 7]
    rows = [_factors(manifest, c) for c in manifest.clips if c.id.startswith("C")]
    assert len(rows) == 119
    for row in rows:
        for factor, level in row.items():
            assert level in levels[factor], (factor, level)
    seen = {(a, r[a], b, r[b]) for r in rows for a, b in itertools.combinations(levels, 2)}
    wanted = {(a, x, b, y) for a, b in itertools.combinations(levels, 2) for x in levels[a] for y in levels[b]}
    assert len(wanted) == 443
    missing = wanted - seen
    assert not missing, f"{len(missing)} pairs never appear, e.g. {sorted(missing)[:5]}"
    for factor, names in levels.items():  # balanced: no level more than twice as common as another
        counts = Counter(r[factor] for r in rows)
        assert max(counts.values()) <= 2 * min(counts[lv] for lv in names), (factor, counts)


def test_coverage_clips_are_benign_detection_cells(manifest: Manifest) -> None:
    for clip in manifest.clips:
        if clip.id.startswith("C"):
            assert clip.expected_risk in ("low", "medium"), clip.id
            assert not set(_classes(manifest, clip)) & WEAPONS, clip.id


def test_committed_section_is_what_the_script_generates(generator) -> None:
    assert generator.committed_section() == generator.section()


def test_cross_camera_subjects_recur_across_scenes(manifest: Manifest) -> None:
    clips = [manifest.clip(i) for i in _ids("P", 13, 24)]
    scenes: dict[str, set[str]] = defaultdict(set)
    for clip in clips:
        for subject in clip.subjects:
            scenes[subject].add(clip.scene)
    for clip in clips:
        for subject in clip.subjects:
            assert len(scenes[subject]) >= 3, f"{clip.id}: {subject} is seen in only {sorted(scenes[subject])}"
    assert len(scenes) >= 3, "the ReID demo needs several distinct people"


def test_household_faces_are_visible(manifest: Manifest) -> None:
    for clip_id in _ids("P", 25, 36):
        clip = manifest.clip(clip_id)
        people = [manifest.components.subjects[s] for s in clip.subjects]
        people = [s for s in people if s.kind == "person"]
        assert people, clip_id
        for subject in people:
            assert subject.appearance.face_visible is True, clip_id


def test_quickstart_loads_and_lints_clean() -> None:
    m = load_manifest(QUICKSTART)
    assert 4 <= len(m.clips) <= 8
    assert {c.series_name for c in m.clips} == {"P", "T", "C"}
    assert any(m.durations_for(c) == [5, 10, 30] for c in m.clips)
    report = lint_manifest(m)
    assert report.findings == [], report.by_rule()
