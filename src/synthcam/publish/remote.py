"""Which LFS endpoint a git remote uploads to (git-lfs's own rules), with credentials out of sight.

For uploads git-lfs takes the first of `lfs.pushurl`, `lfs.url`, `remote.<name>.lfspushurl` and
`remote.<name>.lfsurl` (each from git config, else the repository's `.lfsconfig`), else derives
`https://host/path.git/info/lfs` from the remote's URL. A `file://` or path remote has no HTTP
endpoint: git-lfs copies objects into that repository's `lfs/objects` (standalone-file).
Tokens may sit in any of these URLs, so everything shown goes through `mask_url`/`redact`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .git import Git
from .redact import mask_url, strip_userinfo

__all__ = ["Endpoint", "derive_endpoint", "resolve_endpoint"]

_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/]+)@)?(?P<host>[^:/]+):(?P<path>.+)$")


def _lfs_path(path: str) -> str:
    path = path.rstrip("/")
    return (path if path.endswith(".git") else path + ".git") + "/info/lfs"


def derive_endpoint(remote_url: str) -> str:
    """The endpoint git-lfs derives from a remote URL when no `lfsurl` is configured."""
    if "://" not in remote_url:
        scp = _SCP_LIKE.match(remote_url)
        if scp:  # [user@]host:path, as git reads it: a colon before any slash
            return f"https://{scp.group('host')}{_lfs_path('/' + scp.group('path').lstrip('/'))}"
        return Path(remote_url).resolve().as_uri()
    parts = urlsplit(remote_url)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return urlunsplit(parts._replace(path=_lfs_path(parts.path), query="", fragment=""))
    if scheme == "file":
        return remote_url
    return f"https://{parts.hostname}{_lfs_path(parts.path)}"  # ssh://, git://, git+ssh://


@dataclass(frozen=True)
class Endpoint:
    """Where a remote's LFS objects live: `url` may carry credentials, `key` and `shown` never do."""

    remote: str
    url: str

    @property
    def key(self) -> str:
        """The endpoint without credentials: how the store names the remote."""
        return strip_userinfo(self.url)[0].rstrip("/")

    @property
    def shown(self) -> str:
        return mask_url(self.url)

    @property
    def is_file(self) -> bool:
        return urlsplit(self.url).scheme == "file"

    def file_objects_dir(self) -> Path:
        """For a file remote, the folder git-lfs's standalone-file adapter copies objects into."""
        root = Path(urlsplit(self.url).path)
        git_dir = root if (root / "objects").is_dir() and (root / "HEAD").exists() else root / ".git"
        return git_dir / "lfs" / "objects"


def resolve_endpoint(git: Git, remote: str) -> Endpoint:
    """The endpoint `git lfs push <remote>` uploads to (see the module docstring for the order)."""
    remote_url = git.remote_url(remote)  # the remote must exist, whatever lfs.url says
    keys = ("lfs.pushurl", "lfs.url", f"remote.{remote}.lfspushurl", f"remote.{remote}.lfsurl")
    lfsconfig = git.top / ".lfsconfig"
    for key in keys:
        value = git.config(key)
        if value is None and lfsconfig.is_file():
            value = git.config(key, file=lfsconfig)
        if value:
            return Endpoint(remote, value)
    return Endpoint(remote, derive_endpoint(remote_url))
