"""The manifest: derived counts, and a corpus of bad manifests that each get one clear line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import assert_one_line_error, invoke

from synthcam.errors import ManifestError
from synthcam.manifest import MAX_MANIFEST_BYTES, load_manifest, load_manifest_text

MINI = (Path(__file__).parent / "data" / "mini.yaml").read_text()


def test_mini_counts_are_derived(mini_manifest_path):
    m = load_manifest(mini_manifest_path)
    assert m.counts() == {"ids": 2, "clips": 5, "by_series": {"P": 3, "T": 2},
                          "by_duration": {"5": 2, "10": 2, "30": 1}}
    assert [v.name for v in m.variants()] == ["P01_5s", "P01_10s", "P01_30s", "T01_5s", "T01_10s"]
    assert m.variants()[2].frames == 720


def test_manifest_is_immutable(mini_manifest_path):
    m = load_manifest(mini_manifest_path)
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="frozen"):
        m.defaults.fps = 30  # type: ignore[misc]


def _edit(old: str, new: str, count: int = 1) -> str:
    assert old in MINI, old
    return MINI.replace(old, new, count)


def _line_of(text: str, needle: str, nth: int = 1) -> int:
    pos = -1
    for _ in range(nth):
        pos = text.index(needle, pos + 1)
    return text[:pos].count("\n") + 1


ALIAS_BOMB = """version: 1
name: bomb
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: [*d,*d,*d,*d,*d,*d,*d,*d,*d]
"""

CLIP2 = MINI[MINI.index("  - id: T01"):]

# name -> (content, expected line or None for "derive from needle", needle in the message)
BAD: dict[str, tuple[bytes | str, int | None, str]] = {
    "yaml_syntax": (_edit("name: mini", "name: [mini"), None, "YAML syntax"),
    "tab_indent": (_edit("  fps: 24", "\tfps: 24"), _line_of(MINI, "  fps: 24"), "YAML syntax"),
    "duplicate_id": (_edit("  - id: T01", "  - id: P01"), _line_of(MINI, "  - id: T01"), "duplicate clip ID 'P01'"),
    "duplicate_key": (_edit("  fps: 24", "  fps: 24\n  fps: 25"), _line_of(MINI, "  fps: 24") + 1, "appears twice"),
    "unknown_top_key": (MINI + "colour: blue\n", MINI.count("\n") + 1, "unknown key 'colour'"),
    "unknown_clip_key": (_edit("    expected_risk: low\n  - id: T01", "    expected_risk: low\n    colour: red\n  - id: T01"),
                         _line_of(MINI, "  - id: T01"), "unknown key 'colour'"),
    "unknown_scene": (_edit("    scene: porch\n    environment: night", "    scene: veranda\n    environment: night"),
                      _line_of(MINI, "    scene: porch"), "unknown scene 'veranda'"),
    "unknown_subject": (_edit("    subjects: [courier]", "    subjects: [courier, ghost]"),
                        _line_of(MINI, "    subjects: [courier]"), "unknown subjects 'ghost'"),
    "unknown_action": (_edit("    action: deliver\n    expected_risk: low\n  - id: T01", "    action: dance\n    expected_risk: low\n  - id: T01"),
                       _line_of(MINI, "    action: deliver"), "unknown action 'dance'"),
    "traversal_id": (_edit("  - id: P01", "  - id: ../../etc/passwd"), _line_of(MINI, "  - id: P01"), "clips[0].id"),
    "space_in_id": (_edit("  - id: P01", "  - id: P 01"), _line_of(MINI, "  - id: P01"), "clips[0].id"),
    "string_fps": (_edit("  fps: 24", '  fps: "24"'), _line_of(MINI, "  fps: 24"), "defaults.fps"),
    "float_fps": (_edit("  fps: 24", "  fps: 24.5"), _line_of(MINI, "  fps: 24"), "defaults.fps"),
    "duplicate_duration": (_edit("  durations: [5, 10, 30]", "  durations: [5, 10, 5]"), _line_of(MINI, "  durations: [5, 10, 30]"), "listed twice"),
    "zero_duration": (_edit("  durations: [5, 10, 30]", "  durations: [0, 10]"), _line_of(MINI, "  durations: [5, 10, 30]"), "outside"),
    "negative_duration": (_edit("    durations: [5, 10]", "    durations: [-5]"), _line_of(MINI, "    durations: [5, 10]"), "outside"),
    "word_duration": (_edit("    durations: [5, 10]", "    durations: [5, ten]"), _line_of(MINI, "    durations: [5, 10]"), "durations"),
    "bad_resolution": (_edit("  resolution: 1280x704", "  resolution: 1280x700"), _line_of(MINI, "  resolution: 1280x704"), "multiples of 16"),
    "float_guidance": (_edit("  seed: 7", "  seed: 7\n  guidance: 7.5"), _line_of(MINI, "  seed: 7") + 1, "defaults.guidance"),
    "alias_bomb": (ALIAS_BOMB, 4, "aliases"),
    "python_tag": (_edit("name: mini", "name: !!python/object/apply:os.system ['echo hi']"), 2, "YAML syntax"),
    "binary_garbage": (b"version: 1\n" + os.urandom(64).replace(b"\n", b"x") + b"\x00\xff", 2, "binary"),
    "latin1": ("version: 1\nname: caf\xe9\n".encode("latin-1"), 2, "not UTF-8"),
    "empty": ("", 1, "empty"),
    "top_level_list": ("- a\n- b\n", 1, "mapping"),
    "no_prompt_no_components": (_edit("    scene: porch\n    environment: day\n", ""), _line_of(MINI, "  - id: T01"), "needs either"),
    "occlusion_without_occluder": (_edit("    durations: [5, 10]", "    durations: [5, 10]\n    occlusion: partial"),
                                   _line_of(MINI, "  - id: T01"), "occluder"),
    "bad_layout": (_edit("      layout: front_porch", "      layout: moon_base"), _line_of(MINI, "      layout: front_porch"), "layout"),
    "negative_seed": (_edit("  seed: 7", "  seed: -7"), _line_of(MINI, "  seed: 7"), "defaults.seed"),
    "unknown_template": (_edit("  seed: 7", "  seed: 7\n  template: fancy"), _line_of(MINI, "  seed: 7") + 1, "unknown template"),
    "pacing_zero": (_edit("        5: >-", "        0: >-"), _line_of(MINI, "      pacing:"), "outside"),
    "huge_file": ("version: 1\n" + "# padding padding padding padding\n" * (MAX_MANIFEST_BYTES // 34 + 10), None, "MiB manifest limit"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_manifest_gives_one_line_with_file_and_line(case, tmp_path):
    content, line, needle = BAD[case]
    path = tmp_path / f"{case}.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    out = tmp_path / "prompts-out"
    result = invoke("prompts", "-m", path, "-o", out)
    err = assert_one_line_error(result, needle)
    if line is None:
        assert f"{path}:" in err, err
    else:
        assert f"{path}:{line}:" in err, err
    assert not out.exists(), "nothing may be written on bad input"


def test_corpus_is_large_enough():
    assert len(BAD) >= 20


def test_missing_file_and_directory(tmp_path):
    assert_one_line_error(invoke("check", "-m", tmp_path / "nope.yaml"), "no such file")
    assert_one_line_error(invoke("check", "-m", tmp_path), "directory")


def test_library_raises_typed_error_with_line():
    with pytest.raises(ManifestError) as info:
        load_manifest_text(_edit("  fps: 24", "  fps: 0"), "x.yaml")
    assert info.value.line == _line_of(MINI, "  fps: 24") and info.value.path == "x.yaml"
    assert info.value.exit_code == 2


def test_per_clip_durations_and_series_override():
    text = _edit("    durations: [5, 10]", "    durations: [10]\n    series: TR")
    m = load_manifest_text(text, "x.yaml")
    assert [v.name for v in m.variants() if v.clip_id == "T01"] == ["T01_10s"]
    assert m.counts()["by_series"] == {"P": 3, "TR": 1}
