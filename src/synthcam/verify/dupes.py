"""Cross-file duplicates: the same bytes (sha256), or the same pictures (per-second hashes).

Two clips are near duplicates when, over the seconds they share from the start, their frame
pHashes match (median <= dup_hash_median, max <= dup_hash_max) AND their motion agrees in at
least dup_motion_agree of those seconds (both still, or both moving with close motion-map
hashes). Aligning from the start catches re-encodes (equal lengths) and prefixes (a 10 s clip
whose first 5 s is the 5 s clip). The motion condition keeps two honest takes of the same
static CCTV scene apart: their backgrounds hash alike, their action does not.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .policy import VerifyPolicy
from .report import FileReport
from .signature import popcount
from .thresholds import Thresholds

__all__ = ["Match", "compare_signatures", "mark_duplicates", "near_matches"]

_LISTED = 3


@dataclass(frozen=True)
class Match:
    """Clip `a` matches the first `seconds` of clip `b` (a is never the longer one)."""

    a: int
    b: int
    seconds: int
    hash_median: float
    motion_agree: float


def _stack(reports: list[FileReport]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    longest = max(r.signature.seconds for r in reports)
    n = len(reports)
    frames = np.zeros((n, longest), np.uint64)
    motion = np.zeros((n, longest), np.uint64)
    active = np.zeros((n, longest), bool)
    lengths = np.zeros(n, np.int64)
    for i, r in enumerate(reports):
        f, m, a = r.signature.arrays()
        k = len(f)
        frames[i, :k], motion[i, :k], active[i, :k], lengths[i] = f, m, a, k
    return frames, motion, active, lengths


def compare_signatures(frames: np.ndarray, motion: np.ndarray, active: np.ndarray, lengths: np.ndarray,
                       i: int, others: np.ndarray, th: Thresholds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For clip i against each clip in `others`: (shared seconds, median frame distance, motion agreement)."""
    width = frames.shape[1]
    shared = np.minimum(lengths[i], lengths[others])
    valid = np.arange(width)[None, :] < shared[:, None]
    dist = popcount(frames[others] ^ frames[i][None, :])
    ordered = np.sort(np.where(valid, dist, 255), axis=1)
    lo = np.take_along_axis(ordered, np.maximum((shared - 1) // 2, 0)[:, None], axis=1)[:, 0]
    hi = np.take_along_axis(ordered, np.maximum(shared // 2, 0)[:, None], axis=1)[:, 0]
    median = (lo + hi) / 2
    worst = np.where(valid, dist, 0).max(axis=1)
    motion_dist = popcount(motion[others] ^ motion[i][None, :])
    a_i, a_o = active[i][None, :], active[others]
    agree = (~a_i & ~a_o) | (a_i & a_o & (motion_dist <= th.dup_motion_max))
    agreement = np.where(shared > 0, (agree & valid).sum(axis=1) / np.maximum(shared, 1), 0.0)
    ok = (shared > 0) & (median <= th.dup_hash_median) & (worst <= th.dup_hash_max)
    return shared, np.where(ok, median, np.inf), agreement


def near_matches(reports: list[FileReport], th: Thresholds) -> list[Match]:
    """Every pair of clips (indices into `reports`) whose pictures match from the start."""
    idx = [i for i, r in enumerate(reports) if r.signature is not None and r.signature.seconds > 0]
    if len(idx) < 2:
        return []
    frames, motion, active, lengths = _stack([reports[i] for i in idx])
    found = []
    for i in range(len(idx) - 1):
        others = np.arange(i + 1, len(idx))
        shared, median, agreement = compare_signatures(frames, motion, active, lengths, i, others, th)
        for k in np.flatnonzero(np.isfinite(median) & (agreement >= th.dup_motion_agree)):
            j = int(others[k])
            a, b = (i, j) if lengths[i] <= lengths[j] else (j, i)
            found.append(Match(idx[a], idx[b], int(shared[k]), float(median[k]), float(agreement[k])))
    return found


def _names(paths: list[str]) -> str:
    shown = ", ".join(Path(p).name for p in paths[:_LISTED])
    return shown + (f" and {len(paths) - _LISTED} more" if len(paths) > _LISTED else "")


def _near_matches_by_id(reports: list[FileReport], th: Thresholds) -> list[Match]:
    """near_matches within each clip ID only (the engine's rule: a clip against its siblings)."""
    groups: dict[str | None, list[int]] = defaultdict(list)
    for i, r in enumerate(reports):
        groups[r.id].append(i)
    found = []
    for idx in groups.values():
        for m in near_matches([reports[i] for i in idx], th):
            found.append(Match(idx[m.a], idx[m.b], m.seconds, m.hash_median, m.motion_agree))
    return found


def mark_duplicates(reports: list[FileReport], th: Thresholds | None = None, *, policy: VerifyPolicy | None = None,
                    by_id: bool = False) -> None:
    """Add `duplicate` and `near_duplicate` findings to the reports, in place.

    Exact duplicates are a container check and always count. With a `policy`, its thresholds
    apply (unless `th` is given) and near duplicates are looked for only if it checks them.
    `by_id` compares pictures only between clips of one ID, as the engine does for a new clip.
    """
    if th is None:
        th = policy.limits if policy is not None else Thresholds()
    by_hash: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(reports):
        if r.sha256 and r.codec is not None:  # opened as a video; stubs and junk have their own kinds
            by_hash[r.sha256].append(i)
    for group in by_hash.values():
        for i in group if len(group) > 1 else ():
            others = [reports[j].path for j in group if j != i]
            reports[i].add("duplicate", f"same bytes as {_names(others)} (sha256 {reports[i].sha256[:12]}...)")
    partners: dict[int, list[str]] = defaultdict(list)
    checked = policy is None or policy.allows("near_duplicate")
    for m in (_near_matches_by_id(reports, th) if by_id else near_matches(reports, th)) if checked else ():
        ra, rb = reports[m.a], reports[m.b]
        if ra.sha256 and ra.sha256 == rb.sha256:
            continue
        how = f"frame hashes {m.hash_median:g}/64 apart, motion agrees in {m.motion_agree:.0%} of seconds"
        if ra.signature.seconds == rb.signature.seconds:
            partners[m.a].append(f"looks like a re-encode of {Path(rb.path).name} ({how})")
            partners[m.b].append(f"looks like a re-encode of {Path(ra.path).name} ({how})")
        else:
            partners[m.a].append(f"matches the first {m.seconds} s of {Path(rb.path).name} ({how})")
            partners[m.b].append(f"its first {m.seconds} s match {Path(ra.path).name} ({how})")
    for i, details in partners.items():
        more = len(details) - 1
        reports[i].add("near_duplicate", details[0] + (f" (and {more} more clip{'s' * (more > 1)})" if more else ""))
