"""Build small workspaces with verified, failed, blocked and pending jobs for the QA tests.

Jobs go through the real store calls (sync, claim, start, complete/fail/block/release), and
the clips are real H.264 files made with our VideoWriter, so the gallery and export see
exactly what `synthcam run` leaves behind, only tiny (192x112).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from synthcam.engine.jobs import job_spec
from synthcam.manifest import load_manifest
from synthcam.media.encode import VideoWriter
from synthcam.prompts import compile_manifest
from synthcam.workspace import Workspace

QA_MANIFEST = Path(__file__).with_name("qa.yaml")
SIZE = (192, 112)
WORKER = "test-worker"

# What the tests expect the QA workspace to hold.
DEFAULT_STATES = {
    "P01_5s": "done", "P01_10s": "done", "P01_30s": "done",
    "P02_5s": "done", "P02_10s": "failed",
    "R01_5s": "done",
    "T01_5s": "blocked", "T01_10s": "pending",
    "E01_5s": "done",
}
FINDINGS = {"P02_5s": [{"kind": "flicker", "detail": "brightness jumps 3 times (limit 2)"}]}
FAILURES = {"P02_10s": ("verify:black", "frames 0-240 are black (mean luma 3.1)")}


def write_clip(path: Path, seconds: int, fps: int = 24, seed: int = 0, size: tuple[int, int] = SIZE) -> str:
    """A clip with a moving subject on a tinted background; returns its sha256."""
    w, h = size
    rng = np.random.default_rng(seed)
    tint = rng.integers(40, 150, 3)
    ys = np.linspace(0.6, 1.0, h)[:, None, None]
    background = (ys * tint[None, None, :] * np.ones((1, w, 1))).astype(np.uint8)
    frames = fps * seconds
    path.parent.mkdir(parents=True, exist_ok=True)
    with VideoWriter(path, w, h, fps, preset="ultrafast", crf=30) as writer:
        for i in range(frames):
            frame = background.copy()
            x = int((w - 24) * i / max(1, frames - 1))
            frame[h // 3: h // 3 + 48, x: x + 16] = (220, 200, 180)
            frame[h // 3 + 40: h // 3 + 56, x + 14: x + 28] = (160, 110, 60)
            writer.write(frame)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_workspace(root: Path, states: dict[str, str] | None = None, manifest_path: Path = QA_MANIFEST,
                   backend: str = "procedural", model: str = "procedural-v1",
                   finished_at: float = 1_764_000_000.0) -> Workspace:
    """A workspace whose jobs are in `states` (name -> state); unnamed jobs stay pending."""
    states = DEFAULT_STATES if states is None else states
    ws = Workspace.at(root)
    manifest = load_manifest(manifest_path)
    specs = {c.name: job_spec(manifest, c, backend, model, cost_s=float(c.variant.duration_s), uses_components=True)
             for c in compile_manifest(manifest)}
    with ws.store() as store:
        store.sync(specs.values(), now=finished_at - 100)
        wanted = [specs[n].job_id for n, s in states.items() if s != "pending"]
        if wanted:
            store.claim(WORKER, limit=len(wanted), job_ids=wanted, now=finished_at - 50)
        for name, state in states.items():
            spec = specs[name]
            if state == "pending":
                continue
            store.start(spec.job_id, WORKER, now=finished_at - 40)
            if state == "done":
                path = ws.clip_path(name)
                sha = write_clip(path, spec.duration_s, spec.spec["fps"], seed=spec.seed % 1000)
                probe = {"frames": spec.spec["frames"], "fps": float(spec.spec["fps"]), "width": SIZE[0],
                         "height": SIZE[1], "codec": "h264", "pix_fmt": "yuv420p", "size": path.stat().st_size}
                store.complete(spec.job_id, ws.relative(path), sha, probe, FINDINGS.get(name, []), worker=WORKER,
                               gpu_seconds=12.5, now=finished_at)
            elif state == "failed":
                kind, detail = FAILURES.get(name, ("error", "the backend crashed"))
                store.fail(spec.job_id, WORKER, kind, detail, retryable=False, now=finished_at)
            elif state == "blocked":
                store.block(spec.job_id, WORKER, "guardrail: the prompt was refused (weapon)", now=finished_at)
            elif state == "running":
                pass
            else:  # pragma: no cover - a typo in a test
                raise ValueError(f"unknown state {state!r}")
    return ws


def job_of(ws: Workspace, name: str):
    with ws.store() as store:
        return next(j for j in store.jobs() if j.name == name)


# --- fixtures (imported by the conftest of each test folder that needs them) -------------


@pytest.fixture(scope="session")
def qa_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default QA workspace, built once per session; tests get copies."""
    return make_workspace(tmp_path_factory.mktemp("qa-template") / "ws").root


@pytest.fixture
def qa_ws(qa_template: Path, tmp_path: Path) -> Workspace:
    """A private copy of the QA workspace."""
    dest = tmp_path / "ws"
    shutil.copytree(qa_template, dest)
    return Workspace(dest.resolve())


def record_policy(ws: Workspace, name: str, record: dict | None, clip=None) -> None:
    """Record the verification policy a verified job passed under, where the engine keeps it
    (probe["policy"]). With `clip(path)`, its file is first replaced by what `clip` writes, and
    the new sha256, size and mtime are recorded, as if that file had been verified."""
    import json
    import sqlite3

    job = job_of(ws, name)
    probe = dict(job.probe or {})
    sha = job.sha256
    path = ws.root / (job.output or "")
    if clip is not None:
        clip(path)
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        probe.update(size=path.stat().st_size, mtime_ns=path.stat().st_mtime_ns)
    if record is None:
        probe.pop("policy", None)
    else:
        probe["policy"] = record
    conn = sqlite3.connect(ws.db_path)
    try:
        with conn:
            conn.execute("UPDATE jobs SET probe = ?, sha256 = ? WHERE job_id = ?", (json.dumps(probe), sha, job.job_id))
    finally:
        conn.close()
