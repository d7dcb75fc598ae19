"""Container and stream checks: damage, length, rate, timing, size and codec."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..report import Finding
from .base import Clip

__all__ = ["CONTAINER_CHECKS"]


def _fps_text(fps: float | Fraction | None) -> str:
    if fps is None:
        return "unknown fps"
    f = float(fps)
    return f"{f:g} fps" if abs(f - round(f)) < 1e-6 else f"{f:.3f} fps"


def check_unreadable(clip: Clip) -> list[Finding]:
    """Reading stopped before the end, or the sample table lists frames that are not there."""
    d = clip.decoded
    out = []
    if d.stopped:
        out.append(Finding(kind="unreadable", detail=d.stopped))
    listed = d.info.frames
    if listed and d.packets < listed and not d.stopped:
        out.append(Finding(kind="unreadable", detail=(
            f"truncated: the header lists {listed} frames but only {d.packets} are in the file")))
    return out


def check_corrupt(clip: Clip) -> list[Finding]:
    """Any decoder error, corrupt frame, or packet that decoded to nothing, anywhere in the clip."""
    d = clip.decoded
    lost = max(0, d.packets - d.frames) if not d.stopped else 0
    if not (d.error_count or d.corrupt_frames or lost):
        return []
    parts = []
    if d.error_count:
        parts.append(f"{d.error_count} decoder error{'s' * (d.error_count != 1)}")
    if d.corrupt_frames:
        parts.append(f"{d.corrupt_frames} corrupt frame{'s' * (d.corrupt_frames != 1)}")
    if lost:
        parts.append(f"{lost} of {d.packets} packets decoded to no frame")
    first = f" (first: {d.first_error[:80]!r})" if d.first_error else ""
    return [Finding(kind="corrupt", detail=", ".join(parts) + first)]


def check_frames(clip: Clip) -> list[Finding]:
    """The frame count must be exactly fps x seconds; a clip with no frames never passes."""
    d, e = clip.decoded, clip.expect
    want = e.expected_frames
    have = f"{d.frames} frames ({d.frames / clip.fps:.2f} s at {_fps_text(d.info.fps)})" if d.frames else "no frames"
    if want is None:
        return [] if d.frames else [Finding(kind="wrong_frames", detail=f"{have} decoded")]
    if d.frames == want:
        return []
    need = f"{want} ({e.duration_s} s x {_fps_text(e.fps)})" if e.duration_s else str(want)
    return [Finding(kind="wrong_frames", detail=f"{have}; {clip.name} needs {need}")]


def check_fps(clip: Clip) -> list[Finding]:
    fps = clip.decoded.info.fps
    want = clip.expect.fps
    if fps is None:
        return [Finding(kind="wrong_fps", detail=f"the stream states no frame rate; expected {_fps_text(want)}")]
    if abs(float(fps) - float(want)) > clip.th.fps_tolerance:
        return [Finding(kind="wrong_fps", detail=f"{_fps_text(fps)}; expected {_fps_text(want)}")]
    return []


def check_vfr(clip: Clip) -> list[Finding]:
    """Every frame interval equals the median interval, within a tick or vfr_tolerance."""
    d = clip.decoded
    if len(d.pts) < 3:
        return []
    intervals = np.diff(d.pts)
    tb = float(d.info.time_base or Fraction(1, 90000))
    if (intervals <= 0).any():
        n = int((intervals <= 0).sum())
        return [Finding(kind="vfr", detail=f"timestamps repeat or go backwards at {n} frame{'s' * (n != 1)}")]
    median = float(np.median(intervals))
    tolerance = max(clip.th.vfr_tolerance * median, 1.0)
    irregular = np.abs(intervals - median) > tolerance
    if not irregular.any():
        return []
    lo, hi = intervals.min() * tb * 1000, intervals.max() * tb * 1000
    return [Finding(kind="vfr", detail=(
        f"frame intervals vary from {lo:.1f} to {hi:.1f} ms ({int(irregular.sum())} of {len(intervals)} "
        f"differ from the median {median * tb * 1000:.1f} ms)"))]


def check_resolution(clip: Clip) -> list[Finding]:
    info, e = clip.decoded.info, clip.expect
    out = []
    if e.width is not None and e.height is not None and (info.width, info.height) != (e.width, e.height):
        out.append(Finding(kind="wrong_resolution", detail=f"{info.width}x{info.height}; expected {e.width}x{e.height}"))
    if clip.decoded.size_changes:
        out.append(Finding(kind="wrong_resolution", detail=(
            f"the frame size changes {clip.decoded.size_changes} time(s) mid-stream")))
    return out


def check_codec(clip: Clip) -> list[Finding]:
    info, e = clip.decoded.info, clip.expect
    bad = []
    if e.codec and info.codec != e.codec:
        bad.append(f"codec {info.codec} (expected {e.codec})")
    if e.pix_fmt and info.pix_fmt != e.pix_fmt:
        bad.append(f"pixel format {info.pix_fmt or 'unknown'} (expected {e.pix_fmt})")
    return [Finding(kind="wrong_codec", detail="; ".join(bad))] if bad else []


CONTAINER_CHECKS = (check_unreadable, check_corrupt, check_frames, check_fps, check_vfr, check_resolution, check_codec)
