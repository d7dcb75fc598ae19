"""giftless local storage that keeps objects honest: the test server's `quarantine=True` mode.

Loaded only inside the test server's child process (it imports giftless, a dev extra).

What stock giftless (0.6.2) does, and why a repair needs more:

- `LocalStorage.put` opens `<storage>/<org>/<repo>/<oid>` with "wb" and copies the request body
  into it: an upload overwrites an existing object in place, with no hash check, so a reader
  meanwhile gets half an object and an interrupted upload leaves one;
- the Batch API's upload answer omits `actions` for an object that exists at the requested
  size (basic_streaming's `upload`), as the LFS spec allows. A server that holds wrong bytes of
  the right size therefore never asks for them again: git-lfs skips the object, and no client
  can replace it through the LFS API, which has no way to delete or overwrite an object.

A content-addressed store must not keep bytes that fail their name. This storage verifies
where it can do so for free: an upload is streamed to a temporary file while hashed and renamed
into place only if it hashes to its oid (else 422, and the old object stays); and an object
served by `get` is hashed on its way out. If those bytes fail their oid, the object is moved
to `<storage>/.quarantine/` before the last chunk is sent (so the client, which detects the
corruption itself, finds the server no longer claiming it), and the next Batch API upload asks
for it: `synthcam publish --repair` then re-uploads it like any lost object. Swift's object
server quarantines on read the same way.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from giftless.exc import InvalidPayload
from giftless.storage import exc
from giftless.storage.local_storage import LocalStorage

CHUNK = 1 << 20
QUARANTINE = ".quarantine"


class CheckedReader:
    """The object's bytes, hashed as they are served; quarantines the file if they fail its oid."""

    def __init__(self, path: Path, oid: str, quarantine: Path) -> None:
        self._fh = open(path, "rb")  # noqa: SIM115 - closed by close(), which the WSGI server calls
        st = os.fstat(self._fh.fileno())
        self._size, self._ino = st.st_size, st.st_ino
        self._path, self._oid, self._quarantine = path, oid, quarantine
        self._digest = hashlib.sha256()
        self._sent = 0

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(CHUNK):
            yield chunk

    def read(self, n: int = -1) -> bytes:
        chunk = self._fh.read(n)
        self._digest.update(chunk)
        self._sent += len(chunk)
        if chunk and self._sent == self._size:  # before the last bytes leave: the client cannot race us
            self._check()
        return chunk

    def _check(self) -> None:
        if self._digest.hexdigest() == self._oid:
            return
        try:
            if os.stat(self._path).st_ino != self._ino:  # replaced by a good upload meanwhile
                return
            self._quarantine.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._path, self._quarantine)
        except OSError as error:
            print(f"quarantine of {self._path} failed: {error}", file=sys.stderr, flush=True)
            return
        print(f"quarantined {self._path}: its bytes hash to {self._digest.hexdigest()}", file=sys.stderr, flush=True)

    def close(self) -> None:
        self._fh.close()


class VerifiedLocalStorage(LocalStorage):
    """giftless's LocalStorage with verified, atomic uploads and quarantine on read (module docstring)."""

    def put(self, prefix: str, oid: str, data_stream: BinaryIO) -> int:
        path = self._get_path(prefix, oid)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{oid}.{uuid.uuid4().hex}.partial")
        digest = hashlib.sha256()
        size = 0
        try:
            with open(tmp, "wb") as out:
                while chunk := data_stream.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != oid:
                raise InvalidPayload(f"the uploaded bytes hash to {digest.hexdigest()}, not to the object's oid")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return size

    def get(self, prefix: str, oid: str) -> BinaryIO:
        path = self._get_path(prefix, oid)
        if not path.is_file():
            raise exc.ObjectNotFoundError(f"Object {path} was not found")
        quarantine = Path(self.path) / QUARANTINE / prefix / f"{oid}.{time.time_ns()}"
        return CheckedReader(path, oid, quarantine)  # type: ignore[return-value]
