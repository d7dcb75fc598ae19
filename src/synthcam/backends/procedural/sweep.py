"""The fidelity audit over a whole dataset: `synthcam render --audit`.

Each variant is rendered for its ground truth only (no video, no files) and audited; with
`verify=True` it is also encoded to a temporary file and run through `verify_file`, exactly
as the engine would, so the report says whether every clip would land as verified. The
report is a row per variant and a table per series (variants, passed, failed, findings by
kind), in the verifier's vocabulary.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...manifest import Manifest, Variant
from ...prompts import Compiler, select_variants
from ...verify.report import KINDS, Finding, order_findings

__all__ = ["AuditReport", "VariantAudit", "audit_dataset"]


@dataclass(frozen=True)
class VariantAudit:
    name: str
    clip_id: str
    series: str
    duration_s: int
    findings: list[Finding]
    seconds: float = 0.0

    @property
    def status(self) -> str:
        return self.findings[0].kind if self.findings else "ok"


@dataclass
class AuditReport:
    rows: list[VariantAudit] = field(default_factory=list)
    verified: bool = False          # also encoded and run through verify_file
    stride: int = 1
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return all(r.status == "ok" for r in self.rows)

    def by_series(self) -> dict[str, dict[str, int]]:
        """Per series (and "all"): variants, passed, failed, and how many variants show each kind."""
        out: dict[str, Counter[str]] = {}
        for r in self.rows:
            for key in (r.series, "all"):
                c = out.setdefault(key, Counter())
                c["variants"] += 1
                c["passed" if r.status == "ok" else "failed"] += 1
                c.update({f.kind for f in r.findings})
        rank = {k: i for i, k in enumerate(("variants", "passed", "failed", *KINDS))}
        return {s: {k: c[k] for k in sorted(c, key=lambda k: rank.get(k, len(rank)))} | {"passed": c["passed"], "failed": c["failed"]}
                for s, c in sorted(out.items(), key=lambda kv: (kv[0] == "all", kv[0]))}

    def kinds(self) -> list[str]:
        """The finding kinds that occur, in KINDS order."""
        found = {f.kind for r in self.rows for f in r.findings}
        return [k for k in KINDS if k in found] + sorted(found - set(KINDS))

    def to_json(self) -> dict[str, Any]:
        return {"verified": self.verified, "stride": self.stride, "elapsed_s": round(self.elapsed_s, 1),
                "by_series": self.by_series(),
                "variants": [{"name": r.name, "id": r.clip_id, "duration_s": r.duration_s, "status": r.status,
                              "findings": [f.model_dump() for f in r.findings]} for r in self.rows]}


def audit_dataset(manifest: Manifest, only: list[str] | None = None, durations: list[int] | None = None, *,
                  verify: bool = False, stride: int = 1,
                  progress: Callable[[VariantAudit, int, int], None] | None = None) -> AuditReport:
    """Audit every selected variant (ID glob patterns, durations) from its ground truth; with
    `verify`, also encode it and add what `verify_file` finds (stride is then 1)."""
    from . import audit_variant

    variants = select_variants(manifest, only, durations)
    compiler = Compiler(manifest)
    report = AuditReport(verified=verify, stride=1 if verify else max(1, stride))
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="synthcam-audit-") as tmp:
        for i, variant in enumerate(variants, 1):
            t0 = time.monotonic()
            compiled = compiler.compile(variant)
            if verify:
                findings = _render_and_verify(manifest, variant, compiled, Path(tmp))
            else:
                findings = audit_variant(manifest, compiled, stride=report.stride).findings
            row = VariantAudit(variant.name, variant.clip_id, variant.clip.series_name, variant.duration_s,
                               order_findings(findings), time.monotonic() - t0)
            report.rows.append(row)
            if progress is not None:
                progress(row, i, len(variants))
    report.elapsed_s = time.monotonic() - start
    return report


def _render_and_verify(manifest: Manifest, variant: Variant, compiled: Any, tmp: Path) -> list[Finding]:
    """What the engine would decide: the backend's audit plus verify_file on the encoded clip."""
    import shutil

    from ...verify import verify_file
    from ...verify.expect import Expectation
    from . import render_variant, truth_dir_for

    video = tmp / f"{variant.name}.mp4"
    result = render_variant(manifest, compiled, video)
    action = manifest.components.actions.get(variant.clip.action or "")
    expect = Expectation(fps=variant.fps, width=result.width, height=result.height, duration_s=variant.duration_s,
                         frames=result.frames, expects_motion=(action.motion != "none") if action else None, id=variant.clip_id)
    try:
        report = verify_file(video, expect)
    finally:
        video.unlink(missing_ok=True)
        shutil.rmtree(truth_dir_for(video), ignore_errors=True)
    return list(report.findings) + list(result.audit)
