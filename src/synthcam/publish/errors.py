"""Publishing errors, under the library's one tree (`synthcam.errors`).

    SynthcamError
    ├── InputError                  exit 2
    │   └── RepositoryError         not a git work tree, no such remote, a path outside the repo,
    │                               or unrelated staged changes; nothing was written
    └── PublishError                exit 1
        ├── GitError                a git or git-lfs command failed (its output redacted)
        ├── LfsServerError          the LFS server is unreachable, refused us, or answered nonsense
        └── PublishRefused          some clips are not publishable; nothing was committed or pushed
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import InputError, SynthcamError

__all__ = ["GitError", "LfsServerError", "PublishError", "PublishRefused", "Refusal", "RepositoryError"]


class RepositoryError(InputError):
    """The place to publish from is not usable as it is; the message says how to fix it."""


class PublishError(SynthcamError):
    """Publishing or checking failed."""


class GitError(PublishError):
    """A git or git-lfs command failed; the message carries its redacted output."""


class LfsServerError(PublishError):
    """The LFS server could not be asked, or refused to answer."""


@dataclass(frozen=True)
class Refusal:
    """Why one clip may not be published."""

    name: str
    path: str
    reason: str


class PublishRefused(PublishError):
    """Some clips are not publishable; the publish was stopped before any side effect."""

    def __init__(self, refusals: Sequence[Refusal]) -> None:
        self.refusals = list(refusals)
        shown = "; ".join(f"{r.name}: {r.reason}" for r in self.refusals[:3])
        more = f"; and {len(self.refusals) - 3} more" if len(self.refusals) > 3 else ""
        super().__init__(f"refused {len(self.refusals)} clip(s), nothing was committed or pushed: {shown}{more}")
