"""Expected labels for the downstream risk evaluation, from declared facts only.

The old pipeline guessed labels from a mapping document: a person in rain expected a vehicle,
a cat clip was labelled a high threat. Here every field comes from something declared or
measured, and a field nobody declared is null rather than guessed:

- risk level: the manifest's `expected_risk`; category and score range follow from it
  (`RISK_CATEGORY`, `RISK_SCORES`);
- detections: exact per-class counts from the backend's ground truth when it has some
  (procedural), else the clip's `expected_objects`, else the sum of its subjects' `classes`;
- face: a person subject is present / any person's `appearance.face_visible`;
- pose and action: the action's `path` and `suspicious` flag;
- scene: the scene's `layout`, the environment's `time_of_day` and `weather`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..manifest import RISK_ORDER, Action, Clip, Environment, Manifest, Scene, Subject

Category = Literal["normal", "suspicious", "threats"]
Level = Literal["low", "medium", "high", "critical"]
LabelSource = Literal["ground_truth", "expected_objects", "subjects", "none"]

# Expected risk -> the evaluation's category folder (the old design's rule for P clips,
# now applied to every clip): medium and high are both "suspicious".
RISK_CATEGORY: dict[str, Category] = {"low": "normal", "medium": "suspicious", "high": "suspicious",
                                      "critical": "threats"}
# Score ranges = the consumer's own severity bands (SeverityService defaults, inclusive):
# low 0-29, medium 30-59, high 60-84, critical 85-100. The old labels' 0-25/26-60/61-100
# disagreed with them, so a correct score could count as a "gap".
RISK_SCORES: dict[str, tuple[int, int]] = {"low": (0, 29), "medium": (30, 59), "high": (60, 84),
                                           "critical": (85, 100)}
# The level the old evaluation expects per category. It only prints a note (never fails)
# when a label differs, which ours do for high (suspicious) and critical (threats).
CATEGORY_LEVEL: dict[str, str] = {"normal": "low", "suspicious": "medium", "threats": "high"}
# Small or often partly hidden objects get a lower confidence floor, as the old labels did.
SMALL_CLASSES = frozenset({"package", "parcel", "box", "bag", "handbag", "backpack", "handgun", "gun", "pistol",
                           "knife", "bat", "crowbar", "tool", "phone", "cell_phone", "flashlight", "umbrella"})
CONFIDENCE = 0.7
SMALL_CONFIDENCE = 0.6
EXCERPT_CHARS = 200


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Detection(_Model):
    class_: str = Field(alias="class")
    min_confidence: float = Field(ge=0, le=1)
    count: int = Field(ge=0)


class Face(_Model):
    detected: bool           # a person is in the clip, so face models have something to look at
    visible: bool | None     # null: the manifest does not say


class Pose(_Model):
    is_suspicious: bool | None


class ActionLabel(_Model):
    action: str | None
    is_suspicious: bool | None


class SceneLabel(_Model):
    location: str | None
    time_of_day: str | None
    weather: str | None


class RiskLabel(_Model):
    min_score: int = Field(ge=0, le=100)
    max_score: int = Field(ge=0, le=100)
    level: Level


class Validation(_Model):
    prompt_excerpt: str
    detections_from: LabelSource
    manifest: str
    clip: str


class ExpectedLabels(_Model):
    """`expected_labels.json`: what the evaluation compares its detections and risk score with."""

    source: str
    video_id: str
    category: Category
    detections: list[Detection]
    face: Face
    pose: Pose
    action: ActionLabel
    scene: SceneLabel
    risk: RiskLabel
    validation: Validation


@dataclass(frozen=True)
class ClipFacts:
    """What the manifest declares about one clip, resolved from its components."""

    clip_id: str
    expected_risk: str
    expected_objects: dict[str, int] | None = None
    subjects: tuple[Subject, ...] = ()
    action: Action | None = None
    scene: Scene | None = None
    environment: Environment | None = None
    manifest: str = ""
    dataset: str = ""               # the manifest's name and description, for a dataset card
    dataset_description: str = ""

    @classmethod
    def from_manifest(cls, manifest: Manifest, clip: Clip) -> ClipFacts:
        comps = manifest.components
        return cls(
            clip_id=clip.id,
            expected_risk=clip.expected_risk,
            expected_objects=dict(clip.expected_objects) if clip.expected_objects is not None else None,
            subjects=tuple(comps.subjects[s] for s in clip.subjects if s in comps.subjects),
            action=comps.actions.get(clip.action or ""),
            scene=comps.scenes.get(clip.scene or ""),
            environment=comps.environments.get(clip.environment or ""),
            manifest=Path(manifest.path).name,
            dataset=manifest.model.name,
            dataset_description=manifest.model.description,
        )


def category_of(risk: str) -> Category:
    if risk not in RISK_CATEGORY:
        raise ValueError(f"unknown risk level {risk!r} (use {', '.join(RISK_ORDER)})")
    return RISK_CATEGORY[risk]


def declared_counts(facts: ClipFacts) -> tuple[dict[str, int], LabelSource]:
    """Per-class counts the manifest declares: expected_objects, else the subjects' classes."""
    if facts.expected_objects is not None:
        return dict(facts.expected_objects), "expected_objects"
    counts: dict[str, int] = {}
    for subject in facts.subjects:
        for name, n in subject.classes.items():
            counts[name] = counts.get(name, 0) + n
    return counts, ("subjects" if counts else "none")


def detections(counts: dict[str, int]) -> list[Detection]:
    return [Detection(class_=name, min_confidence=SMALL_CONFIDENCE if name in SMALL_CLASSES else CONFIDENCE, count=n)
            for name, n in sorted(counts.items())]


def _face(facts: ClipFacts, counts: dict[str, int]) -> Face:
    people = [s for s in facts.subjects if s.kind == "person"]
    present = bool(people) or counts.get("person", 0) > 0
    declared = [s.appearance.face_visible for s in people if s.appearance.face_visible is not None]
    visible = (any(declared) if declared else None) if present else False
    return Face(detected=present, visible=visible)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 3]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "..."


def expected_labels(facts: ClipFacts, clip_name: str, prompt: str, source: str,
                    truth: dict[str, int] | None = None) -> ExpectedLabels:
    """Labels for one clip; `truth` is the backend's exact visible count per class, if any."""
    if truth is not None:
        counts, origin = dict(truth), "ground_truth"
    else:
        counts, origin = declared_counts(facts)
    low, high = RISK_SCORES[facts.expected_risk]
    action = facts.action
    env = facts.environment
    return ExpectedLabels(
        source=source,
        video_id=facts.clip_id,
        category=category_of(facts.expected_risk),
        detections=detections(counts),
        face=_face(facts, counts),
        pose=Pose(is_suspicious=action.suspicious if action else None),
        action=ActionLabel(action=action.path if action else None, is_suspicious=action.suspicious if action else None),
        scene=SceneLabel(location=facts.scene.layout if facts.scene else None,
                         time_of_day=env.time_of_day if env else None, weather=env.weather if env else None),
        risk=RiskLabel(min_score=low, max_score=high, level=facts.expected_risk),  # type: ignore[arg-type]
        validation=Validation(prompt_excerpt=excerpt(prompt), detections_from=origin, manifest=facts.manifest,
                              clip=clip_name),
    )
