"""Export: the nemotron and flat layouts, verified clips only, idempotent and atomic."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from synthcam.errors import InputError, UnsafePathError
from synthcam.export import RECORD, ExpectedLabels, Metadata, ScenarioSpec, export
from synthcam.export.layouts import _check_distinct
from synthcam.export.tree import Tree
from synthcam.workspace import Workspace

from gallery.qa_factory import QA_MANIFEST, job_of, make_workspace

DATE = "20251124"  # the factory's finished_at, 2025-11-24T16:00Z
FOLDERS = {
    f"normal/cosmos_E01_dog_wander_{DATE}",
    f"normal/cosmos_P01_delivery_baseline_{DATE}",
    f"normal/cosmos_P01_10s_delivery_baseline_{DATE}",
    f"normal/cosmos_P01_30s_delivery_baseline_{DATE}",
    f"suspicious/cosmos_P02_driveway_loiter_{DATE}",
    f"suspicious/cosmos_R01_package_grab_{DATE}",
}
FILES = {"media/001.mp4", "media/thumbnail.jpg", "metadata.json", "scenario_spec.json", "expected_labels.json"}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_state(out: Path) -> dict[str, tuple[int, str]]:
    return {str(p.relative_to(out)): (p.stat().st_mtime_ns, sha(p)) for p in sorted(out.rglob("*")) if p.is_file()}


def folders(out: Path) -> set[str]:
    return {f"{c.name}/{d.name}" for c in out.iterdir() if c.is_dir() for d in c.iterdir() if d.is_dir()}


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """The export folder; the QA workspace is at tmp_path / "ws", beside it."""
    return tmp_path / "out"


@pytest.fixture
def own_manifest(tmp_path: Path) -> Path:
    """A copy of the QA manifest that a test may edit (labels are metadata: no regeneration)."""
    path = tmp_path / "qa.yaml"
    shutil.copy(QA_MANIFEST, path)
    return path


def test_nemotron_layout_holds_exactly_the_verified_clips(qa_ws: Workspace, out: Path) -> None:
    out = out / "synthetic"
    result = export(qa_ws.root, "nemotron", out)
    assert {c.entry for c in result.changes} == FOLDERS and result.count("create") == 6
    assert folders(out) == FOLDERS
    for folder in FOLDERS:
        assert {str(p.relative_to(out / folder)) for p in (out / folder).rglob("*") if p.is_file()} == FILES


def test_metadata_describes_the_bytes_next_to_it(qa_ws: Workspace, out: Path) -> None:
    export(qa_ws.root, "nemotron", out)
    folder = out / f"normal/cosmos_P01_10s_delivery_baseline_{DATE}"
    meta = Metadata.model_validate(json.loads((folder / "metadata.json").read_text()))
    job = job_of(qa_ws, "P01_10s")
    assert meta.file == "media/001.mp4" and meta.files == ["media/001.mp4"]
    assert (folder / meta.file).is_file() and meta.original_file == "P01_10s.mp4"
    assert meta.sha256 == sha(folder / meta.file) == job.sha256
    assert (meta.fps, meta.frames, meta.duration_sec, meta.resolution, meta.codec) == (24.0, 240, 10.0, "192x112", "h264")
    assert (meta.run_id, meta.video_id, meta.clip, meta.category) == (job.job_id, "P01", "P01_10s", "normal")
    assert (meta.generation.seed, meta.generation.backend, meta.generation.model) == (job.seed, "procedural", "procedural-v1")
    assert meta.generated_at == "2025-11-24T16:00:00+00:00"
    spec = ScenarioSpec.model_validate(json.loads((folder / "scenario_spec.json").read_text()))
    assert spec.id == "cosmos_P01_delivery_baseline" and spec.description == job.spec["prompt"]
    assert spec.scene.location == "front_porch" and spec.environment.time_of_day == "night"
    labels = ExpectedLabels.model_validate(json.loads((folder / "expected_labels.json").read_text()))
    assert (labels.video_id, labels.risk.level, labels.validation.clip) == ("P01", "low", "P01_10s")
    with Image.open(folder / "media/thumbnail.jpg") as im:
        assert im.size == (192, 112)


def test_labels_follow_the_manifest_not_a_mapping_document(qa_ws: Workspace, out: Path) -> None:
    export(qa_ws.root, "nemotron", out)
    r01 = json.loads((out / f"suspicious/cosmos_R01_package_grab_{DATE}/expected_labels.json").read_text())
    assert r01["risk"] == {"min_score": 60, "max_score": 84, "level": "high"}
    assert r01["detections"] == [{"class": "package", "min_confidence": 0.6, "count": 1},
                                 {"class": "person", "min_confidence": 0.7, "count": 1}]
    assert r01["validation"]["detections_from"] == "expected_objects"


def test_a_second_export_touches_nothing(qa_ws: Workspace, out: Path) -> None:
    export(qa_ws.root, "nemotron", out)
    before = tree_state(out)
    again = export(qa_ws.root, "nemotron", out)
    assert again.changes == [] and again.unchanged == 6
    assert tree_state(out) == before


def test_dry_run_lists_changes_and_writes_nothing(qa_ws: Workspace, out: Path) -> None:
    out = out / "out"
    plan = export(qa_ws.root, "nemotron", out, dry_run=True)
    assert plan.count("create") == 6 and not out.exists()
    export(qa_ws.root, "nemotron", out)
    before = tree_state(out)
    plan = export(qa_ws.root, "nemotron", out, durations=[5], dry_run=True)
    assert sorted(c.entry for c in plan.changes if c.action == "remove") == [
        f"normal/cosmos_P01_10s_delivery_baseline_{DATE}", f"normal/cosmos_P01_30s_delivery_baseline_{DATE}"]
    assert plan.summary() == "would create 0, update 0, remove 2; 4 unchanged"
    assert tree_state(out) == before


def test_durations_5_gives_the_old_folder_names_only(qa_ws: Workspace, out: Path) -> None:
    export(qa_ws.root, "nemotron", out, durations=[5])
    assert folders(out) == {f"normal/cosmos_E01_dog_wander_{DATE}", f"normal/cosmos_P01_delivery_baseline_{DATE}",
                                 f"suspicious/cosmos_P02_driveway_loiter_{DATE}",
                                 f"suspicious/cosmos_R01_package_grab_{DATE}"}
    with pytest.raises(InputError, match=r"no verified clips at 15 s \(9 jobs in the plan\)"):
        export(qa_ws.root, "nemotron", out / "x", durations=[15])


def test_a_label_change_moves_or_updates_only_what_it_must(own_manifest: Path, tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", manifest_path=own_manifest)
    out = tmp_path / "out"
    export(ws.root, "nemotron", out)
    text = own_manifest.read_text()
    text = text.replace("expected_risk: high\n    expected_objects: {person: 1, package: 1}",
                        "expected_risk: critical\n    expected_objects: {person: 1, package: 1}")
    text = text.replace("classes: {dog: 1}", "classes: {dog: 2}")
    own_manifest.write_text(text)
    result = export(ws.root, "nemotron", out)
    assert sorted(map(str, result.changes)) == [
        f"create threats/cosmos_R01_package_grab_{DATE}",
        f"remove suspicious/cosmos_R01_package_grab_{DATE}",
        f"update normal/cosmos_E01_dog_wander_{DATE} (normal/cosmos_E01_dog_wander_{DATE}/expected_labels.json)",
    ]
    labels = json.loads((out / f"normal/cosmos_E01_dog_wander_{DATE}/expected_labels.json").read_text())
    assert labels["detections"][0]["count"] == 2
    assert not (out / f"suspicious/cosmos_R01_package_grab_{DATE}").exists()


def test_a_clip_changed_after_verification_is_refused_and_its_export_kept(qa_ws: Workspace, out: Path) -> None:
    export(qa_ws.root, "nemotron", out)
    before = tree_state(out)
    with open(qa_ws.root / "clips" / "R01_5s.mp4", "ab") as fh:
        fh.write(b"\0")
    (qa_ws.root / "clips" / "E01_5s.mp4").unlink()
    result = export(qa_ws.root, "nemotron", out)
    refused = {r.name: r.reason for r in result.refused}
    assert set(refused) == {"R01_5s", "E01_5s"}
    assert "changed after verification" in refused["R01_5s"] and "missing" in refused["E01_5s"]
    assert result.changes == [] and tree_state(out) == before
    fresh = export(qa_ws.root, "nemotron", out / "fresh")
    assert not any("R01" in c.entry or "E01" in c.entry for c in fresh.changes)


def test_edited_exported_files_are_put_back(qa_ws: Workspace, out: Path) -> None:
    export(qa_ws.root, "nemotron", out)
    folder = out / f"suspicious/cosmos_P02_driveway_loiter_{DATE}"
    good = (folder / "expected_labels.json").read_bytes()
    (folder / "expected_labels.json").write_text("{}")
    (folder / "media/thumbnail.jpg").unlink()
    result = export(qa_ws.root, "nemotron", out)
    assert [c.action for c in result.changes] == ["update"]
    assert set(result.changes[0].files) == {f"{folder.relative_to(out)}/expected_labels.json",
                                            f"{folder.relative_to(out)}/media/thumbnail.jpg"}
    assert (folder / "expected_labels.json").read_bytes() == good
    assert (folder / "media/thumbnail.jpg").is_file()


def test_only_folders_we_wrote_are_removed_or_replaced(qa_ws: Workspace, out: Path) -> None:
    foreign = out / "normal" / "cosmos_P01_delivery_baseline_20260128"
    foreign.mkdir(parents=True)
    (foreign / "expected_labels.json").write_text("{}")
    export(qa_ws.root, "nemotron", out)
    export(qa_ws.root, "nemotron", out, durations=[5])
    assert foreign.is_dir() and (foreign / "expected_labels.json").read_text() == "{}"
    assert not (out / f"normal/cosmos_P01_10s_delivery_baseline_{DATE}").exists()
    clash = out / "clash" / "normal" / f"cosmos_P01_delivery_baseline_{DATE}"
    clash.mkdir(parents=True)
    with pytest.raises(InputError, match="was not written by synthcam export"):
        export(qa_ws.root, "nemotron", out / "clash")
    assert list(clash.iterdir()) == []


def test_an_interrupted_export_finishes_on_the_next_run(qa_ws: Workspace, out: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    real = Tree._create_folder
    calls = []

    def crash_on_third(self, entry):
        calls.append(entry.id)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real(self, entry)

    monkeypatch.setattr(Tree, "_create_folder", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        export(qa_ws.root, "nemotron", out)
    monkeypatch.undo()
    assert len(folders(out)) == 2  # no half folder: the third was never renamed into place
    assert not [p for p in out.rglob("*.partial")]
    result = export(qa_ws.root, "nemotron", out)
    assert result.count("create") == 4 and folders(out) == FOLDERS
    # the two finished folders keep their files; only thumbnails, whose hashes were not yet recorded, are redone
    assert {Path(f).name for c in result.changes if c.action == "update" for f in c.files} <= {"thumbnail.jpg"}
    assert export(qa_ws.root, "nemotron", out).changes == []


def test_flat_layout_has_the_clips_and_one_index(qa_ws: Workspace, out: Path) -> None:
    result = export(qa_ws.root, "flat", out)
    names = ["E01_5s", "P01_10s", "P01_30s", "P01_5s", "P02_5s", "R01_5s"]
    assert sorted(p.name for p in out.iterdir()) == sorted([*(f"{n}.mp4" for n in names), "index.csv",
                                                                   "index.json", RECORD])
    rows = list(csv.DictReader((out / "index.csv").open()))
    assert [r["name"] for r in rows] == names
    assert all(sha(out / r["file"]) == r["sha256"] for r in rows)
    r01 = next(r for r in rows if r["name"] == "R01_5s")
    assert (r01["category"], r01["risk_min"], r01["detections"]) == ("suspicious", "60", "package:1;person:1")
    index = json.loads((out / "index.json").read_text())
    assert [c["name"] for c in index["clips"]] == names
    assert index["clips"][0]["labels"]["detections"] == [{"class": "dog", "min_confidence": 0.7, "count": 1}]
    assert export(qa_ws.root, "flat", out).changes == [] and result.exported == 6


def test_flat_keeps_a_refused_clip_and_its_index_row(qa_ws: Workspace, out: Path) -> None:
    export(qa_ws.root, "flat", out)
    index = (out / "index.json").read_bytes()
    (qa_ws.root / "clips" / "P02_5s.mp4").write_bytes(b"not the verified bytes")
    result = export(qa_ws.root, "flat", out)
    assert [r.name for r in result.refused] == ["P02_5s"] and result.changes == []
    assert (out / "index.json").read_bytes() == index


def test_one_output_folder_holds_one_layout(qa_ws: Workspace, out: Path) -> None:
    export(qa_ws.root, "nemotron", out)
    with pytest.raises(InputError, match="holds a 'nemotron' export; use another --out for --layout flat"):
        export(qa_ws.root, "flat", out)


def test_a_tampered_record_cannot_reach_outside_the_output(qa_ws: Workspace, out: Path) -> None:
    out = out / "out"
    export(qa_ws.root, "nemotron", out)
    record = json.loads((out / RECORD).read_text())
    record["entries"]["evil"] = {"folder": "../victim", "meta": {}, "files": {}}
    (out / RECORD).write_text(json.dumps(record))
    (out / "victim").mkdir()
    with pytest.raises(UnsafePathError):
        export(qa_ws.root, "nemotron", out)
    assert (out / "victim").is_dir()


def test_bad_requests_are_input_errors(qa_ws: Workspace, out: Path) -> None:
    with pytest.raises(InputError, match="unknown layout 'zip'"):
        export(qa_ws.root, "zip", out)
    with pytest.raises(InputError, match="--out is required"):
        export(qa_ws.root, "nemotron", None)
    with pytest.raises(InputError, match="inside the workspace's own folders"):
        export(qa_ws.root, "flat", qa_ws.root / "clips")
    with pytest.raises(InputError, match="does not exist; run `synthcam run`"):
        export(out / "nowhere", "nemotron", out / "out")
    with pytest.raises(InputError, match="not a synthcam workspace"):
        export(qa_ws.root / "clips", "nemotron", out / "out")


def test_a_workspace_without_verified_clips_says_what_to_run(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", states={"P01_5s": "failed"})
    with pytest.raises(InputError, match=r"no verified clips \(9 jobs in the plan\); run `synthcam run`"):
        export(ws.root, "nemotron", tmp_path / "out")


def test_ground_truth_counts_become_the_detections(qa_ws: Workspace, out: Path) -> None:
    truth = qa_ws.truth_dir("P01_5s")
    truth.mkdir()
    (truth / "counts.json").write_text(json.dumps({"clip": "P01_5s", "counts": {"package": 2, "person": 1},
                                                   "classes": {"package": 21, "person": 1}}))
    (truth / "gt.txt").write_text("1,1,10,10,5,5,1,1,1.0\n")
    export(qa_ws.root, "nemotron", out)
    folder = out / f"normal/cosmos_P01_delivery_baseline_{DATE}"
    labels = json.loads((folder / "expected_labels.json").read_text())
    assert labels["detections"] == [{"class": "package", "min_confidence": 0.6, "count": 2},
                                    {"class": "person", "min_confidence": 0.7, "count": 1}]
    assert labels["validation"]["detections_from"] == "ground_truth"
    assert (folder / "ground_truth" / "gt.txt").read_text() == "1,1,10,10,5,5,1,1,1.0\n"


def test_unreadable_ground_truth_refuses_the_clip(qa_ws: Workspace, out: Path) -> None:
    truth = qa_ws.truth_dir("P01_5s")
    truth.mkdir()
    (truth / "counts.json").write_text(json.dumps({"counts": {"person": -1}}))
    result = export(qa_ws.root, "nemotron", out)
    assert [(r.name, r.reason.split(": ", 1)[1]) for r in result.refused] == [
        ("P01_5s", "'counts' must map class names to counts")]


def test_folder_names_must_not_contain_each_other() -> None:
    _check_distinct(["cosmos_P01_a_20250101", "cosmos_P02_a_20250101"])
    with pytest.raises(InputError, match="is part of"):
        _check_distinct(["cosmos_P01_a_20250101", "xcosmos_P01_a_20250101"])
    with pytest.raises(InputError, match="share the export folder"):
        _check_distinct(["cosmos_P01_a_20250101", "cosmos_P01_a_20250101"])


def test_exports_say_which_policy_each_clip_passed(qa_ws: Workspace, tmp_path: Path) -> None:
    from gallery.qa_factory import record_policy
    from synthcam.verify import VerifyPolicy

    smoke = VerifyPolicy(profile="container-only")
    record_policy(qa_ws, "R01_5s", smoke.to_record())
    nemotron = tmp_path / "nemotron"
    export(qa_ws.root, "nemotron", nemotron)
    meta = Metadata.model_validate(json.loads(
        (nemotron / f"suspicious/cosmos_R01_package_grab_{DATE}/metadata.json").read_text()))
    assert (meta.verification.policy, meta.verification.policy_name) == ("container-only", "container-only")
    assert meta.verification.content_checks_off == list(smoke.content_checks_off)
    assert meta.verification.policy_digest == smoke.digest
    plain = Metadata.model_validate(json.loads(
        (nemotron / f"normal/cosmos_P01_delivery_baseline_{DATE}/metadata.json").read_text()))
    assert (plain.verification.policy, plain.verification.content_checks_off) == ("default", [])
    flat = tmp_path / "flat"
    export(qa_ws.root, "flat", flat)
    with (flat / "index.csv").open() as fh:
        rows = {r["name"]: r for r in csv.DictReader(fh)}
    assert rows["R01_5s"]["verify_policy"] == "container-only"
    assert rows["R01_5s"]["content_checks_off"] == ";".join(smoke.content_checks_off)
    assert (rows["P01_5s"]["verify_policy"], rows["P01_5s"]["content_checks_off"]) == ("default", "")
    index = {r["name"]: r for r in json.loads((flat / "index.json").read_text())["clips"]}
    assert index["R01_5s"]["verify_policy"] == "container-only"
