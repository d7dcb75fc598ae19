"""Content checks on the per-frame series: black, frozen, flicker, static, scene cuts.

All of them assume a fixed camera, which is what synthcam makes: the background does not
move, so large frame-to-frame change is a defect rather than a camera pan.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..report import Finding
from ..signature import popcount
from ..stats import FrameStats
from .base import Clip, runs, seconds

__all__ = ["CHECK_KINDS", "CONTENT_CHECKS", "content_metrics", "cut_frames", "flicker_scores"]

_MAX_LISTED = 3  # runs or cuts spelled out in one finding


def _spans(found: list[tuple[int, int]], fps: float) -> str:
    text = ", ".join(f"{l / fps:.1f} s from {seconds(s, fps)}" for s, l in found[:_MAX_LISTED])
    return text + (f" and {len(found) - _MAX_LISTED} more" if len(found) > _MAX_LISTED else "")


def _black_runs(s: FrameStats, clip: Clip) -> list[tuple[int, int]]:
    least = clip.th.for_fps(s.fps)["black_min"]
    return [r for r in runs(s.black) if r[1] >= least]


def _frozen_runs(s: FrameStats, clip: Clip) -> list[tuple[int, int]]:
    """Runs of frames identical to their predecessor, as (first frame, frames); black frames excluded."""
    same = s.mae <= clip.th.freeze_mae
    same[0] = False
    same &= ~s.black
    same[1:] &= ~s.black[:-1]
    least = clip.th.for_fps(s.fps)["freeze_min"]
    # a run of k identical pairs starting at pair i covers frames i-1 .. i+k-1
    return [(start - 1, length + 1) for start, length in runs(same) if length + 1 >= least]


def flicker_scores(s: FrameStats, level: float) -> tuple[float, float]:
    """(fraction of frames whose brightness jumps by more than `level`, VBench flickering score)."""
    if s.count < 3:
        return 0.0, 1.0
    lum = s.luma
    jumps = np.abs(lum[1:-1] - (lum[:-2] + lum[2:]) / 2) > level
    return float(np.mean(jumps)), float(1.0 - np.mean(s.mae[1:]) / 255.0)


def _moving_fraction(s: FrameStats, clip: Clip) -> float | None:
    moving = s.moving[~np.isnan(s.moving)]
    if not len(moving):
        return None
    return float(np.mean(moving >= clip.th.motion_min_area))


def cut_frames(s: FrameStats, clip: Clip) -> list[tuple[int, int]]:
    """(frame, hash distance) for each cut: a structural jump that is local in time and persists."""
    n = s.count
    if n < 2:
        return []
    th = clip.th
    h = s.hashes
    dist = np.zeros(n, np.int64)
    dist[1:] = popcount(h[1:] ^ h[:-1])
    around = np.arange(n)
    persist = popcount(h[np.maximum(around - 1, 0)] ^ h[np.minimum(around + 2, n - 1)])
    half = max(2, round(s.fps / 2))
    cuts = []
    for t in np.flatnonzero(dist >= th.cut_hash_distance):
        if t == 0 or s.black[t] or s.black[t - 1] or persist[t] < th.cut_persist_distance:
            continue
        window = np.concatenate((s.mae[max(1, t - half):t], s.mae[t + 1:t + 1 + half]))
        if len(window) and s.mae[t] < max(3.0, th.cut_mae_ratio * float(np.median(window))):
            continue  # the neighbourhood changes as much: motion, noise or flicker, not a cut
        cuts.append((int(t), int(dist[t])))
    return cuts


def _run_finding(kind: str, found: list[tuple[int, int]], s: FrameStats, whole: str, part: str) -> list[Finding]:
    """One finding for runs of bad frames: `whole` when they cover the clip, else `part` + the spans."""
    if not found:
        return []
    if found[0] == (0, s.count):
        return [Finding(kind=kind, detail=f"{whole} ({s.count} frames)")]
    return [Finding(kind=kind, detail=f"{part} {_spans(found, s.fps)}")]


def check_black(clip: Clip) -> list[Finding]:
    s = clip.decoded.stats
    if s is None:
        return []
    return _run_finding("black", _black_runs(s, clip), s, "every frame is black", "black for")


def check_frozen(clip: Clip) -> list[Finding]:
    s = clip.decoded.stats
    if s is None:
        return []
    return _run_finding("frozen", _frozen_runs(s, clip), s, "every frame is the same picture", "the picture stops for")


def check_flicker(clip: Clip) -> list[Finding]:
    s = clip.decoded.stats
    if s is None or s.count < 3:
        return []
    th = clip.th
    fraction, score = flicker_scores(s, th.flicker_level)
    if fraction > th.flicker_max_fraction:
        return [Finding(kind="flicker", detail=(
            f"brightness jumps by more than {th.flicker_level:g} luma level from frame to frame in {fraction:.0%} "
            f"of frames (limit {th.flicker_max_fraction:.0%})"))]
    if score < th.flicker_min_score:
        return [Finding(kind="flicker", detail=(
            f"VBench flicker score {score:.3f} (limit {th.flicker_min_score:g}): the whole image changes every frame"))]
    return []


def check_static(clip: Clip) -> list[Finding]:
    """Only where motion is expected, and not where black or frozen already explain the stillness."""
    s = clip.decoded.stats
    if s is None or clip.expect.expects_motion is not True:
        return []
    fraction = _moving_fraction(s, clip)
    if fraction is None or fraction >= clip.th.static_min_moving:
        return []
    still = sum(r[1] for r in _black_runs(s, clip)) + sum(r[1] for r in _frozen_runs(s, clip))
    if still >= s.count / 2:
        return []
    return [Finding(kind="static", detail=(
        f"motion in {fraction:.0%} of frame pairs (needs {clip.th.static_min_moving:.0%}); the clip's action expects movement"))]


def check_scene_cut(clip: Clip) -> list[Finding]:
    s = clip.decoded.stats
    cuts = cut_frames(s, clip) if s is not None else []
    if not cuts:
        return []
    listed = ", ".join(f"{seconds(t, s.fps)} (frame {t}, {d}/64 bits)" for t, d in cuts[:_MAX_LISTED])
    more = f" and {len(cuts) - _MAX_LISTED} more" if len(cuts) > _MAX_LISTED else ""
    return [Finding(kind="scene_cut", detail=f"{len(cuts)} cut{'s' * (len(cuts) != 1)} in a single-shot clip: {listed}{more}")]


def content_metrics(clip: Clip) -> dict[str, Any]:
    """The numbers behind the content checks, for the report (thresholds are tuned on these)."""
    s = clip.decoded.stats
    if s is None or not s.count:
        return {}
    fraction, score = flicker_scores(s, clip.th.flicker_level)
    moving = _moving_fraction(s, clip)
    return {
        "mean_luma": round(float(np.mean(s.luma)), 2),
        "black_s": round(sum(r[1] for r in _black_runs(s, clip)) / s.fps, 2),
        "frozen_s": round(sum(r[1] for r in _frozen_runs(s, clip)) / s.fps, 2),
        "flicker_frames": round(fraction, 3),
        "flicker_score": round(score, 4),
        "moving_pairs": None if moving is None else round(moving, 3),
        "cuts": len(cut_frames(s, clip)),
        "signature_seconds": s.signature.seconds,
    }


CONTENT_CHECKS = (check_black, check_frozen, check_flicker, check_static, check_scene_cut)
# The kind each content check reports, so a policy that switches a kind off skips its check.
CHECK_KINDS = {check_black: "black", check_frozen: "frozen", check_flicker: "flicker", check_static: "static",
               check_scene_cut: "scene_cut"}
