"""LFS objects on this side: streamed sha256 (the oid), pointer stubs, the local object store.

Everything reads in 1 MiB chunks, so a 1 GB clip costs 1 MiB of memory to hash or copy.
Hashing and pointer parsing are the verifier's (`verify.file`, `verify.lfs`: the git-lfs spec).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..export.files import open_regular
from ..verify.file import sha256_file
from ..verify.lfs import POINTER_MAX_BYTES, LfsPointer, MalformedPointer, looks_like_pointer, parse_pointer

__all__ = ["CHUNK", "LfsObject", "ensure_local_object", "object_path", "object_of", "pointer_in", "read_pointer"]

CHUNK = 1 << 20


@dataclass(frozen=True, order=True)
class LfsObject:
    """What the server must hold: the sha256 of the content and its size."""

    oid: str
    size: int


def object_of(path: Path) -> LfsObject:
    """The file's LFS identity, hashed in 1 MiB chunks (the verifier's own function)."""
    return LfsObject(*sha256_file(path))


def pointer_in(data: bytes) -> LfsPointer | None:
    """The pointer these bytes are, or None; a malformed pointer-like stub still counts as one."""
    try:
        return parse_pointer(data)
    except MalformedPointer:
        return LfsPointer(oid="", size=0, version="malformed")


def read_pointer(path: Path) -> LfsPointer | None:
    """Whether the working-tree file is a pointer stub instead of content (git-lfs's own test)."""
    with open(path, "rb") as fh:
        head = fh.read(POINTER_MAX_BYTES)
    if not looks_like_pointer(head):
        return None
    return pointer_in(head)


def object_path(objects_dir: Path, oid: str) -> Path:
    """Where git-lfs keeps an object: `objects/ab/cd/abcd...`."""
    return objects_dir / oid[:2] / oid[2:4] / oid


def ensure_local_object(objects_dir: Path, obj: LfsObject, source: Path, replace: bool = False) -> bool:
    """Put `source` into an object store if the store lacks it (or `replace`) and it is that object.

    A clip committed earlier may have had its local object pruned; git-lfs uploads only from
    the store, so the verified working-tree file is copied back (streamed, then renamed over
    whatever was there). Returns False when the source is not the object, or not a regular file
    (a link is never followed, even to the right bytes).
    """
    dest = object_path(objects_dir, obj.oid)
    if not replace and dest.is_file() and dest.stat().st_size == obj.size:
        return True
    try:
        src = open_regular(source)
    except (InputError, OSError):
        return False
    with src:
        if os.fstat(src.fileno()).st_size != obj.size:
            return False
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
        digest = hashlib.sha256()
        try:
            with open(tmp, "wb") as out:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != obj.oid:
                return False
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
    return True
