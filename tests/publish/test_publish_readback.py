"""`check(sample=N)` / `check(deep=True)`: the server's bytes read back and re-hashed, and repaired."""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request

import pytest

from synthcam.errors import InputError
from synthcam.publish import check, publish, published_counts
from synthcam.publish.testserver import LfsTestServer

from .lfs_fixtures import make_bench

BAD = "T01_10s"


def corrupt_on_server(bench, name: str = BAD) -> bytes:
    """Overwrite the server's copy with other bytes of the same size; returns the good bytes."""
    path = bench.on_server(bench.shas[name])
    good = path.read_bytes()
    path.write_bytes(good[:100] + bytes([good[100] ^ 0xFF]) + good[101:])
    assert path.stat().st_size == len(good)
    return good


def test_presence_alone_misses_it_and_a_deep_check_finds_it(tmp_path, lfs_server):
    bench = make_bench(tmp_path, lfs_server)
    publish(bench.ws)
    corrupt_on_server(bench)
    assert not check(bench.ws).failed  # the server has an object of that oid and size: the old blind spot
    result = check(bench.ws, deep=True)
    assert [c.name for c in result.corrupt] == [BAD] and not result.missing and result.failed
    (bad,) = result.corrupt
    assert not bad.present and "hash to" in bad.detail and bench.shas[BAD][:12] in bad.detail
    sizes = sum((bench.ws / "clips" / f"{n}.mp4").stat().st_size for n in bench.shas)
    assert result.read.to_json() == {"mode": "deep", "sample": None, "seed": None, "objects": 3, "bytes": sizes,
                                     "of": 3}
    with bench.store() as store:
        assert published_counts(store) == {"published": 2, "missing": 1, "unpublished_verified": 0}
    assert json.loads(json.dumps(result.to_json()))["corrupt"] == 1


def test_a_seeded_sample_reads_n_objects_and_enough_samples_catch_it(tmp_path, lfs_server):
    bench = make_bench(tmp_path, lfs_server)
    publish(bench.ws)
    corrupt_on_server(bench)
    caught = {}
    for seed in range(6):
        result = check(bench.ws, sample=1, seed=seed)
        assert (result.read.objects, result.read.of, result.read.seed) == (1, 3, seed)
        caught[seed] = [c.name for c in result.corrupt]
        assert check(bench.ws, sample=1, seed=seed).read.to_json() == result.read.to_json()  # same seed, same draw
    assert [] in caught.values() and [BAD] in caught.values()  # one object of three: some draws miss it
    assert [c.name for c in check(bench.ws, sample=3).corrupt] == [BAD]  # as many as there are: never missed
    fresh = check(bench.ws, sample=2)
    assert fresh.read.seed is not None and fresh.read.objects == 2


def test_a_server_that_keeps_wrong_bytes_cannot_be_repaired_and_says_why(tmp_path, lfs_server):
    """Stock giftless: its Batch API offers no upload for an oid it holds at that size."""
    bench = make_bench(tmp_path, lfs_server)
    publish(bench.ws)
    corrupt_on_server(bench)
    seen: list[str] = []
    result = check(bench.ws, deep=True, repair=True, progress=seen.append)
    assert [c.name for c in result.corrupt] == [BAD] and not result.repaired
    assert "cannot repair" in result.corrupt[0].detail and "offers no upload" in result.corrupt[0].detail
    assert any("remove the object from the server's storage" in s for s in seen)
    # once the server forgets the bad copy, the same command repairs it
    bench.on_server(bench.shas[BAD]).unlink()
    again = check(bench.ws, deep=True, repair=True)
    assert [c.name for c in again.repaired] == [BAD] and not again.failed


def test_a_quarantining_server_is_repaired_and_a_following_deep_check_is_clean(tmp_path):
    with LfsTestServer(tmp_path / "lfs", quarantine=True) as server:
        bench = make_bench(tmp_path, server)
        publish(bench.ws)
        good = corrupt_on_server(bench)
        found = check(bench.ws, deep=True)
        assert [c.name for c in found.corrupt] == [BAD]
        assert not bench.on_server(bench.shas[BAD]).exists()  # served wrong bytes: quarantined
        assert len(list((server.storage / ".quarantine").rglob("*"))) > 0
        repaired = check(bench.ws, deep=True, repair=True)
        assert [c.name for c in repaired.repaired] == [BAD] and not repaired.failed
        assert bench.on_server(bench.shas[BAD]).read_bytes() == good
        clean = check(bench.ws, deep=True)
        assert not clean.failed and clean.read.objects == 3
        # detection and repair in one command
        corrupt_on_server(bench, "P01_5s")
        once = check(bench.ws, deep=True, repair=True)
        assert [c.name for c in once.repaired] == ["P01_5s"] and not once.failed
        with bench.store() as store:
            assert published_counts(store)["published"] == 3


def test_the_quarantining_server_refuses_uploads_that_fail_their_oid(tmp_path):
    data = b"the right bytes\n"
    oid = hashlib.sha256(data).hexdigest()
    with LfsTestServer(tmp_path / "lfs", quarantine=True) as server:
        body = json.dumps({"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": len(data)}]})
        request = urllib.request.Request(server.url("o", "r") + "/objects/batch", data=body.encode(), method="POST",
                                         headers={"Content-Type": "application/vnd.git-lfs+json",
                                                  "Accept": "application/vnd.git-lfs+json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            action = json.loads(response.read())["objects"][0]["actions"]["upload"]

        def put(payload: bytes) -> int:
            req = urllib.request.Request(action["href"], data=payload, method="PUT", headers=action.get("header", {}))
            try:
                with urllib.request.urlopen(req, timeout=10) as response:
                    return response.status
            except urllib.error.HTTPError as exc:
                return exc.code

        assert put(b"the wrong bytes\n") == 422 and not server.object_path("o", "r", oid).exists()
        assert put(data) == 200 and server.object_path("o", "r", oid).read_bytes() == data
        assert not [p for p in server.object_path("o", "r", oid).parent.iterdir() if p.name.endswith(".partial")]


def test_a_file_remote_is_read_back_and_replaced_in_place(tmp_path):
    bench = make_bench(tmp_path, None, names=("P01_5s", BAD))
    publish(bench.ws)
    good = corrupt_on_server(bench)
    assert [c.name for c in check(bench.ws, deep=True).corrupt] == [BAD]
    assert [c.name for c in check(bench.ws, deep=True, repair=True).repaired] == [BAD]
    assert bench.on_server(bench.shas[BAD]).read_bytes() == good and not check(bench.ws, deep=True).failed


def test_usage_errors(tmp_path, lfs_server):
    bench = make_bench(tmp_path, lfs_server, names=("P01_5s",))
    for kwargs, needle in [({"sample": 2, "deep": True}, "--sample and --deep"), ({"sample": 0}, "at least 1"),
                           ({"seed": 3}, "--seed draws the --sample")]:
        with pytest.raises(InputError, match=needle):
            check(bench.ws, **kwargs)
