"""Object identity on this side: streamed hashing, pointer stubs, the local object store."""

from __future__ import annotations

import hashlib
import os
import subprocess

from synthcam.publish.lfs import CHUNK, LfsObject, ensure_local_object, object_of, object_path, read_pointer

from .lfs_fixtures import pointer_text


def test_sha256_streams_any_size(tmp_path):
    data = os.urandom(3 * CHUNK + 17)
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    assert object_of(path) == LfsObject(hashlib.sha256(data).hexdigest(), len(data))
    (tmp_path / "empty").write_bytes(b"")
    assert object_of(tmp_path / "empty").size == 0


def test_pointer_stubs_are_told_from_content(tmp_path):
    real = tmp_path / "real.mp4"
    real.write_bytes(os.urandom(2000))
    stub = tmp_path / "stub.mp4"
    made = subprocess.run(["git", "lfs", "pointer", "--file", str(real)], capture_output=True, check=True).stdout
    stub.write_bytes(made)
    pointer = read_pointer(stub)
    assert pointer is not None and pointer.oid == object_of(real).oid and pointer.size == 2000
    assert read_pointer(real) is None
    bad = tmp_path / "bad.mp4"
    bad.write_text(pointer_text("x" * 64, 3))  # pointer-like but malformed: still a stub, not content
    assert read_pointer(bad) is not None and read_pointer(bad).version == "malformed"


def test_local_object_restored_only_from_the_right_content(tmp_path):
    src = tmp_path / "clip.mp4"
    src.write_bytes(b"verified content")
    obj = object_of(src)
    objects = tmp_path / "objects"
    assert not ensure_local_object(objects, LfsObject("0" * 64, obj.size), src)
    assert not object_path(objects, "0" * 64).exists() and not list(objects.rglob("*.partial"))
    assert ensure_local_object(objects, obj, src)
    assert object_path(objects, obj.oid).read_bytes() == b"verified content"
    assert ensure_local_object(objects, obj, tmp_path / "gone")  # already there: fine
