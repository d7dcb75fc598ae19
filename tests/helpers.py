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
