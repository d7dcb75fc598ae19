"""Data that could be lost or silently trusted (issue 16, items 1, 2, 5, 13, 14, 15)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import assert_one_line_error, invoke
from synthcam.engine.adopt import adopt
from synthcam.engine.runner import run
from synthcam.errors import StorageError, WorkspaceError
from synthcam.store import JobStore
from synthcam.workspace import Workspace

from .conftest import SIMPLE, TINY, opts


def _jobs(ws: Path) -> dict:
    store = JobStore(ws / "synthcam.db")
    try:
        return {j.name: j for j in store.jobs()}
    finally:
        store.close()


def _events(ws: Path, name: str) -> list[str]:
    store = JobStore(ws / "synthcam.db")
    try:
        return [e["kind"] for e in store.events(job_id=store.find(name)[0].job_id, limit=100)]
    finally:
        store.close()


# --- 1. a verified clip deleted or altered is noticed and made again ------------------------------

def test_deleted_clip_is_regenerated_by_run(workspace):
    (workspace / "clips" / "A01_1s.mp4").unlink()
    result = run(TINY, workspace, opts())
    assert result.ok and result.plan.integrity.missing == ["A01_1s"]
    assert (workspace / "clips" / "A01_1s.mp4").is_file()
    assert "file_missing" in _events(workspace, "A01_1s")
    assert _jobs(workspace)["A01_1s"].state == "done"


def test_altered_clip_of_the_same_size_is_quarantined_and_regenerated(workspace):
    clip = workspace / "clips" / "A02_2s.mp4"
    data = bytearray(clip.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other bytes
    clip.write_bytes(bytes(data))
    result = run(TINY, workspace, opts())
    assert result.plan.integrity.changed == ["A02_2s"] and result.ok
    assert [p.name.split(".")[0] for p in (workspace / "quarantine").iterdir()] == ["A02_2s"]
    job = _jobs(workspace)["A02_2s"]
    assert job.sha256 and job.sha256 != __import__("hashlib").sha256(bytes(data)).hexdigest()
    assert "file_changed" in _events(workspace, "A02_2s")


def test_a_touched_but_unchanged_clip_is_not_regenerated(workspace):
    clip = workspace / "clips" / "B01_1s.mp4"
    os.utime(clip, ns=(1, 1))
    result = run(TINY, workspace, opts())
    assert result.plan.integrity.ok and result.plan.to_do == 0
    assert _jobs(workspace)["B01_1s"].probe["mtime_ns"] == 1  # remembered: the next check is a stat


def test_status_reports_and_requeues_a_missing_clip(workspace):
    (workspace / "clips" / "B01_2s.mp4").unlink()
    result = invoke("status", "-w", workspace, "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["integrity"]["missing"] == ["B01_2s"] and data["completed"] == 5 and data["pending"] == 1
    text = invoke("status", "-w", workspace).stdout
    assert "verified" in text


def test_adopt_takes_back_a_clip_whose_verified_file_was_deleted(workspace, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.move(workspace / "clips" / "A01_2s.mp4", elsewhere / "A01_2s.mp4")
    entries = adopt(elsewhere, workspace, str(TINY), backend="simple")
    assert [(e.name, e.action) for e in entries] == [("A01_2s", "adopted")]


# --- 2. an empty or damaged store is refused, never taken for a new workspace ----------------------

def test_empty_store_with_clips_is_refused(workspace):
    (workspace / "synthcam.db").write_bytes(b"")
    for extra in ("-wal", "-shm"):
        (workspace / f"synthcam.db{extra}").unlink(missing_ok=True)
    before = {p.name: p.stat().st_mtime_ns for p in (workspace / "clips").glob("*.mp4")}
    with pytest.raises(WorkspaceError, match="adopt"):
        run(TINY, workspace, opts())
    assert {p.name: p.stat().st_mtime_ns for p in (workspace / "clips").glob("*.mp4")} == before
    result = invoke("run", "-m", TINY, "-w", workspace, "--backend", "simple")
    assert_one_line_error(result, "adopt", code=2)


def test_missing_store_with_clips_is_refused(workspace):
    for p in workspace.glob("synthcam.db*"):
        p.unlink()
    assert_one_line_error(invoke("run", "-m", TINY, "-w", workspace, "--backend", "simple"), "is missing", code=2)
    assert_one_line_error(invoke("status", "-w", workspace), "adopt", code=2)


@pytest.mark.parametrize("damage", ["garbled", "truncated"])
def test_damaged_store_gives_one_line_errors_everywhere(workspace, damage):
    db = workspace / "synthcam.db"
    store = JobStore(db)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    raw = bytearray(db.read_bytes())
    if damage == "garbled":
        raw[:100] = os.urandom(100)  # the header: not a database any more
        db.write_bytes(bytes(raw))
    else:
        db.write_bytes(bytes(raw[: len(raw) // 2]))
    for args in (("status",), ("logs", "A01_1s"), ("run", "-m", TINY, "--backend", "simple"),
                 ("export", "--out", workspace.parent / "out"), ("gallery",), ("status", "--json")):
        result = invoke(*args, "-w", workspace)
        assert result.exit_code in (1, 2), (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stdout + result.stderr
        if "--json" in args:
            assert "error" in json.loads(result.stdout)
        else:
            assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)


def test_a_foreign_sqlite_file_is_not_touched(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    conn = sqlite3.connect(ws / "synthcam.db")
    conn.execute("CREATE TABLE photos (id INTEGER)")
    conn.commit()
    conn.close()
    before = (ws / "synthcam.db").read_bytes()
    with pytest.raises(WorkspaceError, match="not a synthcam job store"):
        run(TINY, ws, opts())
    assert (ws / "synthcam.db").read_bytes() == before


# --- 5. workspace folders that are links out -------------------------------------------------------

@pytest.mark.parametrize("folder", ["clips", "staging", "logs"])
def test_a_workspace_folder_linking_outside_is_refused(tmp_path, folder):
    ws = tmp_path / "ws"
    ws.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (ws / folder).symlink_to(outside)
    with pytest.raises(WorkspaceError, match="symbolic link"):
        run(TINY, ws, opts())
    assert not list(outside.iterdir())
    assert_one_line_error(invoke("run", "-m", TINY, "-w", ws, "--backend", "simple"), "symbolic link", code=2)


# --- 13. storage faults become one line, and status reads without writing -----------------------

def test_disk_full_in_the_store_is_one_line(workspace, monkeypatch):
    from synthcam import store as store_module

    def full(self, *a, **k):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store_module.JobStore, "sync", full, raising=True)
    err = assert_one_line_error(invoke("run", "-m", TINY, "-w", workspace, "--backend", "simple"), "disk is full", code=1)
    assert "synthcam.db" in err or "job store" in err


def test_storage_error_from_sqlite_is_typed_and_names_the_path(tmp_path):
    from synthcam.store import storage_error

    e = storage_error(sqlite3.OperationalError("database or disk is full"), tmp_path / "synthcam.db")
    assert isinstance(e, StorageError) and "free some space" in str(e) and "synthcam.db" in str(e)
    e = storage_error(sqlite3.OperationalError("attempt to write a readonly database"), "x.db")
    assert isinstance(e, StorageError) and "writable" in str(e)
    e = storage_error(sqlite3.DatabaseError("file is not a database"), "x.db")
    assert isinstance(e, WorkspaceError) and "adopt" in str(e)


def test_status_works_when_the_store_cannot_be_written(workspace, monkeypatch):
    """A read-only disk: the writable open fails, status falls back to reading (no status file)."""
    real = Workspace.store

    def readonly_disk(self):
        raise StorageError(f"{self.db_path}: cannot write here (attempt to write a readonly database)")

    monkeypatch.setattr(Workspace, "store", readonly_disk)
    (workspace / "generation_status.json").unlink()
    result = invoke("status", "-w", workspace, "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["completed"] == 6 and data["read_only"] is True
    assert not (workspace / "generation_status.json").exists()
    monkeypatch.setattr(Workspace, "store", real)


def test_status_file_that_cannot_be_written_is_not_a_traceback(workspace, monkeypatch):
    from synthcam.engine import status as status_module

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied", str(workspace / "generation_status.json"))

    monkeypatch.setattr(status_module, "write_json_atomic", refuse)
    result = invoke("status", "-w", workspace)
    assert result.exit_code == 0 and "verified" in result.stdout, result.stderr
    err = assert_one_line_error(invoke("run", "-m", TINY, "-w", workspace, "--backend", "simple"),
                                "generation_status.json", code=1)
    assert "writable" in err


# --- 14. two adopts into one workspace ---------------------------------------------------------------

def test_two_adopts_at_once_do_not_collide(workspace, tmp_path):
    sources = []
    for i, names in enumerate((["A01_1s", "A01_2s"], ["B01_1s", "B01_2s"])):
        src = tmp_path / f"src{i}"
        src.mkdir()
        for n in names:
            shutil.move(workspace / "clips" / f"{n}.mp4", src / f"{n}.mp4")
        sources.append(src)
    env = {**os.environ, "SYNTHCAM_BACKENDS": SIMPLE, "PYTHONPATH": str(Path(__file__).parent.parent)}
    procs = [subprocess.Popen([sys.executable, "-m", "synthcam", "adopt", str(src), "-m", str(TINY), "-w", str(workspace),
                               "--backend", "simple", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for src in sources]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert json.loads(out)["counts"]["adopted"] == 2
    assert all(j.state == "done" for j in _jobs(workspace).values())
    assert not list((workspace / "staging").glob("adopt*"))


# --- 15. the manifest is recorded resolved, and a moved one is reported ----------------------------

def test_manifest_recorded_resolved_and_moved_manifest_reported(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(TINY, project / "m.yaml")
    monkeypatch.chdir(project)
    assert invoke("run", "-m", "m.yaml", "-w", "ws", "--backend", "simple", "--only", "A01", "--durations", "1",
                  "-q").exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    # from another folder, with no -m: the recorded (absolute) manifest is found
    result = invoke("run", "-w", project / "ws", "--backend", "simple", "--only", "A02", "--durations", "1", "-q")
    assert result.exit_code == 0, result.stderr
    store = JobStore(project / "ws" / "synthcam.db")
    try:
        origin, _ = store.planned_manifest()
        assert origin == str((project / "m.yaml").resolve())
        assert all(j.spec["manifest"] == origin for j in store.jobs())
    finally:
        store.close()
    (project / "m.yaml").rename(project / "moved.yaml")
    assert_one_line_error(invoke("run", "-w", project / "ws", "--backend", "simple"), "has moved", code=2)
    # commands that read what was planned keep working from the text kept in the store
    assert invoke("export", "-w", project / "ws", "--out", tmp_path / "out").exit_code == 0
