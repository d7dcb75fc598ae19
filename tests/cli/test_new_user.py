"""What a new user hits first (issue 10, items 1-9): the README's flow, defaults, words, progress."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import SIMPLE_BACKEND, assert_one_line_error, invoke, with_env
from synthcam.engine.runner import RunOptions, run
from synthcam.store import JobStore

DATA = Path(__file__).parent.parent / "data"
TINY = DATA / "tiny.yaml"
SIMPLE = SIMPLE_BACKEND
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def simple_backend(monkeypatch):
    monkeypatch.setenv("SYNTHCAM_BACKENDS", SIMPLE)


@pytest.fixture(scope="module")
def quickstart_ws(tmp_path_factory) -> Path:
    """A workspace planned from the embedded quickstart (no -m), two clips made."""
    with with_env(SYNTHCAM_BACKENDS=SIMPLE):
        ws = tmp_path_factory.mktemp("qs") / "workspace"
        result = invoke("run", "-w", ws, "--backend", "simple", "--only", "P01,T03", "--durations", "5", "-q")
        assert result.exit_code == 0, result.stderr
    return ws


def _copy(ws: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "workspace"
    shutil.copytree(ws, dst)
    return dst


# --- 1. every command that reads a workspace finds the manifest it was planned from ----------------

def test_export_after_a_plain_run_on_the_embedded_quickstart(quickstart_ws, tmp_path):
    ws = _copy(quickstart_ws, tmp_path)
    result = invoke("export", "--layout", "nemotron", "--out", tmp_path / "out", "-w", ws)
    assert result.exit_code == 0, result.stderr
    assert len(list((tmp_path / "out").rglob("*.mp4"))) == 2


def test_export_of_an_older_store_with_an_embedded_label(quickstart_ws, tmp_path):
    """Stores made before the manifest was kept record 'quickstart:synthcam/data/quickstart.yaml'."""
    ws = _copy(quickstart_ws, tmp_path)
    store = JobStore(ws / "synthcam.db")
    try:
        store.conn.execute("DELETE FROM meta WHERE key LIKE 'manifest_%'")
        store.conn.execute("UPDATE jobs SET spec = json_set(spec, '$.manifest', 'quickstart:synthcam/data/quickstart.yaml')")
    finally:
        store.close()
    result = invoke("export", "--layout", "flat", "--out", tmp_path / "out", "-w", ws)
    assert result.exit_code == 0, result.stderr


# --- 2. verify of a workspace's clips expects what was planned ---------------------------------------

def test_verify_workspace_clips_expects_the_planned_variants(tmp_path):
    ws = tmp_path / "workspace"
    # quickstart plans P27 at 5 s only (the old verify wanted 10 and 30 s of it too)
    assert invoke("run", "-w", ws, "--backend", "simple", "--only", "P27", "-q").exit_code == 0
    result = invoke("verify", ws / "clips")
    assert result.exit_code == 1  # the other planned IDs are not made yet, and are reported as such
    assert "missing_variant" in result.stdout
    planned = invoke("verify", ws / "clips", "--json", "-")
    ids = {i["id"]: i for i in json.loads(planned.stdout)["ids"]}
    assert ids["P27"]["status"] == "ok" and ids["P27"]["expected_durations"] == [5]


def test_verify_a_fully_made_workspace_passes(tmp_path):
    ws = tmp_path / "ws"
    assert run(TINY, ws, RunOptions(backend="simple", workers=2, lease_s=5)).ok
    result = invoke("verify", ws / "clips")
    assert result.exit_code == 0, result.stdout
    result = invoke("verify", ws / "clips", "-w", ws)
    assert result.exit_code == 0


# --- 3. one default workspace, one rule for the default manifest -------------------------------------

def test_default_manifest_is_the_workspaces_else_quickstart(tmp_path, monkeypatch):
    ws = tmp_path / "workspace"
    monkeypatch.setenv("SYNTHCAM_WORKSPACE", str(ws))
    fresh = json.loads(invoke("check", "--json").stdout)
    assert fresh["manifest"].startswith("quickstart:")
    assert invoke("run", "-m", TINY, "--backend", "simple", "--only", "A01", "--durations", "1", "-q").exit_code == 0
    planned = json.loads(invoke("check", "--json").stdout)
    assert planned["manifest"] == str(TINY) and planned["ids"] == 3
    plan = json.loads(invoke("plan", "--json").stdout)
    assert plan["manifest"] == str(TINY)


def test_every_command_has_the_same_default_workspace():
    from synthcam.cli import app
    import typer.main

    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        for param in command.params:
            if param.name == "workspace" and name != "verify":
                assert str(param.default) == "workspace", name
                assert param.envvar == "SYNTHCAM_WORKSPACE", name


# --- 4. one word for a clip that passed ---------------------------------------------------------------

def test_one_word_for_a_passing_clip(quickstart_ws, tmp_path):
    ws = _copy(quickstart_ws, tmp_path)
    status = invoke("status", "-w", ws).stdout
    assert "verified" in status and "completed" not in status and "done" not in status
    logs = invoke("logs", "P01_5s", "-w", ws).stdout
    assert "verified" in logs.splitlines()[0] and " done" not in logs


# --- 5/6. progress counts the selection; a resumed run says so first -----------------------------------

def test_progress_counts_the_selection_and_fills(tmp_path):
    ticks, plans = [], []
    result = run(TINY, tmp_path / "ws", RunOptions(backend="simple", workers=1, lease_s=5, only=["A01"], durations=[1]),
                 on_tick=ticks.append, on_plan=plans.append)
    assert result.ok and plans[0].selected == 1 and plans[0].to_do == 1 and not plans[0].resumed
    assert all(t.selected == 1 for t in ticks) and ticks[-1].finished == 1


def test_a_resumed_run_says_what_it_found(tmp_path):
    ws = tmp_path / "ws"
    assert run(TINY, ws, RunOptions(backend="simple", workers=2, lease_s=5, only=["A01"])).ok
    store = JobStore(ws / "synthcam.db")
    try:  # a run that died: a claimed job with a dead worker, its staging and a partial file left
        store.register_worker("deadbeef-w0", "deadbeef")
        store.conn.execute("UPDATE workers SET pid = 999999999 WHERE worker = 'deadbeef-w0'")
        store.claim("deadbeef-w0", limit=1, job_ids=[store.find("A02_2s")[0].job_id])
    finally:
        store.close()
    (ws / "staging" / "deadbeef-w0").mkdir(parents=True)
    (ws / "staging" / "deadbeef-w0" / "A02_2s.mp4").write_bytes(b"half")
    (ws / "clips" / ".A02_2s.mp4.x1y2.partial").write_bytes(b"half")
    result = invoke("run", "-m", TINY, "-w", ws, "--backend", "simple", "--workers", "2")
    assert result.exit_code == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("resuming") and "2 of 6 already verified, 4 to do" in first
    assert "1 reclaimed" in first and "2 leftovers" in first
    assert not (ws / "staging" / "deadbeef-w0").exists() and not list((ws / "clips").glob(".*partial"))


def test_logs_show_the_real_attempt_count(tmp_path):
    ws = tmp_path / "ws"
    assert run(TINY, ws, RunOptions(backend="simple", workers=1, lease_s=5, only=["B01"], durations=[1])).ok
    (ws / "clips" / "B01_1s.mp4").unlink()  # made again: two generation attempts
    assert run(TINY, ws, RunOptions(backend="simple", workers=1, lease_s=5, only=["B01"], durations=[1])).ok
    data = json.loads(invoke("logs", "B01_1s", "-w", ws, "--json").stdout)
    assert data["generation_attempts"] == 2 and data["state"] == "done"
    assert "2 generation attempts" in invoke("logs", "B01_1s", "-w", ws).stdout


# --- 7. status prints no Python dicts; --json is JSON on every path; CPU time for CPU backends --------

def test_status_text_has_no_dicts_and_says_cpu_time_for_cpu_backends(quickstart_ws, tmp_path):
    ws = _copy(quickstart_ws, tmp_path)
    store = JobStore(ws / "synthcam.db")
    try:
        store.conn.execute("UPDATE jobs SET spec = json_set(spec, '$.device', 'cpu'), gpu_seconds = 90")
    finally:
        store.close()
    text = invoke("status", "-w", ws).stdout
    assert "{" not in text and "'" not in text
    assert "CPU time" in text and "GPU" not in text
    data = json.loads(invoke("status", "-w", ws, "--json").stdout)
    assert data["cpu_hours"] > 0 and data["gpu_hours"] == 0


@pytest.mark.parametrize("args", [("status",), ("logs", "X"), ("run", "--workers", "0"), ("check", "-m", "nope.yaml"),
                                  ("plan", "--gpu", "z80"), ("lint", "-m", "nope.yaml"), ("adopt", "nope")])
def test_json_on_every_path_errors_included(tmp_path, args):
    result = invoke(*args, "--json", "-w", tmp_path / "none")
    assert result.exit_code == 2, (args, result.stdout, result.stderr)
    data = json.loads(result.stdout)
    assert data["exit_code"] == 2 and data["error"]


def test_procedural_jobs_record_cpu_time(tmp_path, monkeypatch):
    from synthcam.engine.runner import plan_jobs
    from synthcam.manifest import load_manifest

    specs, _ = plan_jobs(load_manifest("quickstart"), RunOptions(backend="procedural"))
    assert {s.spec["device"] for s in specs} == {"cpu"}
    specs, _ = plan_jobs(load_manifest("quickstart"), RunOptions(backend="cosmos", gpus=["0"]))
    assert {s.spec["device"] for s in specs} == {"gpu"}


# --- 8. help is readable at 80 columns -----------------------------------------------------------------

def test_help_is_readable_at_80_columns():
    import re

    from synthcam.cli import app
    import typer.main

    names = list(typer.main.get_command(app).commands)
    assert len(names) >= 15
    for name in names:
        env = {**os.environ, "COLUMNS": "80", "TERM": "dumb"}
        out = subprocess.run([sys.executable, "-m", "synthcam", name, "--help"], capture_output=True, text=True,
                             env=env, check=True).stdout
        assert not re.search(r"<(str|int|bool|path|float|list\[str\])>", out), (name, out)
        assert "…" not in out, name
        assert "tests/" not in out, name
        long = [line for line in out.splitlines() if len(line) > 80]
        assert not long, (name, long)


def test_readme_says_how_to_get_synthcam_on_path():
    readme = (REPO / "README.md").read_text()
    assert ".venv/bin/activate" in readme


# --- 9. system-deps waits for the apt lock, bounded, with a message ------------------------------------

def test_system_deps_waits_for_the_apt_lock(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    (bin_dir / "apt-get").write_text(
        "#!/bin/bash\n"
        f"echo \"$@\" >> {calls}\n"
        f"n=$(grep -c . {calls})\n"
        "if [ \"$n\" -le 2 ]; then echo 'E: Could not get lock /var/lib/dpkg/lock-frontend. "
        "It is held by process 4242 (apt-get)' >&2; exit 100; fi\n"
        "exit 0\n")
    (bin_dir / "apt-get").chmod(0o755)
    # a PATH with the basic tools but none of the packages, so the script wants to install them
    for tool in ("bash", "id", "grep", "mktemp", "sleep", "cat", "rm"):
        target = shutil.which(tool)
        assert target, tool
        (bin_dir / tool).symlink_to(target)
    env = {"PATH": str(bin_dir), "SYNTHCAM_APT_POLL": "0.1", "SYNTHCAM_APT_WAIT": "30", "HOME": str(tmp_path)}
    if os.geteuid() != 0:
        pytest.skip("the script installs as root (or with sudo); this machine runs tests as another user")
    done = subprocess.run([str(bin_dir / "bash"), str(REPO / "scripts" / "system-deps.sh")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "waiting for another apt/dpkg" in done.stderr
    assert calls.read_text().count("update") == 3 and "install" in calls.read_text()
    # a lock never released: a bounded wait and a clear error
    calls.write_text("")
    (bin_dir / "apt-get").write_text("#!/bin/bash\necho 'E: Could not get lock /var/lib/dpkg/lock' >&2; exit 100\n")
    env["SYNTHCAM_APT_WAIT"] = "1"
    done = subprocess.run([str(bin_dir / "bash"), str(REPO / "scripts" / "system-deps.sh")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "still holds the package lock" in done.stderr


@pytest.mark.parametrize("args, needle", [
    (["--finish-on", "gpu"], "--finish-on must be driver or cluster"),
    (["--finish-on", "cluster"], "are for --executor ray"),
])
def test_finish_on_is_checked_before_anything_is_written(tmp_path, args, needle):
    assert_one_line_error(invoke("run", "-m", TINY, "-w", tmp_path / "ws", "-q", *args), needle, code=2)
    assert not (tmp_path / "ws").exists()


def test_finish_on_cluster_reaches_the_ray_executor(tmp_path, monkeypatch):
    """The flag is only plumbing (the cluster finishing itself runs in tests/engine/test_ray.py)."""
    import synthcam.engine.runner as runner

    seen = {}

    def fake_run(manifest, workspace, opts, **kw):
        seen.update(executor=opts.executor, options=opts.executor_options)
        raise runner.InputError("stop here")

    monkeypatch.setattr(runner, "run", fake_run)
    result = invoke("run", "-m", TINY, "-w", tmp_path / "ws", "-q", "--executor", "ray", "--finish-on", "cluster")
    assert_one_line_error(result, "stop here")
    assert seen == {"executor": "ray", "options": {"address": None, "artifacts": None, "finish": "cluster"}}
