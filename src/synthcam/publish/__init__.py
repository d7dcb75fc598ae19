"""Publishing verified clips to Git LFS, with proof that the server holds every object.

- `publish`: commit, upload by oid, push with hooks, then ask the Batch API about every object.
- `check`: ask again later (`repair=True` re-uploads what a server lost).
- `published_counts`: published / missing / unpublished verified clips, for the status file.
"""

from .check import CheckResult, check, published_counts
from .errors import GitError, LfsServerError, PublishError, PublishRefused, Refusal, RepositoryError
from .publish import ClipState, PublishResult, publish

__all__ = [
    "CheckResult",
    "ClipState",
    "GitError",
    "LfsServerError",
    "PublishError",
    "PublishRefused",
    "PublishResult",
    "Refusal",
    "RepositoryError",
    "check",
    "publish",
    "published_counts",
]
