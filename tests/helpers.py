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


def fake_cosmos_checkout(root):
    """A cosmos-predict2.5 checkout whose examples/inference.py is the strict fake, with its own
    `.venv/bin/python` (as `uv sync` makes it) that runs this interpreter."""
    import shutil
    import sys
    from pathlib import Path

    root = Path(root)
    (root / "examples").mkdir(parents=True)
    shutil.copy(Path(__file__).parent / "fakes" / "fake_cosmos_inference.py", root / "examples" / "inference.py")
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
