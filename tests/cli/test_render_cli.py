"""`synthcam render`: one clip plus ground truth, one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import av
from helpers import assert_one_line_error, invoke

MANIFEST = Path(__file__).parents[1] / "backends" / "data" / "procedural.yaml"


def test_render_writes_clip_and_ground_truth(tmp_path: Path) -> None:
    out = tmp_path / "clips" / "A13_2s.mp4"
    result = invoke("render", "A13", "--duration", "2", "--out", out, "--manifest", MANIFEST, "--masks", "--all-frames")
    assert result.exit_code == 0, result.stderr
    assert "48 frames, 320x176 at 24 fps" in result.stdout and "1 car" in result.stdout
    with av.open(str(out)) as c:
        assert c.streams.video[0].frames == 48
    gt = tmp_path / "clips" / "A13_2s.gt"
    assert sorted(p.name for p in gt.iterdir()) == ["coco.json", "counts.json", "gt.txt", "masks.mkv", "seqinfo.ini"]
    coco = json.loads((gt / "coco.json").read_text())
    assert len(coco["images"]) == 48                                     # --all-frames
    assert json.loads((gt / "counts.json").read_text())["counts"] == {"car": 1}


def test_render_seed_override_changes_the_clip(tmp_path: Path) -> None:
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    assert invoke("render", "A01", "-d", "2", "-o", a, "-m", MANIFEST).exit_code == 0
    assert invoke("render", "A01", "-d", "2", "-o", b, "-m", MANIFEST, "--seed", "99").exit_code == 0
    assert a.read_bytes() != b.read_bytes()


def test_render_errors_are_one_line(tmp_path: Path) -> None:
    assert_one_line_error(invoke("render", "NOPE", "-d", "2", "-o", tmp_path / "x.mp4", "-m", MANIFEST), "no clip 'NOPE'")
    assert_one_line_error(invoke("render", "../etc", "-d", "2", "-o", tmp_path / "x.mp4", "-m", MANIFEST), "not a safe token")
    assert_one_line_error(invoke("render", "A01", "-d", "5", "-o", tmp_path / "x.mp4", "-m", MANIFEST),
                          "clip A01 has durations 2 s, 4 s; got 5 s")
    assert_one_line_error(invoke("render", "A01", "-d", "2", "-o", tmp_path / "x.mov", "-m", MANIFEST), "must be an .mp4")
    (tmp_path / "file").write_text("x")
    assert_one_line_error(invoke("render", "A01", "-d", "2", "-o", tmp_path / "file" / "x.mp4", "-m", MANIFEST), "is a file")
    assert_one_line_error(invoke("render", "A01", "-d", "2", "-o", tmp_path / "x.mp4", "-m", tmp_path / "missing.yaml"),
                          "no such file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_render_prints_its_audit(tmp_path: Path) -> None:
    result = invoke("render", "A02", "-d", "2", "-o", tmp_path / "A02_2s.mp4", "-m", MANIFEST)
    assert result.exit_code == 0, result.stderr
    assert "audit: ok" in result.stdout


def test_audit_a_dataset(tmp_path: Path) -> None:
    report = tmp_path / "audit.json"
    result = invoke("render", "--audit", "A01", "A02", "-d", "2", "-m", MANIFEST, "--stride", "4", "--json", report)
    assert result.exit_code == 0, result.stderr
    assert "fidelity audit" in result.stdout and "2 variants" in result.stdout
    data = json.loads(report.read_text())
    assert [v["name"] for v in data["variants"]] == ["A01_2s", "A02_2s"] and data["by_series"]["all"]["passed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.json"]      # no clips written


def test_audit_options_are_checked(tmp_path: Path) -> None:
    assert_one_line_error(invoke("render", "A01", "-d", "2", "-o", tmp_path / "x.mp4", "-m", MANIFEST, "--verify"), "go with --audit")
    assert_one_line_error(invoke("render", "A01", "-m", MANIFEST), "give one ID, --duration and --out")
    assert_one_line_error(invoke("render", "--audit", "A01", "-o", tmp_path / "x.mp4", "-m", MANIFEST), "leave out --out")
    assert_one_line_error(invoke("render", "--audit", "ZZ*", "-m", MANIFEST), "matches no clip ID")
