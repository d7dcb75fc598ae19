"""Credential masking for publishing: the one implementation lives in `synthcam.redact`."""

from __future__ import annotations

from ..redact import mask_secrets as redact
from ..redact import mask_url, strip_userinfo

__all__ = ["mask_url", "redact", "strip_userinfo"]
