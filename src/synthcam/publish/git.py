"""Thin typed wrappers over `git` and `git lfs`: list argv (never a shell), output redacted.

Each method is one git command whose exit codes we understand; anything else becomes a
GitError carrying the command's (redacted) last lines, so a failure is never silent and a
token in a remote URL never reaches the terminal.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import GitError, RepositoryError
from .redact import redact

__all__ = ["Git", "GitCredentials", "IndexEntry"]

POINTER_MAX = 1024  # git-lfs parses only blobs smaller than this


def _tail(data: bytes, lines: int = 6) -> str:
    text = data.decode("utf-8", "replace").replace("\r", "\n")
    kept = [ln.strip() for ln in text.splitlines() if ln.strip()][-lines:]
    return redact(" | ".join(kept)) or "no output"


def _nul(items: Iterable[str]) -> bytes:
    return b"".join(s.encode() + b"\0" for s in items)


@dataclass(frozen=True)
class IndexEntry:
    path: str  # relative to the top of the work tree, '/'-separated
    blob: str


class Git:
    """`git` run at the top of one work tree."""

    def __init__(self, top: Path, env: Mapping[str, str] | None = None) -> None:
        self.top = Path(top)
        self.env = dict(env or {})

    @classmethod
    def find(cls, path: Path) -> Git:
        """The work tree that contains `path`."""
        path = Path(path).resolve()
        if not path.is_dir():
            raise RepositoryError(f"{path} is not a folder")
        proc = Git(path).run("rev-parse", "--show-toplevel", ok=(0, 128))
        if proc.returncode:
            raise RepositoryError(f"{path} is not inside a git work tree: run `git init` there and "
                                  "`git remote add origin URL`, or pass --path to a folder inside one")
        return cls(Path(proc.stdout.decode().strip()))

    def run(self, *args: str, input: bytes | None = None, ok: Container[int] = (0,), literal: bool = False,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        full_env = {**os.environ, **self.env, **(env or {})}
        if literal:
            full_env["GIT_LITERAL_PATHSPECS"] = "1"
        try:
            proc = subprocess.run(["git", *args], cwd=self.top, input=input, capture_output=True, env=full_env)
        except FileNotFoundError as exc:
            raise GitError("git is not installed: apt-get install git git-lfs") from exc
        if proc.returncode not in ok:
            what = " ".join(args[:2]) if args[0] == "lfs" else args[0]
            raise GitError(f"git {what} failed (exit {proc.returncode}): {_tail(proc.stderr or proc.stdout)}")
        return proc

    def out(self, *args: str, input: bytes | None = None, literal: bool = False) -> str:
        return self.run(*args, input=input, literal=literal).stdout.decode().strip()

    # --- configuration and refs -------------------------------------------------------------

    def config(self, key: str, file: Path | None = None) -> str | None:
        where = ("--file", str(file)) if file else ()
        proc = self.run("config", *where, "--get", key, ok=(0, 1))
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def remote_url(self, remote: str) -> str:
        proc = self.run("remote", "get-url", "--push", remote, ok=(0, 2, 128))
        if proc.returncode:
            raise RepositoryError(f"no remote named {remote!r} in {self.top}: add one with "
                                  f"`git remote add {remote} URL` or pass --remote")
        return proc.stdout.decode().strip()

    def remotes(self) -> list[str]:
        return self.out("remote").split()

    def branch(self) -> str | None:
        proc = self.run("symbolic-ref", "--short", "-q", "HEAD", ok=(0, 1))
        return proc.stdout.decode().strip() or None

    def head(self) -> str | None:
        proc = self.run("rev-parse", "-q", "--verify", "HEAD^{commit}", ok=(0, 1))
        return proc.stdout.decode().strip() or None

    def hook_path(self, name: str) -> Path:
        return self.top / self.out("rev-parse", "--git-path", f"hooks/{name}")

    # --- index and commits ------------------------------------------------------------------

    def staged_paths(self) -> list[str]:
        out = self.run("diff", "--cached", "--name-only", "--no-renames", "-z").stdout.decode()
        return [p for p in out.split("\0") if p]

    def add(self, paths: Iterable[str]) -> None:
        """Stage additions, changes and deletions under `paths` (the clean filter runs here)."""
        self.run("add", "-A", "--pathspec-from-file=-", "--pathspec-file-nul", input=_nul(paths), literal=True)

    def unstage(self, paths: Iterable[str]) -> None:
        spec = _nul(paths)
        if self.head():
            self.run("reset", "-q", "--pathspec-from-file=-", "--pathspec-file-nul", input=spec, literal=True)
        else:
            self.run("rm", "--cached", "-r", "-q", "--ignore-unmatch", "--pathspec-from-file=-",
                     "--pathspec-file-nul", input=spec, literal=True)

    def has_staged_changes(self) -> bool:
        return self.run("diff", "--cached", "--quiet", ok=(0, 1)).returncode == 1

    def commit(self, message: str) -> str:
        """Commit the index with hooks (never --no-verify); returns the new HEAD."""
        self.run("commit", "-q", "-F", "-", input=message.encode())
        return self.head() or ""

    def ls_staged(self, paths: Iterable[str]) -> list[IndexEntry]:
        out = self.run("ls-files", "-s", "-z", "--", *paths, literal=True).stdout.decode()
        entries = []
        for record in filter(None, out.split("\0")):
            meta, _, path = record.partition("\t")
            entries.append(IndexEntry(path=path, blob=meta.split()[1]))
        return entries

    def small_blobs(self, blobs: Iterable[str]) -> dict[str, bytes | None]:
        """Blob contents for blobs under POINTER_MAX bytes, None for bigger ones (never read)."""
        wanted = list(dict.fromkeys(blobs))
        if not wanted:
            return {}
        sizes: dict[str, int] = {}
        for line in self.out("cat-file", "--batch-check", input=("\n".join(wanted) + "\n").encode()).splitlines():
            sha, _, size = line.split()
            sizes[sha] = int(size)
        small = [b for b in wanted if sizes.get(b, POINTER_MAX) < POINTER_MAX]
        found: dict[str, bytes | None] = dict.fromkeys(wanted)
        if small:
            raw = self.run("cat-file", "--batch", input=("\n".join(small) + "\n").encode()).stdout
            pos = 0
            while pos < len(raw):
                header_end = raw.index(b"\n", pos)
                sha, _, size = raw[pos:header_end].decode().split()
                start = header_end + 1
                found[sha] = raw[start:start + int(size)]
                pos = start + int(size) + 1
        return found

    def attributes(self, name: str, paths: Iterable[str]) -> dict[str, str]:
        out = self.run("check-attr", "--stdin", "-z", name, input=_nul(paths)).stdout.decode().split("\0")
        return {out[i]: out[i + 2] for i in range(0, len(out) - 2, 3)}

    def status_porcelain(self, path: str) -> str:
        return self.out("status", "--porcelain", "-z", "--", path, literal=True)

    # --- git lfs ----------------------------------------------------------------------------

    def lfs(self, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return self.run("lfs", *args, input=input)

    def lfs_available(self) -> bool:
        return self.run("lfs", "version", ok=(0, 1, 127)).returncode == 0

    def lfs_objects_dir(self) -> Path:
        for line in self.out("lfs", "env").splitlines():
            if line.startswith("LocalMediaDir="):
                return Path(line.split("=", 1)[1])
        return self.top / self.out("rev-parse", "--git-common-dir") / "lfs" / "objects"

    def lfs_push_objects(self, remote: str, oids: Iterable[str]) -> None:
        """Upload exactly these objects, whatever the remote-tracking refs say the server has."""
        listed = "\n".join(oids)
        if listed:
            self.lfs("push", "--object-id", remote, "--stdin", input=(listed + "\n").encode())

    def push(self, remote: str, refspec: str) -> None:
        """A normal push: the pre-push hook (git-lfs's own) runs, as it must."""
        self.run("push", remote, refspec)


class GitCredentials:
    """Credentials from the user's git credential helpers, asked the way git-lfs asks them."""

    def __init__(self, cwd: Path) -> None:
        self.git = Git(cwd, env={"GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never"})

    def _ask(self, action: str, url: str, user: str | None = None, password: str | None = None) -> bytes:
        lines = [f"url={url}"] + ([f"username={user}"] if user else []) + ([f"password={password}"] if password else [])
        proc = self.git.run("credential", action, input=("\n".join(lines) + "\n\n").encode(), ok=(0, 128))
        return proc.stdout if proc.returncode == 0 else b""

    def fill(self, url: str) -> tuple[str, str] | None:
        fields = dict(ln.split("=", 1) for ln in self._ask("fill", url).decode().splitlines() if "=" in ln)
        if fields.get("username") is None or fields.get("password") is None:
            return None
        return fields["username"], fields["password"]

    def approve(self, url: str, user: str, password: str) -> None:
        self._ask("approve", url, user, password)

    def reject(self, url: str, user: str, password: str) -> None:
        self._ask("reject", url, user, password)
