"""Verify one file: look before decoding (stat, LFS pointer, text), hash, decode once, check.

`verify_file` never raises on bad input: whatever the bytes are, the answer is a FileReport
whose status says what is wrong. It is the function the engine calls on every staged clip.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from pathlib import Path

from .checks import Clip, content_metrics, run_checks
from .decode import OpenFailure, decode_clip
from .expect import Expectation, Expectations
from .lfs import POINTER_MAX_BYTES, MalformedPointer, parse_pointer
from .policy import VerifyPolicy, resolve_policy
from .report import FileReport, Finding
from .thresholds import Thresholds
from ..errors import HashTimeout

__all__ = ["sha256_file", "verify_file"]

_CHUNK = 1 << 20
_MAX_FRAMES_FLOOR = 120 * 300  # 300 s at 120 fps: the most a manifest can ask for


def sha256_file(path: str | Path, deadline: float | None = None) -> tuple[str, int]:
    """(hex sha256, size) of a file read in 1 MB chunks; the sha256 is also its Git LFS oid.

    With `deadline` (time.monotonic()), raises HashTimeout once it has passed.
    """
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if deadline is not None and time.monotonic() > deadline:
                raise HashTimeout(f"hashing stopped after {size:,} bytes: past the deadline")
    return digest.hexdigest(), size


def _describe_text(head: bytes) -> str | None:
    """A one-line description when the first bytes are text (an error page, a log), else None."""
    sample = head[:512]
    if not sample or b"\x00" in sample:
        return None
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # a multibyte character cut at the end is still text
            return None
        text = sample[: exc.start].decode("utf-8")
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    if printable < 0.95 * len(text):
        return None
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")[:60]
    lowered = text.lower()
    what = "an HTML page" if ("<html" in lowered or "<!doctype html" in lowered) else "a text file"
    return f"{what}, not a video (starts {first!r})"


def _precheck(path: Path, report: FileReport) -> bytes | None:
    """Stat and sniff; returns the first bytes when decoding should follow, else records why not."""
    try:
        st = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            report.add("unreadable", f"broken symbolic link (to {os.readlink(path)!r})")
        else:
            report.add("unreadable", "no such file")
        return None
    except OSError as exc:
        report.add("unreadable", f"cannot stat: {exc.strerror or exc}")
        return None
    if stat.S_ISDIR(st.st_mode):
        report.add("unreadable", "is a directory, not a file")
        return None
    if not stat.S_ISREG(st.st_mode):
        kind = "FIFO" if stat.S_ISFIFO(st.st_mode) else "socket" if stat.S_ISSOCK(st.st_mode) else "device"
        report.add("unreadable", f"not a regular file ({kind}); not opened")
        return None
    report.size = st.st_size
    if st.st_size == 0:
        report.add("empty", "the file is 0 bytes")
        return None
    try:
        with open(path, "rb") as fh:
            head = fh.read(POINTER_MAX_BYTES)
        if st.st_size < POINTER_MAX_BYTES:  # small: hash now (pointer stubs are compared by hash)
            report.sha256, report.size = sha256_file(path)
    except OSError as exc:
        report.add("unreadable", f"cannot read: {exc.strerror or exc}")
        return None
    try:
        pointer = parse_pointer(head) if report.size < POINTER_MAX_BYTES else None
    except MalformedPointer as exc:
        report.add("not_video", f"looks like a Git LFS pointer but is malformed: {exc}")
        return None
    if pointer is not None:
        report.lfs = {"oid": pointer.oid, "size": pointer.size}
        report.add("lfs_pointer", (
            f"Git LFS pointer stub ({report.size} bytes) for oid sha256:{pointer.oid[:12]}..., "
            f"{pointer.size:,} bytes; the video was never fetched (git lfs pull)"))
        return None
    text = _describe_text(head)
    if text:
        report.add("not_video", text)
        return None
    return head


def verify_file(path: str | Path, expect: Expectation | None = None, thresholds: Thresholds | None = None,
                policy: VerifyPolicy | None = None) -> FileReport:
    """Verify one file in one decode pass and return its report (never raises on bad input).

    Without `expect`, the expectation comes from the file name (`<ID>_<N>s.mp4`) and the
    defaults (24 fps, 1280x704, H.264 yuv420p); a name without a duration is a finding.
    `policy` (default: every check) says which content checks run and at which thresholds;
    bare `thresholds` are a policy with every check on. The report names the policy
    (`report.policy`). Its `signature` feeds cross-file near-duplicate checks.
    """
    policy = resolve_policy(policy, thresholds)
    p = Path(path)
    name_findings: list[Finding] = []
    if expect is None:
        expect, name_findings = Expectations(Expectation()).for_path(p)
    report = FileReport(path=str(path), id=expect.id, duration_s=expect.duration_s, policy=policy.summary())
    for f in name_findings:
        report.add(f.kind, f.detail)
    try:
        if _precheck(p, report) is not None:
            _decode_and_check(p, expect, policy, report)
    except MemoryError:
        report.add("unreadable", "ran out of memory while decoding")
    except Exception as exc:  # noqa: BLE001 - a verifier must answer for every file
        report.add("unreadable", f"could not be verified: {type(exc).__name__}: {str(exc)[:120]}")
    return report


def _decode_and_check(path: Path, expect: Expectation, policy: VerifyPolicy, report: FileReport) -> None:
    th = policy.limits
    want = expect.expected_frames or 0
    deadline = time.monotonic() + th.decode_timeout_s
    try:
        decoded = decode_clip(path, th, max_frames=max(4 * want, _MAX_FRAMES_FLOOR), deadline=deadline)
    except OpenFailure as exc:
        report.add(exc.kind, exc.detail)
        return
    # Probed and decoded first, hashed after, within the same deadline: a huge file that is not a
    # video is never read to the end, and one that is cannot take longer than its decode allows.
    try:
        report.sha256, report.size = sha256_file(path, deadline=deadline)
    except HashTimeout:
        report.add("unreadable", f"did not finish within {th.decode_timeout_s:g} s (hashing stopped before the end of the file)")
        return
    except OSError as exc:
        report.add("unreadable", f"cannot read: {exc.strerror or exc}")
        return
    info = decoded.info
    report.frames = decoded.frames
    report.fps = round(float(info.fps), 3) if info.fps else None
    report.width, report.height = info.width, info.height
    report.codec, report.pix_fmt = info.codec, info.pix_fmt
    clip = Clip(name=path.name, decoded=decoded, expect=expect, th=th)
    for finding in run_checks(clip, off=policy.off):
        report.add(finding.kind, finding.detail)
    report.metrics = {
        "packets": decoded.packets,
        "decode_errors": decoded.error_count,
        "corrupt_frames": decoded.corrupt_frames,
        **content_metrics(clip),
    }
    if decoded.stats is not None:
        report.signature = decoded.stats.signature
