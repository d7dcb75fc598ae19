"""Every tunable number of the verifier, with the reason for its default.

A field's description is its documentation (docs/verify.md repeats them): change a threshold
under `thresholds:` in a verification policy (a manifest's `verify:` section, or a file given
to `--verify-policy`; see policy.py), in a bare YAML/JSON file passed to `--thresholds`, or
construct `Thresholds(...)` in code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import InputError

__all__ = ["Thresholds", "load_thresholds"]

from ..limits import H264_MAX_PIXELS  # noqa: E402 - shared with frames and the manifest


class Thresholds(BaseModel):
    """Tunable limits of every check. All pixel levels are 8-bit luma on the analysis frame."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # --- decoding and limits ---
    analysis_width: int = Field(320, ge=32, le=1920, description=(
        "Width of the grey frame every statistic is computed on. 320 px keeps a distant person "
        "several pixels wide at 1280x704, and the whole per-frame analysis costs ~0.3 ms, about a "
        "tenth of decoding a 720p frame."))
    max_pixels: int = Field(H264_MAX_PIXELS, ge=1, description=(
        "Largest frame (width x height) the verifier will decode. H.264 level 6.2 caps a frame at "
        "139,264 macroblocks (35.6 Mpx); a header claiming more is damaged or hostile, and decoding "
        "it could exhaust memory."))
    decode_timeout_s: float = Field(600.0, gt=0, description=(
        "Wall-clock budget for one file. A 300 s 720p clip decodes in well under a minute on one "
        "core; a file still decoding after 10 minutes is a decoder stall, reported as unreadable."))
    # --- container and timing ---
    fps_tolerance: float = Field(0.005, ge=0, le=0.1, description=(
        "Largest |fps - expected| accepted. 24000/1001 (23.976) differs from 24 by 0.024 and is "
        "a real error for a 24/1 dataset, so the tolerance only absorbs rounding. At most 0.1: "
        "container checks cannot be switched off, not even by a wide tolerance."))
    vfr_tolerance: float = Field(0.02, ge=0, le=0.5, description=(
        "Largest deviation of one frame interval from the median interval, as a fraction of it "
        "(at least one time-base tick is always allowed). Muxers round timestamps by a tick; a "
        "dropped or doubled frame moves an interval by 100%, which stays caught at the cap of 0.5."))
    # --- content ---
    black_pixel_level: float = Field(0.10, ge=0, le=1, description=(
        "A pixel is black at or below this fraction of the luma range above black, i.e. luma <= 37 "
        "for limited-range video (ffmpeg blackdetect pix_th default)."))
    black_frame_ratio: float = Field(0.98, ge=0, le=1, description=(
        "A frame is black when at least this fraction of its pixels is black (blackdetect pic_th "
        "default). Night scenes keep lamps and grain, so they stay below it."))
    black_min_s: float = Field(1.0, gt=0, description=(
        "Shortest black run reported. blackdetect uses 2 s; our clips are as short as 5 s, and one "
        "second of black is never intended in a fixed-camera clip."))
    freeze_mae: float = Field(0.08, ge=0, description=(
        "Two consecutive frames are identical when their mean absolute difference is at most this "
        "(~-70 dB of full scale, the low noise floor recommended for near-static CCTV). A generator "
        "stall repeats a frame exactly; x264 codes repeats as skip blocks (measured 0.02) after "
        "~8 frames of quality refinement (~0.5), while a scene with grain and a walker stays >= 0.3."))
    freeze_min_s: float = Field(2.0, gt=0, description=(
        "Shortest run of identical frames reported as frozen (ffmpeg freezedetect d default). "
        "Shorter runs happen when a scene is genuinely still."))
    flicker_level: float = Field(1.0, ge=0, description=(
        "A frame flickers when its mean brightness departs from the average of its two neighbours "
        "by more than this many luma levels. A fixed camera's brightness changes smoothly (clouds, "
        "headlights, a lamp switched on is one step), so only frame-to-frame jumps count."))
    flicker_max_fraction: float = Field(0.10, ge=0, le=1, description=(
        "Largest fraction of flickering frames accepted. A lightning flash makes ~3 such frames; "
        "sustained +-2-level flicker makes nearly all frames flicker, and a bad 93-frame chunk "
        "in a 30 s clip makes 13%."))
    flicker_min_score: float = Field(0.96, ge=0, le=1, description=(
        "Smallest VBench temporal-flickering score, 1 - mean|frame_t - frame_t+1|/255, accepted. "
        "A fixed camera scores above 0.98 even with grain and a walking person; below 0.96 the "
        "whole image boils (noise, or a broken decoder)."))
    motion_pixel_delta: float = Field(10.0, ge=0, description=(
        "A pixel moves when its luma changes by more than this between frames 1/8 s apart "
        "(VBench samples motion at 8 fps), measured on a 4x smaller frame where grain averages out."))
    motion_min_area: float = Field(0.001, ge=0, le=1, description=(
        "A frame pair shows motion when at least this fraction of pixels moves (0.1%: a person "
        "about 30 px tall in a 1280x704 frame, walking)."))
    static_min_moving: float = Field(0.10, ge=0, le=1, description=(
        "A clip expected to show action is static when fewer than this fraction of its frame "
        "pairs show motion. VBench's dynamic-degree rule asks 25% for generic video; a CCTV event "
        "may fill only part of the clip, so only clips with almost no motion are flagged."))
    cut_hash_distance: int = Field(12, ge=1, le=64, description=(
        "pHash distance (of 64 bits) between consecutive frames that can be a cut. Consecutive "
        "frames of one shot differ by 0-10 bits even with grain and large movers; a different "
        "scene ~24-32; a camera jump of 4% of the width ~16. A lamp switched on stays under 6."))
    cut_mae_ratio: float = Field(4.0, ge=1, description=(
        "At a cut the frame difference is also at least this many times the median difference "
        "of the surrounding second (and at least 3 luma levels): a car crossing close to the "
        "camera changes many frames in a row, a cut changes one."))
    cut_persist_distance: int = Field(8, ge=0, le=64, description=(
        "The frame before a cut must also differ by this many bits from the frame two after it, "
        "so a one- or two-frame flash (lightning, headlights) is not a cut."))
    # --- near duplicates (per-second signatures) ---
    dup_hash_median: int = Field(4, ge=0, le=64, description=(
        "Median per-second frame-pHash distance at or below which two aligned clips match. "
        "Measured: re-encoded prefixes 0-2 bits, same content shifted 2 s 20-28, unrelated 18-38."))
    dup_hash_max: int = Field(10, ge=0, le=64, description=(
        "Largest per-second frame-pHash distance allowed in a match (imagededup's default "
        "max_distance_threshold)."))
    dup_motion_max: int = Field(12, ge=0, le=64, description=(
        "Largest pHash distance between two seconds' motion maps that still agree. Static CCTV "
        "backgrounds make frame hashes of different takes agree; where and when things move "
        "tells them apart. Measured: re-encodes and prefixes 0-2 bits, other takes 28-38."))
    dup_motion_agree: float = Field(0.8, ge=0, le=1, description=(
        "Fraction of aligned seconds whose motion must agree for a match (vPDQ's 80% rule)."))

    def for_fps(self, fps: float) -> dict[str, int]:
        """Frame counts derived from the second-based thresholds at a frame rate."""
        f = max(fps, 1.0)
        return {
            "black_min": max(1, round(self.black_min_s * f)),
            "freeze_min": max(2, round(self.freeze_min_s * f)),
            "motion_gap": max(1, round(f / 8)),
        }


def load_thresholds(path: str | Path) -> Thresholds:
    """Read thresholds from a YAML or JSON mapping; unknown or invalid keys are a usage error."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such thresholds file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read thresholds: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data: Any = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: not valid {'JSON' if p.suffix.lower() == '.json' else 'YAML'}: "
                         f"{str(exc).splitlines()[0]}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"{path}: thresholds must be a mapping of name: value")
    try:
        return Thresholds.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(x) for x in err["loc"]) or "thresholds"
        msg = "unknown threshold" if err["type"] == "extra_forbidden" else err["msg"]
        raise InputError(f"{path}: {where}: {msg}") from None
