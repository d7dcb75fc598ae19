"""One test (at least) per spec command, run in-process, checked through the library."""

from __future__ import annotations

import json

from helpers import assert_one_line_error, invoke

from synthcam.manifest import load_manifest


def test_check(mini_manifest_path):
    r = invoke("check", "-m", mini_manifest_path, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["clips"] == 5


def test_lint_table_and_json(mini_manifest_path):
    r = invoke("lint", "-m", mini_manifest_path)
    assert r.exit_code == 0 and "0 errors, 0 warnings" in r.stdout
    r = invoke("lint", "-m", mini_manifest_path, "--json")
    assert json.loads(r.stdout)["errors"] == 0


def test_lint_errors_exit_1(tmp_path, mini_manifest_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(mini_manifest_path.read_text().replace("the front porch of", "doorbell camera footage of the front porch of"))
    r = invoke("lint", "-m", bad, "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["by_rule"]["camera-in-frame"] == 5


def test_prompts_writes_files_and_refuses_lint_errors(tmp_path, mini_manifest_path):
    out = tmp_path / "out"
    r = invoke("prompts", "-m", mini_manifest_path, "-o", out, "--only", "P01", "--durations", "5,30")
    assert r.exit_code == 0, r.stderr
    assert sorted(p.name for p in out.glob("*.json")) == ["P01_30s.json", "P01_5s.json"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(mini_manifest_path.read_text().replace("the front porch of", "CCTV camera view of the front porch of"))
    out2 = tmp_path / "out2"
    err = assert_one_line_error(invoke("prompts", "-m", bad, "-o", out2), "lint found", code=1)
    assert "camera-in-frame" in err and not out2.exists()
    assert invoke("prompts", "-m", bad, "-o", out2, "--force").exit_code == 0


def test_prompts_bad_durations_flag(tmp_path, mini_manifest_path):
    assert_one_line_error(invoke("prompts", "-m", mini_manifest_path, "-o", tmp_path / "o", "--durations", "five"), "--durations")


def test_plan_table_and_json(mini_manifest_path):
    r = invoke("plan", "-m", mini_manifest_path, "--gpu", "h200", "--gpus", "2", "--model", "14B/post-trained")
    assert r.exit_code == 0 and "total" in r.stdout and "memory" in r.stdout
    j = json.loads(invoke("plan", "-m", mini_manifest_path, "--json").stdout)
    assert j["total"]["clips"] == 5 and j["memory"]["fits"] is True
    assert_one_line_error(invoke("plan", "-m", mini_manifest_path, "--gpu", "a100"), "--gpu")
    assert_one_line_error(invoke("plan", "-m", mini_manifest_path, "--model", "7B"), "--model")


def test_import_legacy(tmp_path, legacy_manifest_path):
    out = tmp_path / "new.yaml"
    r = invoke("import-legacy", legacy_manifest_path, "-o", out, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["ids"] == 167
    assert load_manifest(out).counts()["ids"] == 167


def test_import_legacy_missing_file(tmp_path):
    assert_one_line_error(invoke("import-legacy", tmp_path / "nope.yaml", "-o", tmp_path / "x.yaml"), "cannot read")


def test_no_traceback_on_unknown_command():
    r = invoke("frobnicate")
    assert r.exit_code == 2 and "Traceback" not in r.stdout + r.stderr


def test_real_process_one_line_error(tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"\x00\x01garbage")
    p = subprocess.run([sys.executable, "-m", "synthcam", "check", "-m", str(bad)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip().splitlines() == [f"error: {bad}:1: file is binary (NUL byte), not YAML text"]
