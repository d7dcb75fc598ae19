"""Each lint rule fires on the wording that broke the old clips, and stays quiet on ours."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthcam.lint import lint_manifest
from synthcam.manifest import load_manifest, load_manifest_text

MINI = (Path(__file__).parent / "data" / "mini.yaml").read_text()
GOOD_VIEW = "seen from high above the doorway, looking down and out across the steps to the front walk"


def lint_text(text: str):
    return lint_manifest(load_manifest_text(text, "x.yaml"))


def rules(report, clip: str | None = None) -> set[str]:
    return {f.rule for f in report.findings if clip is None or f.clip == clip}


def test_clean_manifest_has_no_findings(mini_manifest_path):
    report = lint_manifest(load_manifest(mini_manifest_path))
    assert report.findings == [] and report.ok


@pytest.mark.parametrize("phrase", [
    "Security camera footage of", "a doorbell camera shows", "CCTV view of", "the dome camera sees",
    "a PTZ cam watching", "surveillance footage of",
])
def test_camera_hardware_is_an_error(phrase):
    report = lint_text(MINI.replace("the front porch of a brick", f"{phrase} the front porch of a brick"))
    assert "camera-in-frame" in rules(report) and not report.ok


def test_perspective_warning():
    report = lint_text(MINI.replace(GOOD_VIEW, "above the doorway with the steps and the front walk in frame"))
    assert "viewer-perspective" in rules(report) and report.ok  # a warning does not block


def test_night_needs_ir_look():
    report = lint_text(MINI.replace("an infrared monochrome image in grey tones", "a crisp colourful image"))
    assert "night-look" in rules(report, "P01_5s") and "night-look" not in rules(report, "T01_5s")


def test_realtime_clause_detected_in_explicit_prompt():
    text = MINI.replace("    durations: [5, 10]", "    durations: [5]\n    prompt: " + "a person walks seen from above " * 12)
    assert "realtime-clause" in rules(lint_text(text), "T01_5s")


def test_length_range():
    report = lint_text(MINI.replace("  seed: 7", "  seed: 7\n  prompt_words: [10, 40]"))
    assert rules(report) == {"length"} and report.ok


def test_30s_reusing_5s_action_is_an_error():
    text = MINI.replace("        10: >-", "        1: >-").replace("        30: >-", "        2: >-")
    report = lint_text(text)
    assert "pacing" in rules(report, "P01_30s") and "pacing" in rules(report, "P01_10s")
    assert "pacing" not in rules(report, "P01_5s") and not report.ok


def test_single_explicit_prompt_across_lengths():
    prompt = ("A person walks up the path, seen from above the door, real time at normal 1x speed. " * 8).strip()
    text = MINI.replace("    durations: [5, 10]", f"    durations: [5, 10]\n    prompt: {prompt}")
    report = lint_text(text)
    assert "pacing" in rules(report, "T01_10s") and "pacing" not in rules(report, "T01_5s")


def test_negative_prompt_terms():
    text = MINI.replace("visible camera, camera housing, camera lens, security camera device,", "grainy,")
    text = text.replace("slow motion, time lapse, sped up", "cartoon")
    report = lint_text(text)
    assert any(f.rule == "negative-prompt" and "camera-equipment and slow-motion" in f.message for f in report.findings)


def test_legacy_prompts_have_real_problems(legacy_manifest_path, tmp_path):
    from synthcam.legacy import import_legacy

    text, _ = import_legacy(legacy_manifest_path)
    report = lint_manifest(load_manifest_text(text, "old.yaml"))
    by_rule = report.by_rule()
    # every prompt_override is 35-62 words, below the 80-word floor
    assert by_rule["length"] >= 119 * 3
    # 30 s variants reuse 5 s actions (the old generator wrote one text for all lengths)
    assert by_rule["pacing"] >= 167
    assert by_rule.get("camera-in-frame", 0) >= 1
    assert not report.ok
