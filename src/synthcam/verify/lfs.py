"""Git LFS pointer stubs, parsed per the git-lfs pointer spec (docs/spec.md, v1).

A pointer is UTF-8 text of `key value\\n` lines: `version <url>` first, then the other keys
in sorted order, with `oid sha256:<64 hex>` and `size <bytes>` required. git-lfs only parses
blobs smaller than 1024 bytes, and so do we. The legacy "hawser" version URL is still valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ..errors import MalformedPointer  # noqa: F401 - raised here, defined in the one tree

__all__ = ["POINTER_MAX_BYTES", "VERSIONS", "LfsPointer", "MalformedPointer", "looks_like_pointer", "parse_pointer"]

POINTER_MAX_BYTES = 1024
VERSIONS = ("https://git-lfs.github.com/spec/v1", "https://hawser.github.com/spec/v1")
_KEY = re.compile(r"[a-z0-9.-]+")
_OID = re.compile(r"sha256:([0-9a-f]{64})")
_SIZE = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True)
class LfsPointer:
    """A parsed pointer: which object it stands for."""

    oid: str  # 64 lowercase hex digits (the sha256 of the real file)
    size: int  # the real file's size in bytes
    version: str
    extra: tuple[tuple[str, str], ...] = ()  # other keys, kept as the spec asks


def looks_like_pointer(head: bytes) -> bool:
    """Whether the first bytes claim to be an LFS pointer (what git-lfs smudge sniffs)."""
    return head.startswith(b"version ") and (b"git-lfs" in head[:100] or b"hawser" in head[:100])


def parse_pointer(data: bytes) -> LfsPointer | None:
    """The pointer in `data`, None if `data` is not pointer-like, MalformedPointer if it is but breaks the spec."""
    if len(data) >= POINTER_MAX_BYTES or not looks_like_pointer(data):
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedPointer("it is not UTF-8 text") from None
    if "\r" in text:
        raise MalformedPointer("lines end in CR LF; the spec requires LF")
    if not text.endswith("\n"):
        raise MalformedPointer("the last line does not end in a newline")
    pairs: list[tuple[str, str]] = []
    for n, line in enumerate(text[:-1].split("\n"), 1):
        key, sep, value = line.partition(" ")
        if not sep or not value or not _KEY.fullmatch(key):
            raise MalformedPointer(f"line {n} is not 'key value' ({line[:40]!r})")
        pairs.append((key, value))
    version = pairs[0][1]
    if version not in VERSIONS:
        raise MalformedPointer(f"unknown version {version[:60]!r}")
    rest = pairs[1:]
    keys = [k for k, _ in rest]
    if len(set(keys)) != len(keys) or "version" in keys:
        raise MalformedPointer("a key appears twice")
    if keys != sorted(keys):
        raise MalformedPointer("keys after 'version' are not in sorted order")
    values = dict(rest)
    oid = _OID.fullmatch(values.get("oid", ""))
    if oid is None:
        raise MalformedPointer("'oid' is missing or not 'sha256:' followed by 64 lowercase hex digits")
    size = values.get("size", "")
    if not _SIZE.fullmatch(size):
        raise MalformedPointer("'size' is missing or not a whole number of bytes")
    extra = tuple((k, v) for k, v in rest if k not in ("oid", "size"))
    return LfsPointer(oid=oid.group(1), size=int(size), version=version, extra=extra)
