"""End to end through the real engine with a fast test backend: run, resume, identity, status."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import assert_only_verified_on_disk

from synthcam.engine.runner import RunOptions, run
from synthcam.engine.status import derive_status
from synthcam.errors import BackendError, InputError, LintFailed
from synthcam.workspace import Workspace

DATA = Path(__file__).parent.parent / "data"
TINY = DATA / "tiny.yaml"


@pytest.fixture(autouse=True)
def simple_backend(monkeypatch):
    monkeypatch.setenv("SYNTHCAM_BACKENDS", "simple=fakes.simple_backend:SimpleBackend")


def opts(**kw) -> RunOptions:
    return RunOptions(backend="simple", workers=2, lease_s=5, **kw)


def test_run_then_resume_is_a_no_op(tmp_path):
    ws = tmp_path / "ws"
    first = run(TINY, ws, opts())
    assert first.ok and first.done == first.selected == 6 and first.new_jobs == 6
    clips = sorted((ws / "clips").glob("*.mp4"))
    mtimes = {p.name: p.stat().st_mtime_ns for p in clips}
    second = run(TINY, ws, opts())
    assert second.ok and second.new_jobs == 0
    assert {p.name: p.stat().st_mtime_ns for p in sorted((ws / "clips").glob("*.mp4"))} == mtimes
    assert_only_verified_on_disk(ws)
    store = Workspace.at(ws).store()
    try:
        done_events = [e for e in store.events(kinds=["done"], limit=1000)]
        assert len(done_events) == 6  # nothing generated twice
        status = json.loads((ws / "generation_status.json").read_text())
        live = derive_status(store)
        for key in ("total", "completed", "pending", "in_progress", "failed", "blocked", "by_series", "by_duration"):
            assert status[key] == live[key]
        assert status["completed"] == 6 and status["by_duration"]["2s"]["completed"] == 3
        for job in store.done_jobs():
            assert job.sha256 and job.probe["frames"] == job.spec["frames"] and job.output == f"clips/{job.name}.mp4"
        assert sum(w.jobs_done for w in store.workers()) == 6
    finally:
        store.close()


def test_changed_prompt_makes_a_new_job_only_for_that_clip(tmp_path):
    ws = tmp_path / "ws"
    run(TINY, ws, opts())
    changed = tmp_path / "changed.yaml"
    changed.write_text(TINY.read_text().replace(
        "- {id: B01, group: g, scenario: s3, purpose: test, scene: yard,",
        "- {id: B01, group: g, scenario: s3, purpose: test, distance: far, scene: yard,"))
    result = run(changed, ws, opts())
    assert result.ok and result.new_jobs == 2  # B01 at 1 s and 2 s
    store = Workspace.at(ws).store()
    try:
        assert store.counts()["total"] == 6 and len(store.events(kinds=["done"], limit=100)) == 8
    finally:
        store.close()


def test_metadata_change_does_not_regenerate(tmp_path):
    ws = tmp_path / "ws"
    run(TINY, ws, opts())
    changed = tmp_path / "meta.yaml"
    changed.write_text(TINY.read_text().replace("purpose: test, scene: yard, environment: day, subjects: [walker], action: cross, expected_risk: low}\n  - {id: A02",
                                                "purpose: a new purpose, scene: yard, environment: day, subjects: [walker], action: cross, expected_risk: high}\n  - {id: A02"))
    assert run(changed, ws, opts()).new_jobs == 0


def test_only_and_durations(tmp_path):
    result = run(TINY, tmp_path / "ws", opts(only=["A*"], durations=[1]))
    assert result.selected == 2 and result.done == 2
    status = result.status
    assert status["total"] == 6 and status["completed"] == 2 and status["pending"] == 4


def test_lint_errors_block_generation(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.read_text().replace("a small fenced backyard", "CCTV camera footage of a small fenced backyard"))
    with pytest.raises(LintFailed):
        run(bad, tmp_path / "ws", opts())
    assert not (tmp_path / "ws").exists()


def test_unknown_backend_is_a_clear_error(tmp_path):
    with pytest.raises(InputError):
        run(TINY, tmp_path / "ws", RunOptions(backend="nope", workers=1))


def test_unloadable_backend_reports_the_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHCAM_BACKENDS", "broken=no.such.module:Thing")
    with pytest.raises(BackendError, match="cannot be loaded"):
        run(TINY, tmp_path / "ws", RunOptions(backend="broken", workers=1, lease_s=5))


def test_a_clip_that_landed_before_a_crash_is_recorded_not_regenerated(tmp_path):
    ws = tmp_path / "ws"
    run(TINY, ws, opts())
    store = Workspace.at(ws).store()
    try:  # simulate a crash between os.replace(final) and store.complete
        store.conn.execute("UPDATE jobs SET state = 'pending', landing_sha = sha256, sha256 = NULL WHERE name = 'A01_1s'")
    finally:
        store.close()
    before = (ws / "clips" / "A01_1s.mp4").stat().st_mtime_ns
    assert_only_verified_on_disk(ws)  # the file is the one noted at landing: verified, not yet recorded
    result = run(TINY, ws, opts())
    assert result.ok and result.resumed == 1
    assert (ws / "clips" / "A01_1s.mp4").stat().st_mtime_ns == before
    assert_only_verified_on_disk(ws)


def test_other_bytes_under_a_landing_clips_name_are_caught_on_disk(tmp_path):
    """The kill trials accept a file caught mid-landing only when it is the file whose sha256 was
    noted: a different file under that name (an unverified one put in place) fails the check."""
    ws = tmp_path / "ws"
    run(TINY, ws, opts(only=["A01"]))
    store = Workspace.at(ws).store()
    try:
        store.conn.execute("UPDATE jobs SET state = 'pending', landing_sha = sha256, sha256 = NULL WHERE name = 'A01_1s'")
    finally:
        store.close()
    final = ws / "clips" / "A01_1s.mp4"
    final.write_bytes(final.read_bytes() + b"\0")
    with pytest.raises(AssertionError, match="mid-landing but not the file noted"):
        assert_only_verified_on_disk(ws)
    final.unlink()
    (ws / "clips" / "A01_2s.mp4").rename(final)  # a real clip, but not the one this job verified
    with pytest.raises(AssertionError, match="mid-landing but not the file noted"):
        assert_only_verified_on_disk(ws)


def test_status_file_is_written_atomically_and_valid(tmp_path):
    ws = tmp_path / "ws"
    run(TINY, ws, opts(only=["B01"]))
    data = json.loads((ws / "generation_status.json").read_text())
    assert data["completed"] == 2 and data["updated_at"]
    assert not [p for p in os.listdir(ws) if p.endswith(".partial")]


def test_variants_that_repeat_each_other_are_not_verified(tmp_path, monkeypatch):
    """The old 5/10/30 s variants were one clip three times: a variant whose picture repeats a
    verified sibling (here the 1 s clip is the first second of the 2 s one) fails."""
    monkeypatch.setenv("SIMPLE_IGNORE_SEED", "1")
    result = run(TINY, tmp_path / "ws", RunOptions(backend="simple", workers=1, lease_s=5, only=["A01"]))
    store = Workspace.at(tmp_path / "ws").store()
    try:
        jobs = {j.name: j for j in store.jobs() if j.clip_id == "A01"}
    finally:
        store.close()
    assert jobs["A01_2s"].state == "done"  # longest first
    assert jobs["A01_1s"].state == "failed" and jobs["A01_1s"].error_kind == "verify:near_duplicate"
    assert not result.ok
    assert_only_verified_on_disk(tmp_path / "ws", gone=("A01_1s",))


def test_a_clip_that_fails_its_fidelity_audit_is_not_verified(tmp_path, monkeypatch):
    """A backend's own audit (the procedural renderer's ground truth) can veto a clip that
    passes verify_file: it fails for good with the audit's kind, its findings in the reason."""
    monkeypatch.setenv("SIMPLE_AUDIT", json.dumps({"A01_1s": [["out_of_frame", "the person is never in view"],
                                                              ["low_contrast", "the person differs by delta E 3.0"]]}))
    result = run(TINY, tmp_path / "ws", RunOptions(backend="simple", workers=1, lease_s=5, only=["A01"]))
    ws = Workspace.at(tmp_path / "ws")
    store = ws.store()
    try:
        jobs = {j.name: j for j in store.jobs()}
    finally:
        store.close()
    failed = jobs["A01_1s"]
    assert failed.state == "failed" and failed.attempts == 1                 # deterministic: not retried
    assert failed.error_kind == "verify:out_of_frame"
    assert "never in view" in failed.error and "low_contrast: the person differs" in failed.error
    assert jobs["A01_2s"].state == "done"
    assert not list(ws.clips_dir.glob("A01_1s*"))
    assert not result.ok
    shown = result.status["recent_failures"][0]
    assert (shown["name"], shown["kind"]) == ("A01_1s", "verify:out_of_frame") and "never in view" in shown["reason"]
