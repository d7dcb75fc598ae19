"""The Ray executor on a real Ray cluster of three nodes on this machine (ray.cluster_utils.Cluster),
each advertising one `synthcam_gpu`, a custom resource that stands for a GPU.

Same clips as the local executor, batches on actors, artifacts home through the object store or
shared storage, finishing as Ray tasks, and seeded fault trials: a node removed mid-run, an actor
killed mid-job, the driver killed with kill -9 and started again. After each trial every job is
done exactly once and every final file is the verified one. SYNTHCAM_RAY_TRIALS sets the trials
per fault (default 3 here; docs/cluster.md records a run with 10).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

os.environ.setdefault("RAY_AUTH_MODE", "disabled")               # loopback test clusters: no token files
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # keep every address on 127.0.0.1
from helpers import assert_only_verified_on_disk, fake_cosmos_checkout, skip_unless_ci  # noqa: E402

try:
    import ray
except ImportError:  # the `ray` extra: `make test` installs it, so in CI its absence is a failure
    skip_unless_ci("ray is not installed (pip install -e '.[ray]')")
from ray.cluster_utils import Cluster  # noqa: E402

from synthcam.engine.executors.ray import namespace_for  # noqa: E402
from synthcam.engine.runner import RunOptions, run  # noqa: E402
from synthcam.store import JobStore  # noqa: E402

TESTS = Path(__file__).parent.parent
TINY = TESTS / "data" / "tiny.yaml"
TRIALS = int(os.environ.get("SYNTHCAM_RAY_TRIALS", "3"))
RESOURCE = "synthcam_gpu"
NODE = dict(num_cpus=2, resources={RESOURCE: 1}, object_store_memory=80 << 20, node_ip_address="127.0.0.1")
FAST_HEALTH = {"health_check_period_ms": 500, "health_check_timeout_ms": 500,
               "health_check_failure_threshold": 3, "health_check_initial_delay_ms": 0}

pytestmark = pytest.mark.timeout(300)


class ThreeNodes:
    """The module's cluster: the head plus two nodes; a removed node is replaced before the next test."""

    def __init__(self, temp_dir: str) -> None:
        self.cluster = Cluster(initialize_head=True, head_node_args=dict(
            NODE, include_dashboard=False, temp_dir=temp_dir, _system_config=FAST_HEALTH))
        self.nodes = [self.cluster.add_node(**NODE) for _ in range(2)]
        self.cluster.wait_for_nodes()
        self.address = self.cluster.address

    def remove_one(self, rng: random.Random) -> None:
        victim = rng.choice(self.nodes)
        self.nodes.remove(victim)
        self.cluster.remove_node(victim, allow_graceful=False)

    def restore(self) -> None:
        while len(self.nodes) < 2:
            self.nodes.append(self.cluster.add_node(**NODE))
        self.cluster.wait_for_nodes()


def _ray_processes_under(temp_dir: str) -> list[int]:
    """Ray processes whose open files are in this cluster's temp dir (agents can outlive a shutdown)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            fds = os.listdir(f"/proc/{entry}/fd")
            if any(os.readlink(f"/proc/{entry}/fd/{fd}").startswith(temp_dir) for fd in fds):
                out.append(int(entry))
        except OSError:
            continue
    return out


@pytest.fixture(scope="module")
def cluster():
    import tempfile

    temp_dir = tempfile.mkdtemp(prefix="rt-", dir="/tmp")   # short: Ray's socket paths must stay < 108 bytes
    c = ThreeNodes(temp_dir)
    ray.init(address=c.address, log_to_driver=False, configure_logging=False, namespace="synthcam-tests")
    try:
        yield c
    finally:
        ray.shutdown()
        c.cluster.shutdown()
        end = time.time() + 10
        while _ray_processes_under(temp_dir) and time.time() < end:
            time.sleep(0.2)
        for pid in _ray_processes_under(temp_dir):  # only our cluster's leftovers, by pid
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def whole_cluster(request):
    """Every test starts with three nodes and leaves none of its actors behind."""
    if "cluster" in request.fixturenames:
        c = request.getfixturevalue("cluster")
        c.restore()
        yield
        for a in ray.util.list_named_actors(all_namespaces=True):
            if a["namespace"].startswith("synthcam-") and a["namespace"] != "synthcam-tests":
                try:
                    ray.kill(ray.get_actor(a["name"], namespace=a["namespace"]))
                except (ValueError, ray.exceptions.RayError):
                    pass
    else:
        yield


def ray_opts(cluster: ThreeNodes, tmp_path: Path, **kw) -> RunOptions:
    executor = {"address": cluster.address, "resource": RESOURCE, "scratch": str(tmp_path / "scratch"),
                **kw.pop("executor_options", {})}
    base = dict(backend="sleep", gpus=["0", "1", "2"], lease_s=5, interpolation="blend", backoff_s=0.1,
                backend_options={"gen_s": 0.3}, executor="ray", executor_options=executor)
    base.update(kw)
    return RunOptions(**base)


def _manifest(tmp_path: Path, extra_clips: int = 0) -> Path:
    text = TINY.read_text() + "".join(
        f"  - {{id: K{i:02d}, group: g, scenario: k{i}, purpose: test, scene: yard, environment: day,"
        f" subjects: [walker], action: cross, expected_risk: low}}\n" for i in range(extra_clips))
    path = tmp_path / "m.yaml"
    path.write_text(text)
    return path


def _jobs(ws: Path) -> tuple[list, dict[str, int], list]:
    store = JobStore(ws / "synthcam.db")
    try:
        jobs = store.jobs()
        done: dict[str, int] = {}
        for e in store.events(kinds=["done", "adopted"], limit=100_000):
            done[e["job_id"]] = done.get(e["job_id"], 0) + 1
        return jobs, done, store.workers()
    finally:
        store.close()


def assert_done_exactly_once(ws: Path, clips: int) -> list:
    jobs, done, _ = _jobs(ws)
    assert len(jobs) == clips and all(j.state == "done" for j in jobs), {j.name: j.state for j in jobs}
    assert done == {j.job_id: 1 for j in jobs}, "every job must be recorded done exactly once"
    assert_only_verified_on_disk(ws)
    assert not any((ws / "raw").iterdir()), "raw outputs are removed once their clip lands"
    return jobs


# --- same clips, batches on actors, artifacts home ---------------------------------------------------

def test_procedural_clips_are_byte_identical_to_the_local_executor(cluster, tmp_path):
    """Clips and their ground truth: the same bytes and the same verified records either way."""
    from synthcam.verify.policy import load_policy

    (tmp_path / "policy.yaml").write_text("checks: {cut_short: off}\n")  # a 1 s clip is too short to cross
    policy = load_policy(tmp_path / "policy.yaml")
    local = run(TINY, tmp_path / "local", RunOptions(backend="procedural", workers=2, lease_s=5, policy=policy))
    remote = run(TINY, tmp_path / "ray", ray_opts(cluster, tmp_path, backend="procedural", gpus=[], workers=2,
                                                  backend_options={}, policy=policy))
    assert local.ok and remote.ok and remote.done == 6

    def tree(ws: Path) -> dict[str, bytes]:
        return {p.relative_to(ws / "clips").as_posix(): p.read_bytes() for p in (ws / "clips").rglob("*") if p.is_file()}

    mine, theirs = tree(tmp_path / "ray"), tree(tmp_path / "local")
    assert len([n for n in theirs if n.endswith(".mp4")]) == 6 and any(".gt/" in n for n in theirs)
    assert sorted(mine) == sorted(theirs)
    assert [n for n in theirs if mine[n] != theirs[n]] == []
    assert_done_exactly_once(tmp_path / "ray", 6)
    sha = {j.name: j.sha256 for j in _jobs(tmp_path / "local")[0]}
    assert {j.name: j.sha256 for j in _jobs(tmp_path / "ray")[0]} == sha
    _, _, workers = _jobs(tmp_path / "ray")
    assert {w.executor for w in workers} == {"ray"} and all(w.node for w in workers)


def test_sleep_backend_batches_run_on_actors_one_per_gpu_node(cluster, tmp_path):
    from synthcam.cli.engine import read_status

    ws = tmp_path / "ws"
    result = run(_manifest(tmp_path, 3), ws, ray_opts(cluster, tmp_path))
    assert result.ok and result.done == 12
    jobs = assert_done_exactly_once(ws, 12)
    _, _, workers = _jobs(ws)
    assert len(workers) == 3 and len({w.node for w in workers}) == 3   # one actor per "GPU" node
    assert all(w.executor == "ray" for w in workers)
    assert sum(w.jobs_done for w in workers) == 12 and all(j.starts == 1 for j in jobs)
    status = read_status(ws)
    assert status["executor"]["executor"] == "ray" and status["executor"]["namespace"] == namespace_for(ws)
    # the node-local scratch is empty: every output came home and was acked
    assert not [p for p in (tmp_path / "scratch").rglob("*") if p.is_file()]


def test_fake_cosmos_batches_run_on_actors(cluster, tmp_path):
    checkout = fake_cosmos_checkout(tmp_path / "checkout")
    options = {"checkout": str(checkout), "python": sys.executable, "poll_s": 0.05, "kill_grace_s": 2,
               "env": {"FAKE_COSMOS_FAULTS": "{}"}}
    ws = tmp_path / "ws"
    result = run(TESTS / "data" / "cosmos_tiny.yaml", ws,
                 ray_opts(cluster, tmp_path, backend="cosmos", gpus=["0", "1"], backend_options=options))
    assert result.ok and result.done == 3
    jobs, _, workers = _jobs(ws)
    assert all(j.probe["fps"] == 24 and j.probe["frames"] == j.spec["frames"] for j in jobs)
    assert {w.executor for w in workers} == {"ray"} and sum(w.model_loads for w in workers) == len(workers)
    assert_only_verified_on_disk(ws)


def test_shared_storage_artifacts_and_finishing_as_ray_tasks(cluster, tmp_path):
    shared = tmp_path / "shared"
    ws = tmp_path / "ws"
    opts = ray_opts(cluster, tmp_path, executor_options={"artifacts": str(shared), "finish": "cluster"})
    result = run(TINY, ws, opts)
    assert result.ok
    assert_done_exactly_once(ws, 6)
    assert not [p for p in shared.rglob("*") if p.is_file()], "shared storage is emptied once outputs are home"


# --- faults -----------------------------------------------------------------------------------------

def _live_actor_pids(ws: Path) -> list[int]:
    ns = namespace_for(ws)
    pids = []
    for a in ray.util.list_named_actors(all_namespaces=True):
        if a["namespace"] == ns:
            try:
                pids.append(ray.get(ray.get_actor(a["name"], namespace=ns).info.remote(), timeout=5)["pid"])
            except (ValueError, ray.exceptions.RayError):
                pass
    return sorted(pids)


def _running(ws: Path) -> bool:
    if not (ws / "synthcam.db").exists():
        return False
    jobs, _, _ = _jobs(ws)
    return any(j.state == "running" for j in jobs)


def _fault_trials(tmp_path: Path, cluster: ThreeNodes, seed: int, fault) -> None:
    """Each trial: a fresh workspace, a fault at a seeded moment while jobs are running, then the
    run must still end with every job done once; blame reaches only the job in flight."""
    rng = random.Random(seed)
    manifest = _manifest(tmp_path, 3)
    hit = blamed = 0
    for trial in range(TRIALS):
        ws = tmp_path / f"ws{trial}"
        delay = rng.uniform(0.3, 1.5)
        fired = threading.Event()

        def inject(ws=ws, delay=delay):
            end = time.time() + 60
            while not _running(ws) and time.time() < end:
                time.sleep(0.05)
            time.sleep(delay)
            if _running(ws):
                fault(ws, rng)
                fired.set()

        t = threading.Thread(target=inject, daemon=True)
        t.start()
        result = run(manifest, ws, ray_opts(cluster, tmp_path, max_attempts=3))
        t.join(30)
        cluster.restore()
        assert result.ok, result
        jobs = assert_done_exactly_once(ws, 12)
        assert sum(j.attempts for j in jobs) <= 1, {j.name: (j.attempts, j.error_kind, j.error) for j in jobs if j.attempts}
        hit += fired.is_set()
        blamed += sum(j.attempts for j in jobs)
    print(f"{fault.__name__}: fired in {hit} of {TRIALS} trials, {blamed} of them hit a job in flight")
    assert hit >= max(1, TRIALS - 1), f"the fault fired in only {hit} of {TRIALS} trials"


@pytest.mark.slow
def test_an_actor_killed_mid_job_blames_only_its_job(cluster, tmp_path):
    def kill_actor(ws: Path, rng: random.Random) -> None:
        pids = _live_actor_pids(ws)
        if pids:
            os.kill(rng.choice(pids), signal.SIGKILL)

    _fault_trials(tmp_path, cluster, 20261301, kill_actor)


@pytest.mark.slow
def test_a_node_removed_mid_run_returns_its_jobs(cluster, tmp_path):
    def remove_node(ws: Path, rng: random.Random) -> None:
        cluster.remove_one(rng)

    _fault_trials(tmp_path, cluster, 20261302, remove_node)


DRIVER = """
import json, sys
from synthcam.engine.runner import RunOptions, run
a = json.loads(sys.argv[1])
opts = RunOptions(backend="sleep", gpus=["0", "1", "2"], lease_s=5, interpolation="blend", backoff_s=0.1,
                  backend_options={"gen_s": a["gen_s"], "log": a["log"]}, executor="ray",
                  executor_options=a["executor"])
r = run(a["manifest"], a["ws"], opts)
sys.exit(0 if r.ok else 1)
"""


def _driver(cluster: ThreeNodes, tmp_path: Path, ws: Path, manifest: Path, log: Path, gen_s: float = 0.3,
            **executor) -> subprocess.Popen:
    args = {"manifest": str(manifest), "ws": str(ws), "log": str(log), "gen_s": gen_s,
            "executor": {"address": cluster.address, "resource": RESOURCE, "scratch": str(tmp_path / "scratch"),
                         **executor}}
    env = {**os.environ, "PYTHONPATH": str(TESTS) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-c", DRIVER, json.dumps(args)], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _generated(log: Path) -> list[str]:
    return [line.split()[0] for line in log.read_text().splitlines()] if log.exists() else []


@pytest.mark.slow
def test_a_restarted_driver_collects_what_the_killed_one_left_on_the_cluster(cluster, tmp_path):
    """The driver is killed while actors hold finished outputs it has not collected (it waits
    before collecting): the next driver collects them from the same detached actors, so none of
    them is generated again."""
    manifest, ws, log = _manifest(tmp_path, 3), tmp_path / "ws", tmp_path / "gen.log"
    p = _driver(cluster, tmp_path, ws, manifest, log, gen_s=0.4, collect_delay_s=60)
    end = time.time() + 90
    while len(_generated(log)) < 4 and time.time() < end and p.poll() is None:
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    left = set(_generated(log))
    assert len(left) >= 4, p.stderr.read()[-2000:] if p.stderr else ""
    again = _driver(cluster, tmp_path, ws, manifest, log)
    _, err = again.communicate(timeout=180)
    assert again.returncode == 0, err[-3000:]
    assert_done_exactly_once(ws, 12)
    made = _generated(log)
    assert all(made.count(name) == 1 for name in left), {n: made.count(n) for n in left if made.count(n) > 1}
    assert not _live_actor_pids(ws)


@pytest.mark.slow
def test_kill9_the_driver_at_random_then_resume(cluster, tmp_path):
    rng = random.Random(20261303)
    manifest = _manifest(tmp_path, 3)
    interrupted = 0
    for trial in range(TRIALS):
        ws, log = tmp_path / f"ws{trial}", tmp_path / f"gen{trial}.log"
        p = _driver(cluster, tmp_path, ws, manifest, log)
        end = time.time() + 60
        while not _running(ws) and time.time() < end and p.poll() is None:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.2, 2.0))
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        if (ws / "synthcam.db").exists():
            assert_only_verified_on_disk(ws)
            jobs, _, _ = _jobs(ws)
            interrupted += any(j.state != "done" for j in jobs)
        again = _driver(cluster, tmp_path, ws, manifest, log)
        _, err = again.communicate(timeout=180)
        assert again.returncode == 0, err[-3000:]
        jobs = assert_done_exactly_once(ws, 12)
        assert sum(j.attempts for j in jobs) == 0, "a killed driver blames nobody"
        assert not _live_actor_pids(ws), "the old run's actors are retired"
    print(f"kill -9 driver: {interrupted} of {TRIALS} kills interrupted unfinished work")
    assert interrupted >= max(1, TRIALS - 1)


# --- without a cluster -------------------------------------------------------------------------------

def test_without_an_address_a_run_starts_its_own_ray_and_stops_it(tmp_path):
    """`synthcam run --executor ray` on one machine: a private local Ray for the run, the same
    verified clips as `--executor local`, and no Ray process left once the command returns."""
    import tempfile

    ray_tmp = tempfile.mkdtemp(prefix="rl-", dir="/tmp")   # short: Ray's socket paths must stay < 108 bytes
    (tmp_path / "policy.yaml").write_text("checks: {cut_short: off}\n")
    ws = tmp_path / "ws"
    cmd = [sys.executable, "-m", "synthcam", "run", "-m", str(TINY), "-w", str(ws), "--backend", "procedural",
           "--workers", "2", "--only", "A01", "--verify-policy", str(tmp_path / "policy.yaml"), "--executor", "ray",
           "--json"]
    try:
        p = subprocess.run(cmd, env={**os.environ, "RAY_TMPDIR": ray_tmp, "TMPDIR": str(tmp_path)},
                           capture_output=True, text=True, timeout=240)
        assert p.returncode == 0, p.stderr[-3000:]
        assert json.loads(p.stdout)["verified"] == 2
        jobs, done, workers = _jobs(ws)
        assert {j.name: j.state for j in jobs if j.state == "done"} == {"A01_1s": "done", "A01_2s": "done"}
        assert sorted(done.values()) == [1, 1]
        assert_only_verified_on_disk(ws)
        assert {w.executor for w in workers} == {"ray"}
        status = json.loads((ws / "generation_status.json").read_text())
        assert status["executor"]["executor"] == "ray" and "dashboard_url" not in status
        end = time.time() + 20
        while _ray_processes_under(ray_tmp) and time.time() < end:
            time.sleep(0.2)
        assert not _ray_processes_under(ray_tmp), "the run's own Ray must stop with it"
    finally:
        for pid in _ray_processes_under(ray_tmp):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(ray_tmp, ignore_errors=True)


def test_an_unreachable_cluster_is_a_one_line_error_before_anything_is_written(tmp_path):
    import socket

    from helpers import assert_one_line_error, invoke

    with socket.socket() as s:   # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = invoke("run", "-w", tmp_path / "ws", "--executor", "ray", "--address", f"127.0.0.1:{port}", "-q")
    assert_one_line_error(result, "no Ray cluster answers", code=1)
    assert not (tmp_path / "ws").exists()


def test_status_shows_workers_by_node_and_gpu_and_the_dashboard(tmp_path):
    """What the executor records (its workers' nodes, the dashboard address in the store's meta)
    is what `synthcam status` shows; a later run without a dashboard removes the address."""
    from rich.console import Console

    from synthcam.cli.engine import _render_status
    from synthcam.engine.executors import record_executor
    from synthcam.engine.status import derive_status

    store = JobStore(tmp_path / "synthcam.db")
    try:
        for worker, node, gpus in (("r-w1", "10.0.0.9 77aa0b1c", "0"), ("r-w0", "10.0.0.7 5f2a9c1e", "1"),
                                   ("r-w2", "10.0.0.7 5f2a9c1e", "0")):
            store.register_worker(worker, "r", gpus, node=node, executor="ray")
        record_executor(store, {"executor": "ray", "dashboard_url": "http://10.0.0.1:8265"})
        status = derive_status(store)
        assert status["dashboard_url"] == "http://10.0.0.1:8265"
        console = Console(width=160, record=True)
        console.print(_render_status(status))
        text = console.export_text()
        assert "Ray dashboard: http://10.0.0.1:8265" in text
        rows = [line for line in text.splitlines() if "r-w" in line]
        assert [r.split()[1] for r in rows] == ["r-w2", "r-w0", "r-w1"], text   # by node, then GPU
        record_executor(store, {"executor": "local"})
        assert "dashboard_url" not in derive_status(store)
    finally:
        store.close()
