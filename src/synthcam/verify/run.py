"""Verify many files: collect them, decode each once across processes, then compare signatures.

    collect_paths -> Expectations.for_path -> verify_file (in workers) -> mark_duplicates
                  -> check_ids -> summarize -> Report
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import InputError
from ..manifest import Manifest, load_manifest
from .dupes import mark_duplicates
from .expect import Expectation, Expectations
from .file import verify_file
from .policy import VerifyPolicy, resolve_policy
from .pool import TaskFailed, run_tasks
from .report import FileReport, Report, summarize
from .thresholds import Thresholds
from .variants import check_ids

__all__ = ["VIDEO_SUFFIXES", "collect_paths", "verify_paths"]

VIDEO_SUFFIXES = (".mp4",)
_GRACE_S = 30.0  # beyond the in-worker deadline, before the parent kills a worker


def collect_paths(paths: Iterable[str | Path], suffixes: tuple[str, ...] = VIDEO_SUFFIXES) -> list[Path]:
    """Files named on the command line, plus every `*.mp4` under named folders.

    A named path that does not exist is a usage error. Folders are walked without following
    symlinked folders (no loops) and without entering hidden ones (.git holds LFS objects);
    anything named *.mp4 is listed, even a folder, a FIFO or a broken symlink, so that it is
    reported rather than silently skipped.
    """
    found: dict[str, Path] = {}
    for raw in paths:
        p = Path(raw)
        if not p.exists() and not p.is_symlink():
            raise InputError(f"{raw}: no such file or directory")
        if not p.is_dir():
            found.setdefault(os.path.abspath(p), p)
            continue
        for root, dirs, files in os.walk(p, followlinks=False):
            keep = []
            for d in sorted(dirs):
                if d.lower().endswith(suffixes):
                    found.setdefault(os.path.abspath(os.path.join(root, d)), Path(root, d))
                elif not d.startswith("."):
                    keep.append(d)
            dirs[:] = keep
            for f in files:
                if f.lower().endswith(suffixes):
                    found.setdefault(os.path.abspath(os.path.join(root, f)), Path(root, f))
    return [found[k] for k in sorted(found)]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def verify_paths(
    paths: Iterable[str | Path],
    manifest: Manifest | str | Path | None = None,
    *,
    jobs: int | None = None,
    thresholds: Thresholds | None = None,
    policy: VerifyPolicy | None = None,
    expectations: Expectations | None = None,
    near_duplicates_by_id: bool = False,
    defaults: Expectation | None = None,
    durations: Iterable[int] | None = None,
    progress: Callable[[FileReport, int, int], None] | None = None,
    in_process: bool = False,
) -> Report:
    """Verify every video under `paths` and compare them with each other.

    With `manifest`, each file is checked against its variant (fps, resolution, frames, motion)
    and every manifest variant must exist. Without it, expectations come from the names and
    `defaults`, and each ID must have `durations` (default: every duration seen in the run).
    `expectations` (rules made elsewhere, e.g. from a workspace's jobs) replace both.
    Near duplicates are looked for between all files, or with `near_duplicates_by_id` only
    between the variants of one ID (the engine's rule).
    Files are decoded on `jobs` processes (default: CPU count); `in_process` runs them here,
    one by one, without crash isolation. `progress(report, done, total)` follows each file.
    The verification policy is `policy`, else bare `thresholds` (every check on), else the
    manifest's `verify:` section, else the default; the report records it.
    """
    if manifest is not None and not isinstance(manifest, Manifest):
        manifest = load_manifest(manifest)
    policy = resolve_policy(policy, thresholds, manifest)
    th = policy.limits
    if jobs is not None and jobs < 1:
        raise InputError(f"jobs must be at least 1, got {jobs}")
    if expectations is not None:
        rules = expectations
    elif manifest is not None:
        base = defaults or Expectation()
        rules = Expectations.from_manifest(manifest, codec=base.codec, pix_fmt=base.pix_fmt)
    else:
        rules = Expectations(defaults or Expectation(), default_durations=durations)
    files = collect_paths(paths)
    planned = [rules.for_path(p) for p in files]
    reports: list[FileReport | None] = [None] * len(files)
    finished = [0]

    def done(index: int, result: FileReport | TaskFailed) -> None:
        expect, name_findings = planned[index]
        if isinstance(result, TaskFailed):
            reason = result.reason
            result = FileReport(path=str(files[index]), id=expect.id, duration_s=expect.duration_s,
                                policy=policy.summary())
            result.add("unreadable", reason)
        for f in name_findings:
            result.add(f.kind, f.detail)
        reports[index] = result
        finished[0] += 1
        if progress is not None:
            progress(result, finished[0], len(files))

    tasks = [(str(p), expect, None, policy) for p, (expect, _) in zip(files, planned)]
    if in_process:
        for i, task in enumerate(tasks):
            done(i, verify_file(*task))
    else:
        run_tasks(verify_file, tasks, jobs or os.cpu_count() or 1, th.decode_timeout_s + _GRACE_S, done,
                  order=sorted(range(len(files)), key=lambda i: -_size(files[i])))
    final = [r for r in reports if r is not None]
    mark_duplicates(final, policy=policy, by_id=near_duplicates_by_id)
    ids = check_ids(final, rules)
    return Report(policy=policy.to_record(), thresholds=th.model_dump(), files=final, ids=ids,
                  summary=summarize(final, ids))
