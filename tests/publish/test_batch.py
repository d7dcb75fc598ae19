"""The Batch API probe: answers read right, credentials handled, foreign errors mapped."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import json
import urllib.error

import pytest

from synthcam.publish.batch import BATCH_SIZE, BatchProbe, hash_stream
from synthcam.publish.errors import LfsServerError
from synthcam.publish.lfs import CHUNK, LfsObject

A, B = LfsObject("a" * 64, 10), LfsObject("b" * 64, 20)
ENDPOINT = "http://127.0.0.1:1/org/repo"


class FakeServer:
    """A transport: holds some objects, optionally wants Basic auth or read-only access."""

    def __init__(self, holds=(), auth=None, read_only=False, giftless_404=False, status=None):
        self.holds, self.auth, self.read_only = set(holds), auth, read_only
        self.giftless_404, self.status = giftless_404, status
        self.requests: list[dict] = []

    def __call__(self, url, body, headers):
        request = json.loads(body)
        self.requests.append({"url": url, "headers": dict(headers), **request})
        assert headers["Content-Type"] == "application/vnd.git-lfs+json"
        if self.status:
            return self.status, b'{"message": "boom at http://u:p@x"}'
        if self.auth and headers.get("Authorization") != self.auth:
            return 401, b'{"message": "credentials required"}'
        if self.read_only and request["operation"] == "upload":
            return 403, b"{}"
        objects = []
        for o in request["objects"]:
            held = o["oid"] in self.holds
            if request["operation"] == "upload":
                objects.append(o if held else {**o, "actions": {"upload": {"href": "x"}}})
            else:
                objects.append({**o, "actions": {"download": {"href": "x"}}} if held else
                               {**o, "error": {"code": 404, "message": "not found"}})
        if self.giftless_404 and request["operation"] == "download" and not any("actions" in o for o in objects):
            return 404, b'{"message": "Cannot find any of the requested objects"}'
        return 200, json.dumps({"objects": objects}).encode()


class FakeCredentials:
    def __init__(self, answer=("u", "pw")):
        self.answer, self.log = answer, []

    def fill(self, url):
        self.log.append(("fill", url))
        return self.answer

    def approve(self, url, user, password):
        self.log.append(("approve", url))

    def reject(self, url, user, password):
        self.log.append(("reject", url))


def test_upload_probe_reads_presence_and_asks_100_at_a_time():
    objects = [LfsObject(f"{i:064x}", i) for i in range(250)]
    server = FakeServer(holds={o.oid for o in objects[::2]})
    found = BatchProbe(ENDPOINT, transport=server).probe(objects + objects[:5])
    assert [len(r["objects"]) for r in server.requests] == [BATCH_SIZE, BATCH_SIZE, 50]
    assert server.requests[0]["url"] == ENDPOINT + "/objects/batch" and server.requests[0]["operation"] == "upload"
    assert all(found[o.oid].present == (i % 2 == 0) for i, o in enumerate(objects))
    assert "does not hold it" in found[objects[1].oid].detail


def test_read_only_access_falls_back_to_download_and_per_object_errors():
    server = FakeServer(holds={A.oid}, read_only=True)
    found = BatchProbe(ENDPOINT, transport=server).probe([A, B])
    assert found[A.oid].present and not found[B.oid].present and "404" in found[B.oid].detail
    assert [r["operation"] for r in server.requests] == ["upload", "download"]


def test_giftless_whole_request_404_is_asked_one_object_at_a_time():
    server = FakeServer(read_only=True, giftless_404=True)
    found = BatchProbe(ENDPOINT, transport=server).probe([A, B])
    assert not found[A.oid].present and not found[B.oid].present
    assert [len(r["objects"]) for r in server.requests] == [2, 2, 1, 1]


def test_credentials_from_the_helper_after_a_401_are_approved():
    creds = FakeCredentials()
    server = FakeServer(holds={A.oid}, auth="Basic dTpwdw==")
    assert BatchProbe(ENDPOINT, creds, transport=server).probe([A])[A.oid].present
    assert creds.log == [("fill", ENDPOINT), ("approve", ENDPOINT)]


def test_refused_helper_credentials_are_rejected():
    creds = FakeCredentials(("u", "wrong"))
    with pytest.raises(LfsServerError, match="refused the credentials"):
        BatchProbe(ENDPOINT, creds, transport=FakeServer(auth="Basic dTpwdw==")).probe([A])
    assert creds.log[-1] == ("reject", ENDPOINT)
    with pytest.raises(LfsServerError, match="needs credentials"):
        BatchProbe(ENDPOINT, FakeCredentials(None), transport=FakeServer(auth="x")).probe([A])


def test_credentials_in_the_url_are_sent_but_never_shown():
    server = FakeServer(holds={A.oid}, auth="Basic dTpwdw==")
    probe = BatchProbe("http://u:pw@127.0.0.1:1/org/repo", transport=server)
    assert probe.probe([A])[A.oid].present and probe.shown == "http://***@127.0.0.1:1/org/repo"
    assert server.requests[0]["url"] == ENDPOINT + "/objects/batch"


def test_server_errors_are_retried_then_reported_redacted():
    server = FakeServer(status=503)
    with pytest.raises(LfsServerError, match=r"HTTP 503: boom at http://\*\*\*@x") as info:
        BatchProbe(ENDPOINT, transport=server, backoff_s=0).probe([A])
    assert len(server.requests) == 3 and "u:p" not in str(info.value)
    with pytest.raises(LfsServerError, match="no LFS repository"):
        BatchProbe(ENDPOINT, transport=FakeServer(status=404)).probe([A])


@pytest.mark.parametrize("error", [
    ConnectionRefusedError(111, "Connection refused"),
    urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")),
    TimeoutError("timed out"),
    http.client.RemoteDisconnected("Remote end closed connection without response"),
    ConnectionResetError(104, "Connection reset by peer"),
])
def test_every_transport_error_becomes_an_lfs_server_error(error):
    def transport(url, body, headers):
        raise error

    with pytest.raises(LfsServerError, match=r"cannot reach the LFS server at http://127\.0\.0\.1:1/org/repo"):
        BatchProbe(ENDPOINT, transport=transport).probe([A])


def test_nonsense_answers_are_errors():
    for body in (b"not json", b'{"nope": 1}'):
        with pytest.raises(LfsServerError, match="not answer with a Batch API response"):
            BatchProbe(ENDPOINT, transport=lambda u, b, h, body=body: (200, body)).probe([A])
    left_out = BatchProbe(ENDPOINT, transport=lambda u, b, h: (200, b'{"objects": []}')).probe([A])
    assert not left_out[A.oid].present and "left this object out" in left_out[A.oid].detail


def test_against_giftless_present_missing_and_wrong_size(tmp_path, lfs_server, git_sandbox):
    from .lfs_fixtures import make_bench

    bench = make_bench(tmp_path, lfs_server, names=("P01_5s",))
    from synthcam.publish import publish

    publish(bench.ws)
    sha = bench.shas["P01_5s"]
    size = (bench.ws / "clips" / "P01_5s.mp4").stat().st_size
    probe = BatchProbe(lfs_server.url(bench.org, bench.repo))
    found = probe.probe([LfsObject(sha, size), LfsObject(sha[::-1], size)])
    assert found[sha].present and not found[sha[::-1]].present
    assert not probe.probe([LfsObject(sha, size + 1)])[sha].present  # same oid, wrong size: not held
    assert not BatchProbe(lfs_server.url("other", "repo")).probe([LfsObject(sha, size)])[sha].present


# --- reading objects back -----------------------------------------------------------------------

class Endless(io.RawIOBase):
    """A body that never ends: reading must stop one chunk past the object's size."""

    def __init__(self):
        self.served = 0

    def read(self, n=-1):
        self.served += n
        return b"\0" * n


class FakeDownloads:
    """Batch API download actions plus the hrefs they point at."""

    def __init__(self, blobs, origin="http://127.0.0.1:1", header=None, want_auth_at=None):
        self.blobs, self.origin, self.header, self.want_auth_at = blobs, origin, header or {}, want_auth_at
        self.gets: list[tuple[str, dict]] = []

    def transport(self, url, body, headers):
        objects = []
        for o in json.loads(body)["objects"]:
            if o["oid"] in self.blobs:
                href = f"{self.origin}/storage/{o['oid']}?token=signed-secret"
                objects.append({**o, "actions": {"download": {"href": href, "header": self.header}}})
            else:
                objects.append({**o, "error": {"code": 404, "message": "not found"}})
        return 200, json.dumps({"objects": objects}).encode()

    @contextlib.contextmanager
    def getter(self, url, headers):
        self.gets.append((url, dict(headers)))
        if self.want_auth_at and url.startswith(self.want_auth_at) and "Authorization" not in headers:
            yield 401, io.BytesIO()
            return
        yield 200, io.BytesIO(self.blobs[url.split("/storage/")[1].split("?")[0]])


def _obj(data: bytes) -> LfsObject:
    return LfsObject(hashlib.sha256(data).hexdigest(), len(data))


def test_read_back_rehashes_and_names_what_is_wrong():
    good, other = b"x" * 3000, b"y" * 3000
    ok, bad, gone = _obj(good), _obj(b"z" * 3000), _obj(b"missing")
    fake = FakeDownloads({ok.oid: good, bad.oid: other}, header={"X-Signed": "1"})
    found = BatchProbe(ENDPOINT, transport=fake.transport, getter=fake.getter).read_back([ok, bad, gone])
    assert found[ok.oid].ok and found[ok.oid].read == 3000
    assert found[bad.oid].status == "corrupt" and f"hash to {hashlib.sha256(other).hexdigest()[:12]}" in found[bad.oid].detail
    assert found[gone.oid].status == "missing"
    assert all(h == {"X-Signed": "1"} for _, h in fake.gets)  # the action's headers, no credentials of ours


def test_hash_stream_reads_one_chunk_past_the_size_at_most():
    body = Endless()
    result = hash_stream(LfsObject("a" * 64, 10), body)
    assert result.status == "corrupt" and "more than the object's 10 bytes" in result.detail
    assert body.served == CHUNK
    short = hash_stream(LfsObject("a" * 64, 10), io.BytesIO(b"12345"))
    assert short.status == "corrupt" and "sent 5 of the object's 10 bytes" in short.detail


def test_credentials_go_to_the_endpoint_origin_only():
    data = b"content"
    obj = _obj(data)
    same = FakeDownloads({obj.oid: data}, want_auth_at="http://127.0.0.1:1")
    probe = BatchProbe("http://u:pw@127.0.0.1:1/org/repo", transport=same.transport, getter=same.getter)
    assert probe.read_back([obj])[obj.oid].ok
    assert [h.get("Authorization") for _, h in same.gets] == [None, "Basic dTpwdw=="]
    elsewhere = FakeDownloads({obj.oid: data}, origin="https://cdn.example", want_auth_at="https://cdn.example")
    probe = BatchProbe("http://u:pw@127.0.0.1:1/org/repo", transport=elsewhere.transport, getter=elsewhere.getter)
    with pytest.raises(LfsServerError, match="HTTP 401") as info:
        probe.read_back([obj])
    assert all("Authorization" not in h for _, h in elsewhere.gets) and "signed-secret" not in str(info.value)
