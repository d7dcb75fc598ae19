"""The verification record: pydantic models whose JSON form is the documented report schema.

`FileReport` is what `verify_file` returns and what one row of the JSON report holds. Its
`signature` (per-second hashes for near-duplicate checks) travels with it in memory but is
left out of the JSON. A file's status is "ok" or the first failing kind in `KINDS` order.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .kinds import CONTAINER_KINDS, CONTENT_KINDS, ID_KINDS, KINDS
from .policy import DEFAULT_PROFILE, VerifyPolicy
from .signature import Signature

__all__ = [
    "CONTAINER_KINDS",
    "CONTENT_KINDS",
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

# /2: the report records the verification policy in force (`policy`, and a summary per file);
# with content checks switched off, "ok" no longer means "every check passed".
SCHEMA = "synthcam.verify/2"

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
    policy: str = DEFAULT_PROFILE  # the summary of the verification policy this verdict was reached under
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
    lfs_objects: int = 0  # distinct oids among the stubs: the 5/10/30 s stubs of one ID often share one
    lfs_object_bytes: int = 0  # what those objects would weigh once fetched
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
    policy: dict[str, Any] = Field(default_factory=lambda: VerifyPolicy().to_record())
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
    objects = {f.lfs["oid"]: int(f.lfs.get("size") or 0) for f in files if f.lfs and f.lfs.get("oid")}
    return Summary(
        files=len(files),
        videos=len(videos),
        lfs_pointers=sum(1 for f in files if f.lfs is not None),
        lfs_objects=len(objects),
        lfs_object_bytes=sum(objects.values()),
        unique_sha256=len({f.sha256 for f in videos if f.sha256}),
        passed=sum(1 for f in files if f.ok),
        failed=sum(1 for f in files if not f.ok),
        ids=len(ids),
        ids_passed=sum(1 for i in ids if i.status == "ok"),
        missing_variants=sum(1 for i in ids for x in i.findings if x.kind == "missing_variant"),
        by_status=dict(sorted(Counter(f.status for f in files).items(), key=lambda kv: _RANK.get(kv[0], -1))),
        by_kind=dict(sorted(kinds.items(), key=lambda kv: _RANK.get(kv[0], len(_RANK)))),
    )
