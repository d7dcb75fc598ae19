"""Run the CLI in-process and check the one-line-error contract."""

from __future__ import annotations

from typer.testing import CliRunner

from synthcam.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def assert_one_line_error(result, *needles: str, code: int = 2) -> str:
    err = result.stderr.strip()
    assert result.exit_code == code, (result.exit_code, result.stdout, err)
    assert "Traceback" not in err + result.stdout
    assert err.startswith("error: "), err
    assert len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, (n, err)
    return err


def fake_cosmos_checkout(root, version="1.5.0"):
    """A cosmos-predict2.5 checkout whose examples/inference.py is the strict fake, with its own
    `.venv/bin/python` (as `uv sync` makes it) that runs this interpreter. `version` goes where
    upstream keeps it (cosmos_predict2/__about__.py); the fake behaves as that release (None: no file)."""
    import shutil
    import sys
    from pathlib import Path

    root = Path(root)
    (root / "examples").mkdir(parents=True)
    shutil.copy(Path(__file__).parent / "fakes" / "fake_cosmos_inference.py", root / "examples" / "inference.py")
    if version is not None:
        (root / "cosmos_predict2").mkdir()
        (root / "cosmos_predict2" / "__about__.py").write_text(f'__version__ = "{version}"\n')
    python = root / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f"#!/bin/sh\nexec {sys.executable} \"$@\"\n")
    python.chmod(0o755)
    return root


SIMPLE_BACKEND = "simple=fakes.simple_backend:SimpleBackend"


def with_env(**values: str):
    """Set environment variables for a block (session fixtures cannot use monkeypatch)."""
    import contextlib
    import os

    @contextlib.contextmanager
    def scope():
        old = {k: os.environ.get(k) for k in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    return scope()


def assert_only_verified_on_disk(ws_path, gone: tuple[str, ...] = ()) -> None:
    """The engine's first promise, checked on disk, not in the store: every file under clips/ is a
    verified clip, every ground-truth folder belongs to a recorded one, nothing partial or
    temporary is left, and the clips named in `gone` (jobs that failed, were blocked or timed
    out) have no final file and no ground truth at all.

    A verified clip is a done job's output with the recorded sha256, or, right after a kill -9,
    the file of a job caught mid-landing: a file and a database row cannot change in one step, so
    the engine notes the verified file's sha256 (`landing`) before renaming it into place and
    records the job done after; a kill in between leaves exactly that file, which the resume
    records without generating it again. Any other bytes under that name fail here."""
    import hashlib
    from pathlib import Path

    from synthcam.store import JobStore

    ws_path = Path(ws_path)
    clips = ws_path / "clips"
    store = JobStore(ws_path / "synthcam.db")
    try:
        done = {}
        for job in store.jobs("done", current=False):
            done[job.output] = job
        landing = {f"clips/{job.name}.mp4": sha for job, sha in store.landed()}
    finally:
        store.close()
    names = {j.name for j in done.values()}
    for path in sorted(clips.iterdir()) if clips.is_dir() else []:
        rel = f"clips/{path.name}"
        assert ".partial" not in path.name and ".old-" not in path.name, f"temporary file left in clips/: {path.name}"
        assert not path.name.startswith("."), f"hidden file in clips/: {path.name}"
        if path.suffix == ".mp4":
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if rel not in done and rel in landing:
                assert digest == landing[rel], f"{path.name} is mid-landing but not the file noted (sha256 differs)"
                continue
            assert rel in done, f"{path.name} is in clips/ but no verified job owns it"
            assert digest == done[rel].sha256, f"{path.name} is not the verified file (sha256 differs)"
        elif path.name.endswith(".gt"):
            assert path.is_dir() and path.name[:-3] in names, f"ground truth {path.name} has no verified clip"
        else:
            raise AssertionError(f"unexpected entry in clips/: {path.name}")
    for name in gone:
        assert not (clips / f"{name}.mp4").exists(), f"{name} failed but its clip is in clips/"
        assert not (clips / f"{name}.gt").exists(), f"{name} failed but its ground truth is in clips/"


def skip_unless_ci(reason: str) -> None:
    """Skip on a developer's machine that lacks a system tool; in CI (which installs every tool
    the README's set-up names) the same condition is a failure, never a silent skip."""
    import os

    import pytest

    if os.environ.get("CI") or os.environ.get("SYNTHCAM_CI"):
        pytest.fail(f"in CI this must not be skipped: {reason}")
    pytest.skip(reason, allow_module_level=True)  # also from a module's top, before its imports


def process_group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group, read from /proc."""
    import os
    from pathlib import Path

    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                out.append(int(entry))
    return out
