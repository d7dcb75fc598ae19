"""A verified tiny workspace, made once per session and copied for each test that attacks it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers import SIMPLE_BACKEND, with_env
from synthcam.engine.runner import RunOptions, run

DATA = Path(__file__).parent.parent / "data"
TINY = DATA / "tiny.yaml"
SIMPLE = SIMPLE_BACKEND


@pytest.fixture(autouse=True)
def simple_backend(monkeypatch):
    monkeypatch.setenv("SYNTHCAM_BACKENDS", SIMPLE)


def opts(**kw) -> RunOptions:
    return RunOptions(backend="simple", workers=2, lease_s=5, **kw)


@pytest.fixture(scope="session")
def verified_workspace(tmp_path_factory) -> Path:
    with with_env(SYNTHCAM_BACKENDS=SIMPLE):
        ws = tmp_path_factory.mktemp("verified") / "ws"
        result = run(TINY, ws, opts())
        assert result.ok and result.done == 6
    return ws


@pytest.fixture
def workspace(verified_workspace, tmp_path) -> Path:
    """A private copy of the verified tiny workspace (6 clips, A01/A02/B01 x 1 s/2 s)."""
    ws = tmp_path / "ws"
    shutil.copytree(verified_workspace, ws, symlinks=True)
    return ws
