"""Mutated bytes of real clips never make the verifier raise or hang (hypothesis, bounded)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthcam.verify import KINDS, Expectation, Thresholds, verify_file

from .clipgen import H, W, background, take, write_clip

TH = Thresholds(decode_timeout_s=20)
EXPECT = Expectation(width=W, height=H, duration_s=1)


def _seed_clips() -> list[bytes]:
    with tempfile.TemporaryDirectory() as d:
        plain = write_clip(Path(d) / "a.mp4", take(background(60), 24, 60))
        fast = write_clip(Path(d) / "b.mp4", take(background(61), 24, 61), faststart=True)
        return [plain.read_bytes(), fast.read_bytes()]


SEEDS = _seed_clips()

flip = st.tuples(st.just("flip"), st.floats(0, 1), st.integers(0, 255))
zero = st.tuples(st.just("zero"), st.floats(0, 1), st.integers(1, 4096))
cut = st.tuples(st.just("cut"), st.floats(0, 1), st.just(0))
dup = st.tuples(st.just("dup"), st.floats(0, 1), st.integers(1, 2048))
header = st.tuples(st.just("head"), st.floats(0, 0.05), st.integers(0, 255))
mutations = st.lists(st.one_of(flip, zero, cut, dup, header), min_size=1, max_size=8)


def mutate(data: bytes, ops) -> bytes:
    buf = bytearray(data)
    for op, where, arg in ops:
        if not buf:
            break
        at = min(int(where * len(buf)), len(buf) - 1)
        if op in ("flip", "head"):
            buf[at] ^= arg or 1
        elif op == "zero":
            buf[at:at + arg] = bytes(len(buf[at:at + arg]))
        elif op == "cut":
            del buf[at:]
        elif op == "dup":
            buf[at:at] = buf[at:at + arg]
    return bytes(buf)


@pytest.mark.slow
@pytest.mark.timeout(600)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(range(len(SEEDS))), ops=mutations)
def test_mutated_clips_never_raise_or_hang(seed, ops):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "F_1s.mp4"
        path.write_bytes(mutate(SEEDS[seed], ops))
        t0 = time.monotonic()
        report = verify_file(path, EXPECT, TH)
        # the verifier's own deadline (20 s here) must stop a hostile file; the margin covers a
        # loaded 2-core CI machine starting the decode, so only a real hang fails this
        assert time.monotonic() - t0 < TH.decode_timeout_s + 40
    assert report.status == "ok" or report.status in KINDS
    assert all(f.kind in KINDS and f.detail for f in report.findings)
    assert report.model_dump(mode="json")["status"] == report.status


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=3000))
def test_arbitrary_small_files(data):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "R_1s.mp4"
        path.write_bytes(data)
        report = verify_file(path, EXPECT, TH)
    assert report.status in KINDS and report.status != "ok"
