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
"""

from __future__ import annotations

import base64
import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from .errors import LfsServerError
from .lfs import LfsObject, object_path
from .redact import mask_url, redact, strip_userinfo
from .remote import Endpoint

__all__ = ["BATCH_SIZE", "BatchProbe", "Credentials", "FileStoreProbe", "Presence", "Prober", "Transport",
           "prober_for", "urllib_transport"]

BATCH_SIZE = 100
MEDIA = "application/vnd.git-lfs+json"
RETRY_STATUS = (429, 500, 502, 503, 504)

Transport = Callable[[str, bytes, Mapping[str, str]], tuple[int, bytes]]
"""POST (url, body, headers) -> (status, body); raises OSError when the server can't be reached."""


@dataclass(frozen=True)
class Presence:
    """The server's word on one object."""

    obj: LfsObject
    present: bool
    detail: str = ""


class Credentials(Protocol):
    def fill(self, url: str) -> tuple[str, str] | None: ...
    def approve(self, url: str, user: str, password: str) -> None: ...
    def reject(self, url: str, user: str, password: str) -> None: ...


class Prober(Protocol):
    shown: str

    def probe(self, objects: Iterable[LfsObject]) -> dict[str, Presence]: ...


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
                 retries: int = 2, backoff_s: float = 0.5) -> None:
        bare, user, password = strip_userinfo(endpoint.rstrip("/"))
        self.shown = mask_url(endpoint.rstrip("/"))
        self._bare = bare
        self._url = bare + "/objects/batch"
        self._auth = (user or "", password or "") if user or password else None
        self._credentials = credentials
        self._from_helper = False
        self._approved = False
        self._transport = transport or urllib_transport()
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

    def _read(self, status: int, data: bytes, chunk: Sequence[LfsObject], operation: str) -> dict[str, Presence]:
        if status == 404:
            raise LfsServerError(f"no LFS repository at {self.shown} (HTTP 404): check lfs.url or the remote URL")
        if status != 200:
            raise LfsServerError(f"the LFS server at {self.shown} answered HTTP {status}: {_server_message(data)}")
        try:
            listed = json.loads(data)["objects"]
            by_oid = {o["oid"]: o for o in listed if isinstance(o, dict) and "oid" in o}
        except (ValueError, KeyError, TypeError):
            raise LfsServerError(f"the LFS server at {self.shown} did not answer with a Batch API response") from None
        return {obj.oid: self._presence(obj, by_oid.get(obj.oid), operation) for obj in chunk}

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


def prober_for(endpoint: Endpoint, credentials: Credentials | None = None) -> Prober:
    """The presence check that fits the endpoint: the Batch API, or a file remote's folder."""
    if endpoint.is_file:
        return FileStoreProbe(endpoint)
    return BatchProbe(endpoint.url, credentials)

