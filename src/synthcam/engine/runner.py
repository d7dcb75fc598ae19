"""`synthcam run`: plan, prompts, generate, post-process, verify, record, resumable at any point.

The orchestrator syncs the manifest's jobs into the store, returns the jobs of dead workers to
the queue, finishes any clip that reached its final path before a crash, assigns pending jobs
longest-first to one queue per worker, starts the workers, and keeps the status file fresh
until they are done. Killing it (or them) at any moment leaves a workspace that the next
`run` resumes without generating any finished job twice.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BackendError, InputError, LintFailed
from ..fsutil import temp_owner
from ..store import pid_alive
from ..lint import lint_compiled
from ..manifest import Manifest, load_manifest
from ..prompts import compile_manifest, select_variants
from ..verify.policy import VerifyPolicy, resolve_policy
from ..workspace import Workspace
from .executors import WorkerConfig, create_executor
from .finishing import FinishTask, RawOutput, finish, finish_truth, land, read_raw, siblings_of
from .integrity import Integrity, check_verified
from .jobs import job_spec
from .orchestrator import Orchestrator, OrchestratorOptions
from .status import write_status


@dataclass
class RunOptions:
    backend: str = "procedural"
    gpus: list[str] = field(default_factory=list)          # GPU ids; groups of gpus_per_worker
    gpus_per_worker: int = 1
    workers: int | None = None                             # CPU backends: worker processes
    only: list[str] | None = None
    durations: list[int] | None = None
    backend_options: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    force: bool = False                                    # run despite lint errors
    retry_failed: bool = False
    lease_s: float = 30.0
    job_timeout_s: float | None = None
    max_attempts: int = 3
    backoff_s: float = 2.0
    interpolation: str = "mci"
    max_worker_restarts: int = 3
    finish_workers: int | None = None                      # CPU processes finishing clips (0: inline)
    executor: str = "local"
    executor_options: dict[str, Any] = field(default_factory=dict)
    policy: VerifyPolicy | None = None                     # --verify-policy (else the manifest's, else default)


@dataclass
class RunPlan:
    """What a run is about to do, known before any worker starts (a resumed run says so first)."""

    selected: int               # variants this run covers (--only/--durations)
    already_verified: int       # of those, verified before this run
    to_do: int                  # pending now: this run generates them
    failed: int                 # failed for good (not retried without --retry-failed)
    blocked: int
    new_jobs: int               # jobs the plan did not have before
    reclaimed: int              # returned to the queue from a run that died
    landed: int                 # verified clips a crash left unrecorded, recorded now
    cleaned: int                # orphaned partial files and staging folders removed
    integrity: Integrity        # verified clips found missing or changed on disk
    workers: int = 0

    @property
    def resumed(self) -> bool:
        return bool(self.already_verified or self.reclaimed or self.landed or self.failed or self.blocked)


@dataclass
class RunProgress:
    """Counts over this run's selection (not the whole plan), for progress bars."""

    selected: int
    verified: int
    failed: int
    blocked: int
    in_progress: int
    status: dict[str, Any]

    @property
    def finished(self) -> int:
        return self.verified + self.failed + self.blocked


@dataclass
class RunResult:
    workspace: Path
    selected: int
    done: int
    failed: int
    blocked: int
    pending: int
    new_jobs: int
    resumed: int
    elapsed_s: float
    status: dict[str, Any]
    plan: RunPlan | None = None

    @property
    def ok(self) -> bool:
        return self.done == self.selected


MAX_CPU_WORKERS = 64


def _groups(opts: RunOptions, jobs_to_do: int) -> list[tuple[str, ...]]:
    """One GPU group per worker for GPU backends; CPU workers capped by cores and by the work."""
    if opts.workers is not None and not 1 <= opts.workers <= MAX_CPU_WORKERS:
        raise InputError(f"--workers must be 1-{MAX_CPU_WORKERS}, got {opts.workers}")
    if opts.gpus_per_worker < 1:
        raise InputError(f"--gpus-per-worker must be at least 1, got {opts.gpus_per_worker}")
    if not opts.gpus:
        n = opts.workers or max(1, min(os.cpu_count() or 1, 8))
        return [() for _ in range(max(1, min(n, jobs_to_do)))]
    if len(opts.gpus) % opts.gpus_per_worker:
        raise InputError(f"{len(opts.gpus)} GPUs do not split into groups of {opts.gpus_per_worker}")
    k = opts.gpus_per_worker
    groups = [tuple(opts.gpus[i:i + k]) for i in range(0, len(opts.gpus), k)]
    return groups[:max(1, jobs_to_do)]


def plan_jobs(manifest: Manifest, opts: RunOptions) -> tuple[list, set[str]]:
    """Job specs for the whole manifest (the current plan) and the IDs selected for this run."""
    from ..backends.registry import backend_class

    cls = backend_class(opts.backend)
    model = cls.model_name(manifest, opts.model)
    compiled = compile_manifest(manifest)
    specs = [job_spec(manifest, c, opts.backend, model, cls.job_cost_s(c, model), cls.uses_components,
                      opts.max_attempts, device=cls.device) for c in compiled]
    wanted = {v.name for v in select_variants(manifest, opts.only, opts.durations)}
    return specs, {s.job_id for s in specs if s.name in wanted}


def default_finish_workers() -> int:
    """CPU processes for finishing: all cores but one for the orchestrator and the workers' own
    CPU work, at least one."""
    return max(1, (os.cpu_count() or 2) - 1)


def _finish_landed(ws: Workspace, store, policy: VerifyPolicy) -> int:
    """A crash between moving a verified clip into place and recording it leaves a final file
    whose job is not done: if the file is the one noted at landing, verify and record it."""
    from ..verify.file import sha256_file

    n = 0
    for job, sha in store.landed():
        path = ws.clip_path(job.name)
        if not path.exists() or sha256_file(path)[0] != sha:
            continue
        raw = RawOutput(job.job_id, ws.relative(path.parent), path.name, float(job.clip.target.fps),
                        job.clip.target.frames, True)
        verdict = finish(FinishTask(str(ws.root), job.job_id, job.clip, raw, policy=policy.to_record(),
                                    siblings=siblings_of(store, job.clip_id, job.job_id)))
        if verdict.ok and land(ws, store, verdict, None, job.name, False, adopted_from="resume"):
            n += 1
    return n


def _kept_raw(ws: Workspace, store, selected: set[str]) -> int:
    """Pending jobs whose complete raw output a crash left in raw/<job_id>/ are generated: finished, not made again."""
    n = 0
    for job in store.jobs("pending"):
        raw = read_raw(ws, job.job_id)
        if raw is not None and store.raw_kept(job.job_id, raw.to_json()):
            n += 1
    return n


def run(manifest_path: str | Path | Manifest | None, workspace: str | Path, opts: RunOptions,
        on_tick: Callable[[RunProgress], None] | None = None,
        on_plan: Callable[[RunPlan], None] | None = None) -> RunResult:
    """Sync the plan, resume what a crash left, generate what is pending, until all is recorded.

    `on_plan` hears what the run is about to do before any worker starts; `on_tick` hears the
    progress of this run's selection while workers run.
    """
    from ..backends.registry import backend_class, create_backend

    t0 = time.time()
    cls = backend_class(opts.backend)
    # Unknown, unloadable or badly configured: a clear error before anything is written.
    create_backend(opts.backend, opts.backend_options, list(opts.gpus[:max(1, opts.gpus_per_worker)]))
    manifest = manifest_path if isinstance(manifest_path, Manifest) else load_manifest(manifest_path)
    selected_variants = select_variants(manifest, opts.only, opts.durations)
    # 1. Lint gate: errors block generation.
    report = lint_compiled(manifest, compile_manifest(manifest, opts.only, opts.durations))
    if not report.ok and not opts.force:
        first = report.errors[0]
        raise LintFailed(f"lint found {len(report.errors)} errors (first: {first.clip}: {first.rule}: {first.message}); "
                         "fix them or pass --force")
    if cls.device == "gpu" and not opts.gpus:
        raise InputError(f"--backend {opts.backend} runs on GPUs: give --gpus (N or a list like 0,1)")
    _groups(opts, 1)  # option errors before anything is written
    executor = create_executor(opts.executor, opts.executor_options)  # a missing extra: an error before any write
    ws = Workspace.at(workspace)
    store = ws.store()
    try:
        # 2. Every verified clip still on disk as verified; the ones that are not go back to the queue.
        integrity = check_verified(ws, store, repair=True)
        # 3. Jobs: identity = hash of what determines the output; sync marks the current plan.
        specs, selected = plan_jobs(manifest, opts)
        synced = store.sync(specs)
        store.record_manifest(manifest.origin or manifest.path, manifest.text)
        # 4. Resume: dead workers' jobs back to the queue; clips that landed before a crash recorded.
        reclaimed = store.reclaim_stale(blame=False)  # the previous run was interrupted from outside
        cleaned = cleanup_orphans(ws, store)
        policy = resolve_policy(opts.policy, manifest=manifest)
        landed = _finish_landed(ws, store, policy)
        finish_truth(ws, store, cls.has_ground_truth)
        # outputs that a dead run's workers finished elsewhere and still hold come home first
        executor.recover(str(ws.root), {j.job_id for j in store.jobs("pending")})
        _kept_raw(ws, store, selected)
        if opts.retry_failed:
            store.requeue_failed(selected)
        counts = store.selection_counts(selected)
        plan = RunPlan(selected=len(selected_variants), already_verified=counts["done"],
                       to_do=counts["pending"] + counts["generated"],
                       failed=counts["failed"], blocked=counts["blocked"], new_jobs=synced["new"],
                       reclaimed=len(reclaimed), landed=landed, cleaned=cleaned, integrity=integrity)
        # 5. One worker per GPU group (or CPU slot), at most one per job to do.
        run_id = uuid.uuid4().hex[:8]
        groups = _groups(opts, counts["pending"] + counts["running"])
        plan.workers = len(groups) if counts["pending"] else 0
        if on_plan:
            on_plan(plan)
        write_status(ws, store)
        finish_workers = default_finish_workers() if opts.finish_workers is None else opts.finish_workers
        model = cls.model_name(manifest, opts.model)
        configs = [
            WorkerConfig(workspace=str(ws.root), worker=f"{run_id}-w{i}", run_id=run_id, backend=opts.backend,
                         manifest_text=manifest.text, manifest_source=manifest.path, model=model,
                         options=opts.backend_options, gpus=g, parent_pid=os.getpid(),
                         heartbeat_s=max(0.2, min(2.0, opts.lease_s / 4)), interpolation=opts.interpolation,
                         inline_finish=finish_workers == 0, policy=policy.to_record())
            for i, g in enumerate(groups)
        ]
        # 6. Generate and finish, watched until every selected job is recorded.
        if counts["pending"] or counts["generated"]:
            def tick(status: dict[str, Any]) -> None:
                if on_tick:
                    c = store.selection_counts(selected)
                    on_tick(RunProgress(len(selected_variants), c["done"], c["failed"], c["blocked"],
                                        c["in_flight"], status))

            orch = Orchestrator(ws, store, executor, opts.backend, configs if counts["pending"] else [], selected,
                                OrchestratorOptions(lease_s=opts.lease_s, job_timeout_s=opts.job_timeout_s,
                                                    backoff_s=opts.backoff_s, interpolation=opts.interpolation,
                                                    finish_workers=finish_workers,
                                                    max_worker_restarts=opts.max_worker_restarts,
                                                    policy=policy.to_record()),
                                on_tick=tick)
            orch.run()
        status = write_status(ws, store)
        errors = [e for e in store.events(kinds=["worker_error"], limit=len(configs) * 4)
                  if str(e["worker"]).startswith(run_id + "-")]
        counts = store.selection_counts(selected)
        if errors and not counts["done"]:
            raise BackendError(errors[-1]["detail"])
        if on_tick:
            on_tick(RunProgress(len(selected_variants), counts["done"], counts["failed"], counts["blocked"], 0, status))
        return RunResult(ws.root, len(selected_variants), counts["done"], counts["failed"], counts["blocked"],
                         counts["pending"] + counts["running"] + counts["generated"], synced["new"], landed,
                         time.time() - t0, status, plan)
    finally:
        executor.close()
        store.close()


def cleanup_orphans(ws: Workspace, store) -> int:
    """Remove what dead processes left: staging folders of workers no longer alive, and partial
    files in clips/ and raw/ (those of a writer named in them that is dead on this host, and all of
    them when no other run is live on this workspace, since then none can be another run's)."""
    live = {w.worker for w in store.workers(live_only=True)}
    removed = 0
    staging = ws.root / "staging"
    if staging.is_dir():
        for folder in staging.iterdir():
            if folder.name not in live and not folder.is_symlink():
                shutil.rmtree(folder, ignore_errors=True) if folder.is_dir() else folder.unlink(missing_ok=True)
                removed += 1
    # partial files in clips/, and raw folders half-written when their writer died (the swap into
    # raw/<job_id> is atomic)
    for folder in (f for f in (ws.clips_dir, ws.root / "raw") if f.is_dir()):
        for item in folder.iterdir():
            if not (item.name.startswith(".") and (".partial" in item.name or ".old-" in item.name)):
                continue
            # Only runs write here. With no live worker, no run is live; otherwise a leftover
            # whose writer (named in it) is dead on this host is safe to remove: the workers of
            # a run killed a moment ago may still look live, and its leftovers must not survive
            # the run that resumes it.
            owner = temp_owner(item.name)
            if not live or (owner is not None and owner != os.getpid() and not pid_alive(owner)):
                if item.is_dir() and not item.is_symlink():
                    shutil.rmtree(item, ignore_errors=True)
                else:
                    item.unlink(missing_ok=True)
                removed += 1
    return removed
