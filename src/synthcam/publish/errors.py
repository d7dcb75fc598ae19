"""Publishing errors: defined in the library's one tree (`synthcam.errors`), re-exported here,
with the record of why one clip may not be published."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import GitError, LfsServerError, PublishError, PublishRefused, RepositoryError

__all__ = ["GitError", "LfsServerError", "PublishError", "PublishRefused", "Refusal", "RepositoryError"]


@dataclass(frozen=True)
class Refusal:
    """Why one clip may not be published."""

    name: str
    path: str
    reason: str
