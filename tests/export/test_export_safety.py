"""Issue 16, items 3 and 4: export copies regular files only, and trusts no export record."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from synthcam.errors import InputError, UnsafePathError
from synthcam.export import RECORD, export
from synthcam.export.files import open_regular, walk_regular
from synthcam.workspace import Workspace

from gallery.qa_factory import DEFAULT_STATES

DATE = "20251124"
P01 = f"normal/cosmos_P01_delivery_baseline_{DATE}"


def everything(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file outside the workspace that no export may copy."""
    path = tmp_path / "secret" / "passwd"
    path.parent.mkdir()
    path.write_text("root:x:0:0:top secret\n")
    return path


@pytest.mark.parametrize("layout", ["nemotron", "flat", "hf"])
def test_a_symlink_in_ground_truth_refuses_the_clip_by_name(qa_ws: Workspace, tmp_path: Path, secret: Path,
                                                            layout: str) -> None:
    truth = qa_ws.truth_dir("P01_5s")
    truth.mkdir()
    (truth / "gt.txt").write_text("1,1\n")
    (truth / "passwd").symlink_to(secret)
    out = tmp_path / "out"
    result = export(qa_ws.root, layout, out)
    (refusal,) = result.refused
    assert refusal.name == "P01_5s" and "passwd is a symbolic link" in refusal.reason and str(secret) in refusal.reason
    assert result.exported == sum(s == "done" for s in DEFAULT_STATES.values()) - 1
    assert not any(b"top secret" in data for data in everything(out).values())


@pytest.mark.parametrize("plant", ["folder link", "nested link", "fifo", "clip link"])
def test_links_and_special_files_anywhere_are_refused(qa_ws: Workspace, tmp_path: Path, secret: Path,
                                                      plant: str) -> None:
    truth = qa_ws.truth_dir("P01_5s")
    if plant == "folder link":
        truth.symlink_to(secret.parent, target_is_directory=True)
        needle = "P01_5s.gt is a symbolic link"
    elif plant == "nested link":
        (truth / "sub").mkdir(parents=True)
        (truth / "sub" / "deeper").symlink_to(secret.parent, target_is_directory=True)
        needle = "deeper is a symbolic link"
    elif plant == "fifo":
        truth.mkdir()
        os.mkfifo(truth / "pipe")
        needle = "pipe is a FIFO"
    else:
        clip = qa_ws.root / "clips" / "P01_5s.mp4"
        real = tmp_path / "elsewhere.mp4"
        clip.rename(real)
        clip.symlink_to(real)
        needle = "P01_5s.mp4 is a symbolic link"
    result = export(qa_ws.root, "nemotron", tmp_path / "out")
    assert [r.name for r in result.refused] == ["P01_5s"] and needle in result.refused[0].reason
    assert not (tmp_path / "out" / P01).exists()


def test_walk_and_open_never_follow_links(tmp_path: Path, secret: Path) -> None:
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a" / "ok.txt").write_text("fine")
    (root / "link.txt").symlink_to(secret)
    (root / "dirlink").symlink_to(secret.parent, target_is_directory=True)
    files, bad = walk_regular(root)
    assert files == [root / "a" / "ok.txt"]
    assert [(b.path.name, b.kind.split(" (")[0]) for b in bad] == [("dirlink", "symbolic link"),
                                                                   ("link.txt", "symbolic link")]
    with pytest.raises(InputError, match="link.txt is a symbolic link"):
        open_regular(root / "link.txt")
    with pytest.raises(InputError, match="is a folder"):
        open_regular(root / "a")
    with open_regular(root / "a" / "ok.txt") as fh:
        assert fh.read() == b"fine"


@pytest.mark.parametrize(("layout", "entry"), [
    ("nemotron", {"folder": ".", "files": {}}),
    ("nemotron", {"folder": "", "files": {}}),
    ("nemotron", {"folder": "normal", "files": {}}),
    ("nemotron", {"folder": "normal/..", "files": {}}),
    ("nemotron", {"folder": "../victim", "files": {}}),
    ("nemotron", {"folder": "/etc", "files": {}}),
    ("nemotron", {"folder": f"{P01}", "files": {f"{P01}/../../x": {}}}),
    ("nemotron", {"folder": None, "files": {"keep.txt": {}}}),
    ("nemotron", {"folder": None, "files": {RECORD: {}}}),
    ("flat", {"folder": "anything", "files": {}}),
    ("flat", {"folder": None, "files": {"../outside.mp4": {}}}),
    ("flat", {"folder": None, "files": {"notes.txt": {}}}),
    ("hf", {"folder": ".", "files": {}}),
    ("hf", {"folder": "ground_truth", "files": {}}),
    ("hf", {"folder": None, "files": {"train": {}}}),
    ("nemotron", {"folder": P01, "files": "oops"}),
    ("nemotron", {"folder": P01, "files": {}, "meta": {"clip": 5}}),
    ("nemotron", "not an object"),
])
def test_a_forged_record_is_refused_and_nothing_is_touched(qa_ws: Workspace, tmp_path: Path, layout: str,
                                                           entry: object) -> None:
    out = tmp_path / "out"
    export(qa_ws.root, layout, out)
    (out / "keep.txt").write_text("mine")
    record = json.loads((out / RECORD).read_text())
    record["entries"]["forged"] = entry
    (out / RECORD).write_text(json.dumps(record))
    before = everything(out)
    with pytest.raises(UnsafePathError, match=r"\.synthcam-export\.json: .*edited by hand or damaged"):
        export(qa_ws.root, layout, out, durations=[10])  # would remove entries, so would reach the forged one
    assert everything(out) == before


def test_record_shapes_that_are_not_records_are_refused(qa_ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for text in ("[1, 2]", '{"layout": "nemotron", "entries": [1]}', '"x"'):
        (out / RECORD).write_text(text)
        with pytest.raises(InputError, match="record|entries"):
            export(qa_ws.root, "nemotron", out)
    assert [p.name for p in out.iterdir()] == [RECORD]


def test_the_record_is_checked_through_links_too(qa_ws: Workspace, tmp_path: Path, secret: Path) -> None:
    """A valid-looking folder that is a link out of --out is never removed through."""
    out = tmp_path / "out"
    export(qa_ws.root, "nemotron", out)
    record = json.loads((out / RECORD).read_text())
    (out / "threats").mkdir(exist_ok=True)
    (out / "threats" / "cosmos_X").symlink_to(secret.parent, target_is_directory=True)
    record["entries"]["threats/cosmos_X"] = {"folder": "threats/cosmos_X", "files": {}, "meta": {}}
    (out / RECORD).write_text(json.dumps(record))
    with pytest.raises(UnsafePathError):
        export(qa_ws.root, "nemotron", out)
    assert secret.read_text() == "root:x:0:0:top secret\n"
