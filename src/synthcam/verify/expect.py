"""What each file should be: from the manifest, or from its name `<ID>_<N>s.mp4` and defaults.

Without a manifest a file whose name carries no duration cannot have its length checked; the
old pipeline "passed" exactly those files, so here that is a finding (`bad_name`) instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

from ..manifest import Manifest
from .report import Finding

__all__ = ["Expectation", "Expectations", "parse_name"]

_NAME = re.compile(r"(?P<id>[A-Za-z0-9][A-Za-z0-9_-]*?)_(?P<dur>[1-9][0-9]{0,3})s")


def parse_name(path: str | Path) -> tuple[str, int] | None:
    """(ID, seconds) from a name like `P01_10s.mp4`, or None if it does not follow the pattern."""
    m = _NAME.fullmatch(Path(path).stem)
    return (m["id"], int(m["dur"])) if m else None


@dataclass(frozen=True)
class Expectation:
    """What one clip must be. None means "not checked"."""

    fps: int | Fraction = 24
    width: int | None = 1280
    height: int | None = 704
    codec: str | None = "h264"
    pix_fmt: str | None = "yuv420p"
    duration_s: int | None = None
    frames: int | None = None  # defaults to fps x duration_s
    expects_motion: bool | None = None  # True when the clip's action moves; None: unknown
    id: str | None = None

    @property
    def expected_frames(self) -> int | None:
        if self.frames is not None:
            return self.frames
        if self.duration_s is None:
            return None
        return round(Fraction(self.fps) * self.duration_s)


@dataclass(frozen=True)
class _Variant:
    id: str
    duration_s: int
    frames: int
    expects_motion: bool | None


class Expectations:
    """The rulebook for a run: an Expectation per path, and the durations each ID must have."""

    def __init__(self, base: Expectation, variants: dict[str, _Variant] | None = None,
                 durations: dict[str, list[int]] | None = None, default_durations: Iterable[int] | None = None):
        self.base = base
        self.variants = variants  # stem -> variant, when a manifest says what exists
        self.durations = durations or {}
        self.default_durations = sorted(set(default_durations)) if default_durations else None

    @classmethod
    def from_manifest(cls, manifest: Manifest, *, codec: str | None = "h264",
                      pix_fmt: str | None = "yuv420p") -> Expectations:
        d = manifest.defaults
        base = Expectation(fps=d.fps, width=d.resolution.width, height=d.resolution.height,
                           codec=codec, pix_fmt=pix_fmt)
        actions = manifest.components.actions
        variants: dict[str, _Variant] = {}
        durations: dict[str, list[int]] = {}
        for v in manifest.variants():
            action = actions.get(v.clip.action) if v.clip.action else None
            moves = None if action is None else action.motion != "none"
            variants[v.name] = _Variant(v.clip_id, v.duration_s, v.frames, moves)
            durations.setdefault(v.clip_id, []).append(v.duration_s)
        return cls(base, variants, {k: sorted(v) for k, v in durations.items()})

    @classmethod
    def of_variants(cls, base: Expectation,
                    variants: Iterable[tuple[str, str, int, int, bool | None]]) -> Expectations:
        """Rules for exactly these (name, ID, seconds, frames, expects_motion) variants: the clips a
        workspace verified, as they were planned. Every ID needs only the durations listed."""
        table = {name: _Variant(clip_id, seconds, frames, moves) for name, clip_id, seconds, frames, moves in variants}
        durations: dict[str, list[int]] = {}
        for v in table.values():
            durations.setdefault(v.id, []).append(v.duration_s)
        return cls(base, table, {k: sorted(v) for k, v in durations.items()})

    @property
    def from_manifest_mode(self) -> bool:
        return self.variants is not None

    def for_path(self, path: str | Path) -> tuple[Expectation, list[Finding]]:
        """The expectation for one file, plus a naming finding when its name says too little."""
        parsed = parse_name(path)
        name = Path(path).name
        if self.variants is not None:
            variant = self.variants.get(Path(path).stem)
            if variant is not None:
                return replace(self.base, id=variant.id, duration_s=variant.duration_s, frames=variant.frames,
                               expects_motion=variant.expects_motion), []
            if parsed and parsed[0] in self.durations:
                known = ", ".join(f"{s} s" for s in self.durations[parsed[0]])
                detail = f"{name}: the manifest has no {parsed[1]} s variant of {parsed[0]} (it lists {known})"
            else:
                detail = f"{name} is not a variant in the manifest (expected names like <ID>_<N>s.mp4)"
            base = replace(self.base, id=parsed[0], duration_s=parsed[1]) if parsed else self.base
            return base, [Finding(kind="unexpected_file", detail=detail)]
        if parsed is None:
            return self.base, [Finding(kind="bad_name", detail=(
                f"{name} does not follow <ID>_<N>s.mp4, so its length cannot be checked"))]
        return replace(self.base, id=parsed[0], duration_s=parsed[1]), []

    def expected_durations(self, clip_id: str, seen: Iterable[int]) -> list[int]:
        """Durations an ID must have: the manifest's, the given defaults, or every length seen in the run."""
        if self.variants is not None:
            return self.durations.get(clip_id, [])
        if self.default_durations is not None:
            return self.default_durations
        return sorted(set(seen))

    def manifest_ids(self) -> list[str]:
        """IDs the manifest lists (empty without a manifest)."""
        return list(self.durations) if self.variants is not None else []
