"""Fixtures: one tiny pipeline folder per session, and backends that load it."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """On a shared 2-core machine, torch's two OpenMP threads run up to 30x slower than one
    when other processes hold the cores (seen here): tiny models gain nothing from threads."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from backends.diffusers.tiny_cosmos import save_tiny_pipeline

    return save_tiny_pipeline(tmp_path_factory.mktemp("tiny-cosmos") / "pipeline")


@pytest.fixture
def make_backend(tiny_dir: Path):
    """make_backend(**options, safety_checker=None) -> a DiffusersBackend on the tiny folder."""
    from synthcam.backends.diffusers import DiffusersBackend, parse_options

    made = []

    def make(safety_checker=None, **options):
        opts = {"model_dir": str(tiny_dir), "disable_guardrails": safety_checker is None, **options}
        backend = DiffusersBackend(parse_options(opts), safety_checker=safety_checker)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()


def pytest_configure(config: pytest.Config) -> None:
    # diffusers' UniPC scheduler builds a numpy array from a tensor in a way numpy 2 warns about.
    config.addinivalue_line("filterwarnings", "ignore:__array__ implementation:DeprecationWarning")
