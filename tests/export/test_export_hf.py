"""`--layout hf`: the Hugging Face `datasets` folder layout, read back by the real library, offline."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import pytest
import yaml

from synthcam.errors import InputError
from synthcam.export import export
from synthcam.export.hf import COLUMNS, SPLITS, hf_row, split_of
from synthcam.workspace import Workspace

from gallery.qa_factory import DEFAULT_STATES, make_workspace

STATES = {**DEFAULT_STATES, "T01_5s": "done", "T01_10s": "done"}  # T01 hashes to test, the rest to train


@pytest.fixture(scope="module")
def hf_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = make_workspace(tmp_path_factory.mktemp("hf") / "ws", states=STATES)
    truth = ws.truth_dir("P01_5s")
    truth.mkdir()
    (truth / "counts.json").write_text(json.dumps({"counts": {"package": 1, "person": 1}}))
    (truth / "gt.txt").write_text("1,1,10,10,5,5,1,1,1.0\n")
    (truth / "masks").mkdir()
    (truth / "masks" / "0001.png").write_bytes(b"\x89PNG not really")
    return ws.root


@pytest.fixture
def hf_ws(hf_template: Path, tmp_path: Path) -> Workspace:
    import shutil

    shutil.copytree(hf_template, tmp_path / "ws")
    return Workspace((tmp_path / "ws").resolve())


def verified(ws: Workspace) -> dict[str, object]:
    with ws.store() as store:
        return {j.name: j for j in store.done_jobs()}


def rows_of(out: Path) -> dict[str, dict]:
    rows = {}
    for meta in out.glob("*/metadata.jsonl"):
        for line in meta.read_text().splitlines():
            row = json.loads(line)
            rows[row["clip"]] = {**row, "_split": meta.parent.name}
    return rows


def test_split_rule_is_the_documented_hash_of_the_id() -> None:
    ids = [f"{s}{n:02d}" for s in "PTRECF" for n in range(1, 41)]
    for clip_id in ids:
        bucket = int(hashlib.sha256(clip_id.encode()).hexdigest()[:8], 16) % 100
        assert split_of(clip_id) == ("train" if bucket < 80 else "validation" if bucket < 90 else "test")
    seen = {split_of(i) for i in ids}
    assert seen == {name for name, _ in SPLITS}


def test_layout_rows_and_card(hf_ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = export(hf_ws.root, "hf", out, license="cc-by-4.0")
    jobs = verified(hf_ws)
    assert result.exported == len(jobs) == 8 and not result.refused
    rows = rows_of(out)
    assert set(rows) == set(jobs)
    for name, row in rows.items():
        job = jobs[name]
        assert list(row)[:-1] == list(COLUMNS)  # every documented column, in order, in every row
        assert row["_split"] == split_of(job.clip_id)
        video = out / row["_split"] / row["file_name"]
        assert hashlib.sha256(video.read_bytes()).hexdigest() == row["sha256"] == job.sha256
        assert (row["id"], row["series"], row["duration_s"], row["seed"], row["backend"], row["model"]) == (
            job.clip_id, job.series, job.duration_s, job.seed, job.backend, job.model)
        assert row["prompt"] == job.spec["prompt"]
    assert {r["_split"] for r in rows.values() if r["id"] == "T01"} == {"test"}
    p01 = rows["P01_5s"]
    assert p01["ground_truth"] == "ground_truth/P01_5s" and rows["P01_10s"]["ground_truth"] == ""
    assert sorted(str(p.relative_to(out / p01["ground_truth"])) for p in (out / p01["ground_truth"]).rglob("*")
                  if p.is_file()) == ["counts.json", "gt.txt", "masks/0001.png"]
    assert p01["detections_from"] == "ground_truth"
    r01 = rows["R01_5s"]
    assert (r01["category"], r01["expected_risk"], r01["risk_min"], r01["risk_max"]) == ("suspicious", "high", 60, 84)
    assert r01["detections"] == "package:1;person:1"
    assert json.loads(r01["expected_labels"])["detections"] == [
        {"class": "package", "min_confidence": 0.6, "count": 1}, {"class": "person", "min_confidence": 0.7, "count": 1}]
    t01 = rows["T01_5s"]  # a prompt-only clip: what nobody declared is empty here, null in expected_labels
    assert (t01["action"], t01["location"], t01["weather"]) == ("", "", "")
    assert json.loads(t01["expected_labels"])["face"] == {"detected": True, "visible": None}

    text = (out / "README.md").read_text()
    _, header, body = text.split("---\n", 2)
    card = yaml.safe_load(header)
    assert card["license"] == "cc-by-4.0" and "license_name" not in card
    assert card["size_categories"] == ["n<1K"]
    assert card["task_categories"] == ["video-classification", "object-detection"]
    assert card["configs"] == [{"config_name": "default", "data_files": [
        {"split": "train", "path": "train/*"}, {"split": "test", "path": "test/*"}]}]
    assert "8 clips of 5 IDs" in body and "| train | 6 |" in body and "| test | 2 |" in body
    assert "| P | 4 | 50 |" in body and "| 30 | 1 | 30 |" in body and "| threats | 2 | 15 |" in body
    assert "# qa" in body and "`int(sha256(ID)[:8], 16) % 100`" in body


def test_idempotent_dry_run_and_a_refused_clip_keeps_its_row(hf_ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert export(hf_ws.root, "hf", out, dry_run=True).count("create") == 10 and not out.exists()
    export(hf_ws.root, "hf", out)
    state = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    again = export(hf_ws.root, "hf", out)
    assert again.changes == [] and again.unchanged == 10
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == state
    metadata = (out / "train" / "metadata.jsonl").read_bytes()
    (hf_ws.root / "clips" / "P02_5s.mp4").write_bytes(b"other bytes")
    result = export(hf_ws.root, "hf", out)
    assert [r.name for r in result.refused] == ["P02_5s"] and result.changes == []
    assert (out / "train" / "metadata.jsonl").read_bytes() == metadata
    # --durations narrows the export: other durations' videos and rows go, the card is recounted
    result = export(hf_ws.root, "hf", out, durations=[10])
    assert sorted(c.entry for c in result.changes if c.action == "remove") == [
        "E01_5s", "P01_30s", "P01_5s", "P01_5s/ground_truth", "P02_5s", "R01_5s", "T01_5s"]
    assert set(rows_of(out)) == {"P01_10s", "T01_10s"}
    assert not (out / "ground_truth" / "P01_5s").exists() and "2 clips of 2 IDs" in (out / "README.md").read_text()


def test_no_license_says_so_and_bad_ones_are_refused(hf_ws: Workspace, tmp_path: Path) -> None:
    export(hf_ws.root, "hf", tmp_path / "out")
    card = yaml.safe_load((tmp_path / "out" / "README.md").read_text().split("---\n")[1])
    assert (card["license"], card["license_name"]) == ("other", "not-declared")
    with pytest.raises(InputError, match="not a license identifier"):
        export(hf_ws.root, "hf", tmp_path / "other", license="CC BY; rm -rf")
    with pytest.raises(InputError, match="--license applies to --layout hf"):
        export(hf_ws.root, "flat", tmp_path / "flat", license="mit")


def test_the_datasets_library_reads_it_offline(hf_ws: Workspace, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The real `datasets` loader, with the network off: rows, columns, splits and labels match the store."""
    for var in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.setenv(var, "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True, raising=False)

    def no_network(self, address, *args, **kwargs):
        raise AssertionError(f"datasets tried to reach {address}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    out = tmp_path / "out"
    export(hf_ws.root, "hf", out)
    loaded = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    assert sorted(loaded) == ["test", "train"]
    jobs = verified(hf_ws)
    seen = {}
    for split, ds in loaded.items():
        assert ds.column_names == ["video", *list(COLUMNS)[1:]]
        assert isinstance(ds.features["video"], datasets.Video)
        ds = ds.cast_column("video", datasets.Video(decode=False))
        for row in ds:
            assert Path(row["video"]["path"]).resolve() == (out / split / f"{row['clip']}.mp4").resolve()
            seen[row["clip"]] = (split, row)
    assert set(seen) == set(jobs)
    for name, (split, row) in seen.items():
        job = jobs[name]
        assert split == split_of(job.clip_id) and row["sha256"] == job.sha256 and row["duration_s"] == job.duration_s
    labels = {name: json.loads(row["expected_labels"]) for name, (_, row) in seen.items()}
    assert seen["R01_5s"][1]["detections"] == "package:1;person:1" and labels["R01_5s"]["risk"]["level"] == "high"
    assert seen["P02_5s"][1]["action"] == "loiter" and labels["P02_5s"]["action"]["is_suspicious"] is True
    assert seen["T01_5s"][1]["category"] == "threats" and seen["T01_5s"][1]["ground_truth"] == ""
    assert seen["P01_5s"][1]["ground_truth"] == "ground_truth/P01_5s"


def test_row_has_every_column_in_order(hf_ws: Workspace) -> None:
    from synthcam.export.clips import ManifestCache, verified_clips

    with hf_ws.store() as store:
        jobs = store.done_jobs()
    clips, _ = verified_clips(hf_ws, jobs, ManifestCache(), {})
    rows = [hf_row(c) for c in clips]
    assert len(rows) == 8 and all(list(r) == list(COLUMNS) for r in rows)
    # one JSON type per column and never null or a list, whatever a clip declares: the loader
    # infers each split's types from its own file and refuses splits whose types differ
    for column in COLUMNS:
        kinds = {type(r[column]) for r in rows}
        assert len(kinds) == 1 and kinds <= {str, int, float, bool}, (column, kinds)


def test_the_cli(hf_ws: Workspace, tmp_path: Path) -> None:
    from helpers import assert_one_line_error, invoke

    out = tmp_path / "out"
    r = invoke("export", "--layout", "hf", "--out", out, "-w", hf_ws.root, "--license", "cc-by-4.0")
    assert r.exit_code == 0 and "created 10, updated 0, removed 0; 0 unchanged" in r.stdout
    assert "license: cc-by-4.0" in (out / "README.md").read_text()
    assert_one_line_error(invoke("export", "--layout", "hf", "--out", out, "-w", hf_ws.root, "--license", "Not One"),
                          "not a license identifier")
    record = json.loads((out / ".synthcam-export.json").read_text())
    record["entries"]["x"] = {"folder": ".", "files": {}}
    (out / ".synthcam-export.json").write_text(json.dumps(record))
    assert_one_line_error(invoke("export", "--layout", "hf", "--out", out, "-w", hf_ws.root), "edited by hand")
    assert (out / "README.md").is_file()


def test_rows_and_card_say_which_policy_each_clip_passed(hf_ws: Workspace, tmp_path: Path) -> None:
    from gallery.qa_factory import record_policy
    from synthcam.verify import VerifyPolicy

    out = tmp_path / "default"
    export(hf_ws.root, "hf", out)
    assert {r["verify_policy"] for r in rows_of(out).values()} == {"default"}
    card = (out / "README.md").read_text()
    assert "## Verification" in card and "Every clip was verified under the default policy" in card

    record_policy(hf_ws, "T01_5s", VerifyPolicy(profile="container-only").to_record())
    out = tmp_path / "smoke"
    export(hf_ws.root, "hf", out)
    rows = rows_of(out)
    assert rows["T01_5s"]["verify_policy"] == "container-only"
    from synthcam.verify.kinds import CONTENT_KINDS

    assert rows["T01_5s"]["content_checks_off"] == ";".join(CONTENT_KINDS)
    assert (rows["P01_5s"]["verify_policy"], rows["P01_5s"]["content_checks_off"]) == ("default", "")
    card = (out / "README.md").read_text()
    assert "Not every clip was verified with every check" in card
    assert "| container-only | 1 |" in card and f"| default | {len(rows) - 1} |" in card
