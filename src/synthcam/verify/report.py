"""The verification record: pydantic models whose JSON form is the documented report schema.

`FileReport` is what `verify_file` returns and what one row of the JSON report holds. Its
`signature` (per-second hashes for near-duplicate checks) travels with it in memory but is
left out of the JSON. A file's status is "ok" or the first failing kind in `KINDS` order.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .signature import Signature

__all__ = [
    "ID_KINDS",
    "KINDS",
    "SCHEMA",
    "FileReport",
    "Finding",
    "IdReport",
    "Report",
    "Summary",
    "order_findings",
    "summarize",
]

SCHEMA = "synthcam.verify/1"

# Every per-file finding kind, most fundamental first: a file's status is the first one found.
KINDS = (
    "lfs_pointer",      # a Git LFS pointer stub, not the video
    "empty",            # zero bytes
    "not_video",        # text, HTML, random bytes, audio only
    "unreadable",       # cannot be opened or read to the end (truncated, no moov, not a file)
    "corrupt",          # decoder errors or corrupt frames anywhere
    "unexpected_file",  # with a manifest: not one of its variants
    "bad_name",         # without a manifest: not <ID>_<N>s.mp4, so its length is unknown
    "wrong_frames",     # frame count != fps x seconds
    "vfr",              # variable frame intervals (explains a wrong average fps)
    "wrong_fps",
    "wrong_resolution",
    "wrong_codec",      # codec or pixel format
    "duplicate",        # same bytes as another file
    "near_duplicate",   # same pictures as another clip (re-encode, or prefix of a longer one)
    "black",
    "frozen",
    "flicker",
    "static",           # no motion where the manifest expects action
    "scene_cut",
    # fidelity, from a backend's own ground truth (the procedural audit): the clip does not show its manifest
    "out_of_frame",     # a subject the manifest names is not in view for the part of the clip its action needs
    "cut_short",        # the action's key moment happens after the clip ends, or out of view
    "prop_missing",     # a prop or scene element the description names (or the occluder) is not in view
    "too_small",        # a subject's image is below the minimum box size for a detector
    "low_contrast",     # a subject barely differs from its background
    "ir_colour",        # the description names a colour that a night infrared (monochrome) picture cannot show
)
ID_KINDS = ("missing_variant",)
_RANK = {k: i for i, k in enumerate(KINDS + ID_KINDS)}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


class Finding(_Model):
    """One problem, with a one-line reason a person can act on."""

    kind: str
    detail: str


def order_findings(findings: list[Finding]) -> list[Finding]:
    """Findings in KINDS order (stable within a kind), so the first one is the status."""
    return sorted(findings, key=lambda f: _RANK.get(f.kind, len(_RANK)))


class FileReport(_Model):
    """The verdict on one file. `status` is "ok" or the first failing kind."""

    path: str
    id: str | None = None
    duration_s: int | None = None
    status: str = "ok"
    findings: list[Finding] = []
    sha256: str | None = None
    size: int | None = None
    frames: int | None = None
    fps: float | None = None
    width: int | None = None
    height: int | None = None
    codec: str | None = None
    pix_fmt: str | None = None
    metrics: dict[str, Any] = {}
    lfs: dict[str, Any] | None = None  # {"oid": ..., "size": ...} for a pointer stub
    signature: Signature | None = Field(default=None, exclude=True, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def is_video(self) -> bool:
        """A real video: it opened as one and decoded at least one frame."""
        return bool(self.frames) and self.codec is not None

    def add(self, kind: str, detail: str) -> None:
        """Record a finding and refresh the status."""
        self.findings = order_findings([*self.findings, Finding(kind=kind, detail=detail)])
        self.status = self.findings[0].kind


class IdReport(_Model):
    """The duration variants of one clip ID: all present, and each one passing."""

    id: str
    status: str = "ok"
    expected_durations: list[int] = []
    found_durations: list[int] = []
    findings: list[Finding] = []


class Summary(_Model):
    """The figures the old team counted by hand."""

    files: int = 0
    videos: int = 0
    lfs_pointers: int = 0
    unique_sha256: int = 0
    passed: int = 0
    failed: int = 0
    ids: int = 0
    ids_passed: int = 0
    missing_variants: int = 0
    by_status: dict[str, int] = {}
    by_kind: dict[str, int] = {}


class Report(_Model):
    """A whole run: one record per file, one per clip ID, and the summary."""

    schema_: str = Field(SCHEMA, alias="schema")
    thresholds: dict[str, Any] = {}
    files: list[FileReport] = []
    ids: list[IdReport] = []
    summary: Summary = Summary()

    model_config = ConfigDict(extra="forbid", populate_by_name=True, arbitrary_types_allowed=True)

    @property
    def ok(self) -> bool:
        return self.summary.failed == 0 and all(i.status == "ok" for i in self.ids)

    def to_json(self) -> dict[str, Any]:
        """The documented JSON form (docs/verify.md)."""
        return self.model_dump(mode="json", by_alias=True)


def summarize(files: list[FileReport], ids: list[IdReport]) -> Summary:
    """Count files, real videos, stubs, unique hashes, passes and failures by kind."""
    kinds: Counter[str] = Counter()
    for f in files:
        kinds.update({x.kind for x in f.findings})
    for i in ids:
        kinds.update(x.kind for x in i.findings if x.kind in ID_KINDS)
    videos = [f for f in files if f.is_video]
    return Summary(
        files=len(files),
        videos=len(videos),
        lfs_pointers=sum(1 for f in files if f.lfs is not None),
        unique_sha256=len({f.sha256 for f in videos if f.sha256}),
        passed=sum(1 for f in files if f.ok),
        failed=sum(1 for f in files if not f.ok),
        ids=len(ids),
        ids_passed=sum(1 for i in ids if i.status == "ok"),
        missing_variants=sum(1 for i in ids for x in i.findings if x.kind == "missing_variant"),
        by_status=dict(sorted(Counter(f.status for f in files).items(), key=lambda kv: _RANK.get(kv[0], -1))),
        by_kind=dict(sorted(kinds.items(), key=lambda kv: _RANK.get(kv[0], len(_RANK)))),
    )
