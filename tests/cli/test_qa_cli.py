"""`synthcam frames`, `gallery`, `export`: thin commands, one-line errors, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import assert_one_line_error, invoke

from gallery.qa_factory import make_workspace, qa_template, qa_ws  # noqa: F401
from synthcam.workspace import Workspace


def test_frames_by_clip_name_with_a_sheet(qa_ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "frames"
    result = invoke("frames", "P01_5s", "-w", qa_ws.root, "--every", "2s", "--sheet", "--out", out)
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["P01_5s_001_0.000s.jpg", "P01_5s_002_2.000s.jpg",
                                                      "P01_5s_003_4.000s.jpg", "P01_5s_sheet.jpg"]
    assert "contact sheet:" in result.stdout


def test_frames_by_path_defaults_to_three(qa_ws: Workspace, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("frames", qa_ws.root / "clips" / "R01_5s.mp4")
    assert result.exit_code == 0, result.stderr
    assert len(list((tmp_path / "R01_5s_frames").glob("*.jpg"))) == 3


def test_frames_errors_are_one_line(qa_ws: Workspace, tmp_path: Path) -> None:
    assert_one_line_error(invoke("frames", "P09_5s", "-w", qa_ws.root), "no such clip: P09_5s")
    assert_one_line_error(invoke("frames", "P01_5s", "-w", qa_ws.root, "--every", "soon"), "bad --every 'soon'")
    assert_one_line_error(invoke("frames", "P01_5s", "-w", qa_ws.root, "--every", "1s", "--count", "2"),
                          "use --count or --every, not both")


def test_gallery_reports_what_it_made(qa_ws: Workspace) -> None:
    result = invoke("gallery", "-w", qa_ws.root)
    assert result.exit_code == 0, result.stderr
    assert "5 IDs, 9 clips planned, 6 verified (thumbnails: 6 made, 0 kept)" in result.stdout
    assert (qa_ws.root / "gallery" / "index.html").is_file()


def test_gallery_open_hands_the_file_uri_to_the_browser(qa_ws: Workspace, monkeypatch) -> None:
    opened = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    assert invoke("gallery", "-w", qa_ws.root, "--open").exit_code == 0
    assert opened == [(qa_ws.root / "gallery" / "index.html").as_uri()]


def test_gallery_on_an_empty_folder_says_to_run_first(tmp_path: Path) -> None:
    assert_one_line_error(invoke("gallery", "-w", tmp_path), "not a synthcam workspace", "run `synthcam run` first")


def test_export_dry_run_then_export_then_nothing_to_do(qa_ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "synthetic"
    dry = invoke("export", "--layout", "nemotron", "--out", out, "-w", qa_ws.root, "--durations", "5", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert "would create normal/cosmos_P01_delivery_baseline_20251124" in dry.stdout
    assert "would create 4, update 0, remove 0; 0 unchanged" in dry.stdout and not out.exists()
    real = invoke("export", "--out", out, "-w", qa_ws.root, "--durations", "5")
    assert real.exit_code == 0 and "created 4, updated 0, removed 0; 0 unchanged" in real.stdout
    again = invoke("export", "--out", out, "-w", qa_ws.root, "--durations", "5", "--json")
    data = json.loads(again.stdout)
    assert (data["changes"], data["unchanged"], data["exported"]) == ([], 4, 4)


def test_export_exits_1_when_a_clip_is_refused(qa_ws: Workspace, tmp_path: Path) -> None:
    (qa_ws.root / "clips" / "P02_5s.mp4").write_bytes(b"swapped")
    result = invoke("export", "--layout", "flat", "--out", tmp_path / "flat", "-w", qa_ws.root)
    assert result.exit_code == 1
    assert "refused: P02_5s: P02_5s.mp4 changed after verification" in result.stderr
    assert not (tmp_path / "flat" / "P02_5s.mp4").exists() and (tmp_path / "flat" / "P01_5s.mp4").exists()


def test_export_errors_are_one_line(qa_ws: Workspace, tmp_path: Path) -> None:
    assert_one_line_error(invoke("export", "-w", qa_ws.root), "--out is required")
    assert_one_line_error(invoke("export", "--out", tmp_path, "--layout", "tar", "-w", qa_ws.root), "unknown layout 'tar'")
    assert_one_line_error(invoke("export", "--out", tmp_path, "-w", qa_ws.root, "--durations", "five"),
                          "--durations takes whole seconds")
    empty = make_workspace(tmp_path / "empty", states={})
    assert_one_line_error(invoke("export", "--out", tmp_path / "o", "-w", empty.root),
                          "has no verified clips (9 jobs in the plan); run `synthcam run`")
