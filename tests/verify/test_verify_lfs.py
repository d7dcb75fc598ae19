"""LFS pointer parsing follows the git-lfs spec (v1), including its legacy version URL."""

from __future__ import annotations

import pytest

from synthcam.verify import MalformedPointer, parse_pointer

OID = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393"
CANONICAL = f"version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\nsize 12345\n".encode()


def test_canonical_pointer():
    p = parse_pointer(CANONICAL)
    assert (p.oid, p.size, p.version, p.extra) == (OID, 12345, "https://git-lfs.github.com/spec/v1", ())


def test_legacy_version_and_extension_keys_are_kept():
    text = (f"version https://hawser.github.com/spec/v1\next-0-foo sha256:{'1' * 64}\n"
            f"oid sha256:{OID}\nsize 0\n").encode()
    p = parse_pointer(text)
    assert p.size == 0 and p.extra == (("ext-0-foo", "sha256:" + "1" * 64),)


@pytest.mark.parametrize("data", [
    b"", b"\x00\x00\x00\x18ftypisom", b"hello world\n", b"version 1\n",
    CANONICAL + b"x" * 1024,  # git-lfs only parses blobs under 1024 bytes
])
def test_not_pointer_like(data):
    assert parse_pointer(data) is None


@pytest.mark.parametrize(("text", "why"), [
    (CANONICAL.replace(b"\n", b"\r\n"), "CR LF"),
    (CANONICAL[:-1], "newline"),
    (CANONICAL.replace(OID.encode(), OID[:63].encode()), "'oid'"),
    (CANONICAL.replace(OID.encode(), OID.upper().encode()), "'oid'"),
    (CANONICAL.replace(b"sha256:", b"md5:"), "'oid'"),
    (CANONICAL.replace(b"size 12345", b"size 12k"), "'size'"),
    (CANONICAL.replace(b"size 12345", b"size 012"), "'size'"),
    (CANONICAL.replace(b"\nsize 12345\n", b"\n"), "'size'"),
    (CANONICAL.replace(b"spec/v1", b"spec/v2"), "unknown version"),
    (f"version https://git-lfs.github.com/spec/v1\nsize 1\noid sha256:{OID}\n".encode(), "sorted"),
    (CANONICAL + b"size 1\n", "twice"),
    (CANONICAL.replace(b"size 12345", b"Size 12345"), "not 'key value'"),
    (CANONICAL.replace(b"size 12345", b"size"), "not 'key value'"),
    (CANONICAL.replace(b"12345", b"\xff\xfe"), "UTF-8"),
])
def test_malformed_pointers_say_where(text, why):
    with pytest.raises(MalformedPointer, match=why):
        parse_pointer(text)


# --- the summary counts stubs by distinct object ----------------------------------------------

def _stub(path, oid: str, size: int) -> None:
    path.write_text(f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n")


def _oid(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def test_stubs_are_summarised_by_distinct_object(tmp_path):
    """The seed case in small: each ID's 5/10/30 s stubs point at one object, a legacy stub at its own."""
    import json

    from helpers import invoke

    from synthcam.verify import verify_paths

    for clip_id in ("P01", "P02"):
        for d in (5, 10, 30):
            _stub(tmp_path / f"{clip_id}_{d}s.mp4", _oid(clip_id), 1000)
    _stub(tmp_path / "P01.mp4", _oid("P01 legacy"), 500)
    s = verify_paths([tmp_path], in_process=True).summary
    assert (s.files, s.lfs_pointers, s.lfs_objects, s.lfs_object_bytes) == (7, 7, 3, 2500)
    r = invoke("verify", tmp_path, "--jobs", "1")
    assert r.exit_code == 1
    assert "7 LFS pointer stubs of 3 distinct objects (2,500 bytes never fetched)" in " ".join(r.stdout.split())
    r = invoke("verify", tmp_path, "--jobs", "1", "--json", "-")
    summary = json.loads(r.stdout)["summary"]
    assert (summary["lfs_pointers"], summary["lfs_objects"], summary["lfs_object_bytes"]) == (7, 3, 2500)


def test_no_stubs_no_object_count(tmp_path):
    from synthcam.verify import verify_paths

    (tmp_path / "P01_5s.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\0" * 100)
    s = verify_paths([tmp_path], in_process=True).summary
    assert (s.lfs_pointers, s.lfs_objects, s.lfs_object_bytes) == (0, 0, 0)


def test_the_seed_case_496_stubs_of_207_objects(tmp_path, legacy_manifest_path):
    """The old repository's videos/ rebuilt as stubs from the reference manifest's 167 IDs:
    5/10/30 s for every ID except T*_30s and R14-R18_30s (456), plus 40 legacy `{ID}.mp4`
    (24 P, 16 T) whose bytes differ, as docs/verify.md and original-system.md count them."""
    import re

    import yaml

    from synthcam.verify import verify_paths

    def ids(node, out):
        if isinstance(node, dict):
            if isinstance(node.get("id"), str):
                out.add(node["id"])
            for v in node.values():
                ids(v, out)
        elif isinstance(node, list):
            for v in node:
                ids(v, out)
        return out

    all_ids = sorted(ids(yaml.safe_load(legacy_manifest_path.read_text()), set()))
    assert len(all_ids) == 167
    for clip_id in all_ids:
        series, number = re.match(r"([A-Z]+)(\d+)", clip_id).groups()
        for d in (5, 10, 30):
            if d == 30 and (series == "T" or (series == "R" and 14 <= int(number) <= 18)):
                continue
            _stub(tmp_path / f"{clip_id}_{d}s.mp4", _oid(clip_id), 50_000_000)
    legacy = [i for i in all_ids if i.startswith("P")][:24] + [i for i in all_ids if i.startswith("T")][:16]
    for clip_id in legacy:
        _stub(tmp_path / f"{clip_id}.mp4", _oid(clip_id + " legacy"), 20_000_000)
    s = verify_paths([tmp_path], in_process=True).summary
    assert (s.files, s.lfs_pointers, s.lfs_objects, s.videos) == (496, 496, 207, 0)
