"""Executors by name: where generation workers run. Optional ones import their stack lazily."""

from __future__ import annotations

from typing import Any

from ...errors import InputError
from .base import Executor, WorkerConfig, record_executor, recorded_executor

EXECUTORS = {"local": ("synthcam.engine.executors.local", "LocalExecutor"),
             "ray": ("synthcam.engine.executors.ray", "RayExecutor")}


def create_executor(name: str, options: dict[str, Any] | None = None) -> Executor:
    import importlib

    if name not in EXECUTORS:
        raise InputError(f"unknown executor {name!r} (available: {', '.join(EXECUTORS)})")
    module, cls = EXECUTORS[name]
    return getattr(importlib.import_module(module), cls)(**(options or {}))


__all__ = ["EXECUTORS", "Executor", "WorkerConfig", "create_executor", "record_executor", "recorded_executor"]
