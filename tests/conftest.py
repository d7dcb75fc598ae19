"""Shared fixtures: paths to test data and the reference data when it is present."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).parent
REPO = TESTS.parent
REFERENCE = REPO.parent / "shared" / "reference" / "nemotron-cosmos"


@pytest.fixture(scope="session")
def mini_manifest_path() -> Path:
    return TESTS / "data" / "mini.yaml"


@pytest.fixture(scope="session")
def legacy_manifest_path() -> Path:
    path = REFERENCE / "generation_manifest.yaml"
    if not path.exists():
        pytest.skip("../shared/reference/nemotron-cosmos is not present")
    return path


@pytest.fixture(autouse=True)
def _isolated_default_workspace(tmp_path_factory, monkeypatch):
    """Commands given no -w use ./workspace: point it at an empty temporary folder, so a developer's
    own ./workspace (from `make demo`) never changes what a test sees."""
    monkeypatch.setenv("SYNTHCAM_WORKSPACE", str(tmp_path_factory.mktemp("default-ws") / "workspace"))
