"""The publish flow against real git, git-lfs and giftless on loopback, faults included."""

from __future__ import annotations

import shutil

import pytest

from synthcam.publish import (GitError, LfsServerError, PublishError, PublishRefused, RepositoryError, check,
                              publish, published_counts)
from synthcam.publish.testserver import LfsTestServer

from .lfs_fixtures import make_bench, make_clip, pointer_text


def _nothing_happened(bench) -> None:
    assert bench.git("log", "--oneline", "--all") == ""
    assert bench.remote_git("branch") == ""
    with bench.store() as store:
        assert store.publications() == []


def test_publish_commits_pushes_and_proves(tmp_path, lfs_server):
    bench = make_bench(tmp_path, lfs_server)
    seen: list[str] = []
    result = publish(bench.ws, progress=seen.append)
    assert result.committed and result.published == 3 and not result.missing
    assert (result.uploaded, result.uploaded_bytes) == (3, sum((bench.ws / "clips" / f"{n}.mp4").stat().st_size
                                                              for n in bench.shas))
    assert result.endpoint == lfs_server.url(bench.org, bench.repo) and result.branch == "main"
    assert any("uploading 3 objects" in s for s in seen)
    # the server holds every object, the remote has the commit, and the commit holds pointers
    for name, sha in bench.shas.items():
        assert bench.on_server(sha).is_file()
        blob = bench.remote_git("show", f"main:clips/{name}.mp4")
        assert blob.startswith("version https://git-lfs.github.com/spec/v1") and sha in blob
    assert bench.remote_git("rev-parse", "main") == result.commit
    assert "*.mp4 filter=lfs" in bench.remote_git("show", "main:.gitattributes")
    message = bench.remote_git("log", "-1", "--format=%B", "main")
    assert "publish 3 verified clips" in message and "P 2, T 1" in message and "5s 2, 10s 1" in message
    assert "ground truth folders: 3" in message
    assert bench.remote_git("show", "main:clips/P01_5s.gt/boxes.json")
    # the store records each clip as confirmed, under the endpoint
    with bench.store() as store:
        rows = store.publications()
        assert {r["path"] for r in rows} == {f"clips/{n}.mp4" for n in bench.shas}
        assert all(r["confirmed_at"] and r["missing_since"] is None and r["commit_sha"] == result.commit for r in rows)
        assert {r["remote"] for r in rows} == {lfs_server.url(bench.org, bench.repo)}
        assert published_counts(store) == {"published": 3, "missing": 0, "unpublished_verified": 0}
    # a rerun changes nothing and proves again
    again = publish(bench.ws)
    assert not again.committed and again.uploaded == 0 and again.published == 3 and again.commit == result.commit


def test_hooks_run_and_a_users_own_pre_push_hook_is_kept(tmp_path, lfs_server):
    bench = make_bench(tmp_path, lfs_server, truth=False)
    hooks = bench.ws / ".git" / "hooks"
    for hook in ("pre-commit", "pre-push"):
        (hooks / hook).write_text(f"#!/bin/sh\necho ran >> '{tmp_path / hook}.log'\n")
        (hooks / hook).chmod(0o755)
    result = publish(bench.ws)
    assert result.published == 3 and not result.missing  # uploaded by oid: no LFS hook needed
    assert (tmp_path / "pre-commit.log").read_text() == "ran\n" and (tmp_path / "pre-push.log").read_text() == "ran\n"
    assert "git-lfs" not in (hooks / "pre-push").read_text()


def test_refuses_a_pointer_stub_and_commits_nothing(tmp_path, lfs_server):
    bench = make_bench(tmp_path, lfs_server)
    clip = bench.ws / "clips" / "P02_5s.mp4"
    clip.write_text(pointer_text(bench.shas["P02_5s"], clip.stat().st_size))
    with pytest.raises(PublishRefused) as info:
        publish(bench.ws)
    (refusal,) = info.value.refusals
    assert refusal.name == "P02_5s" and "pointer stub" in refusal.reason and "git lfs pull" in refusal.reason
    assert "nothing was committed or pushed" in str(info.value)
    _nothing_happened(bench)


def test_refuses_changed_missing_and_stub_ground_truth(tmp_path, lfs_server):
    bench = make_bench(tmp_path, lfs_server)
    with open(bench.ws / "clips" / "P01_5s.mp4", "ab") as fh:
        fh.write(b"\0")
    (bench.ws / "clips" / "P02_5s.mp4").unlink()
    (bench.ws / "clips" / "T01_10s.gt" / "seg.mp4").write_text(pointer_text("ab" * 32, 10))
    with pytest.raises(PublishRefused) as info:
        publish(bench.ws)
    reasons = {r.path: r.reason for r in info.value.refusals}
    assert "changed since verification" in reasons["clips/P01_5s.mp4"]
    assert "not in the working tree" in reasons["clips/P02_5s.mp4"]
    assert "pointer stub" in reasons["clips/T01_10s.gt/seg.mp4"]
    _nothing_happened(bench)


def test_server_down_before_the_push(tmp_path):
    server = LfsTestServer(tmp_path / "lfs").start()
    bench = make_bench(tmp_path, server)
    server.stop()
    with pytest.raises(LfsServerError, match=r"cannot reach the LFS server at http://127\.0\.0\.1:\d+/.*refused"):
        publish(bench.ws)
    _nothing_happened(bench)


def test_server_killed_mid_push_then_a_rerun_completes(tmp_path):
    storage = tmp_path / "lfs"
    server = LfsTestServer(storage, die_after_puts=1).start()
    bench = make_bench(tmp_path, server, names=("P01_5s", "P02_5s", "P03_5s", "T01_10s"))
    with pytest.raises(GitError, match="run `synthcam publish` again"):
        publish(bench.ws)
    assert not server.alive  # it was killed by the upload, not stopped
    server.stop()  # reap it
    assert sum(bench.on_server(s).is_file() for s in bench.shas.values()) < 4
    assert bench.remote_git("branch") == ""  # no ref points at missing objects
    with bench.store() as store:
        assert store.publications() == []
    server = LfsTestServer(storage, port=server.port).start()
    try:
        result = publish(bench.ws)
    finally:
        server.stop()
    assert not result.committed and result.published == 4 and not result.missing and result.uploaded >= 1
    assert all(bench.on_server(s).is_file() for s in bench.shas.values())
    assert bench.remote_git("rev-parse", "main") == result.commit


def test_lost_object_found_by_check_and_repaired(tmp_path, lfs_server):
    bench = make_bench(tmp_path, lfs_server)
    publish(bench.ws)
    lost = bench.shas["P02_5s"]
    bench.on_server(lost).unlink()
    result = check(bench.ws)
    assert [c.name for c in result.missing] == ["P02_5s"] and len(result.clips) == 3
    assert "does not hold it" in result.missing[0].detail
    with bench.store() as store:
        assert published_counts(store) == {"published": 2, "missing": 1, "unpublished_verified": 0}
    # a plain push does not help: the remote-tracking ref already references the object
    bench.git("lfs", "push", "origin", "main")
    assert not bench.on_server(lost).is_file()
    # repair works even when the local LFS copy was pruned: it comes back from the verified file
    local = bench.ws / ".git" / "lfs" / "objects" / lost[:2] / lost[2:4] / lost
    local.unlink()
    repaired = check(bench.ws, repair=True)
    assert [c.name for c in repaired.repaired] == ["P02_5s"] and not repaired.missing
    assert bench.on_server(lost).is_file() and local.is_file()
    assert not check(bench.ws).missing
    with bench.store() as store:
        assert published_counts(store)["published"] == 3


def test_repair_reports_what_has_no_local_copy(tmp_path, lfs_server):
    bench = make_bench(tmp_path, lfs_server, names=("P01_5s",))
    publish(bench.ws)
    sha = bench.shas["P01_5s"]
    bench.on_server(sha).unlink()
    (bench.ws / ".git" / "lfs" / "objects" / sha[:2] / sha[2:4] / sha).unlink()
    (bench.ws / "clips" / "P01_5s.mp4").write_bytes(b"something else")
    seen: list[str] = []
    result = check(bench.ws, repair=True, progress=seen.append)
    assert [c.name for c in result.missing] == ["P01_5s"] and not result.repaired
    assert any("no local copy" in s for s in seen)


def test_export_folder_inside_the_repo(tmp_path, lfs_server):
    """The export's nemotron layout: <category>/<scenario>/media/001.mp4, ground_truth/, json."""
    bench = make_bench(tmp_path, lfs_server, truth=False)
    export = bench.ws / "export"
    for name in bench.shas:
        scenario = export / "normal" / f"cosmos_{name}_walk_20260128"
        (scenario / "media").mkdir(parents=True)
        shutil.copy(bench.ws / "clips" / f"{name}.mp4", scenario / "media" / "001.mp4")
        (scenario / "metadata.json").write_text(f'{{"clip": "{name}"}}\n')
    truth = export / "normal" / "cosmos_P01_5s_walk_20260128" / "ground_truth"
    truth.mkdir()
    seg = make_clip(truth / "seg.mp4", seed=99)  # a ground-truth video: an LFS object that P01 needs
    (export / ".synthcam-export.json").write_text("{}\n")
    stray = export / "normal" / "extra.mp4"
    make_clip(stray, seed=42)
    with pytest.raises(PublishRefused, match="extra: not verified"):
        publish(bench.ws, path=export)
    stray.unlink()
    result = publish(bench.ws, path=export)
    assert result.published == 3 and not result.missing and result.uploaded == 4 and not result.others
    assert {c.name for c in result.clips} == set(bench.shas)
    assert all(c.path.endswith("/media/001.mp4") for c in result.clips)
    tree = bench.remote_git("ls-tree", "-r", "--name-only", "main")
    assert "clips/" not in tree and "export/.synthcam-export.json" in tree
    assert seg in bench.remote_git("show", "main:export/normal/cosmos_P01_5s_walk_20260128/ground_truth/seg.mp4")
    # publishing again re-uploads a ground-truth object the server lost
    bench.on_server(seg).unlink()
    again = publish(bench.ws, path=export)
    assert not again.committed and again.uploaded == 1 and again.published == 3 and bench.on_server(seg).is_file()


def test_a_clip_that_would_go_in_as_a_plain_blob_is_stopped(tmp_path, lfs_server):
    bench = make_bench(tmp_path, lfs_server, truth=False)
    (bench.ws / "clips" / ".gitattributes").write_text("*.mp4 -filter\n")  # overrides the top-level rule
    with pytest.raises(PublishError, match="staged as a plain git blob, not an LFS pointer"):
        publish(bench.ws)
    assert bench.git("diff", "--cached", "--name-only", "--", "clips") == ""
    _nothing_happened(bench)


def test_credentials_from_a_helper_never_show(tmp_path, git_sandbox, capfd):
    token = "s3cr3t-t0ken"
    with LfsTestServer(tmp_path / "lfs", credentials=("synthcam", token)) as server:
        bench = make_bench(tmp_path, server)
        bench.git("config", "--global", "credential.helper", f"store --file {git_sandbox / 'creds'}")
        seen: list[str] = []
        with pytest.raises(LfsServerError, match="needs credentials"):
            publish(bench.ws, progress=seen.append)
        (git_sandbox / "creds").write_text(f"http://synthcam:{token}@127.0.0.1:{server.port}\n")
        result = publish(bench.ws, progress=seen.append)
        assert result.published == 3
        (git_sandbox / "creds").write_text(f"http://synthcam:wrong@127.0.0.1:{server.port}\n")
        with pytest.raises(LfsServerError, match="refused the credentials"):
            check(bench.ws)
    out, err = capfd.readouterr()
    assert token not in repr(result.to_json()) + "".join(seen) + out + err


def test_token_in_lfs_url_is_masked_and_not_stored(tmp_path):
    token = "tok-123456"
    with LfsTestServer(tmp_path / "lfs", credentials=("synthcam", token)) as server:
        bench = make_bench(tmp_path, None)
        bench.point_at(server, user_info=f"synthcam:{token}")
        seen: list[str] = []
        result = publish(bench.ws, progress=seen.append)
        assert result.published == 3 and result.endpoint.startswith("http://***@127.0.0.1:")
        assert token not in repr(result.to_json()) + "".join(seen)
        with bench.store() as store:
            assert all(token not in r["remote"] and "@" not in r["remote"] for r in store.publications())
        assert not check(bench.ws).missing  # the token comes from the repo's config, not the store


def test_a_file_remote_is_checked_in_its_own_object_folder(tmp_path):
    bench = make_bench(tmp_path, None, names=("P01_5s", "P02_5s"))
    result = publish(bench.ws)
    assert result.published == 2 and result.endpoint.startswith("file://")
    bench.on_server(bench.shas["P01_5s"]).unlink()
    assert [c.name for c in check(bench.ws).missing] == ["P01_5s"]
    assert not check(bench.ws, repair=True).missing


def test_usage_errors_come_before_any_work(tmp_path, lfs_server):
    bench = make_bench(tmp_path, lfs_server)
    (bench.ws / "notes.txt").write_text("mine\n")
    bench.git("add", "notes.txt")
    with pytest.raises(RepositoryError, match=r"staged changes outside the clips \(notes.txt\)"):
        publish(bench.ws)
    bench.git("rm", "-q", "--cached", "notes.txt")
    with pytest.raises(RepositoryError, match="no remote named 'upstream'"):
        publish(bench.ws, remote="upstream")
    shutil.rmtree(bench.ws / ".git")
    with pytest.raises(RepositoryError, match="not inside a git work tree"):
        publish(bench.ws)
