"""Per-file checks, each a small detector over one decode pass (PySceneDetect-style).

    corrupt           decoder errors, corrupt frames, or packets that decoded to nothing
    unreadable        reading stopped early: truncated data, a timeout, a demuxer error
    wrong_frames      decoded frame count != fps x seconds
    wrong_fps         average frame rate != the expected one
    vfr               frame intervals that are not constant
    wrong_resolution  frame size != expected, or a size change mid-stream
    wrong_codec       codec or pixel format != expected (H.264, yuv420p by default)
    black             a run of black frames
    frozen            a run of identical frames (a generator stall)
    flicker           frame-to-frame brightness jitter, or a low VBench flicker score
    static            no motion where the manifest expects action
    scene_cut         a cut inside what must be a single shot

Each check is `check(clip: Clip) -> list[Finding]`; `run_checks` applies them all, except the
content checks a verification policy switched off. Cross-file checks (duplicate,
near_duplicate, per-ID variants) run later on the small signatures.
"""

from __future__ import annotations

from collections.abc import Collection

from ..report import Finding
from .base import Clip
from .container import CONTAINER_CHECKS
from .content import CHECK_KINDS, CONTENT_CHECKS, content_metrics

__all__ = ["CHECKS", "Clip", "content_metrics", "run_checks"]

CHECKS = CONTAINER_CHECKS + CONTENT_CHECKS


def run_checks(clip: Clip, off: Collection[str] = ()) -> list[Finding]:
    """Every per-file finding for one decoded clip; the checks of kinds in `off` do not run."""
    found: list[Finding] = []
    for check in CHECKS:
        if CHECK_KINDS.get(check) not in off:
            found.extend(check(clip))
    return found
