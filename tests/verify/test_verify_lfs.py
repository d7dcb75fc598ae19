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
