"""Ask an LFS server which objects it holds, moving no bytes: the Batch API.

`POST <endpoint>/objects/batch` (`application/vnd.git-lfs+json`), at most 100 objects a request.
With `operation: upload` the server omits `actions` for an object it already holds (same oid
and size), so an `upload` action means "missing". That needs write access; on a 403 we ask the
`download` way instead, where a missing object is a per-object `error {code: 404}` (410 when
removed) inside an HTTP 200, or, from giftless, an HTTP 404 for a request whose objects are all
missing (then we ask one object per request).

Credentials come from the URL's userinfo, else none, and after a 401 from git's credential
helpers (approved once they work, rejected when refused), as git-lfs does. They are sent as
Basic auth and never appear in a message. A `file://` remote has no server: git-lfs's
standalone-file adapter copies objects into that repository, and `FileStoreProbe` looks there.

Presence is the server's word; `read_back` checks its bytes. It asks `operation: download` for
each object's download action (at most 100 objects or 1 GiB a request, so actions do not expire
while earlier objects stream), GETs the href with the action's own headers (our credentials
only go to the endpoint's own origin, after a 401/403 there), and re-hashes the body in 1 MiB
chunks as it arrives: memory stays flat for any object size, and nothing is written to disk.
Hrefs may carry signed tokens, so none is ever shown.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, Protocol
from urllib.parse import urlsplit

from .errors import LfsServerError
from ..errors import InputError
from ..export.files import open_regular
from .lfs import CHUNK, LfsObject, ensure_local_object, object_path
from .redact import mask_url, redact, strip_userinfo
from .remote import Endpoint

__all__ = ["BATCH_SIZE", "BatchProbe", "Credentials", "FileStoreProbe", "Getter", "Integrity", "Presence", "Prober",
           "Transport", "hash_stream", "prober_for", "urllib_getter", "urllib_transport"]

BATCH_SIZE = 100
READ_BATCH_BYTES = 1 << 30  # download actions asked for at once: they expire (giftless: 15 min)
MEDIA = "application/vnd.git-lfs+json"
RETRY_STATUS = (429, 500, 502, 503, 504)

Transport = Callable[[str, bytes, Mapping[str, str]], tuple[int, bytes]]
"""POST (url, body, headers) -> (status, body); raises OSError when the server can't be reached."""
Getter = Callable[[str, Mapping[str, str]], AbstractContextManager[tuple[int, BinaryIO]]]
"""GET (url, headers) -> a context giving (status, body stream); raises OSError when unreachable."""


@dataclass(frozen=True)
class Presence:
    """The server's word on one object."""

    obj: LfsObject
    present: bool
    detail: str = ""


@dataclass(frozen=True)
class Integrity:
    """What the server's bytes for one object turned out to be."""

    obj: LfsObject
    status: Literal["ok", "corrupt", "missing"]
    detail: str = ""
    read: int = 0  # bytes read

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def hash_stream(obj: LfsObject, body: BinaryIO) -> Integrity:
    """Re-hash an object's bytes as they arrive, in 1 MiB chunks, reading at most one chunk past its size."""
    digest = hashlib.sha256()
    read = 0
    while chunk := body.read(CHUNK):
        read += len(chunk)
        digest.update(chunk)
        if read > obj.size:
            return Integrity(obj, "corrupt", f"the server sent more than the object's {obj.size} bytes", read)
    if read != obj.size:
        return Integrity(obj, "corrupt", f"the server sent {read} of the object's {obj.size} bytes", read)
    actual = digest.hexdigest()
    if actual != obj.oid:
        return Integrity(obj, "corrupt", f"the server's {read} bytes hash to {actual[:12]}, not to the published "
                                         f"object {obj.oid[:12]}", read)
    return Integrity(obj, "ok", "", read)


class Credentials(Protocol):
    def fill(self, url: str) -> tuple[str, str] | None: ...
    def approve(self, url: str, user: str, password: str) -> None: ...
    def reject(self, url: str, user: str, password: str) -> None: ...


class Prober(Protocol):
    shown: str

    def probe(self, objects: Iterable[LfsObject]) -> dict[str, Presence]: ...

    def read_back(self, objects: Iterable[LfsObject],
                  progress: Callable[[Integrity], None] | None = None) -> dict[str, Integrity]: ...


def urllib_transport(timeout: float = 60.0) -> Transport:
    """The stdlib HTTP client; proxies come from the environment, as for git-lfs."""
    opener = urllib.request.build_opener()

    def send(url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
        request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
        try:
            with opener.open(request, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.read()

    return send


def urllib_getter(timeout: float = 60.0) -> Getter:
    """Streaming GET with the stdlib client; the timeout applies to each read, not the whole body."""
    opener = urllib.request.build_opener()

    @contextmanager
    def get(url: str, headers: Mapping[str, str]) -> Iterator[tuple[int, BinaryIO]]:
        request = urllib.request.Request(url, headers=dict(headers), method="GET")
        try:
            response = opener.open(request, timeout=timeout)
        except urllib.error.HTTPError as exc:
            with exc:
                yield exc.code, io.BytesIO()
            return
        with response:
            yield response.status, response

    return get


def _byte_chunks(objects: Sequence[LfsObject]) -> Iterator[list[LfsObject]]:
    chunk: list[LfsObject] = []
    for obj in objects:
        if chunk and (len(chunk) == BATCH_SIZE or sum(o.size for o in chunk) + obj.size > READ_BATCH_BYTES):
            yield chunk
            chunk = []
        chunk.append(obj)
    if chunk:
        yield chunk


def _server_message(data: bytes) -> str:
    try:
        message = json.loads(data).get("message", "")
    except (ValueError, AttributeError):
        message = data.decode("utf-8", "replace")
    return redact(str(message).strip())[:200] or "no message"


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    return redact(str(reason)) or type(exc).__name__


class BatchProbe:
    """The Batch API of one endpoint, asked about presence only."""

    def __init__(self, endpoint: str, credentials: Credentials | None = None, transport: Transport | None = None,
                 retries: int = 2, backoff_s: float = 0.5, getter: Getter | None = None) -> None:
        bare, user, password = strip_userinfo(endpoint.rstrip("/"))
        self.shown = mask_url(endpoint.rstrip("/"))
        self._bare = bare
        self._url = bare + "/objects/batch"
        self._auth = (user or "", password or "") if user or password else None
        self._credentials = credentials
        self._from_helper = False
        self._approved = False
        self._transport = transport or urllib_transport()
        self._getter = getter or urllib_getter()
        self._retries = retries
        self._backoff_s = backoff_s
        self._operation = "upload"

    def probe(self, objects: Iterable[LfsObject]) -> dict[str, Presence]:
        unique = sorted(set(objects))
        found: dict[str, Presence] = {}
        for start in range(0, len(unique), BATCH_SIZE):
            found.update(self._probe(unique[start:start + BATCH_SIZE]))
        return found

    # --- one request ------------------------------------------------------------------------

    def _probe(self, chunk: Sequence[LfsObject]) -> dict[str, Presence]:
        if self._operation == "upload":
            status, data = self._request("upload", chunk)
            if status != 403:
                return self._read(status, data, chunk, "upload")
            self._operation = "download"  # read-only credentials: ask the download way
        status, data = self._request("download", chunk)
        if status == 404 and len(chunk) > 1:
            return {k: v for obj in chunk for k, v in self._probe([obj]).items()}
        if status == 404:
            return {chunk[0].oid: Presence(chunk[0], False, "the server has no such object (HTTP 404)")}
        return self._read(status, data, chunk, "download")

    def _request(self, operation: str, chunk: Sequence[LfsObject]) -> tuple[int, bytes]:
        body = json.dumps({"operation": operation, "transfers": ["basic"],
                           "objects": [{"oid": o.oid, "size": o.size} for o in chunk]}).encode()
        attempt = 0
        while True:
            status, data = self._send(body)
            if status == 401 and self._auth is None:
                self._login()
                continue
            if status == 401:
                if self._from_helper and self._credentials and self._auth:
                    self._credentials.reject(self._bare, *self._auth)
                raise LfsServerError(f"the LFS server at {self.shown} refused the credentials (HTTP 401)")
            if status in RETRY_STATUS and attempt < self._retries:
                attempt += 1
                time.sleep(self._backoff_s * 2 ** (attempt - 1))
                continue
            if status == 200 and self._from_helper and not self._approved and self._credentials and self._auth:
                self._credentials.approve(self._bare, *self._auth)
                self._approved = True
            return status, data

    def _login(self) -> None:
        filled = self._credentials.fill(self._bare) if self._credentials else None
        if filled is None:
            raise LfsServerError(f"the LFS server at {self.shown} needs credentials and git's credential helpers "
                                 "have none for it: store them with a credential helper (git credential approve)")
        self._auth, self._from_helper = filled, True

    def _send(self, body: bytes) -> tuple[int, bytes]:
        headers = {"Accept": MEDIA, "Content-Type": MEDIA}
        if self._auth is not None:
            token = base64.b64encode(f"{self._auth[0]}:{self._auth[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        try:
            return self._transport(self._url, body, headers)
        except (OSError, http.client.HTTPException) as exc:  # URLError, refused, reset, timeout
            raise LfsServerError(f"cannot reach the LFS server at {self.shown}: {_reason(exc)}") from exc

    def _entries(self, status: int, data: bytes, chunk: Sequence[LfsObject]) -> dict[str, dict | None]:
        """The Batch API's entry per object of a 200 answer; raises on anything else."""
        if status == 404:
            raise LfsServerError(f"no LFS repository at {self.shown} (HTTP 404): check lfs.url or the remote URL")
        if status != 200:
            raise LfsServerError(f"the LFS server at {self.shown} answered HTTP {status}: {_server_message(data)}")
        try:
            listed = json.loads(data)["objects"]
            by_oid = {o["oid"]: o for o in listed if isinstance(o, dict) and "oid" in o}
        except (ValueError, KeyError, TypeError):
            raise LfsServerError(f"the LFS server at {self.shown} did not answer with a Batch API response") from None
        return {obj.oid: by_oid.get(obj.oid) for obj in chunk}

    def _read(self, status: int, data: bytes, chunk: Sequence[LfsObject], operation: str) -> dict[str, Presence]:
        entries = self._entries(status, data, chunk)
        return {obj.oid: self._presence(obj, entries[obj.oid], operation) for obj in chunk}

    @staticmethod
    def _presence(obj: LfsObject, entry: dict | None, operation: str) -> Presence:
        if entry is None:
            return Presence(obj, False, "the server's answer left this object out")
        if isinstance(entry.get("error"), dict):
            error = entry["error"]
            message = redact(str(error.get("message", "")))[:120]
            return Presence(obj, False, f"the server says {error.get('code')}: {message}")
        actions = entry.get("actions") or {}
        if operation == "upload":
            if "upload" in actions:
                return Presence(obj, False, "the server asks for it to be uploaded: it does not hold it")
            return Presence(obj, True)
        present = "download" in actions
        return Presence(obj, present, "" if present else "the server offers no download for it")


    # --- reading the bytes back -------------------------------------------------------------

    def read_back(self, objects: Iterable[LfsObject],
                  progress: Callable[[Integrity], None] | None = None) -> dict[str, Integrity]:
        """Download each object through the Batch API's download action and re-hash it, streaming."""
        found: dict[str, Integrity] = {}
        for chunk in _byte_chunks(sorted(set(objects))):
            actions = self._download_actions(chunk)
            for obj in chunk:
                action = actions[obj.oid]
                result = action if isinstance(action, Integrity) else self._fetch(obj, action, retry=True)
                found[obj.oid] = result
                if progress is not None:
                    progress(result)
        return found

    def _download_actions(self, chunk: Sequence[LfsObject]) -> dict[str, dict | Integrity]:
        status, data = self._request("download", chunk)
        if status == 404 and len(chunk) > 1:  # giftless: every object of the request is missing
            return {k: v for obj in chunk for k, v in self._download_actions([obj]).items()}
        if status == 404:
            return {chunk[0].oid: Integrity(chunk[0], "missing", "the server has no such object (HTTP 404)")}
        entries = self._entries(status, data, chunk)
        out: dict[str, dict | Integrity] = {}
        for obj in chunk:
            presence = self._presence(obj, entries[obj.oid], "download")
            action = ((entries[obj.oid] or {}).get("actions") or {}).get("download")
            if not presence.present or not isinstance(action, dict) or not isinstance(action.get("href"), str):
                out[obj.oid] = Integrity(obj, "missing", presence.detail or "the server offers no download for it")
            else:
                out[obj.oid] = action
        return out

    def _fetch(self, obj: LfsObject, action: dict, retry: bool) -> Integrity:
        href = action["href"]
        headers = {str(k): str(v) for k, v in (action.get("header") or {}).items()}
        status, result = self._get(obj, href, headers)
        if status in (401, 403) and self._auth and "Authorization" not in headers and self._same_origin(href):
            token = base64.b64encode(f"{self._auth[0]}:{self._auth[1]}".encode()).decode()
            status, result = self._get(obj, href, {**headers, "Authorization": f"Basic {token}"})
        if status in (401, 403, 404, 410) and retry:  # the action may have expired or moved: ask once more
            again = self._download_actions([obj])[obj.oid]
            return again if isinstance(again, Integrity) else self._fetch(obj, again, retry=False)
        if status in (404, 410):
            return Integrity(obj, "missing", f"the download of the object answered HTTP {status}")
        if result is None:
            raise LfsServerError(f"downloading object {obj.oid[:12]} from the LFS server at {self.shown} failed: "
                                 f"HTTP {status}")
        return result

    def _get(self, obj: LfsObject, href: str, headers: Mapping[str, str]) -> tuple[int, Integrity | None]:
        try:
            with self._getter(href, headers) as (status, body):
                return status, hash_stream(obj, body) if status == 200 else None
        except (OSError, http.client.HTTPException) as exc:
            raise LfsServerError(f"downloading object {obj.oid[:12]} from the LFS server at {self.shown} failed: "
                                 f"{_reason(exc)}") from exc

    def _same_origin(self, href: str) -> bool:
        a, b = urlsplit(href), urlsplit(self._bare)
        return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


class FileStoreProbe:
    """A `file://` remote: look in the folder git-lfs's standalone-file adapter copies into."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.shown = endpoint.shown
        self._dir = endpoint.file_objects_dir()
        if not self._dir.parent.parent.is_dir():
            raise LfsServerError(f"the file remote {self.shown} does not exist")

    def probe(self, objects: Iterable[LfsObject]) -> dict[str, Presence]:
        found = {}
        for obj in sorted(set(objects)):
            path = object_path(self._dir, obj.oid)
            ok = path.is_file() and path.stat().st_size == obj.size
            found[obj.oid] = Presence(obj, ok, "" if ok else f"not in {self._dir}")
        return found

    def read_back(self, objects: Iterable[LfsObject],
                  progress: Callable[[Integrity], None] | None = None) -> dict[str, Integrity]:
        found = {}
        for obj in sorted(set(objects)):
            try:
                with open_regular(object_path(self._dir, obj.oid)) as fh:
                    result = hash_stream(obj, fh)
            except FileNotFoundError:
                result = Integrity(obj, "missing", f"not in {self._dir}")
            except InputError as exc:
                result = Integrity(obj, "corrupt", str(exc))
            found[obj.oid] = result
            if progress is not None:
                progress(result)
        return found

    def replace(self, obj: LfsObject, source: Path) -> bool:
        """Put the verified local copy in place of a corrupt object (the folder is ours to write)."""
        return ensure_local_object(self._dir, obj, source, replace=True)


def prober_for(endpoint: Endpoint, credentials: Credentials | None = None) -> Prober:
    """The presence check that fits the endpoint: the Batch API, or a file remote's folder."""
    if endpoint.is_file:
        return FileStoreProbe(endpoint)
    return BatchProbe(endpoint.url, credentials)

