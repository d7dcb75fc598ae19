"""Every file of the generated corpus gets its status, over worker processes and in-process alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthcam.verify import KINDS, verify_paths

from .corpus import CORPUS, EXPECT, OID


@pytest.fixture(scope="module")
def report(corpus):
    return verify_paths([corpus], defaults=EXPECT, jobs=2)


@pytest.fixture(scope="module")
def by_name(report, corpus):
    return {str(Path(f.path).relative_to(corpus)): f for f in report.files}


def detail(record, kind: str) -> str:
    return next(f.detail for f in record.findings if f.kind == kind)


def test_every_file_classified(by_name):
    wrong = {k: (by_name[k].status if k in by_name else None, v) for k, v in CORPUS.items()
             if k not in by_name or by_name[k].status != v}
    assert not wrong, wrong


def test_in_process_agrees_with_workers(report, corpus):
    here = verify_paths([corpus], defaults=EXPECT, in_process=True)
    assert [(f.path, f.status, f.sha256) for f in here.files] == [(f.path, f.status, f.sha256) for f in report.files]


def test_status_is_the_first_finding_and_kinds_are_known(report):
    for f in report.files:
        assert (f.status == "ok") == (not f.findings)
        assert all(x.kind in KINDS for x in f.findings)
        assert all(x.detail and "\n" not in x.detail for x in f.findings)
        if f.findings:
            assert f.status == f.findings[0].kind


def test_the_classic_93_frames_at_16_fps(by_name):
    c = by_name["C_5s.mp4"]
    assert (c.frames, c.fps) == (93, 16.0)
    assert "93 frames (5.81 s at 16 fps)" in detail(c, "wrong_frames") and "needs 120" in detail(c, "wrong_frames")
    assert detail(c, "wrong_fps") == "16 fps; expected 24 fps"


def test_byte_identical_variants_are_duplicates(by_name):
    d5, d10 = by_name["D_5s.mp4"], by_name["D_10s.mp4"]
    assert d5.sha256 == d10.sha256
    assert "D_10s.mp4" in detail(d5, "duplicate") and "D_5s.mp4" in detail(d10, "duplicate")
    assert not any(f.kind == "near_duplicate" for f in d5.findings)  # the exact finding says it all


def test_reencode_and_prefix_are_near_duplicates(by_name):
    assert "re-encode of G_5s.mp4" in detail(by_name["F_5s.mp4"], "near_duplicate")
    assert "matches the first 5 s of H_10s.mp4" in detail(by_name["H_5s.mp4"], "near_duplicate")
    assert "its first 5 s match H_5s.mp4" in detail(by_name["H_10s.mp4"], "near_duplicate")


def test_two_takes_of_one_scene_are_not_duplicates(by_name):
    """A_5s and A_10s share a static background (frame hashes agree) but not their motion."""
    assert by_name["A_5s.mp4"].status == by_name["A_10s.mp4"].status == "ok"


def test_pointer_stubs_report_oid_and_size(by_name):
    for name in ("P_5s.mp4", "Q_5s.mp4"):
        assert by_name[name].lfs == {"oid": OID, "size": 12345678}
        assert OID[:12] in detail(by_name[name], "lfs_pointer")
    assert "malformed" in detail(by_name["PM_5s.mp4"], "not_video")


@pytest.mark.parametrize(("name", "kind", "needle"), [
    ("HTML_5s.mp4", "not_video", "an HTML page"),
    ("TXT_5s.mp4", "not_video", "a text file"),
    ("RND_5s.mp4", "not_video", "not a media file"),
    ("AUD_5s.mp4", "not_video", "no video stream (only audio)"),
    ("ZERO_5s.mp4", "wrong_frames", "0 frames"),
    ("HUGE_5s.mp4", "unreadable", "8000x8000"),
    ("T_5s.mp4", "unreadable", "no moov atom"),
    ("TF_5s.mp4", "unreadable", "truncated"),
    ("Z_5s.mp4", "corrupt", "decoder error"),
    ("E0_5s.mp4", "empty", "0 bytes"),
    ("FIFO_5s.mp4", "unreadable", "FIFO"),
    ("DIR_5s.mp4", "unreadable", "directory"),
    ("BROKEN_5s.mp4", "unreadable", "broken symbolic link"),
    ("V_5s.mp4", "vfr", "frame intervals vary from 42.0 to 50.0 ms"),
    ("W_5s.mp4", "wrong_resolution", "352x176; expected 320x176"),
    ("X_5s.mp4", "wrong_codec", "codec mpeg4"),
    ("Y_5s.mp4", "wrong_codec", "pixel format yuv444p"),
    ("K_5s.mp4", "black", "black for 2.1 s from 1.25 s"),
    ("L_5s.mp4", "frozen", "the picture stops"),
    ("M_5s.mp4", "flicker", "brightness jumps"),
    ("S_5s.mp4", "scene_cut", "2.50 s (frame 60"),
    ("it's a clip ü.mp4", "bad_name", "does not follow <ID>_<N>s.mp4"),
])
def test_details_say_why(by_name, name, kind, needle):
    assert needle in detail(by_name[name], kind)


def test_ids_need_every_duration_seen(report):
    ids = {i.id: i for i in report.ids}
    assert ids["A"].status == "ok" and ids["A"].found_durations == [5, 10]
    assert ids["B"].status == "missing_variant" and ids["B"].findings[0].detail == "B has no 10 s variant (B_10s.mp4)"
    assert ids["D"].expected_durations == [5, 10] and ids["D"].status == "wrong_frames"
    assert "it's a clip ü" not in ids


def test_summary_counts(report):
    s = report.summary
    assert s.files == len(CORPUS)
    assert s.lfs_pointers == 2
    assert s.passed == sum(1 for v in CORPUS.values() if v == "ok")
    assert s.failed == s.files - s.passed
    assert s.by_kind["duplicate"] == 2 and s.by_kind["lfs_pointer"] == 2
    assert s.by_status["near_duplicate"] == 4
    assert s.videos == sum(1 for f in report.files if f.frames) and s.unique_sha256 == s.videos - 1
    assert s.ids_passed == 1  # A: U and LINK lack the 10 s variant that other IDs have
    assert not report.ok


def test_json_report_schema(report):
    data = report.to_json()
    assert data["schema"] == "synthcam.verify/2"
    assert set(data) == {"schema", "policy", "thresholds", "files", "ids", "summary"}
    assert (data["policy"]["name"], data["policy"]["content_checks_off"]) == ("default", [])
    row = next(f for f in data["files"] if f["path"].endswith("A_5s.mp4"))
    assert row["policy"] == "default"
    for key in ("path", "id", "duration_s", "status", "findings", "sha256", "frames", "fps", "width", "height", "codec"):
        assert key in row
    assert (row["id"], row["duration_s"], row["status"], row["frames"], row["codec"]) == ("A", 5, "ok", 120, "h264")
    assert "signature" not in row
    assert set(data["summary"]) >= {"files", "videos", "lfs_pointers", "unique_sha256", "passed", "failed", "by_kind"}


def test_signature_kept_in_memory(by_name):
    sig = by_name["A_10s.mp4"].signature
    assert sig.seconds == 10 and len(sig.motion_hashes) == 10 and all(sig.motion_active)
    assert by_name["C_5s.mp4"].signature.seconds == 5  # 5.81 s: five whole seconds
