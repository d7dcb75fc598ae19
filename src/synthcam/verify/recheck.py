"""A workspace's verdicts under another verification policy, without touching the workspace.

A policy change never silently re-verifies or invalidates done jobs: a clip verified under
`container-only` stays verified (and says so wherever it is shown) until a person decides
otherwise. `recheck_workspace` answers "what would this policy say?" instead:

- verified clips are decoded again under the policy, and those that would now fail are listed
  with the finding, next to the policy they were verified under (a file that is gone, or no
  longer the bytes that were verified, is listed apart: it is not the clip that was judged);
- failed clips (`verify:<kind>`) cannot be decoded again, since a failed clip is never kept,
  so those whose failing check the policy switches off, or whose limits it sets, are listed as
  "may pass": only `synthcam run --retry-failed` can make and verify them again.

The store is opened read-only and nothing is written anywhere.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import UnsafePathError
from ..fsutil import inside
from ..manifest import Manifest
from .expect import Expectation, Expectations
from .kinds import CONTENT_KINDS
from .policy import VerifyPolicy, policy_from_manifest, policy_view
from .report import FileReport, Report
from .run import verify_paths

__all__ = ["RECHECK_SCHEMA", "Change", "Recheck", "recheck_workspace"]

RECHECK_SCHEMA = "synthcam.verify.recheck/1"


@dataclass(frozen=True)
class Change:
    """One job whose verdict would differ (or could not be judged) under the new policy."""

    clip: str
    job_id: str
    recorded: str          # "verified" or "failed"
    recorded_policy: str   # the summary of the policy it was verified under ("" for a failed job: not recorded)
    kind: str              # the new failing kind; for a failed job, the kind it failed on; "missing"/"changed"
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"clip": self.clip, "job_id": self.job_id, "recorded": self.recorded,
                "recorded_policy": self.recorded_policy, "kind": self.kind, "detail": self.detail}


@dataclass
class Recheck:
    """The difference between a workspace's recorded verdicts and a policy's."""

    workspace: Path
    policy: VerifyPolicy
    report: Report
    now_failing: list[Change] = field(default_factory=list)  # verified, and would fail now
    may_pass: list[Change] = field(default_factory=list)     # failed on a check this policy switches off or retunes
    not_as_verified: list[Change] = field(default_factory=list)  # verified, but the file is gone or changed: not judged
    still_verified: int = 0
    still_failed: int = 0
    recorded_policies: dict[str, int] = field(default_factory=dict)  # summary -> verified clips

    @property
    def ok(self) -> bool:
        """Every verified clip still passes (a missing or changed file does not)."""
        return not self.now_failing and not self.not_as_verified

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": RECHECK_SCHEMA, "workspace": str(self.workspace), "policy": self.policy.to_record(),
            "summary": {"verified": self.still_verified + len(self.now_failing) + len(self.not_as_verified),
                        "still_verified": self.still_verified, "now_failing": len(self.now_failing),
                        "not_as_verified": len(self.not_as_verified), "failed": self.still_failed + len(self.may_pass),
                        "may_pass": len(self.may_pass), "recorded_policies": self.recorded_policies},
            "now_failing": [c.to_json() for c in self.now_failing],
            "may_pass": [c.to_json() for c in self.may_pass],
            "not_as_verified": [c.to_json() for c in self.not_as_verified],
            "report": self.report.to_json(),
        }


def _failed_kind(error_kind: str | None) -> str | None:
    if error_kind and error_kind.startswith("verify:"):
        return error_kind.removeprefix("verify:")
    return None


def _moves(job: Any, manifest: Manifest) -> bool | None:
    """Whether the clip's action moves, as the engine judged it: the planned manifest's action,
    else the one in the job's own spec (component-driven backends keep it there)."""
    try:
        action_name = manifest.clip(job.clip_id).action
        action = manifest.components.actions.get(action_name) if action_name else None
    except KeyError:
        action = (job.spec.get("components") or {}).get("action")
        return None if not isinstance(action, dict) else action.get("motion", "normal") != "none"
    return None if action is None else action.motion != "none"


def _expectations(done: list[Any], manifest: Manifest) -> Expectations:
    """What each verified clip had to be, from its job (the engine's expectation), not from a
    manifest that may have changed since: same fps, size and frames; motion from the plan."""
    spec = done[0].spec if done else {}
    base = Expectation(fps=spec.get("fps", 24), width=spec.get("width"), height=spec.get("height"))
    variants = []
    for j in done:
        frames = j.spec.get("frames") or replace(base, duration_s=j.duration_s).expected_frames
        variants.append((j.name, j.clip_id, j.duration_s, int(frames), _moves(j, manifest)))
    return Expectations.of_variants(base, variants)


def recheck_workspace(
    workspace: str | Path,
    policy: VerifyPolicy | None = None,
    *,
    manifest: Manifest | str | Path | None = None,
    jobs: int | None = None,
    progress: Callable[[FileReport, int, int], None] | None = None,
    in_process: bool = False,
) -> Recheck:
    """Verify a workspace's verified clips under `policy` and compare with what the store says.

    Each clip is held to what its job asked for (fps, size, frames; motion from the plan) and
    compared for near duplicates with its siblings (the other durations of its ID), as when it
    was verified. `policy` defaults to the manifest's `verify:` section (the manifest
    the workspace was planned from, or `manifest`). Read-only: the store is opened with
    `readonly=True`, and nothing is written anywhere.
    """
    from ..store import JobStore
    from ..workspace import Workspace, default_manifest

    ws = Workspace.existing(workspace)
    planned = manifest if isinstance(manifest, Manifest) else default_manifest(
        None if manifest is None else str(manifest), ws.root)
    policy = policy if policy is not None else policy_from_manifest(planned)
    store = JobStore(ws.db_path, readonly=True)
    try:
        current = store.jobs()
    finally:
        store.close()

    gone: list[Change] = []
    files: dict[str, Any] = {}
    recorded: Counter[str] = Counter()
    for job in (j for j in current if j.state == "done"):
        was = policy_view((job.probe or {}).get("policy"))
        recorded[was.summary] += 1
        try:
            path = inside(ws.root, job.output) if job.output else None
        except UnsafePathError:
            path = None
        if path is None or not path.is_file():
            gone.append(Change(job.name, job.job_id, "verified", was.summary, "missing",
                                         f"the verified file {job.output or job.name} is missing; the next "
                                         "`synthcam run` makes it again"))
            continue
        files[str(path)] = (job, was)

    rules = _expectations([job for job, _ in files.values()], planned)
    report = verify_paths(list(files), jobs=jobs, policy=policy, expectations=rules, near_duplicates_by_id=True,
                          progress=progress, in_process=in_process)
    out = Recheck(ws.root, policy, report, not_as_verified=gone, recorded_policies=dict(recorded))
    for rep in report.files:
        job, was = files[str(Path(rep.path))]
        if rep.sha256 and rep.sha256 != job.sha256:
            out.not_as_verified.append(Change(job.name, job.job_id, "verified", was.summary, "changed", (
                f"the file changed after it was verified (sha256 {rep.sha256[:12]}, recorded {(job.sha256 or '?')[:12]}); "
                "the next `synthcam run` verifies or remakes it")))
        elif rep.ok:
            out.still_verified += 1
        else:
            first = rep.findings[0]
            out.now_failing.append(Change(job.name, job.job_id, "verified", was.summary, rep.status, first.detail))

    for job in (j for j in current if j.state == "failed"):
        kind = _failed_kind(job.error_kind)
        if kind in CONTENT_KINDS and not policy.allows(kind):
            why = f"failed on {kind}, which this policy switches off"
        elif kind in CONTENT_KINDS and (moved := policy.limits_changed(kind)):
            why = f"failed on {kind}, whose limits this policy sets ({', '.join(moved)})"
        else:
            out.still_failed += 1
            continue
        out.may_pass.append(Change(job.name, job.job_id, "failed", "", kind, (
            f"{why}; a failed clip is not kept, so `synthcam run --retry-failed` makes and verifies it again")))
    for changes in (out.now_failing, out.may_pass, out.not_as_verified):
        changes.sort(key=lambda c: c.clip)
    return out
