"""published_counts: what the status file shows about publishing."""

from __future__ import annotations

from synthcam.publish import published_counts
from synthcam.store import JobStore

from .lfs_fixtures import _job


def test_counts_follow_the_servers_word(tmp_path):
    with JobStore(tmp_path / "synthcam.db") as store:
        specs = [_job(n) for n in ("P01_5s", "P02_5s", "P03_5s", "P04_5s", "P05_5s")]
        store.sync(specs)
        store.claim("w", limit=5)
        for i, s in enumerate(specs[:4]):
            store.start(s.job_id, "w")
            store.complete(s.job_id, f"clips/{s.name}.mp4", f"{i:064x}", {}, [], worker="w")
        assert published_counts(store) == {"published": 0, "missing": 0, "unpublished_verified": 4}
        ids = [s.job_id for s in specs]
        store.record_publication(ids[0], "http://a", "clips/P01_5s.mp4", f"{0:064x}", 1, "c1", True)
        store.record_publication(ids[1], "http://a", "clips/P02_5s.mp4", f"{1:064x}", 1, "c1", False)
        store.record_publication(ids[2], "http://a", "clips/P03_5s.mp4", f"{2:064x}", 1, "c1", True)
        store.record_publication(ids[2], "http://b", "clips/P03_5s.mp4", f"{2:064x}", 1, "c1", False)
        store.record_publication(ids[3], "http://a", "clips/P04_5s.mp4", "f" * 64, 1, "c0", True)  # older content
        store.record_publication(ids[4], "http://a", "clips/P05_5s.mp4", "e" * 64, 1, "c0", True)  # not done
        assert published_counts(store) == {"published": 1, "missing": 2, "unpublished_verified": 1}


def test_a_clip_is_present_only_with_its_ground_truth(tmp_path):
    from synthcam.publish.batch import Presence
    from synthcam.publish.lfs import LfsObject
    from synthcam.publish.publish import Clip, _attribute

    top = tmp_path
    clip_obj, seg, extra = LfsObject("a" * 64, 1), LfsObject("b" * 64, 2), LfsObject("c" * 64, 3)
    clip = Clip("j1", "P01_5s", "P", 5, top / "x/media/001.mp4", clip_obj, (top / "x/ground_truth",))
    objects = {"x/media/001.mp4": clip_obj, "x/ground_truth/seg.mp4": seg, "y/other.mp4": extra}
    found = {clip_obj.oid: Presence(clip_obj, True), seg.oid: Presence(seg, False, "gone"),
             extra.oid: Presence(extra, False, "gone too")}
    (state,), (other,) = _attribute({"x/media/001.mp4": clip}, objects, found, top)
    assert not state.present and state.detail == "x/ground_truth/seg.mp4: gone"
    assert other.path == "y/other.mp4" and not other.present
