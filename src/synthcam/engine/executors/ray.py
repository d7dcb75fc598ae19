"""Workers as Ray actors: one per GPU group, anywhere on a cluster, speaking the engine's messages.

Each actor holds one `Worker` (so the model loads once for its whole queue) in a thread, and
streams everything it says back through one long streaming call, `run`, that the driver waits
on with `ray.wait` together with every other actor's stream: heartbeats, results and deaths
arrive in one place. Raw outputs are made in the actor's node-local scratch and come home
before the orchestrator hears of them: through the object store in chunks (the driver's memory
stays flat whatever the clip's size) or, with `artifacts=URI`, through shared storage. The
actor keeps each output until the driver acks it, and actors are detached and named per
workspace, so a driver killed with kill -9 and started again finds them, collects what they
finished, and retires them (`recover`).

A worker's liveness is its driver's: Hello carries the driver's pid and host (the store's
`reclaim_stale` then returns a dead driver's jobs at once, wherever its actors ran) and the
node the actor runs on. `ray` is an optional extra (`pip install 'synthcam[ray]'`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import queue
import shutil
import socket
import tempfile
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ...errors import BackendError, InputError
from ...fsutil import atomic_dir, check_id, inside
from ...redact import mask_secrets
from ..finishing import RAW_RECORD
from ..messages import Died, Failed, Finished, Generated, Heartbeat, Hello, Idle, Log, Stop
from .base import DASHBOARD_KEY, Executor, WorkerConfig

try:
    import ray
    from ray.exceptions import RayActorError, RayError
except ImportError:  # the optional extra is not installed: RayExecutor says so
    ray = None  # type: ignore[assignment]
    RayActorError = RayError = Exception  # type: ignore[assignment,misc]

CHUNK_MB = 8               # object-store chunk: 4-16 MiB keep a 10 MB clip within 50 ms of local (measured)
PING_EVERY_S = 1.0         # the driver tells each actor it is alive
ORPHAN_AFTER_S = 15.0      # an actor not pinged for this long belongs to a dead driver (recover retires it)
ORPHAN_TTL_S = 300.0       # ...and exits by itself after this long, if no driver came back for its outputs
CONNECT_TIMEOUT_S = 10.0


# --- inside the actor -----------------------------------------------------------------------------

class _End:
    """The worker thread is done: the stream ends after what it said."""


class RayWorkerActor:
    """The actor's body (made a Ray actor class by `_actor_class`). Methods run in threads."""

    def __init__(self, cfg: WorkerConfig, opts: dict[str, Any]) -> None:
        self.opts = opts
        self.scratch = Path(opts["scratch"]) / opts["namespace"] / check_id(cfg.worker, "worker name")
        shutil.rmtree(self.scratch, ignore_errors=True)
        (self.scratch / "raw").mkdir(parents=True, exist_ok=True)
        gpus = cfg.gpus
        if opts["gpu_mode"] == "ray" and cfg.gpus:
            gpus = tuple(str(g) for g in ray.get_gpu_ids()) or cfg.gpus   # Ray pinned CUDA_VISIBLE_DEVICES
        elif cfg.gpus:
            os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(cfg.gpus)        # before any backend imports CUDA
        self.cfg = dataclasses.replace(cfg, workspace=str(self.scratch), gpus=gpus, parent_pid=0)
        self.outbox: queue.Queue[Any] = queue.Queue()
        self.inbox: dict[int, Any] = {}
        self.next_seq = 0
        self.cond = threading.Condition()
        self.kept: dict[str, str] = {}       # job_id -> "scratch" | "shared": finished, not yet acked
        self.pinged = time.monotonic()
        self.thread: threading.Thread | None = None
        threading.Thread(target=self._watchdog, daemon=True, name="orphan-watchdog").start()

    # the driver's calls

    def run(self) -> Iterator[list[Any]]:
        """The actor's whole life as one stream of message batches (a heartbeat when quiet)."""
        if self.thread is None:
            self.thread = threading.Thread(target=self._work, daemon=True, name="worker")
            self.thread.start()
        beat = max(0.1, self.cfg.heartbeat_s)
        while True:
            try:
                batch = [self.outbox.get(timeout=beat)]
            except queue.Empty:
                yield [Heartbeat(self.cfg.worker)]
                continue
            with contextlib.suppress(queue.Empty):
                while len(batch) < 256:
                    batch.append(self.outbox.get_nowait())
            end = any(isinstance(m, _End) for m in batch)
            batch = [m for m in batch if not isinstance(m, _End)]
            if batch:
                yield batch
            if end:
                return

    def deliver(self, seq: int, message: Any) -> None:
        """Messages in the order the driver sent them (a threaded actor may run calls out of order)."""
        with self.cond:
            self.inbox[seq] = message
            self.cond.notify_all()

    def ping(self) -> None:
        self.pinged = time.monotonic()

    def info(self) -> dict[str, Any]:
        return {"driver": self.opts["driver"], "pid": os.getpid(), "pinged_s_ago": time.monotonic() - self.pinged,
                "kept": dict(self.kept), "worker": self.cfg.worker}

    def fetch(self, job_id: str, chunk: int) -> Iterator[Any]:
        """A kept raw output: first {relative path: size}, then (path, bytes) chunks, raw.json last."""
        root = self._raw(job_id)
        files = sorted((p for p in root.rglob("*") if p.is_file()), key=lambda p: (p.name == RAW_RECORD, str(p)))
        yield {str(p.relative_to(root)): p.stat().st_size for p in files}
        for path in files:
            rel = str(path.relative_to(root))
            with open(path, "rb") as fh:
                data = fh.read(chunk)
                yield rel, data
                while data:
                    data = fh.read(chunk)
                    if data:
                        yield rel, data

    def ack(self, job_id: str) -> None:
        """The driver has the output: forget it."""
        self.kept.pop(job_id, None)
        shutil.rmtree(self._raw(job_id), ignore_errors=True)

    # the worker thread

    def _raw(self, job_id: str) -> Path:
        return inside(self.scratch / "raw", check_id(job_id, "job id"))

    def _work(self) -> None:
        from ..worker import Worker

        rc = ray.get_runtime_context()
        node = f"{ray.util.get_node_ip_address()} {rc.get_node_id()[:8]}"
        host, pid = self.opts["driver"]
        self.outbox.put(Hello(self.cfg.worker, pid, host, node, ",".join(self.cfg.gpus)))
        try:
            Worker(self.cfg, self._send).run(self._receive)
        except BaseException as exc:  # a bug: say it, then end the stream (the driver reports Died)
            self.outbox.put(Log(self.cfg.worker, None, "".join(traceback.format_exception(exc))))
        finally:
            if not self.kept:   # outputs not yet collected stay for the driver
                self._clear_scratch()
            self.outbox.put(_End())

    def _receive(self) -> Any:
        with self.cond:
            while self.next_seq not in self.inbox:
                self.cond.wait(1.0)
            message = self.inbox.pop(self.next_seq)
            self.next_seq += 1
            return message

    def _send(self, message: Any) -> None:
        if isinstance(message, (Generated, Finished)):
            where = "scratch"
            if self.opts["artifacts"]:
                _upload(self._raw(message.job_id), _shared_dir(self.opts["artifacts"], self.opts["namespace"],
                                                                 message.job_id))
                where = "shared"
            self.kept[message.job_id] = where
        self.outbox.put(message)

    def _clear_scratch(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.scratch.parent.rmdir()   # the workspace's folder, once its last worker is gone

    def _watchdog(self) -> None:
        """A detached actor whose driver is gone for good must not hold its GPU forever."""
        while True:
            time.sleep(1.0)
            if time.monotonic() - self.pinged > self.opts["orphan_ttl_s"]:
                self._clear_scratch()
                os._exit(0)


def _actor_class() -> Any:
    return ray.remote(RayWorkerActor)


# --- shared storage (--artifacts URI) -------------------------------------------------------------

def _fs(uri: str) -> tuple[Any, str]:
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise BackendError("--artifacts needs fsspec: pip install 'synthcam[ray]'") from None
    return url_to_fs(uri)


def _shared_dir(uri: str, namespace: str, job_id: str) -> tuple[Any, str]:
    fs, root = _fs(uri)
    return fs, f"{root.rstrip('/')}/{namespace}/{check_id(job_id, 'job id')}"


def _upload(src: Path, dest: tuple[Any, str]) -> None:
    """Copy a raw folder to shared storage with raw.json last: a folder without it is incomplete."""
    fs, path = dest
    if fs.exists(path):
        fs.rm(path, recursive=True)
    files = sorted((p for p in src.rglob("*") if p.is_file()), key=lambda p: (p.name == RAW_RECORD, str(p)))
    for p in files:
        target = f"{path}/{p.relative_to(src).as_posix()}"
        fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        fs.put_file(str(p), target)
    shutil.rmtree(src, ignore_errors=True)


def _download(src: tuple[Any, str], dest: Path) -> None:
    """Bring a complete raw folder from shared storage into raw/<job_id>/ whole, then delete it there."""
    fs, path = src
    if not fs.exists(f"{path}/{RAW_RECORD}"):
        raise BackendError(f"raw output {path} is incomplete or missing in shared storage")
    local = type(fs).__name__ == "LocalFileSystem"
    with atomic_dir(dest) as tmp:
        for f in fs.find(path):
            rel = f[len(path):].lstrip("/")
            target = inside(tmp, rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            if local:
                shutil.move(f, target)   # a rename when the shared path is on the workspace's file system
            else:
                fs.get_file(f, str(target))
    fs.rm(path, recursive=True)


# --- the driver's side ----------------------------------------------------------------------------

@dataclasses.dataclass
class _Actor:
    name: str                     # the worker's name (the actor's is name.generation)
    handle: Any
    stream: Any
    seq: int = 0
    items: deque = dataclasses.field(default_factory=deque)   # messages and transfers, in the order said
    ended: bool = False


class RayExecutor(Executor):
    """Options: `address` (None: a local Ray for this run; "auto"; host:port; ray://host:10001),
    `artifacts` (a path or fsspec URL every node and the driver can reach; None: the object store),
    `resource` (a custom resource that stands for one GPU, e.g. in tests; default num_gpus),
    `finish` ("driver": the orchestrator's CPU pool; "cluster": Ray tasks on any node's cores,
    which needs the workspace at the same path on every node), `chunk_mb`, `scratch` (node-local
    folder for raw outputs; default the system temp dir), `namespace` (default: derived from the
    workspace), `orphan_ttl_s`, `collect_delay_s` (fault injection for tests: wait before
    collecting each output)."""

    name = "ray"

    def __init__(self, address: str | None = None, artifacts: str | None = None, resource: str | None = None,
                 finish: str = "driver", chunk_mb: float = CHUNK_MB, scratch: str | None = None,
                 namespace: str | None = None, orphan_ttl_s: float = ORPHAN_TTL_S, collect_delay_s: float = 0.0,
                 collectors: int = 2) -> None:
        if ray is None:
            raise BackendError("--executor ray needs Ray: pip install 'synthcam[ray]'")
        if finish not in ("driver", "cluster"):
            raise InputError(f"ray executor: finish must be driver or cluster, got {finish!r}")
        if not 0.0625 <= chunk_mb <= 512:
            raise InputError(f"ray executor: chunk_mb must be 0.0625-512, got {chunk_mb}")
        if namespace is not None:
            check_id(namespace, "ray namespace")   # it names a scratch folder too
        if address is not None:
            _check_reachable(address)   # an unreachable cluster: an error before the workspace is touched
        self.address = address
        self.artifacts = artifacts
        self.resource = resource
        self.finish = finish
        self.chunk = int(chunk_mb * (1 << 20))
        self.scratch = scratch or str(Path(tempfile.gettempdir()) / "synthcam-ray")
        self.namespace = namespace
        self.orphan_ttl_s = orphan_ttl_s
        self.collect_delay_s = collect_delay_s
        self.ws_root: Path | None = None
        self.actors: dict[str, _Actor] = {}
        self.by_stream: dict[Any, str] = {}
        self.generation: dict[str, int] = {}
        self.connected = self.owns_ray = False
        self.context: Any = None
        self.pool = ThreadPoolExecutor(max(1, collectors), thread_name_prefix="ray-collect")
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.pinger: threading.Thread | None = None
        self.driver = (socket.gethostname(), os.getpid())
        if artifacts:
            _fs(artifacts)  # a bad URL or a missing fsspec driver: a clear error before anything starts

    # --- connection -------------------------------------------------------------------------

    def _connect(self, workspace: str | Path) -> None:
        root = Path(workspace).resolve()
        if self.ws_root is None:
            self.ws_root = root
            self.namespace = self.namespace or namespace_for(root)
        if self.connected:
            return
        if ray.is_initialized():   # a driver that is already connected (a notebook, a test) keeps its session
            self.connected = True
            self._start_pinger()
            return
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        common = dict(namespace=self.namespace, log_to_driver=False, configure_logging=False)
        try:
            if self.address is None:
                self.context = ray.init(address="local", include_dashboard=False, **common)
            else:
                self.context = ray.init(address=self.address, **common)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise BackendError(f"cannot start or reach Ray at {self.address or 'local'}: {exc}") from None
        self.connected = self.owns_ray = True
        self._start_pinger()

    def _start_pinger(self) -> None:
        if self.pinger is None:
            self.pinger = threading.Thread(target=self._ping_loop, daemon=True, name="ray-ping")
            self.pinger.start()

    def _ping_loop(self) -> None:
        while not self.stopping.wait(PING_EVERY_S):
            with self.lock:
                handles = [a.handle for a in self.actors.values() if not a.ended]
            for h in handles:
                with contextlib.suppress(Exception):
                    h.ping.remote()

    # --- the Executor seam ------------------------------------------------------------------

    def start(self, cfg: WorkerConfig) -> None:
        self._connect(cfg.workspace)
        generation = self.generation[cfg.worker] = self.generation.get(cfg.worker, 0) + 1
        options: dict[str, Any] = dict(name=f"{cfg.worker}.{generation}", namespace=self.namespace,
                                       lifetime="detached", max_restarts=0, max_concurrency=16, num_cpus=0)
        gpu_mode = "pinned"   # a local Ray: the worker takes the GPUs it was given, like the local executor
        if self.address is not None:
            if cfg.gpus and self.resource:
                options["resources"] = {self.resource: len(cfg.gpus)}
            elif cfg.gpus:
                options["num_gpus"], gpu_mode = len(cfg.gpus), "ray"
            else:
                options["num_cpus"] = 1   # a CPU backend's worker renders on a core
        opts = {"scratch": self.scratch, "namespace": self.namespace, "artifacts": self.artifacts,
                "driver": self.driver, "gpu_mode": gpu_mode, "orphan_ttl_s": self.orphan_ttl_s}
        handle = _actor_class().options(**options).remote(cfg, opts)
        stream = handle.run.options(num_returns="streaming").remote()
        with self.lock:
            self.actors[cfg.worker] = _Actor(cfg.worker, handle, stream)
            self.by_stream[stream] = cfg.worker

    def send(self, worker: str, message: Any) -> None:
        actor = self.actors.get(worker)
        if actor is None or actor.ended:
            return
        with contextlib.suppress(RayError):
            actor.handle.deliver.remote(actor.seq, message)
            actor.seq += 1

    def poll(self, timeout: float) -> list[Any]:
        out = self._drain()
        streams = [s for s, name in self.by_stream.items() if not self.actors[name].ended]
        end = time.monotonic() + (0 if out else timeout)
        while True:
            slice_s = max(0.0, end - time.monotonic())
            if self._collecting():
                slice_s = min(slice_s, 0.005)   # a transfer may finish meanwhile: look again soon
            if streams:
                ready, _ = ray.wait(streams, num_returns=1, timeout=slice_s)
                if ready:
                    ready, _ = ray.wait(streams, num_returns=len(streams), timeout=0)
                    for stream in ready:
                        self._read(stream)
                    break
            elif slice_s:
                time.sleep(slice_s)
            if time.monotonic() >= end or self._ready():
                break
        return out + self._drain()

    def kill(self, worker: str) -> None:
        actor = self.actors.get(worker)
        if actor is not None:
            with contextlib.suppress(Exception):
                ray.kill(actor.handle, no_restart=True)

    def stop(self, grace_s: float = 10.0) -> None:
        for name in list(self.actors):
            self.send(name, Stop())
        end = time.monotonic() + grace_s
        while any(not a.ended for a in self.actors.values()) and time.monotonic() < end:
            self.poll(min(0.2, max(0.0, end - time.monotonic())))
        self._kill_all()

    def terminate(self) -> None:
        self._kill_all()

    def close(self) -> None:
        self._kill_all()
        self.stopping.set()
        self.pool.shutdown(wait=True, cancel_futures=True)
        if self.owns_ray:
            with contextlib.suppress(Exception):
                ray.shutdown()
            self.owns_ray = self.connected = False

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"executor": self.name, "namespace": self.namespace, "finish": self.finish,
                               "artifacts": mask_secrets(self.artifacts) if self.artifacts else "object store"}
        if self.connected:
            with contextlib.suppress(Exception):
                out["address"] = ray.get_runtime_context().gcs_address
            url = getattr(self.context, "dashboard_url", None)
            if url is None:
                with contextlib.suppress(Exception):
                    from ray._private.worker import get_dashboard_url

                    url = get_dashboard_url()
            if url:
                out[DASHBOARD_KEY] = url if "://" in url else f"http://{url}"
            with contextlib.suppress(Exception):
                out["nodes"] = sum(1 for n in ray.nodes() if n.get("Alive"))
        return out

    def finish_pool(self, workers: int, timeout_s: float) -> Any:
        return RayFinishPool(self, timeout_s) if self.finish == "cluster" else None

    def recover(self, ws_root: str | Path, wanted: set[str]) -> int:
        """Before a run: collect what a dead driver's actors (or shared storage) still hold for the
        jobs in `wanted` into raw/<job_id>/, so they are finished, not generated again; then retire
        those actors. Actors of a live driver on the same workspace are left alone."""
        root = Path(ws_root).resolve()
        self.ws_root = self.ws_root or root
        self.namespace = self.namespace or namespace_for(root)
        got = 0
        if self.address is not None:
            self._connect(root)
            got += self._recover_actors(root, wanted)
        if self.artifacts:
            got += self._recover_shared(root, wanted)
        return got

    # --- streams and transfers --------------------------------------------------------------

    def _read(self, stream: Any) -> None:
        name = self.by_stream[stream]
        actor = self.actors[name]
        try:
            batch = ray.get(next(stream))
        except StopIteration:
            self._ended(actor, "the worker exited")
            return
        except RayActorError as exc:   # ActorDiedError, or ActorUnavailableError when its node is gone
            self._ended(actor, _why(exc))
            return
        except RayError as exc:
            self._ended(actor, _why(exc))
            return
        for m in batch:
            if isinstance(m, (Generated, Finished)):
                actor.items.append(self.pool.submit(self._collect, actor.handle, m))
            else:
                actor.items.append(m)

    def _ended(self, actor: _Actor, detail: str) -> None:
        actor.ended = True
        actor.items.append(Died(actor.name, detail))
        with contextlib.suppress(Exception):
            ray.kill(actor.handle, no_restart=True)   # a node that comes back must not run it on

    def _collecting(self) -> bool:
        return any(isinstance(i, Future) and not i.done() for a in self.actors.values() for i in a.items)

    def _ready(self) -> bool:
        return any(a.items and not (isinstance(a.items[0], Future) and not a.items[0].done())
                   for a in self.actors.values())

    def _drain(self) -> list[Any]:
        """Each worker's messages in order; a Generated waits until its output is home."""
        out = []
        for name, actor in list(self.actors.items()):
            while actor.items:
                head = actor.items[0]
                if isinstance(head, Future):
                    if not head.done():
                        break
                    head = head.result()
                actor.items.popleft()
                out.append(head)
                if isinstance(head, Died):
                    with self.lock:
                        del self.actors[name]
                        self.by_stream = {s: n for s, n in self.by_stream.items() if n != name}
                    break
        return out

    def _collect(self, handle: Any, m: Generated | Finished) -> Any:
        """Bring one output home into raw/<job_id>/ (complete or absent), ack it, pass the message on."""
        if self.collect_delay_s:
            time.sleep(self.collect_delay_s)
        try:
            self._bring_home(handle, m.job_id)
        except RayActorError:
            # the actor (or its node) died with the output: the job goes back to the queue untouched,
            # as a batch's unstarted job does; only the job it was generating is blamed (on Died)
            with contextlib.suppress(Exception):
                ray.kill(handle, no_restart=True)
            return Idle(m.worker, (m.job_id,))
        except Exception as exc:   # the driver's disk is full, the transfer broke
            detail = _why(exc) if isinstance(exc, RayError) else f"{type(exc).__name__}: {exc}"
            return Failed(m.worker, m.job_id, "error", f"raw output could not be brought home: {detail}", True,
                          gpu_seconds=m.gpu_seconds)
        if isinstance(m, Finished) and m.verdict.staged:
            staged = self._home(m.job_id) / Path(m.verdict.staged).name
            if _sha256(staged) != m.verdict.sha256:
                return Failed(m.worker, m.job_id, "error", "the clip changed on its way home (sha256 differs)", True,
                              gpu_seconds=m.gpu_seconds)
            m = dataclasses.replace(m, verdict=dataclasses.replace(m.verdict, staged=str(staged)))
        return m

    def _home(self, job_id: str) -> Path:
        assert self.ws_root is not None
        return inside(self.ws_root / "raw", check_id(job_id, "job id"))

    def _bring_home(self, handle: Any, job_id: str) -> None:
        dest = self._home(job_id)
        if self.artifacts:
            _download(_shared_dir(self.artifacts, self.namespace or "", job_id), dest)
        else:
            stream_home(handle, job_id, dest, self.chunk)
        with contextlib.suppress(RayError):
            handle.ack.remote(job_id)

    def _kill_all(self) -> None:
        with self.lock:
            actors = list(self.actors.values())
            self.actors.clear()
            self.by_stream.clear()
        for a in actors:
            with contextlib.suppress(Exception):
                ray.kill(a.handle, no_restart=True)

    # --- recovery after a dead driver -------------------------------------------------------

    def _recover_actors(self, root: Path, wanted: set[str]) -> int:
        got = 0
        names = [a["name"] if isinstance(a, dict) else a
                 for a in ray.util.list_named_actors(all_namespaces=True)
                 if not isinstance(a, dict) or a.get("namespace") == self.namespace]
        for name in names:
            try:
                handle = ray.get_actor(name, namespace=self.namespace)
                info = ray.get(handle.info.remote(), timeout=30)
            except (ValueError, RayError):
                continue
            if not _orphaned(info):
                continue
            for job_id, where in info["kept"].items():
                if job_id in wanted and not (self._home(job_id) / RAW_RECORD).exists():
                    with contextlib.suppress(Exception):
                        if where == "shared":
                            _download(_shared_dir(self.artifacts or "", self.namespace or "", job_id),
                                      self._home(job_id))
                        else:
                            stream_home(handle, job_id, self._home(job_id), self.chunk)
                        got += 1
            with contextlib.suppress(Exception):
                ray.kill(handle, no_restart=True)
        return got

    def _recover_shared(self, root: Path, wanted: set[str]) -> int:
        fs, base = _fs(self.artifacts or "")
        got = 0
        for record in fs.glob(f"{base.rstrip('/')}/{self.namespace}/*/{RAW_RECORD}"):
            job_id = record.rstrip("/").split("/")[-2]
            if job_id in wanted and not (self._home(job_id) / RAW_RECORD).exists():
                with contextlib.suppress(Exception):
                    _download(_shared_dir(self.artifacts or "", self.namespace or "", job_id), self._home(job_id))
                    got += 1
        return got


def stream_home(handle: Any, job_id: str, dest: Path, chunk: int) -> None:
    """Chunks through the object store into a temp folder swapped into place whole; each chunk is
    released as soon as it is written, so the driver holds one chunk at a time."""
    with atomic_dir(dest) as tmp:
        stream = handle.fetch.options(num_returns="streaming").remote(job_id, chunk)
        sizes: dict[str, int] | None = None
        fh, current = None, None
        try:
            for ref in stream:
                item = ray.get(ref)
                del ref
                if sizes is None:
                    sizes = item
                    continue
                rel, data = item
                if rel != current:
                    if fh:
                        fh.close()
                    target = inside(tmp, rel)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    fh, current = open(target, "wb"), rel
                fh.write(data)
        finally:
            if fh:
                fh.close()
        got = {str(p.relative_to(tmp)): p.stat().st_size for p in tmp.rglob("*") if p.is_file()}
        if sizes is None or got != sizes or RAW_RECORD not in got:
            raise BackendError(f"raw output of {job_id} arrived incomplete ({len(got)} of {len(sizes or {})} files)")


class RayFinishPool:
    """The orchestrator's finishing pool as Ray tasks on any node's CPUs (`finish="cluster"`):
    the same interface as verify.pool.TaskPool. Each task reads and writes only inside the
    job's raw folder, so the workspace must be at the same path on every node."""

    def __init__(self, executor: RayExecutor, timeout_s: float) -> None:
        self.executor = executor
        self.timeout_s = timeout_s
        self.refs: dict[Any, tuple[Any, float]] = {}
        self.remote: Any = None

    def submit(self, key: Any, args: tuple[Any, ...]) -> None:
        from ..finishing import finish

        self.executor._connect(args[0].workspace)
        if self.remote is None:
            self.remote = ray.remote(finish).options(num_cpus=1, max_retries=2)
        self.refs[self.remote.remote(*args)] = (key, time.monotonic())

    def busy(self) -> int:
        return len(self.refs)

    def poll(self, timeout: float = 0.0) -> list[tuple[Any, Any]]:
        from ...verify.pool import TaskFailed

        if not self.refs:
            return []
        ready, _ = ray.wait(list(self.refs), num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(list(self.refs), num_returns=len(self.refs), timeout=0)
        out = []
        for ref in ready:
            key, _ = self.refs.pop(ref)
            try:
                out.append((key, ray.get(ref)))
            except RayError as exc:
                out.append((key, TaskFailed(_why(exc))))
        now = time.monotonic()
        for ref, (key, began) in list(self.refs.items()):
            if now - began > self.timeout_s:
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
                del self.refs[ref]
                out.append((key, TaskFailed(f"no result after {self.timeout_s:g} s")))
        return out

    def close(self) -> None:
        for ref in self.refs:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        self.refs.clear()


# --- helpers --------------------------------------------------------------------------------------

def namespace_for(root: Path) -> str:
    """One Ray namespace per workspace: a restarted driver finds its actors by name there."""
    return "synthcam-" + hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:12]


def _orphaned(info: dict[str, Any]) -> bool:
    host, pid = info["driver"]
    if host == socket.gethostname():
        from ...fsutil import pid_alive

        if not pid_alive(pid):
            return True
    return info["pinged_s_ago"] > ORPHAN_AFTER_S


def _why(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}"[:300]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _check_reachable(address: str) -> None:
    """ray.init retries an unreachable GCS without end: refuse a host:port nobody answers first."""
    if address in ("auto", "local") or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except (OSError, ValueError) as exc:
        raise BackendError(f"no Ray cluster answers at {address}: {exc}") from None
