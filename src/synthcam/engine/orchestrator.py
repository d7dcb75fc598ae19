"""The orchestrator: the one process that owns the store, the final paths and the status file.

Generation workers (started by an executor) receive batches and report in messages; a CPU pool
of its own finishes each raw output (post-process, verify, twin check) while the GPUs go on;
the orchestrator lands what passed. Its promises, kept from the first engine:

- leases: a worker's jobs stay claimed while it is heard from; a worker that dies or falls
  silent returns its jobs to the queue, and only the job it had in flight is blamed;
- a job that overruns its timeout fails (retryable) and its worker is restarted;
- a raw output is durable once handed over (state `generated`): a crash afterwards finishes it,
  never generates it again;
- nothing reaches a final path unverified; Ctrl-C or SIGTERM blames nobody.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..backends.registry import backend_class
from ..store import JobStore
from ..verify.pool import TaskFailed, TaskPool
from ..workspace import Workspace
from .executors.base import Executor, WorkerConfig, record_executor
from .finishing import FinishTask, RawOutput, Verdict, finish, land, remove_raw, siblings_of, twin_of
from .messages import (Assign, Died, Failed, Fatal, Finished, Generated, Heartbeat, Hello, Idle, Log, ModelLoaded,
                       Progress, Started)
from .status import write_status

STATUS_EVERY_S = 0.5
REFILL_BATCH = 4          # jobs given to an idle worker at a time once the first queues are done
FINISH_TIMEOUT_S = 1800.0 # one clip's finishing (a 30 s clip interpolates in well under a minute)


@dataclass
class _WorkerState:
    cfg: WorkerConfig
    alive: bool = False
    registered: bool = False
    fatal: bool = False
    busy: bool = False                    # holds a batch
    in_flight: str | None = None
    started_at: float = 0.0
    heard_at: float = field(default_factory=time.monotonic)
    beat_at: float = 0.0
    progress_at: float = 0.0
    restarts: int = 0


@dataclass
class OrchestratorOptions:
    lease_s: float = 30.0
    job_timeout_s: float | None = None
    backoff_s: float = 2.0
    interpolation: str = "mci"
    finish_workers: int = 1               # 0: finish inline in the generation worker
    max_worker_restarts: int = 3
    policy: dict[str, Any] | None = None


class Orchestrator:
    def __init__(self, ws: Workspace, store: JobStore, executor: Executor, backend: str, configs: list[WorkerConfig],
                 selected: set[str], opts: OrchestratorOptions,
                 on_tick: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.ws, self.store, self.executor, self.opts = ws, store, executor, opts
        self.selected = selected
        self.on_tick = on_tick
        self.workers = {c.worker: _WorkerState(c) for c in configs}
        self.run_id = configs[0].run_id if configs else ""
        self.has_truth = backend_class(backend).has_ground_truth
        self.pool = (executor.finish_pool(opts.finish_workers, FINISH_TIMEOUT_S)
                     or TaskPool(finish, opts.finish_workers, FINISH_TIMEOUT_S, preload=("synthcam.engine.finishing",))) \
            if opts.finish_workers > 0 else None
        self.finishing: dict[str, RawOutput] = {}
        self.waiting: dict[str, list[tuple[str, str]]] = {}   # first queues, until their worker says Hello
        self.made_by: dict[str, str] = {}     # job -> the worker that generated it (its "verified" count)
        self.status_at = 0.0
        self.reclaim_at = time.monotonic()
        self.stopping = False

    # --- the loop ---------------------------------------------------------------------------

    def run(self) -> None:
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for job in self.store.generated_jobs():  # raw outputs a crash left: finish, don't regenerate
                if job.job_id in self.selected or job.current:
                    self._submit(job.job_id, RawOutput.from_json(job.raw or {}))
            # queues are claimed only when their worker is up (Hello): a run killed while workers
            # start leaves no claims that only a lapsed lease could free
            self.waiting = self._first_queues()
            for name, state in self.workers.items():
                self.executor.start(state.cfg)
                state.alive = True
            record_executor(self.store, self.executor.describe())
            while not self._finished():
                if self.stopping:
                    self._interrupt()
                for message in self.executor.poll(0.2):
                    self._handle(message)
                self._collect_finished(0)
                self._watch()
                self._refill()
                self._tick()
            self.executor.stop()
            for state in self.workers.values():
                if state.registered and state.alive:
                    self.store.worker_exited(state.cfg.worker)
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)
            if self.pool is not None:
                self.pool.close()

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.stopping = True

    def _interrupt(self) -> None:
        """Stopped from outside: workers stop now, their jobs go back untouched; raw outputs
        waiting for finishing stay generated (finished on the next run)."""
        self.executor.terminate()
        for state in self.workers.values():
            if state.registered:
                self.store.release(state.cfg.worker)
                self.store.worker_exited(state.cfg.worker)
        write_status(self.ws, self.store)
        raise KeyboardInterrupt

    def _finished(self) -> bool:
        if self.finishing:
            return False
        if any(s.alive and s.busy for s in self.workers.values()):
            return False
        if not any(s.alive for s in self.workers.values()):
            return not self._work_left() or not self._can_restart()
        return not self._work_left()

    def _work_left(self) -> bool:
        counts = self.store.selection_counts(self.selected)
        return bool(counts["pending"] or counts["running"] or counts["generated"])

    def _can_restart(self) -> bool:
        return any(not s.fatal and s.restarts < self.opts.max_worker_restarts for s in self.workers.values())

    # --- assignment -------------------------------------------------------------------------

    def _first_queues(self) -> dict[str, list[tuple[str, str]]]:
        """Longest first onto the least-loaded worker, so long clips do not form the tail."""
        load = {name: 0.0 for name in self.workers}
        queues: dict[str, list[tuple[str, str]]] = {name: [] for name in self.workers}
        if not load:
            return queues
        for job_id, name, cost in self.store.ready():
            if job_id in self.selected:
                worker = min(load, key=lambda k: (load[k], k))
                load[worker] += cost
                queues[worker].append((job_id, name))
        return queues

    def _give(self, worker: str, jobs: list[tuple[str, str]]) -> None:
        if not jobs:
            return
        claimed = self.store.claim(worker, job_ids=[j for j, _ in jobs], limit=len(jobs), lease_s=self.opts.lease_s)
        ids = {j.job_id for j in claimed}
        batch = tuple((j, n) for j, n in jobs if j in ids)
        if batch:
            state = self.workers[worker]
            state.busy = True
            self.executor.send(worker, Assign(batch))

    def _refill(self) -> None:
        idle = [s for s in self.workers.values() if s.alive and s.registered and not s.busy and not s.fatal
                and s.cfg.worker not in self.waiting]
        if not idle:
            return
        ready = [(job_id, name) for job_id, name, _ in self.store.ready() if job_id in self.selected]
        for state in idle:
            if not ready:
                break
            take, ready = ready[:REFILL_BATCH], ready[REFILL_BATCH:]
            self._give(state.cfg.worker, take)

    # --- messages ---------------------------------------------------------------------------

    def _handle(self, m: Any) -> None:
        state = self.workers.get(getattr(m, "worker", ""))
        if state is None:
            return
        state.heard_at = time.monotonic()
        name = state.cfg.worker
        if isinstance(m, Hello):
            self.store.register_worker(name, self.run_id, m.gpus, pid=m.pid, host=m.host, node=m.node,
                                       executor=self.executor.name)
            state.registered = True
            self._give(name, self.waiting.pop(name, []))
        elif isinstance(m, Heartbeat):
            self._renew(state)
        elif isinstance(m, ModelLoaded):
            self.store.worker_loaded_model(name)
            self._log(name, None, "model load")
        elif isinstance(m, Started):
            state.in_flight, state.started_at = m.job_id, time.monotonic()
            self.store.start(m.job_id, name)
            self._tick(force=True)
        elif isinstance(m, Progress):
            if time.monotonic() - state.progress_at >= 1.0:
                state.progress_at = time.monotonic()
                self.store.set_progress(name, m.info)
        elif isinstance(m, Log):
            self._log(name, m.job_id, m.line)
        elif isinstance(m, Generated):
            self._clear(state, m.job_id)
            raw = RawOutput.from_json(m.raw)
            if self.store.generated(m.job_id, name, m.raw, m.gpu_seconds):
                self.made_by[m.job_id] = name
                self._log(name, m.job_id, f"generated: raw output kept in {raw.dir}")
                self._submit(m.job_id, raw)
        elif isinstance(m, Finished):
            self._clear(state, m.job_id)
            if self.store.generated(m.job_id, name, m.raw, m.gpu_seconds):
                self.made_by[m.job_id] = name
                self._verdict(m.verdict, RawOutput.from_json(m.raw))
        elif isinstance(m, Failed):
            self._clear(state, m.job_id)
            self._failed(name, m)
        elif isinstance(m, Idle):
            state.busy = False
            state.in_flight = None
            if m.unstarted:
                self.store.release(name, m.unstarted)
        elif isinstance(m, Fatal):
            state.fatal = True
            state.busy = False
            self.store.release(name)
            self.store.worker_error(name, m.message)
            self._log(name, None, f"error: {m.message}")
        elif isinstance(m, Died):
            self._died(state, m.detail)

    def _clear(self, state: _WorkerState, job_id: str) -> None:
        if state.in_flight == job_id:
            state.in_flight = None

    def _renew(self, state: _WorkerState) -> None:
        now = time.monotonic()
        if now - state.beat_at >= self.opts.lease_s / 4:
            state.beat_at = now
            self.store.heartbeat(state.cfg.worker, self.opts.lease_s)

    def _failed(self, worker: str, m: Failed) -> None:
        if m.kind == "blocked":
            message = f"{m.stage} guardrail: {m.message}" if m.stage else m.message
            self.store.block(m.job_id, worker, message, gpu_seconds=m.gpu_seconds)
            self._log(worker, m.job_id, f"blocked: {message}")
        else:
            state = self.store.fail(m.job_id, worker, m.kind, m.message, retryable=m.retryable,
                                    backoff_s=self.opts.backoff_s, gpu_seconds=m.gpu_seconds)
            self._log(worker, m.job_id, f"{m.kind}: {m.message} -> {state}")
            if state == "pending":  # a retry may resume from what is kept (chunks of a long clip)
                self._tick(force=True)
                return
        remove_raw(self.ws, m.job_id)
        self._tick(force=True)

    def _died(self, state: _WorkerState, detail: str) -> None:
        name = state.cfg.worker
        state.alive = state.busy = False
        state.in_flight = None
        if state.registered:
            self.store.reclaim_worker(name, blame=True, detail=f"the worker died ({detail}) while generating this job")
            self.store.worker_exited(name)
            self._log(name, None, f"worker died: {detail}")
        if not state.fatal and state.restarts < self.opts.max_worker_restarts and self._work_left():
            state.restarts += 1
            state.registered = False
            state.heard_at = time.monotonic()
            self.executor.start(state.cfg)
            state.alive = True

    def _watch(self) -> None:
        """Per-job timeouts and silent workers: both end with the worker killed (then restarted);
        jobs of other runs' dead workers (lapsed leases) return to the queue."""
        now = time.monotonic()
        if now - self.reclaim_at > 5.0:
            self.reclaim_at = now
            self.store.reclaim_stale(blame=True)
        for state in self.workers.values():
            if not state.alive:
                continue
            name = state.cfg.worker
            timeout = self.opts.job_timeout_s
            if state.in_flight and timeout and now - state.started_at > timeout:
                job_id, state.in_flight = state.in_flight, None
                self.store.fail(job_id, name, "timeout", f"no result after {timeout:g} s (per-job timeout)",
                                retryable=True, backoff_s=self.opts.backoff_s,
                                gpu_seconds=(now - state.started_at) * max(1, len(state.cfg.gpus)))
                self._log(name, job_id, f"timeout after {timeout:g} s: stopping the worker")
                self.executor.kill(name)
            elif now - state.heard_at > max(self.opts.lease_s, 10.0) * 2:
                self._log(name, None, "no heartbeat: stopping the worker")
                self.executor.kill(name)

    # --- finishing --------------------------------------------------------------------------

    def _submit(self, job_id: str, raw: RawOutput) -> None:
        job = self.store.get(job_id)
        if job is None:
            return
        if self.pool is None:  # inline mode: a generated job left by a crash is finished here
            self._verdict(finish(self._task(job, raw)), raw)
            return
        self.finishing[job_id] = raw
        self.pool.submit(job_id, (self._task(job, raw),))

    def _task(self, job: Any, raw: RawOutput) -> FinishTask:
        return FinishTask(str(self.ws.root), job.job_id, job.clip, raw, self.opts.interpolation,
                          siblings_of(self.store, job.clip_id, job.job_id), self.opts.policy)

    def _collect_finished(self, timeout: float) -> None:
        if self.pool is None or not self.finishing:
            return
        for job_id, result in self.pool.poll(timeout):
            raw = self.finishing.pop(job_id)
            if isinstance(result, TaskFailed):
                result = Verdict(job_id, False, "error", f"finishing failed: {result.reason}", True)
            self._verdict(result, raw)

    def _verdict(self, verdict: Verdict, raw: RawOutput) -> None:
        job = self.store.get(verdict.job_id)
        if job is None or job.state != "generated":
            return
        if verdict.ok:
            # a sibling verified while this one was being finished may be its twin (the 5/10/30 s bug)
            from ..verify import FileReport
            from .finishing import signature_from_json

            report = FileReport(path=verdict.staged or "", sha256=verdict.sha256, codec=verdict.probe.get("codec"),
                                signature=signature_from_json(verdict.probe.get("signature")))
            twin = twin_of(report, siblings_of(self.store, job.clip_id, job.job_id), None)
            if twin:
                verdict = Verdict(job.job_id, False, f"verify:{twin[0]}", twin[1], False)
        if verdict.ok:
            if land(self.ws, self.store, verdict, raw, job.name, self.has_truth, worker=self.made_by.pop(job.job_id, None)):
                self._log(None, job.job_id, f"verified {job.name} sha256 {verdict.sha256}")
        else:
            state = self.store.fail(job.job_id, None, verdict.kind, verdict.detail, retryable=verdict.retryable,
                                    backoff_s=self.opts.backoff_s)
            self._log(None, job.job_id, f"{verdict.kind}: {verdict.detail} -> {state}")
            remove_raw(self.ws, job.job_id)
        self._tick(force=True)

    # --- logs and status --------------------------------------------------------------------

    def _log(self, worker: str | None, job_id: str | None, line: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        text = f"{stamp} [{worker or 'orchestrator'}] {line.rstrip()}\n"
        paths = [self.ws.worker_log(worker)] if worker else []
        if job_id:
            paths.append(self.ws.job_log(job_id))
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(text)

    def _tick(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.status_at < STATUS_EVERY_S:
            return
        self.status_at = now
        for state in self.workers.values():  # leases of live workers stay fresh between heartbeats
            if state.alive and (not state.registered or now - state.heard_at < self.opts.lease_s):
                self._renew(state)
        status = write_status(self.ws, self.store)
        if self.on_tick:
            with contextlib.suppress(Exception):
                self.on_tick(status)
