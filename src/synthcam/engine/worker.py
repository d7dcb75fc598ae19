"""A generation worker: one per GPU group, holding its backend (so the model loads once) for every
batch it is given. It generates, keeps each raw output in the workspace's raw/<job_id>/ and says
so; finishing, the store and the final paths are the orchestrator's. It talks only in messages
(engine/messages.py), through a channel its executor provides.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..backends.base import Failure, GenerationRequest, Hooks, RawClip
from ..backends.registry import backend_class, create_backend
from ..errors import SynthcamError
from ..manifest import load_manifest_text
from ..prompts import Compiler
from ..redact import mask_secrets
from ..workspace import Workspace
from .executors.base import WorkerConfig
from .finishing import FinishTask, finish, keep_raw
from .jobs import job_spec
from .messages import (Assign, Failed, Fatal, Finished, Generated, Heartbeat, Hello, Idle, Log, ModelLoaded, Progress,
                       Started, Stop)

PROGRESS_EVERY_S = 0.5


class Worker:
    def __init__(self, cfg: WorkerConfig, send: Callable[[Any], None]) -> None:
        self.cfg = cfg
        self.send = send
        self.ws = Workspace(Path(cfg.workspace))
        self.manifest = load_manifest_text(cfg.manifest_text, cfg.manifest_source)
        self.compiler = Compiler(self.manifest)
        self.variants = {v.name: v for v in self.manifest.variants()}
        self.staging = self.ws.staging(cfg.worker)
        self.cls = backend_class(cfg.backend)
        self.backend = None
        self.in_flight: str | None = None
        self.started: dict[str, float] = {}
        self.last_progress = 0.0

    def log(self, line: str, job_id: str | None = None) -> None:
        self.send(Log(self.cfg.worker, job_id, mask_secrets(line.rstrip())))

    def run(self, receive: Callable[[], Any]) -> int:
        cfg = self.cfg
        self.staging.mkdir(parents=True, exist_ok=True)
        try:
            self.backend = create_backend(cfg.backend, cfg.options, list(cfg.gpus))
            self.backend.check()
        except SynthcamError as exc:
            self.log(f"error: {exc}")
            self.send(Fatal(cfg.worker, str(exc)))
            return 2
        try:
            while True:
                message = receive()
                if isinstance(message, Stop) or message is None:
                    return 0
                if isinstance(message, Assign):
                    self.send(Idle(cfg.worker, self._run_batch(message.jobs)))
        finally:
            with contextlib.suppress(Exception):
                self.backend.close()
            shutil.rmtree(self.staging, ignore_errors=True)  # only a dead worker leaves its staging behind

    def _request(self, job_id: str, name: str) -> GenerationRequest | None:
        variant = self.variants.get(name)
        if variant is None:
            return None
        compiled = self.compiler.compile(variant)
        spec = job_spec(self.manifest, compiled, self.cfg.backend, self.cfg.model, 0.0,
                        uses_components=self.cls.uses_components)
        if spec.job_id != job_id:  # the manifest changed under this job: not ours to make
            return None
        return GenerationRequest(job_id, compiled, self.manifest, work_dir=self.ws.raw_dir(job_id) / "work")

    def _run_batch(self, jobs: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
        requests, skipped = [], []
        for job_id, name in jobs:
            request = self._request(job_id, name)
            if request is None:
                self.log(f"released {name}: its parameters no longer match the manifest", job_id)
                skipped.append(job_id)
            else:
                requests.append(request)
        hooks = Hooks(on_start=self._on_start, on_model_load=lambda: self.send(ModelLoaded(self.cfg.worker)),
                      log=lambda line: self.log(line, self.in_flight), progress=self._on_progress)
        done: set[str] = set()
        for result in self.backend.generate_many(requests, self.staging, hooks):  # type: ignore[union-attr]
            job_id = result.request.job_id
            done.add(job_id)
            try:
                self._handle(result)
            except Exception as exc:  # a bug or a full disk must not kill the worker's whole queue
                self.log("".join(traceback.format_exception(exc)), job_id)
                self._failed(job_id, "error", f"{type(exc).__name__}: {exc}", True)
            if self.in_flight == job_id:
                self.in_flight = None
        return tuple(skipped + [r.job_id for r in requests if r.job_id not in done and r.job_id not in self.started])

    def _on_start(self, request: GenerationRequest) -> None:
        self.started[request.job_id] = time.time()
        self.in_flight = request.job_id
        self.send(Started(self.cfg.worker, request.job_id))
        self.log(f"start {request.name} (seed {request.compiled.seed})", request.job_id)

    def _on_progress(self, info: dict) -> None:
        if time.time() - self.last_progress >= PROGRESS_EVERY_S:
            self.last_progress = time.time()
            self.send(Progress(self.cfg.worker, dict(info)))

    def _seconds(self, job_id: str) -> float:
        started = self.started.pop(job_id, None)
        return (time.time() - started) * max(1, len(self.cfg.gpus)) if started else 0.0

    def _failed(self, job_id: str, kind: str, message: str, retryable: bool, stage: str | None = None) -> None:
        self.send(Failed(self.cfg.worker, job_id, kind, mask_secrets(message), retryable, stage, self._seconds(job_id)))

    def _handle(self, result: RawClip | Failure) -> None:
        job_id = result.request.job_id
        if isinstance(result, Failure):
            self._failed(job_id, result.kind, result.message, result.retryable, result.stage)
            return
        gpu_seconds = self._seconds(job_id)
        truth = result.extras if self.cls.has_ground_truth else {}
        audit = [{"kind": f.kind, "detail": f.detail} for f in result.audit]
        raw = keep_raw(self.ws, job_id, Path(result.video), result.fps, result.frames, result.at_target,
                       {k: Path(p) for k, p in truth.items()}, audit, gpu_seconds)
        for leftover in map(Path, result.extras.values()):  # sidecars that are not ground truth
            if leftover.exists():
                shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink()
        if not self.cfg.inline_finish:
            self.send(Generated(self.cfg.worker, job_id, raw.to_json(), gpu_seconds))
            return
        clip = job_spec(self.manifest, result.request.compiled, self.cfg.backend, self.cfg.model, 0.0,
                        uses_components=self.cls.uses_components)
        from ..store import ClipSpec

        verdict = finish(FinishTask(self.cfg.workspace, job_id, ClipSpec.from_json(clip.spec), raw,
                                    self.cfg.interpolation, (), self.cfg.policy))
        self.send(Finished(self.cfg.worker, job_id, raw.to_json(), verdict, gpu_seconds))


class _Channel:
    """One pipe, written by the main thread and the heartbeat thread."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.lock = threading.Lock()

    def send(self, message: Any) -> None:
        with self.lock:
            self.conn.send(message)

    def receive(self) -> Any:
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            return None  # the orchestrator is gone


def _heartbeat(cfg: WorkerConfig, channel: _Channel, stop: threading.Event) -> None:
    """Says the worker is alive; exits the process when its orchestrator has died (orphaned)."""
    while not stop.wait(min(0.25, cfg.heartbeat_s)):
        if cfg.parent_pid and os.getppid() != cfg.parent_pid:
            os._exit(3)  # orphaned: the orchestrator died; our leases lapse and are reclaimed
        now = time.monotonic()
        if now - getattr(_heartbeat, "last", 0.0) >= cfg.heartbeat_s:
            _heartbeat.last = now  # type: ignore[attr-defined]
            try:
                channel.send(Heartbeat(cfg.worker))
            except (OSError, ValueError):
                os._exit(3)


def worker_main(cfg: WorkerConfig, conn: Any) -> None:
    """Process entry point for the local executor."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the orchestrator decides; it terminates us
    if cfg.gpus:  # before any backend imports a CUDA library: this worker sees its GPU group only
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(cfg.gpus)
    # Our stdout/stderr belong to the user's terminal: send anything a library prints to our log.
    ws = Workspace(Path(cfg.workspace))
    log = ws.worker_log(cfg.worker)
    log.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    channel = _Channel(conn)
    stop = threading.Event()
    threading.Thread(target=_heartbeat, args=(cfg, channel, stop), daemon=True, name="heartbeat").start()
    code = 1
    try:
        channel.send(Hello(cfg.worker, os.getpid(), socket.gethostname(), "", ",".join(cfg.gpus)))
        code = Worker(cfg, channel.send).run(channel.receive)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        stop.set()
    _flush_coverage()
    os._exit(code)


def _flush_coverage() -> None:
    """os._exit skips atexit: save coverage data of this process when it is being measured."""
    with contextlib.suppress(Exception):
        import coverage

        cov = coverage.Coverage.current()
        if cov is not None:
            cov.stop()
            cov.save()
