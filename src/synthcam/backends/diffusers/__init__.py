"""Cosmos Predict 2.5 in-process through diffusers (`synthcam run --backend diffusers`).

    backend.py     the Backend: queue -> windows -> chunks -> raw clips
    chunks.py      chained 93-frame chunks, kept per job so a crash resumes mid-clip
    embeddings.py  each distinct prompt encoded once per worker
    guardrails.py  cosmos-guardrail checks, and the pass-through checker the pipeline gets
    weights.py     local folder or Hub cache (never the network), and loading
    compat.py      the torchvision fallback for the padding-mask resize
    options.py     the user's options, validated

torch and diffusers load only when the backend is used (the extra `synthcam[diffusers]`).
See docs/diffusers.md.
"""

from .backend import BlockedFailure, DiffusersBackend, diffusers_guidance
from .options import DiffusersOptions, parse_options

__all__ = ["BlockedFailure", "DiffusersBackend", "DiffusersOptions", "diffusers_guidance", "parse_options"]
