"""Fixtures for the verifier's tests: the generated corpus, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from .corpus import CORPUS, build_corpus


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    """The corpus folder (see CORPUS); build once per session."""
    base = tmp_path_factory.mktemp("verify")
    root, outside = base / "corpus", base / "outside"
    root.mkdir()
    outside.mkdir()
    build_corpus(root, outside)
    assert sorted(CORPUS) == sorted(str(p.relative_to(root)) for p in root.rglob("*.mp4")), "CORPUS is out of date"
    return root


@pytest.fixture(scope="session")
def outside(corpus) -> Path:
    """Good clips outside the corpus folder (targets of symlinks, sources of damaged copies)."""
    return corpus.parent / "outside"
