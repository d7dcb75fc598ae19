"""Expectations from names, flags and manifests; thresholds from files."""

from __future__ import annotations

from fractions import Fraction

import pytest

from synthcam.errors import InputError
from synthcam.manifest import load_manifest
from synthcam.verify import Expectation, Expectations, Thresholds, load_thresholds, parse_name


@pytest.mark.parametrize(("name", "parsed"), [
    ("P01_5s.mp4", ("P01", 5)), ("front_door_30s.mp4", ("front_door", 30)), ("a-b_10s.MP4", ("a-b", 10)),
    ("dir/x/T01_300s.mp4", ("T01", 300)),
    ("P01.mp4", None), ("P01_5.mp4", None), ("P01_0s.mp4", None), ("_5s.mp4", None), ("P01 5s.mp4", None),
    ("café_5s.mp4", None), ("P01_05s.mp4", None),
])
def test_parse_name(name, parsed):
    assert parse_name(name) == parsed


def test_expected_frames():
    assert Expectation(duration_s=5).expected_frames == 120
    assert Expectation(fps=16, duration_s=5).expected_frames == 80
    assert Expectation(fps=Fraction(30000, 1001), duration_s=10).expected_frames == 300
    assert Expectation(duration_s=5, frames=93).expected_frames == 93
    assert Expectation().expected_frames is None


def test_names_without_manifest():
    rules = Expectations(Expectation(fps=16))
    e, found = rules.for_path("x/P01_10s.mp4")
    assert (e.id, e.duration_s, e.expected_frames, found) == ("P01", 10, 160, [])
    e, found = rules.for_path("x/clip.mp4")
    assert e.duration_s is None and [f.kind for f in found] == ["bad_name"]
    assert rules.expected_durations("P01", {5, 10}) == [5, 10]
    assert Expectations(Expectation(), default_durations=[30, 5]).expected_durations("P01", {5}) == [5, 30]


@pytest.fixture
def small_manifest(tmp_path, mini_manifest_path):
    text = mini_manifest_path.read_text().replace("1280x704", "320x176").replace("durations: [5, 10, 30]", "durations: [2]")
    path = tmp_path / "small.yaml"
    path.write_text(text.replace("durations: [5, 10]", "durations: [1, 2]"))
    m = load_manifest(path)
    assert {v.name for v in m.variants()} == {"P01_2s", "T01_1s", "T01_2s"}, "mini.yaml changed shape"
    return path


def test_manifest_expectations(small_manifest):
    rules = Expectations.from_manifest(load_manifest(small_manifest))
    e, found = rules.for_path("out/T01_1s.mp4")
    assert found == [] and (e.id, e.duration_s, e.frames, e.width, e.height, e.expects_motion) == ("T01", 1, 24, 320, 176, True)
    _, found = rules.for_path("out/T01_7s.mp4")
    assert found[0].kind == "unexpected_file" and "no 7 s variant of T01 (it lists 1 s, 2 s)" in found[0].detail
    _, found = rules.for_path("out/Z99_2s.mp4")
    assert found[0].kind == "unexpected_file"
    assert rules.expected_durations("T01", {5}) == [1, 2] and sorted(rules.manifest_ids()) == ["P01", "T01"]


def test_thresholds_from_yaml_and_json(tmp_path):
    (tmp_path / "t.yaml").write_text("freeze_min_s: 3\ncut_hash_distance: 20\n")
    th = load_thresholds(tmp_path / "t.yaml")
    assert (th.freeze_min_s, th.cut_hash_distance, th.black_min_s) == (3.0, 20, Thresholds().black_min_s)
    (tmp_path / "t.json").write_text('{"static_min_moving": 0.5}')
    assert load_thresholds(tmp_path / "t.json").static_min_moving == 0.5
    assert load_thresholds(_write(tmp_path / "e.yaml", "")) == Thresholds()


def _write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "needle"), [
    ("freeze_min: 3\n", "unknown threshold"),
    ("freeze_min_s: -1\n", "freeze_min_s"),
    ("- 1\n", "mapping"),
    ("a: [\n", "not valid YAML"),
])
def test_bad_thresholds_are_usage_errors(tmp_path, text, needle):
    with pytest.raises(InputError, match=needle):
        load_thresholds(_write(tmp_path / "t.yaml", text))


def test_missing_thresholds_file(tmp_path):
    with pytest.raises(InputError, match="no such thresholds file"):
        load_thresholds(tmp_path / "none.yaml")


def test_every_threshold_documents_its_reason():
    for name, field in Thresholds.model_fields.items():
        assert field.description and len(field.description) > 40, name
