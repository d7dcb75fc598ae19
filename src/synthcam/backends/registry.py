"""Backends by name. Imports are lazy so a backend's heavy or optional dependencies load only when used."""

from __future__ import annotations

import importlib
import os
from typing import Any

from ..errors import BackendError, InputError
from .base import Backend

# name -> (module, class)
BACKENDS: dict[str, tuple[str, str]] = {
    "procedural": ("synthcam.backends.procedural", "ProceduralBackend"),
    "cosmos": ("synthcam.backends.cosmos", "CosmosBackend"),
    "diffusers": ("synthcam.backends.diffusers", "DiffusersBackend"),
    "sleep": ("synthcam.backends.sleep", "SleepBackend"),  # a test double for the engine (like a mock transport)
}


def _plugins() -> dict[str, tuple[str, str]]:
    """Extra backends from SYNTHCAM_BACKENDS="name=package.module:Class,..." (plugins, test doubles)."""
    out = {}
    for item in filter(None, (x.strip() for x in os.environ.get("SYNTHCAM_BACKENDS", "").split(","))):
        name, _, target = item.partition("=")
        module, _, cls = target.partition(":")
        if not (name and module and cls):
            raise InputError(f"SYNTHCAM_BACKENDS entry {item!r} is not name=module:Class")
        out[name.strip()] = (module.strip(), cls.strip())
    return out


def available() -> dict[str, tuple[str, str]]:
    return {**BACKENDS, **_plugins()}


def backend_class(name: str) -> type[Backend]:
    table = available()
    if name not in table:
        raise InputError(f"unknown backend {name!r} (available: {', '.join(sorted(table))})")
    module, cls = table[name]
    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as exc:
        raise BackendError(f"backend {name!r} cannot be loaded from {module}:{cls}: {exc}") from None


def create_backend(name: str, options: dict[str, Any] | None = None, gpus: list[str] | None = None) -> Backend:
    """Build a backend for one worker. `gpus` is the worker's GPU group (CUDA_VISIBLE_DEVICES)."""
    return backend_class(name).from_options(options or {}, gpus or [])
