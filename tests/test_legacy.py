"""Legacy import: the old v2 manifest and its templates become a valid synthcam manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthcam.errors import LegacyImportError
from synthcam.legacy import import_legacy, import_legacy_to
from synthcam.manifest import load_manifest_text

OLD = """version: '2.0'
total_videos: 2
defaults:
  model: 'Cosmos-Predict2.5-14B'
  guidance: 7.0
  negative_prompt: 'blurry, camera equipment, slow motion'
presentation:
  threat_escalation:
    - id: P01
      variation: baseline
      description: 'Normal visit'
      duration_seconds: 15
      scene: front_porch
      environment: night_clear
      subject: person_normal
      action: approach_door
      action_override: 'They stroll to the door'
      expected_risk: low
training:
  threat_patterns:
    - id: T01
      variation: weapon
      description: 'A weapon'
      duration_seconds: 30
      scene: front_porch
      environment: night_clear
      models_exercised: [threat_detector]
      prompt_override: 'A porch at night, a person with a bat.'
"""

TEMPLATES = {
    "scenes/front_porch.yaml": "id: front_porch\nsetting: 'a porch'\nviewing_angle: 'above the door'\nzones: [entry]\n",
    "environments/night_clear.yaml": "id: night_clear\ntime_of_day: 'night'\nlighting_description: 'dark'\nquality_notes: 'IR grain'\nweather: clear\n",
    "subjects/person_normal.yaml": "id: person_normal\ntype: person\ndescription: 'A courier'\nface_visible: true\nface_visible: true\n",
    "actions/approach_door.yaml": "id: approach_door\nsequence_description: 'They walk'\n",
}


@pytest.fixture
def old_manifest(tmp_path) -> Path:
    root = tmp_path / "old"
    for rel, text in TEMPLATES.items():
        p = root / "prompts" / "templates" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    path = root / "generation_manifest.yaml"
    path.write_text(OLD)
    return path


def test_small_import_reports_changes(old_manifest):
    text, report = import_legacy(old_manifest)
    m = load_manifest_text(text, "new.yaml")
    assert [c.id for c in m.clips] == ["P01", "T01"]
    assert m.defaults.model == "14B/post-trained" and m.defaults.guidance == 7
    assert m.clip("P01").action == "P01_action" and m.clip("T01").prompt.startswith("A porch")
    assert m.clip("T01").expected_risk == "high"
    joined = "\n".join(report.changed + report.dropped)
    for needle in ("appears twice", "duration_seconds 15", "total_videos", "guidance 7.0", "seed 0", "zones"):
        assert needle in joined, needle


def test_missing_template_is_a_clear_error(old_manifest):
    (old_manifest.parent / "prompts/templates/actions/approach_door.yaml").unlink()
    with pytest.raises(LegacyImportError, match="approach_door"):
        import_legacy(old_manifest)


def test_not_a_legacy_manifest(tmp_path):
    f = tmp_path / "x.yaml"
    f.write_text("a: 1\n")
    with pytest.raises(LegacyImportError, match="not an old v2 manifest"):
        import_legacy(f)


def test_reference_manifest_gives_167_ids(legacy_manifest_path, tmp_path):
    m, report = import_legacy_to(legacy_manifest_path, tmp_path / "new.yaml")
    counts = m.counts()
    assert counts["ids"] == 167 and report.ids == 167
    assert counts["by_series"] == {"P": 144, "T": 120, "F": 48, "R": 54, "E": 66, "C": 69}
    assert report.template_entries == 48 and report.prompt_override_entries == 119
    assert (tmp_path / "new.yaml").exists()
