"""Issue 16, item 3: publish stages regular files only and never follows a link."""

from __future__ import annotations

import os
import shutil

import pytest

from synthcam.publish import PublishRefused, publish

from .lfs_fixtures import make_bench


def _nothing_happened(bench) -> None:
    assert bench.git("log", "--oneline", "--all") == ""
    assert bench.remote_git("branch") == ""
    assert bench.git("diff", "--cached", "--name-only") == ""


@pytest.fixture
def secret(tmp_path):
    path = tmp_path / "outside" / "passwd"
    path.parent.mkdir()
    path.write_text("root:x:0:0:top secret\n")
    return path


@pytest.mark.parametrize(("plant", "refused_path", "kind"), [
    ("file link", "clips/P01_5s.gt/passwd", "symbolic link"),
    ("folder link", "clips/P02_5s.gt", "symbolic link"),
    ("clip link", "clips/T01_10s.mp4", "symbolic link"),
    ("fifo", "clips/P01_5s.gt/pipe", "FIFO"),
])
def test_links_and_special_files_are_refused_by_name(tmp_path, lfs_server, secret, plant, refused_path, kind):
    bench = make_bench(tmp_path, lfs_server)
    clips = bench.ws / "clips"
    if plant == "file link":
        (clips / "P01_5s.gt" / "passwd").symlink_to(secret)
    elif plant == "folder link":
        shutil.rmtree(clips / "P02_5s.gt")
        (clips / "P02_5s.gt").symlink_to(secret.parent, target_is_directory=True)
    elif plant == "clip link":
        real = tmp_path / "outside" / "T01_10s.mp4"
        (clips / "T01_10s.mp4").rename(real)
        (clips / "T01_10s.mp4").symlink_to(real)
    else:
        os.mkfifo(clips / "P01_5s.gt" / "pipe")
    with pytest.raises(PublishRefused) as info:
        publish(bench.ws)
    reasons = {r.path: r.reason for r in info.value.refusals}
    assert list(reasons) == [refused_path] and kind in reasons[refused_path]
    assert "regular files only" in reasons[refused_path]
    _nothing_happened(bench)
    assert not any(p.is_file() for p in lfs_server.storage.rglob("*") if bench.repo in p.parts)


def test_a_link_in_an_export_folder_is_refused(tmp_path, lfs_server, secret):
    bench = make_bench(tmp_path, lfs_server, names=("P01_5s",), truth=False)
    scenario = bench.ws / "export" / "normal" / "cosmos_P01_walk_20260128"
    (scenario / "media").mkdir(parents=True)
    shutil.copy(bench.ws / "clips" / "P01_5s.mp4", scenario / "media" / "001.mp4")
    (scenario / "ground_truth").mkdir()
    (scenario / "ground_truth" / "boxes.json").symlink_to(secret)
    with pytest.raises(PublishRefused, match="symbolic link") as info:
        publish(bench.ws, path=bench.ws / "export")
    assert [r.path for r in info.value.refusals] == ["export/normal/cosmos_P01_walk_20260128/ground_truth/boxes.json"]
    _nothing_happened(bench)
    (scenario / "ground_truth" / "boxes.json").unlink()
    assert publish(bench.ws, path=bench.ws / "export").published == 1
