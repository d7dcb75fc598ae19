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
from ..plan import load_cost_table
from ..prompts import compile_manifest, select_variants
from ..verify import verify_file
from ..verify.expect import Expectation
from ..workspace import Workspace
from .jobs import job_spec
from .status import write_status
from .worker import WorkerConfig, worker_main

DEFAULT_COST_GPU = "h100"


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

    @property
    def ok(self) -> bool:
        return self.done == self.selected


def _groups(opts: RunOptions) -> list[tuple[str, ...]]:
    if opts.backend == "procedural" or not opts.gpus:
        n = opts.workers or max(1, min(os.cpu_count() or 1, 8))
        return [() for _ in range(n)]
    if opts.gpus_per_worker < 1 or len(opts.gpus) % opts.gpus_per_worker:
        raise InputError(f"{len(opts.gpus)} GPUs do not split into groups of {opts.gpus_per_worker}")
    k = opts.gpus_per_worker
    return [tuple(opts.gpus[i:i + k]) for i in range(0, len(opts.gpus), k)]


def model_for(manifest: Manifest, opts: RunOptions) -> str:
    """Generative backends run the manifest's Cosmos model; others are their own model."""
    if opts.backend == "cosmos":
        return opts.model or manifest.defaults.model
    return opts.model or opts.backend


def plan_jobs(manifest: Manifest, opts: RunOptions) -> tuple[list, set[str]]:
    """Job specs for the whole manifest (the current plan) and the IDs selected for this run."""
    model = model_for(manifest, opts)
    uses_components = opts.backend == "procedural"
    if opts.backend == "cosmos":
        chunk_s = load_cost_table().chunk(model, DEFAULT_COST_GPU).seconds
        cost_of = lambda c: c.timing.chunks * chunk_s  # noqa: E731
    else:
        cost_of = lambda c: float(c.variant.duration_s)  # noqa: E731 - render time scales with length
    compiled = compile_manifest(manifest)
    specs = [job_spec(manifest, c, opts.backend, model, cost_of(c), uses_components, opts.max_attempts) for c in compiled]
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
        if report.status == "ok" and store.adopt(job.job_id, ws.relative(path), sha, probe,
                                                 [f.model_dump() for f in report.findings], "resume"):
            n += 1
    return n


def run(manifest_path: str | Path | None, workspace: str | Path, opts: RunOptions,
        on_tick: Callable[[dict[str, Any]], None] | None = None) -> RunResult:
    from ..backends.registry import create_backend

    t0 = time.time()
    # Unknown, unloadable or badly configured: a clear error before anything is written.
    create_backend(opts.backend, opts.backend_options, list(opts.gpus[:max(1, opts.gpus_per_worker)]))
    manifest = load_manifest(manifest_path)
    selected_variants = select_variants(manifest, opts.only, opts.durations)
    # 1. Lint gate: errors block generation.
    report = lint_compiled(manifest, compile_manifest(manifest, opts.only, opts.durations))
    if not report.ok and not opts.force:
        first = report.errors[0]
        raise LintFailed(f"lint found {len(report.errors)} errors (first: {first.clip}: {first.rule}: {first.message}); "
                         "fix them or pass --force")
    ws = Workspace.at(workspace)
    store = ws.store()
    try:
        # 2. Jobs: identity = hash of what determines the output; sync marks the current plan.
        specs, selected = plan_jobs(manifest, opts)
        synced = store.sync(specs)
        # 3. Resume: dead workers' jobs back to the queue; clips that landed before a crash recorded.
        store.reclaim_stale(blame=False)  # the previous run was interrupted from outside
        resumed = _finish_landed(ws, store)
        if opts.retry_failed:
            store.requeue_failed(selected)
        # 4. Longest first onto one queue per worker.
        run_id = uuid.uuid4().hex[:8]
        groups = _groups(opts)
        queues = [f"{run_id}:w{i}" for i in range(len(groups))]
        store.assign(queues, selected)
        write_status(ws, store)
        manifest_text = _manifest_text(manifest, manifest_path)
        model = model_for(manifest, opts)
        configs = [
            WorkerConfig(workspace=str(ws.root), worker=f"{run_id}-w{i}", run_id=run_id, queue=queues[i],
                         backend=opts.backend, manifest_text=manifest_text, manifest_source=manifest.path, model=model,
                         cost_per_chunk_s=0.0, options=opts.backend_options, gpus=g, parent_pid=os.getpid(),
                         lease_s=opts.lease_s, job_timeout_s=opts.job_timeout_s, backoff_s=opts.backoff_s,
                         interpolation=opts.interpolation)
            for i, g in enumerate(groups)
        ]
        # 5. Workers, watched until all have exited.
        _supervise(ws, store, configs, selected, opts, on_tick)
        status = write_status(ws, store)
        errors = [e for e in store.events(kinds=["worker_error"], limit=len(configs) * 4)
                  if str(e["worker"]).startswith(run_id + "-")]
        if errors and not store.jobs("done"):
            raise BackendError(errors[-1]["detail"])
        done = {j.job_id for j in store.jobs("done")}
        failed = {j.job_id for j in store.jobs("failed")}
        blocked = {j.job_id for j in store.jobs("blocked")}
        pending = {j.job_id for j in store.jobs("pending")} | {j.job_id for j in store.jobs("running")}
        return RunResult(ws.root, len(selected_variants), len(selected & done), len(selected & failed),
                         len(selected & blocked), len(selected & pending), synced["new"], resumed,
                         time.time() - t0, status)
    finally:
        store.close()


def _manifest_text(manifest: Manifest, path: str | Path | None) -> str:
    from ..manifest import builtin_manifest_text, embedded_name

    name = embedded_name(path)
    if name is not None:
        return builtin_manifest_text(name)
    return Path(path).read_text(encoding="utf-8")  # type: ignore[arg-type]


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
