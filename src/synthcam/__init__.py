"""synthcam: a declarative dataset spec in, a verified synthetic security-camera video dataset out."""

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
from .manifest import Manifest, Variant, load_manifest, load_manifest_text

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "CostTableError",
    "InputError",
    "LegacyImportError",
    "LintFailed",
    "Manifest",
    "ManifestError",
    "MediaError",
    "SynthcamError",
    "UnsafePathError",
    "Variant",
    "load_manifest",
    "load_manifest_text",
]
