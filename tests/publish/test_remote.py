"""Endpoints as git-lfs resolves them, and credentials masked everywhere."""

from __future__ import annotations

import subprocess

import pytest

from synthcam.publish.errors import GitError
from synthcam.publish.git import Git
from synthcam.publish.redact import mask_url, redact, strip_userinfo
from synthcam.publish.remote import derive_endpoint, resolve_endpoint


@pytest.mark.parametrize("remote, endpoint", [
    ("https://example.com/org/repo", "https://example.com/org/repo.git/info/lfs"),
    ("https://example.com/org/repo.git/", "https://example.com/org/repo.git/info/lfs"),
    ("https://user:tok@example.com/org/repo", "https://user:tok@example.com/org/repo.git/info/lfs"),
    ("git@example.com:org/repo.git", "https://example.com/org/repo.git/info/lfs"),
    ("example.com:org/repo", "https://example.com/org/repo.git/info/lfs"),
    ("ssh://git@example.com:2222/org/repo", "https://example.com/org/repo.git/info/lfs"),
    ("file:///srv/repo.git", "file:///srv/repo.git"),
    ("/srv/repo.git", "file:///srv/repo.git"),
])
def test_derived_endpoints(remote, endpoint):
    assert derive_endpoint(remote) == endpoint


def _lfs_env_endpoint(cwd) -> str:
    out = subprocess.run(["git", "lfs", "env"], cwd=cwd, capture_output=True, text=True, check=True).stdout
    return next(ln for ln in out.splitlines() if ln.startswith("Endpoint=")).split("=", 1)[1].split(" (")[0]


@pytest.mark.parametrize("setup", [
    [("remote", "set-url", "origin", "https://example.com/org/repo")],
    [("remote", "set-url", "origin", "git@example.com:org/repo.git")],
    [("config", "lfs.url", "http://127.0.0.1:9/org/repo")],
    [("config", "lfs.url", "http://127.0.0.1:9/a/b"), ("config", "remote.origin.lfsurl", "http://127.0.0.1:9/c/d")],
    [("config", "remote.origin.lfspushurl", "http://127.0.0.1:9/push"), ("config", "lfs.url", "http://127.0.0.1:9/x")],
    [(".lfsconfig", "http://127.0.0.1:9/from/lfsconfig")],
])
def test_resolution_agrees_with_git_lfs_env(tmp_path, git_sandbox, setup):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "remote", "add", "origin", "https://example.com/org/repo"], cwd=tmp_path, check=True)
    for step in setup:
        if step[0] == ".lfsconfig":
            (tmp_path / ".lfsconfig").write_text(f"[lfs]\n\turl = {step[1]}\n")
        else:
            subprocess.run(["git", *step], cwd=tmp_path, check=True)
    assert resolve_endpoint(Git(tmp_path), "origin").url.rstrip("/") == _lfs_env_endpoint(tmp_path).rstrip("/")


def test_masking_and_stripping():
    assert mask_url("https://user:tok@host/x") == "https://***@host/x"
    assert mask_url("http://host/x") == "http://host/x"
    text = "fatal: unable to access 'https://u:s3cret@h/r/': 401\nAuthorization: Basic dTpzM2NyZXQ="
    assert "s3cret" not in redact(text) and "dTpzM2NyZXQ=" not in redact(text)
    assert strip_userinfo("https://u%40x:p%3Aw@host:8/a") == ("https://host:8/a", "u@x", "p:w")
    assert strip_userinfo("https://host/a") == ("https://host/a", None, None)


def test_git_errors_are_mapped_and_redacted(tmp_path):
    with pytest.raises(GitError, match="git is not installed"):
        Git(tmp_path, env={"PATH": str(tmp_path / "nowhere")}).run("version")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    with pytest.raises(GitError, match=r"git checkout failed \(exit \d+\): .*https://\*\*\*@127\.0\.0\.1") as info:
        Git(tmp_path).run("checkout", "https://user:s3cret@127.0.0.1:9/org/repo")  # git echoes the argument
    assert "s3cret" not in str(info.value)
