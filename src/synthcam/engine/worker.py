"""One long-lived worker per GPU group: claim its queue, generate, post-process, verify, record.

The backend (and so the model) is created once per worker and fed the worker's whole queue as
one batch. A heartbeat thread keeps the worker's leases alive, enforces the per-job timeout and
exits if the orchestrator dies. A clip moves from staging to its final path only after it
passes verification, and is recorded as done in the same breath; a crash at any point loses at
most the job in flight.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..backends.base import Failure, GenerationRequest, Hooks, RawClip
from ..backends.registry import create_backend
from ..errors import SynthcamError
from ..fsutil import atomic_dir
from ..manifest import load_manifest_text
from ..prompts import Compiler
from ..store import Job
from ..verify import FileReport, Signature, Thresholds, mark_duplicates, verify_file
from ..verify.expect import Expectation
from ..workspace import Workspace
from .jobs import job_spec
from .postprocess import Target, TooFewFrames, finalize
from .status import write_status

# Verification failures that a second attempt can fix (I/O glitches); the rest are deterministic
# for a given seed, so retrying them would only burn GPU time.
TRANSIENT_VERIFY = {"empty", "unreadable", "corrupt", "not_video"}


@dataclass(frozen=True)
class WorkerConfig:
    workspace: str
    worker: str
    run_id: str
    queue: str
    backend: str
    manifest_text: str
    manifest_source: str
    model: str
    cost_per_chunk_s: float
    options: dict[str, Any] = field(default_factory=dict)
    gpus: tuple[str, ...] = ()
    parent_pid: int = 0
    lease_s: float = 30.0
    job_timeout_s: float | None = None
    backoff_s: float = 2.0
    interpolation: str = "mci"


class _Heartbeat(threading.Thread):
    """Keeps leases alive; kills the worker if its job overruns or its parent is gone."""

    def __init__(self, cfg: WorkerConfig) -> None:
        super().__init__(daemon=True, name="heartbeat")
        self.cfg = cfg
        self.stop = threading.Event()
        self.job: tuple[str, float] | None = None
        self.interval = max(0.2, cfg.lease_s / 4)

    def run(self) -> None:
        store = Workspace(Path(self.cfg.workspace)).store()
        last_beat = 0.0
        try:
            while not self.stop.wait(0.25):
                if self.cfg.parent_pid and os.getppid() != self.cfg.parent_pid:
                    os._exit(3)  # orphaned: the orchestrator died; our leases lapse and are reclaimed
                job = self.job
                if job and self.cfg.job_timeout_s and time.time() - job[1] > self.cfg.job_timeout_s:
                    store.fail(job[0], self.cfg.worker, "timeout",
                               f"no result after {self.cfg.job_timeout_s:g} s (per-job timeout)", retryable=True,
                               backoff_s=self.cfg.backoff_s)
                    os._exit(4)
                if time.time() - last_beat >= self.interval:
                    store.heartbeat(self.cfg.worker, self.cfg.lease_s)
                    last_beat = time.time()
        finally:
            store.close()


class Worker:
    def __init__(self, cfg: WorkerConfig) -> None:
        self.cfg = cfg
        self.ws = Workspace(Path(cfg.workspace))
        self.store = self.ws.store()
        self.manifest = load_manifest_text(cfg.manifest_text, cfg.manifest_source)
        self.compiler = Compiler(self.manifest)
        self.variants = {v.name: v for v in self.manifest.variants()}
        self.staging = self.ws.staging(cfg.worker)
        self.heartbeat = _Heartbeat(cfg)
        self.jobs: dict[str, Job] = {}
        self.started: dict[str, float] = {}
        self.backend = None

    # --- logging --------------------------------------------------------------------------

    def log(self, line: str, job_id: str | None = None) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        text = f"{stamp} [{self.cfg.worker}] {line.rstrip()}\n"
        for path in filter(None, (self.ws.worker_log(self.cfg.worker), self.ws.job_log(job_id) if job_id else None)):
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(text)

    # --- the loop -------------------------------------------------------------------------

    def run(self) -> int:
        cfg = self.cfg
        self.store.register_worker(cfg.worker, cfg.run_id, ",".join(cfg.gpus))
        self.heartbeat.start()
        self.staging.mkdir(parents=True, exist_ok=True)
        prefix = cfg.run_id + ":"
        try:
            self.backend = create_backend(cfg.backend, cfg.options, list(cfg.gpus))
            self.backend.check()
            while True:
                jobs = self.store.claim(cfg.worker, queue=cfg.queue, limit=100_000, lease_s=cfg.lease_s)
                if not jobs:  # retries and work of dead workers in this run
                    jobs = self.store.claim(cfg.worker, queue_prefix=prefix, limit=4, lease_s=cfg.lease_s)
                if not jobs:
                    nxt = self.store.next_retry_at(prefix)
                    if nxt is None:
                        return 0
                    time.sleep(min(1.0, max(0.05, nxt - time.time())))
                    continue
                self._run_batch(jobs)
        except SynthcamError as exc:
            self.log(f"error: {exc}")
            self.store.release(cfg.worker)
            self.store.worker_error(cfg.worker, str(exc))
            return 2
        finally:
            with contextlib.suppress(Exception):
                if self.backend is not None:
                    self.backend.close()
            self.heartbeat.stop.set()
            self.store.worker_exited(cfg.worker)
            self.store.close()

    def _request(self, job: Job) -> GenerationRequest | None:
        variant = self.variants.get(job.name)
        if variant is None:
            return None
        compiled = self.compiler.compile(variant)
        spec = job_spec(self.manifest, compiled, job.backend, job.model, job.cost_s,
                        uses_components=job.spec.get("components") is not None)
        if spec.job_id != job.job_id:  # the manifest changed under this job: not ours to make
            return None
        return GenerationRequest(job.job_id, compiled, self.manifest)

    def _run_batch(self, jobs: list[Job]) -> None:
        requests = []
        for job in jobs:
            request = self._request(job)
            if request is None:
                self.store.release(self.cfg.worker, [job.job_id])
                self.log(f"released {job.name}: its parameters no longer match the manifest", job.job_id)
                continue
            self.jobs[job.job_id] = job
            requests.append(request)
        hooks = Hooks(on_start=self._on_start, on_model_load=self._on_model_load, log=self._on_log)
        for result in self.backend.generate_many(requests, self.staging, hooks):  # type: ignore[union-attr]
            try:
                self._handle(result)
            except SynthcamError as exc:
                self._fail(result.request.job_id, "error", str(exc), retryable=True)
            except Exception as exc:  # a bug must not kill the worker's whole queue
                self.log("".join(traceback.format_exception(exc)), result.request.job_id)
                self._fail(result.request.job_id, "error", f"{type(exc).__name__}: {exc}", retryable=True)
        leftover = [j for j in self.jobs if j not in self.started]
        if leftover:
            self.store.release(self.cfg.worker, leftover)
        self.jobs.clear()
        self.started.clear()

    # --- hooks ----------------------------------------------------------------------------

    def _on_start(self, request: GenerationRequest) -> None:
        self.started[request.job_id] = time.time()
        self.heartbeat.job = (request.job_id, self.started[request.job_id])
        self.store.start(request.job_id, self.cfg.worker)
        self.log(f"start {request.name} (seed {request.compiled.seed})", request.job_id)
        write_status(self.ws, self.store)

    def _on_model_load(self) -> None:
        self.store.worker_loaded_model(self.cfg.worker)
        self.log("model load")

    def _on_log(self, line: str) -> None:
        job = self.heartbeat.job
        self.log(line, job[0] if job else None)

    # --- results --------------------------------------------------------------------------

    def _seconds(self, job_id: str) -> float:
        started = self.started.get(job_id)
        return (time.time() - started) * max(1, len(self.cfg.gpus)) if started else 0.0

    def _fail(self, job_id: str, kind: str, message: str, retryable: bool) -> None:
        state = self.store.fail(job_id, self.cfg.worker, kind, message, retryable=retryable,
                                backoff_s=self.cfg.backoff_s, gpu_seconds=self._seconds(job_id))
        self.heartbeat.job = None
        self.log(f"{kind}: {message} -> {state}", job_id)
        write_status(self.ws, self.store)

    def _handle(self, result: RawClip | Failure) -> None:
        job_id = result.request.job_id
        job = self.jobs[job_id]
        if isinstance(result, Failure):
            if result.kind == "blocked":
                self.store.block(job_id, self.cfg.worker, result.message)
                self.heartbeat.job = None
                self.log(f"blocked: {result.message}", job_id)
                write_status(self.ws, self.store)
            else:
                self._fail(job_id, result.kind, result.message, result.retryable)
            return
        self._finish(job, result)

    def _sibling_twin(self, job: Job, report: FileReport) -> tuple[str, str] | None:
        """The old system's 5/10/30 s variants were one clip three times: compare a new clip
        with its verified siblings (same ID) before it becomes final."""
        siblings = [j for j in self.store.jobs("done") if j.clip_id == job.clip_id and j.job_id != job.job_id]
        if not siblings:
            return None
        others = [FileReport(path=j.output or j.name, sha256=j.sha256, codec=(j.probe or {}).get("codec"),
                             signature=signature_from_json((j.probe or {}).get("signature"))) for j in siblings]
        candidate = report.model_copy(deep=True)
        mark_duplicates([candidate, *others], Thresholds())
        for f in candidate.findings:
            if f.kind in ("duplicate", "near_duplicate"):
                return f.kind, f.detail
        return None

    def _finish(self, job: Job, raw: RawClip) -> None:
        spec = job.spec
        timing = spec["timing"]
        name = job.name
        staged = raw.video
        if not raw.at_target:
            # Classify broken model output (stub, garbage, truncated) before trying to convert it.
            pre = verify_file(raw.video, None)
            if pre.status in TRANSIENT_VERIFY | {"lfs_pointer"}:
                detail = pre.findings[0].detail if pre.findings else pre.status
                self._fail(job.job_id, f"verify:{pre.status}", f"backend output: {detail}", retryable=True)
                return
            staged = self.staging / f"{name}.final.mp4"
            try:
                finalize(raw.video, staged, Target(spec["fps"], spec["frames"], spec["width"], spec["height"]),
                         timing["policy"], timing["frames_needed"], model_fps=timing["model_fps"],
                         method=self.cfg.interpolation)
            except TooFewFrames as exc:  # deterministic for a given seed: retrying only burns GPU time
                self._fail(job.job_id, "verify:wrong_frames", str(exc), retryable=False)
                return
        action = self.manifest.components.actions.get(self.variants[name].clip.action or "")
        expect = Expectation(fps=spec["fps"], width=spec["width"], height=spec["height"], duration_s=job.duration_s,
                             frames=spec["frames"], expects_motion=(action.motion != "none") if action else None,
                             id=job.clip_id)
        report = verify_file(staged, expect)
        for finding in raw.audit:  # the backend's fidelity audit: a clip that does not show its manifest is not verified
            report.add(finding.kind, finding.detail)
        findings = [f.model_dump() for f in report.findings]
        if report.status != "ok":
            first, *others = report.findings or [None]
            detail = first.detail if first else report.status
            if others:  # the store keeps one reason per job: name the rest, so none is lost from view
                detail += " (also " + "; ".join(f"{f.kind}: {f.detail}" for f in others) + ")"
            self._fail(job.job_id, f"verify:{report.status}", detail, retryable=report.status in TRANSIENT_VERIFY)
            return
        twin = self._sibling_twin(job, report)
        if twin:
            self._fail(job.job_id, f"verify:{twin[0]}", twin[1], retryable=False)
            return
        final = self.ws.clip_path(name)
        truth = {k: p for k, p in raw.extras.items() if Path(p).exists()} if self.backend.has_ground_truth else {}  # type: ignore[union-attr]
        if truth:
            with atomic_dir(self.ws.truth_dir(name)) as tmp:
                for path in map(Path, truth.values()):
                    for item in (sorted(path.iterdir()) if path.is_dir() else [path]):
                        shutil.move(str(item), tmp / item.name)
        final.parent.mkdir(parents=True, exist_ok=True)
        if not self.store.landing(job.job_id, self.cfg.worker, report.sha256 or ""):
            self.log(f"lease lost before landing {name}; another worker owns it", job.job_id)
            return
        os.replace(staged, final)
        probe = {k: getattr(report, k) for k in ("frames", "fps", "width", "height", "codec", "pix_fmt", "size")}
        probe["metrics"] = report.metrics
        probe["signature"] = signature_to_json(report.signature)
        if self.store.complete(job.job_id, self.cfg.worker, self.ws.relative(final), report.sha256 or "", probe,
                               findings, gpu_seconds=self._seconds(job.job_id)):
            self.log(f"done {name} sha256 {report.sha256}", job.job_id)
        self.heartbeat.job = None
        for leftover in map(Path, (raw.video, *raw.extras.values())):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    leftover.unlink()
        write_status(self.ws, self.store)


def signature_to_json(sig: Signature | None) -> dict[str, list] | None:
    if sig is None:
        return None
    return {"frame": [f"{h:016x}" for h in sig.frame_hashes], "motion": [f"{h:016x}" for h in sig.motion_hashes],
            "active": list(sig.motion_active)}


def signature_from_json(data: dict[str, list] | None) -> Signature | None:
    if not data:
        return None
    return Signature(tuple(int(h, 16) for h in data["frame"]), tuple(int(h, 16) for h in data["motion"]),
                     tuple(bool(a) for a in data["active"]))


def worker_main(cfg: WorkerConfig) -> None:
    """Process entry point (multiprocessing target)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the orchestrator decides; it terminates us
    # Our stdout/stderr belong to the user's terminal: send anything a library prints to our log.
    log = Workspace(Path(cfg.workspace)).worker_log(cfg.worker)
    log.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    try:
        code = Worker(cfg).run()
    except BaseException:
        traceback.print_exc()
        code = 1
    os._exit(code)
