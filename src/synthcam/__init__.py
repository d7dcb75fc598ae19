"""synthcam: a declarative dataset spec in, a verified synthetic security-camera video dataset out.

Only the errors import at once; everything else loads on first use, so `import synthcam` (and
the CLI's start-up) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import (
    BackendError,
    CostTableError,
    InputError,
    LegacyImportError,
    LintFailed,
    ManifestError,
    MediaError,
    SynthcamError,
    UnsafePathError,
)

__version__ = "0.1.0"

_LAZY = {
    "Manifest": ("synthcam.manifest", "Manifest"),
    "Variant": ("synthcam.manifest", "Variant"),
    "load_manifest": ("synthcam.manifest", "load_manifest"),
    "load_manifest_text": ("synthcam.manifest", "load_manifest_text"),
    "compile_manifest": ("synthcam.prompts", "compile_manifest"),
    "write_prompts": ("synthcam.prompts", "write_prompts"),
    "lint_manifest": ("synthcam.lint", "lint_manifest"),
    "cost_plan": ("synthcam.plan", "cost_plan"),
    "run": ("synthcam.engine.runner", "run"),
    "RunOptions": ("synthcam.engine.runner", "RunOptions"),
    "adopt": ("synthcam.engine.adopt", "adopt"),
    "verify_file": ("synthcam.verify", "verify_file"),
    "verify_paths": ("synthcam.verify", "verify_paths"),
    "export": ("synthcam.export", "export"),
    "build_gallery": ("synthcam.gallery", "build_gallery"),
    "publish": ("synthcam.publish", "publish"),
    "Workspace": ("synthcam.workspace", "Workspace"),
}

__all__ = [
    "BackendError",
    "CostTableError",
    "InputError",
    "LegacyImportError",
    "LintFailed",
    "ManifestError",
    "MediaError",
    "SynthcamError",
    "UnsafePathError",
    *sorted(_LAZY),
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'synthcam' has no attribute {name!r}")
