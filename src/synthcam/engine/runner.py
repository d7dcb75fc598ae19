"""`synthcam run`: plan, prompts, generate, post-process, verify, record, resumable at any point.

The orchestrator syncs the manifest's jobs into the store, returns the jobs of dead workers to
the queue, finishes any clip that reached its final path before a crash, assigns pending jobs
longest-first to one queue per worker, starts the workers, and keeps the status file fresh
until they are done. Killing it (or them) at any moment leaves a workspace that the next
`run` resumes without generating any finished job twice.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BackendError, InputError, LintFailed
from ..lint import lint_compiled
from ..manifest import Manifest, load_manifest
from ..prompts import compile_manifest, select_variants
from .integrity import Integrity, check_verified
from ..verify import verify_file
from ..verify.expect import Expectation
from ..workspace import Workspace
from .jobs import job_spec
from .status import write_status
from .worker import WorkerConfig, worker_main

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


def _finish_landed(ws: Workspace, store) -> int:
    """A crash between moving a verified clip into place and recording it leaves a final file
    whose job is still pending: if the file is the one noted at landing, record it."""
    from ..verify.file import sha256_file

    n = 0
    for job, sha in store.landed():
        path = ws.clip_path(job.name)
        if not path.exists() or sha256_file(path)[0] != sha:
            continue
        spec = job.spec
        report = verify_file(path, Expectation(fps=spec["fps"], width=spec["width"], height=spec["height"],
                                               duration_s=job.duration_s, frames=spec["frames"], id=job.clip_id))
        probe = {k: getattr(report, k) for k in ("frames", "fps", "width", "height", "codec", "pix_fmt", "size")}
        probe["mtime_ns"] = path.stat().st_mtime_ns
        if report.status == "ok" and store.adopt(job.job_id, ws.relative(path), sha, probe,
                                                 [f.model_dump() for f in report.findings], "resume"):
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
        landed = _finish_landed(ws, store)
        if opts.retry_failed:
            store.requeue_failed(selected)
        counts = store.selection_counts(selected)
        plan = RunPlan(selected=len(selected_variants), already_verified=counts["done"], to_do=counts["pending"],
                       failed=counts["failed"], blocked=counts["blocked"], new_jobs=synced["new"],
                       reclaimed=len(reclaimed), landed=landed, cleaned=cleaned, integrity=integrity)
        # 5. Longest first onto one queue per worker.
        run_id = uuid.uuid4().hex[:8]
        groups = _groups(opts, counts["pending"] + counts["running"])
        plan.workers = len(groups) if counts["pending"] else 0
        if on_plan:
            on_plan(plan)
        queues = [f"{run_id}:w{i}" for i in range(len(groups))]
        store.assign(queues, selected)
        write_status(ws, store)
        configs = [
            WorkerConfig(workspace=str(ws.root), worker=f"{run_id}-w{i}", run_id=run_id, queue=queues[i],
                         backend=opts.backend, manifest_text=manifest.text, manifest_source=manifest.path,
                         model=cls.model_name(manifest, opts.model), cost_per_chunk_s=0.0,
                         options=opts.backend_options, gpus=g, parent_pid=os.getpid(), lease_s=opts.lease_s,
                         job_timeout_s=opts.job_timeout_s, backoff_s=opts.backoff_s, interpolation=opts.interpolation)
            for i, g in enumerate(groups)
        ]
        # 6. Workers, watched until all have exited.
        if counts["pending"]:
            def tick(status: dict[str, Any]) -> None:
                if on_tick:
                    c = store.selection_counts(selected)
                    on_tick(RunProgress(len(selected_variants), c["done"], c["failed"], c["blocked"],
                                        c["in_flight"], status))

            _supervise(ws, store, configs, selected, opts, tick)
        status = write_status(ws, store)
        errors = [e for e in store.events(kinds=["worker_error"], limit=len(configs) * 4)
                  if str(e["worker"]).startswith(run_id + "-")]
        counts = store.selection_counts(selected)
        if errors and not counts["done"]:
            raise BackendError(errors[-1]["detail"])
        if on_tick:
            on_tick(RunProgress(len(selected_variants), counts["done"], counts["failed"], counts["blocked"], 0, status))
        return RunResult(ws.root, len(selected_variants), counts["done"], counts["failed"], counts["blocked"],
                         counts["pending"] + counts["running"], synced["new"], landed, time.time() - t0, status, plan)
    finally:
        store.close()


def cleanup_orphans(ws: Workspace, store) -> int:
    """Remove what dead processes left: staging folders of workers no longer alive, and partial
    files in clips/ (only when no other run is live on this workspace, since those may be its)."""
    live = {w.worker for w in store.workers(live_only=True)}
    removed = 0
    staging = ws.root / "staging"
    if staging.is_dir():
        for folder in staging.iterdir():
            if folder.name not in live and not folder.is_symlink():
                shutil.rmtree(folder, ignore_errors=True) if folder.is_dir() else folder.unlink(missing_ok=True)
                removed += 1
    if not live and ws.clips_dir.is_dir():
        for item in ws.clips_dir.iterdir():
            if item.name.startswith(".") and (".partial" in item.name or ".old-" in item.name):
                if item.is_dir() and not item.is_symlink():
                    shutil.rmtree(item, ignore_errors=True)
                else:
                    item.unlink(missing_ok=True)
                removed += 1
    return removed


def _supervise(ws: Workspace, store, configs: list[WorkerConfig], selected: set[str], opts: RunOptions,
               on_tick: Callable[[dict[str, Any]], None] | None) -> None:
    ctx = mp.get_context("spawn")
    procs: dict[str, mp.process.BaseProcess] = {}
    restarts = 0
    stopping = False

    def start(cfg: WorkerConfig) -> None:
        p = ctx.Process(target=worker_main, args=(cfg,), name=cfg.worker, daemon=False)
        p.start()
        procs[cfg.worker] = p

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for cfg in configs:
            start(cfg)
        by_name = {c.worker: c for c in configs}
        while procs:
            time.sleep(0.25)
            if stopping:
                for p in procs.values():
                    p.terminate()
                for p in procs.values():
                    p.join(10)
                store.reclaim_stale(blame=False)
                write_status(ws, store)
                raise KeyboardInterrupt
            for name, p in list(procs.items()):
                if p.is_alive():
                    continue
                p.join()
                del procs[name]
                if p.exitcode not in (0, 2):
                    # crashed or timed out: return its jobs, blame the one in flight, and restart it
                    store.reclaim_stale()
                    if restarts < opts.max_worker_restarts * len(configs) and _work_left(store, configs[0].run_id):
                        restarts += 1
                        start(by_name[name])
            status = write_status(ws, store)
            if on_tick:
                on_tick(status)
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def _work_left(store, run_id: str) -> bool:
    return store.next_retry_at(run_id + ":") is not None
