"""`synthcam verify`: exit codes 0/1/2, the JSON report, one-line usage errors."""

from __future__ import annotations

import json

import pytest
from helpers import assert_one_line_error, invoke
from verify.clipgen import H, W, good_clip

from synthcam.verify import SCHEMA

SMALL = ("--width", str(W), "--height", str(H), "-j", "1")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    good = base / "good"
    good_clip(good / "A_1s.mp4", 1, scene=70, seed=70)
    good_clip(good / "A_2s.mp4", 2, scene=70, seed=71)
    bad = base / "bad"
    good_clip(bad / "B_1s.mp4", 1, scene=72, seed=72, fps=16)
    (bad / "B_2s.mp4").write_text("version https://git-lfs.github.com/spec/v1\n"
                                  f"oid sha256:{'ab' * 32}\nsize 999\n")
    return good, bad


def test_all_pass_exits_0_and_writes_the_report(folders, tmp_path):
    out = tmp_path / "reports" / "r.json"
    r = invoke("verify", folders[0], *SMALL, "--json", out)
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "2 files: 2 videos, 0 LFS pointer stubs, 2 unique sha256" in r.stdout
    assert "passed 2, failed 0" in r.stdout and f"report: {out}" in r.stdout
    data = json.loads(out.read_text())
    assert data["schema"] == SCHEMA and data["summary"]["passed"] == 2
    row = data["files"][0]
    assert set(row) >= {"path", "id", "duration_s", "status", "findings", "sha256", "frames", "fps", "width", "height", "codec"}
    assert (row["id"], row["duration_s"], row["frames"], row["fps"], row["width"], row["height"], row["codec"]) == \
        ("A", 1, 24, 24.0, W, H, "h264")


def test_failures_exit_1_with_table_and_summary(folders):
    r = invoke("verify", folders[1], *SMALL)
    assert r.exit_code == 1
    assert "wrong_frames" in r.stdout and "lfs_pointer" in r.stdout
    assert "2 files: 1 video, 1 LFS pointer stub" in r.stdout
    assert "failures by kind: lfs_pointer 1, wrong_frames 1, wrong_fps 1" in r.stdout
    assert "[2/2]" in r.stderr  # plain progress lines when not a terminal


def test_json_to_stdout(folders):
    r = invoke("verify", folders[1], *SMALL, "--json", "-")
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    status = {row["path"].rsplit("/", 1)[1]: row["status"] for row in data["files"]}
    assert status == {"B_1s.mp4": "wrong_frames", "B_2s.mp4": "lfs_pointer"}
    pointer = next(row for row in data["files"] if row["status"] == "lfs_pointer")
    assert pointer["lfs"] == {"oid": "ab" * 32, "size": 999}


def test_durations_and_any_codec(folders):
    r = invoke("verify", folders[0], *SMALL, "--durations", "1,2,5", "--codec", "any", "--json", "-")
    data = json.loads(r.stdout)
    assert r.exit_code == 1 and data["ids"][0]["status"] == "missing_variant"


def test_missing_path_is_one_line_usage_error(tmp_path):
    assert_one_line_error(invoke("verify", tmp_path / "nope"), "nope: no such file or directory")


@pytest.mark.parametrize(("args", "needle"), [
    (("--jobs", "0"), "--jobs must be at least 1"),
    (("--fps", "0"), "--fps must be a positive number"),
    (("--durations", "5,x"), "--durations takes whole seconds"),
])
def test_bad_flags_exit_2(folders, args, needle):
    assert_one_line_error(invoke("verify", folders[0], *args), needle)


def test_bad_manifest_and_thresholds_exit_2(folders, tmp_path):
    bad = tmp_path / "m.yaml"
    bad.write_text("name: [\n")
    assert_one_line_error(invoke("verify", folders[0], "--manifest", bad), "m.yaml")
    th = tmp_path / "t.yaml"
    th.write_text("no_such_threshold: 1\n")
    assert_one_line_error(invoke("verify", folders[0], "--thresholds", th), "unknown threshold")


def test_report_path_that_cannot_be_written(folders, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert_one_line_error(invoke("verify", folders[0], *SMALL, "--json", blocker / "r.json"), "cannot write the report")
    assert_one_line_error(invoke("verify", folders[0], *SMALL, "--json", tmp_path), "cannot write the report")


def test_help_lists_checks():
    r = invoke("verify", "--help")
    assert r.exit_code == 0 and "near duplicates" in r.stdout and "--manifest" in r.stdout


def test_manifest_run_passes_and_counts_ids(tmp_path, mini_manifest_path):
    text = mini_manifest_path.read_text().replace("1280x704", f"{W}x{H}")
    manifest = tmp_path / "m.yaml"
    manifest.write_text(text.replace("durations: [5, 10, 30]", "durations: [1]").replace("durations: [5, 10]", "durations: [1]"))
    out = tmp_path / "out"
    good_clip(out / "P01_1s.mp4", 1, scene=73, seed=73)
    good_clip(out / "T01_1s.mp4", 1, scene=74, seed=74)
    r = invoke("verify", out, "--manifest", manifest, "-j", "1")
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "IDs: 2, passing 2, missing variants 0" in r.stdout
    (out / "T01_1s.mp4").unlink()
    r = invoke("verify", out, "--manifest", manifest, "-j", "1", "--json", "-")
    data = json.loads(r.stdout)
    assert r.exit_code == 1 and data["summary"]["missing_variants"] == 1
