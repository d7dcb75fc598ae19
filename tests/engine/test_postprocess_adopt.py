"""Post-processing to the exact target, and adopting clips made elsewhere only when they pass."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from helpers import assert_only_verified_on_disk

from synthcam.engine.adopt import adopt
from synthcam.engine.postprocess import Target, finalize
from synthcam.errors import MediaError
from synthcam.manifest import load_manifest
from synthcam.media.encode import VideoWriter
from synthcam.prompts import compile_manifest
from synthcam.workspace import Workspace

TINY = Path(__file__).parent.parent / "data" / "tiny.yaml"


def make_clip(path: Path, frames: int, fps: int, w: int = 160, h: int = 96, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    base = rng.integers(30, 200, size=(h, w, 3), dtype=np.uint8)
    with VideoWriter(path, w, h, fps, preset="ultrafast", threads=1) as vw:
        for i in range(frames):
            f = base.copy()
            x = (i * 3) % (w - 20)
            f[30:50, x:x + 20] = (250, 250, 20)
            vw.write(f)
    return path


def probe(path: Path) -> tuple[int, float, str, str]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        n = sum(1 for _ in c.decode(s))
        return n, float(s.average_rate), s.codec_context.name, s.codec_context.pix_fmt


@pytest.mark.parametrize("policy,needed,method", [("interpolate", 80, "mci"), ("interpolate", 80, "blend"), ("retime", 93, "mci")])
def test_finalize_exact_frames(tmp_path, policy, needed, method):
    raw = make_clip(tmp_path / "raw.mp4", 93, 16)
    target = Target(24, 120 if policy == "interpolate" else 93, 160, 96)
    r = finalize(raw, tmp_path / "out.mp4", target, policy, needed, method=method)
    assert probe(r.path) == (target.frames, 24.0, "h264", "yuv420p")
    assert r.source_frames == 93 and r.used_frames == needed


def test_finalize_scales_to_target_resolution(tmp_path):
    raw = make_clip(tmp_path / "raw.mp4", 93, 16, w=320, h=192)
    r = finalize(raw, tmp_path / "out.mp4", Target(24, 48, 160, 96), "interpolate", 32, method="blend")
    with av.open(str(r.path)) as c:
        assert (c.streams.video[0].width, c.streams.video[0].height) == (160, 96)


def test_too_few_frames_is_the_old_bug_and_writes_nothing(tmp_path):
    raw = make_clip(tmp_path / "raw.mp4", 93, 16)
    out = tmp_path / "out.mp4"
    with pytest.raises(MediaError, match="93 frames, 160 were needed"):
        finalize(raw, out, Target(24, 240, 160, 96), "interpolate", 160)
    assert not out.exists() and not list(tmp_path.glob("*.partial"))


def test_adopt_only_what_matches_and_passes(tmp_path):
    manifest = load_manifest(TINY)
    compiled = {c.name: c for c in compile_manifest(manifest)}
    src = tmp_path / "incoming"
    src.mkdir()
    # a Cosmos output folder: raw 16 fps, 93 frames (standard mode), with the resolved sidecar
    make_clip(src / "A01_1s.mp4", 93, 16, seed=1)
    (src / "A01_1s.json").write_text(json.dumps(compiled["A01_1s"].cosmos_sample(manifest).to_json()))
    # same, but generated with another seed: a different clip
    make_clip(src / "A01_2s.mp4", 93, 16, seed=2)
    wrong = compiled["A01_2s"].cosmos_sample(manifest).to_json() | {"seed": 0}
    (src / "A01_2s.json").write_text(json.dumps(wrong))
    # the old layout: a correct final clip, and the classic 93-frame 16 fps failure
    make_clip(src / "A02_1s.mp4", 24, 24, seed=3)
    make_clip(src / "A02_2s.mp4", 93, 16, seed=4)
    # a Git LFS pointer stub and a clip that the manifest does not know
    (src / "B01_1s.mp4").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:" + "a" * 64 + "\nsize 12345\n")
    make_clip(src / "Z99_1s.mp4", 24, 24)
    ws = tmp_path / "ws"
    entries = {e.name: e for e in adopt(src, ws, str(TINY), backend="cosmos", interpolation="blend")}
    assert entries["A01_1s"].action == "adopted"
    assert entries["A01_2s"].action == "rejected" and "seed differs" in entries["A01_2s"].reason
    assert entries["A02_1s"].action == "adopted"
    assert entries["A02_2s"].action == "rejected" and entries["A02_2s"].reason.startswith(("wrong_frames", "wrong_fps"))
    assert entries["B01_1s"].action == "rejected" and entries["B01_1s"].reason.startswith("lfs_pointer")
    assert entries["Z99_1s"].action == "skipped"
    store = Workspace.at(ws).store()
    try:
        assert sorted(j.name for j in store.done_jobs()) == ["A01_1s", "A02_1s"]
    finally:
        store.close()
    assert probe(ws / "clips" / "A01_1s.mp4")[:2] == (24, 24.0)
    assert_only_verified_on_disk(ws, gone=("A01_2s", "A02_2s", "B01_1s", "Z99_1s"))
    again = {e.name: e for e in adopt(src, ws, str(TINY), backend="cosmos", interpolation="blend")}
    assert again["A01_1s"].action == "skipped" and "already verified" in again["A01_1s"].reason
