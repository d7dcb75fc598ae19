"""Fixtures for publishing tests: a sandboxed git, tiny verified clips, a bare remote, giftless.

Shared by tests/publish (through conftest) and tests/cli/test_publish_cli.py (by import).
Git never sees the user's config: HOME and GIT_CONFIG_GLOBAL point into a temp folder.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from synthcam.publish.testserver import LfsTestServer
from synthcam.store import JobSpec, JobStore

__all__ = ["Bench", "git_sandbox", "lfs_server", "make_bench", "make_clip", "pointer_text"]

GIT_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ASKPASS", "SSH_ASKPASS")


@pytest.fixture
def git_sandbox(tmp_path_factory, monkeypatch) -> Path:
    """A private HOME and global git config; git-lfs retries briefly so fault tests stay fast."""
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text(
        "[user]\n\tname = synthcam tests\n\temail = tests@synthcam.invalid\n"
        "[init]\n\tdefaultBranch = main\n"
        "[lfs \"transfer\"]\n\tmaxretries = 1\n\tmaxretrydelay = 1\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    for var in GIT_VARS:
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture(scope="session")
def lfs_server(tmp_path_factory) -> Iterator[LfsTestServer]:
    """One giftless for the session; each test gets its own <org>/<repo> in it."""
    with LfsTestServer(tmp_path_factory.mktemp("giftless") / "storage") as server:
        yield server


def make_clip(path: Path, seed: int, frames: int = 4) -> str:
    """A tiny real mp4 (64x48 noise); returns its sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=Fraction(24))
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for _ in range(frames):
            img = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(stream.encode(None))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pointer_text(oid: str, size: int) -> str:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@dataclass
class Bench:
    """A workspace that is also a git work tree, with a bare remote and an LFS endpoint."""

    ws: Path
    bare: Path
    org: str
    repo: str
    server: LfsTestServer | None
    shas: dict[str, str]

    def git(self, *args: str) -> str:
        return git(self.ws, *args)

    def remote_git(self, *args: str) -> str:
        return git(self.bare, *args)

    def on_server(self, oid: str) -> Path:
        if self.server is None:
            return self.bare / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
        return self.server.object_path(self.org, self.repo, oid)

    def store(self) -> JobStore:
        return JobStore(self.ws / "synthcam.db")

    def point_at(self, server: LfsTestServer, user_info: str = "") -> None:
        url = server.url(self.org, self.repo)
        self.git("config", "lfs.url", url.replace("http://", f"http://{user_info}@") if user_info else url)
        self.server = server


def _job(name: str) -> JobSpec:
    clip_id, duration = name.split("_")
    return JobSpec(job_id=hashlib.sha256(name.encode()).hexdigest()[:24], name=name, clip_id=clip_id,
                   series=clip_id[0], duration_s=int(duration.rstrip("s")), backend="procedural", model="test",
                   seed=1, spec={}, cost_s=1.0)


def make_bench(root: Path, server: LfsTestServer | None, names: tuple[str, ...] = ("P01_5s", "P02_5s", "T01_10s"),
               truth: bool = True, repo: str | None = None) -> Bench:
    """Done jobs with tiny clips (+ ground truth) in `root/ws`, a git repo there, and its remote."""
    ws, bare = root / "ws", root / "remote.git"
    shas = {}
    with JobStore(ws / "synthcam.db") as store:
        specs = [_job(n) for n in names]
        store.sync(specs)
        store.claim("w", limit=len(specs))
        for i, spec in enumerate(specs):
            shas[spec.name] = make_clip(ws / "clips" / f"{spec.name}.mp4", seed=i)
            if truth:
                gt = ws / "clips" / f"{spec.name}.gt"
                gt.mkdir()
                (gt / "boxes.json").write_text(f'{{"clip": "{spec.name}", "boxes": []}}\n')
            store.start(spec.job_id, "w")
            store.complete(spec.job_id, f"clips/{spec.name}.mp4", shas[spec.name], {}, [], worker="w")
    (ws / ".gitignore").write_text("synthcam.db*\nstaging/\nlogs/\n")
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git(ws.parent, "init", "-q", str(ws))
    git(ws, "remote", "add", "origin", str(bare))
    bench = Bench(ws, bare, "synthcam", repo or root.name.replace("_", "-"), None, shas)
    if server is not None:
        bench.point_at(server)
    return bench
