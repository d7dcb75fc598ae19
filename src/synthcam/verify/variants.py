"""Per-ID checks: every duration variant present, and each one passing.

Duplicates between variants are file findings (dupes.py); here they surface as the ID's
status. Without a manifest an ID must have every length seen anywhere in the run (or the
`durations` given), which is how "R14-R18 lack 30 s files" gets noticed without counting.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from .expect import Expectations
from .report import FileReport, Finding, IdReport, order_findings

__all__ = ["check_ids"]


def check_ids(reports: list[FileReport], rules: Expectations) -> list[IdReport]:
    """One IdReport per clip ID seen in the files or listed in the manifest, sorted by ID."""
    by_id: dict[str, list[FileReport]] = defaultdict(list)
    for r in reports:
        if r.id is not None and r.duration_s is not None:
            by_id[r.id].append(r)
    for clip_id in rules.manifest_ids():
        by_id.setdefault(clip_id, [])
    seen = {r.duration_s for files in by_id.values() for r in files if r.duration_s is not None}
    out = []
    for clip_id in sorted(by_id):
        files = sorted(by_id[clip_id], key=lambda r: (r.duration_s or 0, r.path))
        found = sorted({r.duration_s for r in files if r.duration_s is not None})
        expected = rules.expected_durations(clip_id, seen)
        missing = [
            Finding(kind="missing_variant", detail=f"{clip_id} has no {d} s variant ({clip_id}_{d}s.mp4)")
            for d in expected if d not in found
        ]
        failing = [Finding(kind=r.status, detail=f"{Path(r.path).name}: {r.findings[0].detail}") for r in files if not r.ok]
        findings = missing + order_findings(failing)  # a missing variant first: nothing else can fix it
        out.append(IdReport(
            id=clip_id,
            status=findings[0].kind if findings else "ok",
            expected_durations=expected,
            found_durations=found,
            findings=findings,
        ))
    return out
