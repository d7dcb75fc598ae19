"""Label derivation: declared facts and ground truth only, never a guess."""

from __future__ import annotations

import pytest

from synthcam.export.labels import (
    CATEGORY_LEVEL, RISK_CATEGORY, RISK_SCORES, ClipFacts, declared_counts, expected_labels, excerpt,
)
from synthcam.manifest import load_manifest

from gallery.qa_factory import QA_MANIFEST


@pytest.fixture(scope="module")
def facts() -> dict[str, ClipFacts]:
    m = load_manifest(QA_MANIFEST)
    return {c.id: ClipFacts.from_manifest(m, c) for c in m.clips}


def labels(facts: ClipFacts, truth: dict[str, int] | None = None):
    return expected_labels(facts, f"{facts.clip_id}_5s", "A porch at night. " * 30, "cosmos", truth)


def test_risk_decides_category_and_the_consumers_severity_bands() -> None:
    assert RISK_CATEGORY == {"low": "normal", "medium": "suspicious", "high": "suspicious", "critical": "threats"}
    assert RISK_SCORES == {"low": (0, 29), "medium": (30, 59), "high": (60, 84), "critical": (85, 100)}
    # bands tile 0-100 with no gap or overlap
    edges = sorted(RISK_SCORES.values())
    assert edges[0][0] == 0 and edges[-1][1] == 100
    assert all(a[1] + 1 == b[0] for a, b in zip(edges, edges[1:]))
    assert CATEGORY_LEVEL == {"normal": "low", "suspicious": "medium", "threats": "high"}


@pytest.mark.parametrize("clip_id, category, level, band", [
    ("P01", "normal", "low", (0, 29)), ("P02", "suspicious", "medium", (30, 59)),
    ("R01", "suspicious", "high", (60, 84)), ("T01", "threats", "critical", (85, 100)),
])
def test_risk_block(facts, clip_id: str, category: str, level: str, band: tuple[int, int]) -> None:
    lab = labels(facts[clip_id])
    assert (lab.category, lab.risk.level, (lab.risk.min_score, lab.risk.max_score)) == (category, level, band)


def test_detections_come_from_subjects_when_nothing_else_is_declared(facts) -> None:
    lab = labels(facts["P01"])
    assert [(d.class_, d.count, d.min_confidence) for d in lab.detections] == [("package", 1, 0.6), ("person", 1, 0.7)]
    assert lab.validation.detections_from == "subjects"


def test_expected_objects_override_the_subjects(facts) -> None:
    lab = labels(facts["T01"])
    assert [(d.class_, d.count) for d in lab.detections] == [("handgun", 1), ("person", 1)]
    assert lab.validation.detections_from == "expected_objects"


def test_ground_truth_wins_and_is_exact(facts) -> None:
    lab = labels(facts["P01"], truth={"person": 2, "package": 1, "car": 0})
    assert [(d.class_, d.count) for d in lab.detections] == [("car", 0), ("package", 1), ("person", 2)]
    assert lab.validation.detections_from == "ground_truth"


def test_a_dog_clip_expects_a_dog_and_no_vehicle(facts) -> None:
    """The old labels gave a cat clip a vehicle and a high threat level."""
    lab = labels(facts["E01"])
    assert [d.class_ for d in lab.detections] == ["dog"]
    assert (lab.category, lab.risk.level) == ("normal", "low")
    assert lab.face.model_dump() == {"detected": False, "visible": False}


def test_face_pose_action_and_scene_follow_the_components(facts) -> None:
    p02 = labels(facts["P02"])
    assert p02.face.model_dump() == {"detected": True, "visible": False}
    assert p02.pose.is_suspicious is True
    assert p02.action.model_dump() == {"action": "loiter", "is_suspicious": True}
    assert p02.scene.model_dump() == {"location": "driveway", "time_of_day": "dusk", "weather": "rain"}
    assert labels(facts["P01"]).face.visible is True


def test_a_prompt_only_clip_leaves_undeclared_fields_null(facts) -> None:
    lab = labels(facts["T01"])
    assert lab.action.model_dump() == {"action": None, "is_suspicious": None}
    assert lab.pose.is_suspicious is None
    assert lab.scene.model_dump() == {"location": None, "time_of_day": None, "weather": None}
    assert lab.face.model_dump() == {"detected": True, "visible": None}  # a person is declared, their face is not


def test_json_shape_matches_the_old_labels(facts) -> None:
    data = labels(facts["R01"]).model_dump(by_alias=True, mode="json")
    assert list(data) == ["source", "video_id", "category", "detections", "face", "pose", "action", "scene", "risk",
                          "validation"]
    assert data["detections"][0] == {"class": "package", "min_confidence": 0.6, "count": 1}
    assert set(data["risk"]) == {"min_score", "max_score", "level"}
    assert len(data["validation"]["prompt_excerpt"]) <= 200


def test_declared_counts_with_nothing_declared() -> None:
    assert declared_counts(ClipFacts("X01", "low")) == ({}, "none")


def test_excerpt_collapses_whitespace_and_marks_cuts() -> None:
    assert excerpt("a  b\nc") == "a b c"
    assert excerpt("word " * 100, 20) == "word word word..."
