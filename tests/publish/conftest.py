"""Publishing fixtures (see lfs_fixtures): every test here runs with a sandboxed git."""

from __future__ import annotations

import pytest

from .lfs_fixtures import git_sandbox, lfs_server  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def _sandboxed(git_sandbox):  # noqa: ANN202
    yield
