"""The procedural backend, checked against its own pixels.

Clips are rendered small (320x176, 2 s) from tests/backends/data/procedural.yaml, which
covers every layout, light, weather, subject kind and action path; one test renders at the
full 1280x704. Labels are compared with what was drawn: boxes with the lossless mask
video, visibility with occlusion, chroma with the night look, bytes with a second render.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import av
import imagehash
import numpy as np
import pytest
from PIL import Image

from synthcam.backends.base import Failure, GenerationRequest, RawClip
from synthcam.backends.procedural import ProceduralBackend, RenderOptions, render_clip
from synthcam.backends.procedural.motion import Script
from synthcam.backends.procedural.plan import plan_clip
from synthcam.backends.procedural.render import Renderer
from synthcam.backends.procedural.truth import Truth, rle
from synthcam.errors import InputError
from synthcam.manifest import load_manifest, load_manifest_text
from synthcam.prompts import Compiler

DATA = Path(__file__).parent / "data" / "procedural.yaml"
MANIFEST = load_manifest(DATA)
SHORT = [v.clip_id for v in MANIFEST.variants() if v.duration_s == 2]
STILL = {"A23", "O02", "O03"}  # "stand" clips: little motion by design


def _verifier():
    """The verifier is part of synthcam: an import error is a failure here, never a skip."""
    from synthcam.verify import Expectation, verify_file

    return (verify_file, Expectation), ""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory):
    """Render each 2 s clip once per module, on demand."""
    root = tmp_path_factory.mktemp("procedural")
    cache: dict[tuple[str, int, bool], object] = {}

    def get(clip_id: str, duration: int = 2, masks: bool = False):
        key = (clip_id, duration, masks)
        if key not in cache:
            out = root / ("masks" if masks else "plain") / f"{clip_id}_{duration}s.mp4"
            cache[key] = render_clip(MANIFEST, clip_id, duration, out, options=RenderOptions(masks=masks))
        return cache[key]

    return get


def decode(path: Path, fmt: str = "gray") -> tuple[list[np.ndarray], av.video.stream.VideoStream]:
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        frames = [f.to_ndarray(format=fmt) for f in c.decode(stream)]
        return frames, stream


def mot_rows(result) -> np.ndarray:
    return np.loadtxt(result.files["mot"], delimiter=",", ndmin=2)


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.mark.parametrize("clip_id", SHORT)
def test_every_clip_renders_to_spec(rendered, clip_id: str) -> None:
    result = rendered(clip_id)
    frames, stream = decode(result.video)
    assert len(frames) == 48 == result.frames
    assert stream.average_rate == 24 and stream.codec_context.name == "h264"
    assert stream.codec_context.pix_fmt == "yuv420p"
    assert (stream.codec_context.width, stream.codec_context.height) == (320, 176)
    rows = mot_rows(result)
    counts = json.loads(result.files["counts"].read_text())
    assert counts["frames"] == 48 and counts["counts"] == result.counts
    if len(rows):
        assert rows[:, 0].min() >= 1 and rows[:, 0].max() <= 48           # 1-based frames
        assert (rows[:, 2] >= 0).all() and (rows[:, 2] + rows[:, 4] <= 320).all()
        assert (rows[:, 3] >= 0).all() and (rows[:, 3] + rows[:, 5] <= 176).all()
        assert ((rows[:, 8] >= 0) & (rows[:, 8] <= 1)).all()
        for track in np.unique(rows[:, 1]):
            assert len(np.unique(rows[rows[:, 1] == track, 7])) == 1      # one class per track
    assert result.counts, f"{clip_id}: nothing visible"
    (verify_file, Expectation), _ = _verifier()
    report = verify_file(result.video, Expectation(width=320, height=176, duration_s=2, expects_motion=clip_id not in STILL))
    assert report.ok, [f.detail for f in report.findings]


def test_mask_boxes_match_ground_truth(rendered) -> None:
    result = rendered("N01", masks=True)
    masks, _ = decode(result.files["masks"], "rgb24")
    assert len(masks) == 48
    counts = json.loads(result.files["counts"].read_text())
    colours = {t["track_id"]: tuple(t["mask_rgb"]) for t in counts["tracks"]}
    rows = mot_rows(result)
    checked = 0
    for frame, track, left, top, w, h, _, _, vis in rows:
        sel = np.all(masks[int(frame) - 1] == colours[int(track)], axis=-1)
        if vis < 1.0 or not sel.any():
            continue
        ys, xs = np.nonzero(sel)
        assert (xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()) == (left, top, w, h)
        checked += 1
    assert checked >= 20
    coco = json.loads(result.files["coco"].read_text())
    assert [im["frame_id"] for im in coco["images"]] == [1, 25]
    for ann in coco["annotations"]:
        sel = np.all(masks[ann["frame_id"] - 1] == colours[ann["track_id"]], axis=-1)
        ys, xs = np.nonzero(sel)
        assert ann["bbox"] == [xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()]
        assert ann["area"] == sel.sum()
        assert ann["segmentation"]["counts"] == rle(sel)


def test_track_ids_persist_and_move_smoothly(rendered) -> None:
    rows = mot_rows(rendered("A10"))
    assert set(np.unique(rows[:, 1])) == {1, 2}                          # walker and dog
    for track in (1, 2):
        mine = rows[rows[:, 1] == track]
        frames = mine[:, 0]
        assert (np.diff(frames) == 1).all()                              # no gaps
        centres = mine[:, 2:4] + mine[:, 4:6] / 2
        assert np.abs(np.diff(centres, axis=0)).max() < 12               # a few px per frame


def test_occlusion_lowers_visibility() -> None:
    manifest = MANIFEST
    compiled = Compiler(manifest).compile(next(v for v in manifest.variants() if v.name == "O02_2s"))
    seen = {}
    for level in ("none", "partial", "heavy"):
        plan = replace(plan_clip(manifest, compiled), occlusion=level)
        r = Renderer(plan)
        person = next(a for a in r.cast.actors if a.kind == "person")
        vis = []
        for i in range(0, 48, 6):
            for inst in r.render(i):
                if inst.actor is person and inst.raster.area:
                    window = r.ids[max(inst.raster.y0, 0):inst.raster.y1, max(inst.raster.x0, 0):inst.raster.x1]
                    vis.append(np.count_nonzero(window == person.track) / inst.raster.area)
        seen[level] = float(np.mean(vis))
    assert seen["none"] > 0.9
    assert seen["heavy"] < seen["partial"] < seen["none"]
    assert seen["heavy"] < 0.5


def test_occluded_clip_reports_low_visibility(rendered) -> None:
    rows = mot_rows(rendered("O01"))
    person = rows[rows[:, 7] == 1]
    assert np.median(person[:, 8]) < 0.9


def test_night_is_monochrome_and_day_is_not(rendered) -> None:
    night, _ = decode(rendered("A03").video, "yuv420p")
    day, _ = decode(rendered("A02").video, "yuv420p")
    chroma = lambda f: f[176:].astype(int) - 128  # noqa: E731
    assert max(np.abs(chroma(f)).max() for f in night) <= 2
    assert max(np.abs(chroma(f)).max() for f in day) > 20


def test_same_inputs_give_identical_bytes(tmp_path: Path, rendered) -> None:
    first = rendered("A08")
    again = render_clip(MANIFEST, "A08", 2, tmp_path / "again.mp4")
    assert sha(first.video) == sha(again.video)
    for key in ("mot", "coco", "counts", "seqinfo"):
        assert sha(first.files[key]) == sha(again.files[key])
    other = render_clip(MANIFEST, "A08", 2, tmp_path / "seeded.mp4", seed=first.seed + 1)
    assert sha(other.video) != sha(first.video)


def _hashes(path: Path) -> list[imagehash.ImageHash]:
    frames, _ = decode(path)
    return [imagehash.phash(Image.fromarray(frames[i])) for i in range(0, len(frames), 24)]


def test_durations_and_seeds_are_different_takes(tmp_path: Path, rendered) -> None:
    short, longer = rendered("A02", 2), rendered("A02", 4)
    assert sha(short.video) != sha(longer.video)
    prefix = [a - b for a, b in zip(_hashes(short.video), _hashes(longer.video))]
    assert np.median(prefix) > 4                                         # the verifier's near-duplicate median
    reseeded = render_clip(MANIFEST, "A02", 2, tmp_path / "s.mp4", seed=12345)
    assert np.median([a - b for a, b in zip(_hashes(short.video), _hashes(reseeded.video))]) > 4


def test_verifier_sees_every_variant_as_its_own_clip(tmp_path: Path) -> None:
    """All durations of one ID in a folder: the verifier's per-ID and near-duplicate checks pass."""
    from synthcam.verify import Expectation, verify_paths
    for clip_id in ("A02", "A12"):
        for seconds in (2, 4):
            render_clip(MANIFEST, clip_id, seconds, tmp_path / f"{clip_id}_{seconds}s.mp4")
    report = verify_paths([tmp_path], defaults=Expectation(width=320, height=176), durations=[2, 4], in_process=True)
    assert [f.status for f in report.files] == ["ok"] * 4, [(f.path, f.findings) for f in report.files]
    assert all(i.status == "ok" for i in report.ids)


def test_pacing_stretches_with_duration() -> None:
    compiler = Compiler(MANIFEST)
    scripts = {}
    for v in MANIFEST.variants():
        if v.clip_id == "L01":
            r = Renderer(plan_clip(MANIFEST, compiler.compile(v)))
            scripts[v.duration_s] = r.cast.of("person")[0].timeline
    assert all(isinstance(s, Script) for s in scripts.values())
    drops = {d: s.time_of("drop") for d, s in scripts.items()}
    assert drops[5] < drops[10] < drops[30]
    assert len(scripts[30].beats) > len(scripts[10].beats) > len(scripts[5].beats)
    waits = {d: sum(b.seconds for b in s.beats if b.distance < 1e-6 and b.t0 < d) for d, s in scripts.items()}
    assert waits[30] > 3 * waits[5]
    for d, s in scripts.items():
        assert s.duration >= d - 1e-6


def test_every_path_plays_for_the_whole_clip() -> None:
    compiler = Compiler(MANIFEST)
    for v in MANIFEST.variants():
        if v.duration_s != 4:
            continue
        for seconds in (5, 30):
            r = Renderer(replace(plan_clip(MANIFEST, compiler.compile(v)), duration_s=seconds, width=160, height=96))
            lead = next(a for a in r.cast.actors if a.role == "subject")
            shown = [not lead.timeline.at(t)[1] for t in np.linspace(0, seconds, 25)]
            assert any(shown), f"{v.clip_id} at {seconds} s never shows its subject"
            r.render(0)
            r.render(seconds * 24 - 1)


def test_hidden_objects_are_not_counted(tmp_path: Path) -> None:
    truth = Truth(tmp_path, "x", 64, 48, 24, 24, {"person": 1})
    seen = np.ones((10, 5), bool)
    for i in range(24):
        truth.add(i, 1, "person", "subject", 50, (0, 0, 5, 10), seen, (0, 0))
        truth.add(i, 2, "person", "subject", 50, (10, 0, 15, 10), np.zeros((10, 5), bool), (10, 0))
        truth.frame_done(i)
    truth.close({"declared": {"person": 2}})
    assert truth.counts() == {"person": 1}
    rows = np.loadtxt(tmp_path / "gt.txt", delimiter=",")
    assert set(rows[rows[:, 1] == 2, 6]) == {0}                          # fully hidden: conf 0 (ignore)


def test_prompt_only_clips_are_inferred() -> None:
    compiler = Compiler(MANIFEST)
    plans = {v.clip_id: plan_clip(MANIFEST, compiler.compile(v)) for v in MANIFEST.variants() if v.clip_id.startswith("P")}
    p1, p2, p3 = plans["P01"], plans["P02"], plans["P03"]
    assert (p1.layout, p1.time_of_day, p1.path, p1.subjects[0].kind) == ("driveway", "night", "test_handle", "person")
    assert (p2.layout, p2.weather, p2.path, p2.subjects[0].kind) == ("street", "rain", "drive_past", "vehicle")
    assert (p3.layout, p3.time_of_day, p3.path, p3.subjects[0].kind) == ("front_porch", "day", "walk_past", "person")
    assert "layout" in p3.inferred


def test_full_resolution_clip(tmp_path: Path) -> None:
    text = DATA.read_text().replace("resolution: 320x176", "resolution: 1280x704")
    manifest = load_manifest_text(text, "full.yaml")
    result = render_clip(manifest, "A20", 2, tmp_path / "A20_2s.mp4")
    frames, stream = decode(result.video)
    assert len(frames) == 48 and frames[0].shape == (704, 1280)
    assert result.counts == {"package": 1, "person": 1}
    (verify_file, Expectation), _ = _verifier()
    assert verify_file(result.video, Expectation(duration_s=2, expects_motion=True)).ok


def test_backend_generate(tmp_path: Path) -> None:
    compiled = Compiler(MANIFEST).compile(next(v for v in MANIFEST.variants() if v.name == "A13_2s"))
    request = GenerationRequest("job-1", compiled, MANIFEST)
    backend = ProceduralBackend()
    assert backend.has_ground_truth and backend.name == "procedural"
    raw = backend.generate(request, tmp_path)
    assert isinstance(raw, RawClip) and raw.at_target and raw.frames == 48 and raw.fps == 24
    assert raw.video == tmp_path / "A13_2s.mp4" and raw.video.exists()
    assert {"mot", "coco", "counts", "seqinfo", "truth_dir"} <= set(raw.extras)
    blocked = tmp_path / "a-file"
    blocked.write_text("x")
    failed = backend.generate(request, blocked)
    assert isinstance(failed, Failure) and failed.kind == "error"


def test_render_clip_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no clip"):
        render_clip(MANIFEST, "ZZ9", 2, tmp_path / "x.mp4")
    with pytest.raises(InputError, match="durations 2 s, 4 s"):
        render_clip(MANIFEST, "A01", 7, tmp_path / "x.mp4")
    with pytest.raises(InputError, match=".mp4"):
        render_clip(MANIFEST, "A01", 2, tmp_path / "x.avi")
    folder = tmp_path / "folder.mp4"
    folder.mkdir()
    with pytest.raises(InputError, match="directory"):
        render_clip(MANIFEST, "A01", 2, folder)
    assert list(tmp_path.iterdir()) == [folder]
