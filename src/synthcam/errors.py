"""One exception tree for the whole library; the CLI maps it to one-line messages.

    SynthcamError                 exit 1 unless a subclass says otherwise
    ├── InputError                exit 2: the user's input is wrong; nothing was written
    │   ├── ManifestError         a manifest is unreadable or invalid (carries file:line)
    │   │   └── PolicyError       a verification policy file is unreadable or invalid (file:line)
    │   ├── LegacyImportError     an old v2 manifest or its templates cannot be read
    │   ├── UnsafePathError       an ID or path would leave the workspace
    │   ├── WorkspaceError        a workspace's store is missing, damaged or not ours; a folder links outside
    │   ├── CostTableError        the cost table is invalid or lacks an entry
    │   └── RepositoryError       publishing outside a git repository, or from an unusable one
    ├── TemplateLimit             a prompt template asked for too much or failed (reported as a ManifestError)
    ├── StorageError              the disk is full, read-only or refuses a write (names the path and the fix)
    ├── LintFailed                prompts carry lint errors, so generation is refused
    ├── MediaError                a clip could not be decoded, encoded or written
    │   ├── TooFewFrames          the model wrote fewer frames than planned (the old 93-frame bug)
    │   ├── OpenFailure           a file cannot be opened as media (kind: not_video | unreadable)
    │   ├── HashTimeout           hashing a file ran past its deadline (a huge or sparse file)
    │   └── MalformedPointer      bytes that start like a Git LFS pointer but break its spec
    ├── BackendError              a generation backend failed or cannot run here
    │   └── MissingWeights        model weights are neither in the folder given nor in the Hub cache
    └── PublishError              git / git-lfs / the LFS server failed
        ├── GitError              a git or git-lfs command failed (its output redacted)
        ├── LfsServerError        the LFS server is unreachable, refused us, or answered nonsense
        └── PublishRefused        some clips are not publishable; nothing was committed or pushed

Modules raise these (some re-export them where they are used, e.g. `publish.errors`).
"""

from __future__ import annotations


class SynthcamError(Exception):
    """Base of every error synthcam raises on purpose."""

    exit_code = 1


class InputError(SynthcamError):
    """The user's input is wrong; the message says what and where."""

    exit_code = 2


class ManifestError(InputError):
    """A manifest is unreadable or invalid."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


class PolicyError(ManifestError):
    """A verification policy file (`--verify-policy`) is unreadable or invalid; the same keys in a
    manifest's `verify:` section are reported as a ManifestError."""


class LegacyImportError(InputError):
    """An old v2 manifest or its template folder cannot be read."""


class UnsafePathError(InputError):
    """An ID or path is not a safe token or would leave its root folder."""


class WorkspaceError(InputError):
    """A workspace cannot be used as it is: its store is missing or damaged while clips exist,
    it is not a synthcam store, or one of its folders is a link to somewhere else."""


class StorageError(SynthcamError):
    """The file system refused a write (disk full, read-only, permissions): nothing was lost,
    the message names the path and what to do, and the work resumes once it is fixed."""


class CostTableError(InputError):
    """The cost table is invalid, or lacks the model or GPU asked for."""


class LintFailed(SynthcamError):
    """Lint found errors; generation is refused until they are fixed."""


class MediaError(SynthcamError):
    """A clip could not be decoded, encoded or written."""


class BackendError(SynthcamError):
    """A generation backend failed."""


class TemplateLimit(SynthcamError):
    """A template asked for too much, broke a sandbox rule, or failed while rendering."""


class TooFewFrames(MediaError):
    """The backend wrote fewer frames than the timing plan needs (the old 93-frame bug)."""


class OpenFailure(MediaError):
    """The file could not be opened as media; `kind` is not_video or unreadable."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


class HashTimeout(MediaError):
    """Hashing ran past its deadline (a huge or sparse file)."""


class MalformedPointer(MediaError, ValueError):
    """The bytes start like an LFS pointer but break the spec; the message says where."""


class MissingWeights(BackendError):
    """The weights are neither in the given folder nor in the Hub cache; the message says how to get them."""


class RepositoryError(InputError):
    """The place to publish from is not usable as it is; the message says how to fix it."""


class PublishError(SynthcamError):
    """Publishing or checking failed."""


class GitError(PublishError):
    """A git or git-lfs command failed; the message carries its redacted output."""


class LfsServerError(PublishError):
    """The LFS server could not be asked, or refused to answer."""


class PublishRefused(PublishError):
    """Some clips are not publishable; the publish was stopped before any side effect.

    `refusals` are objects with `name` and `reason` (publish.errors.Refusal)."""

    def __init__(self, refusals) -> None:  # noqa: ANN001 - a sequence of Refusal
        self.refusals = list(refusals)
        shown = "; ".join(f"{r.name}: {r.reason}" for r in self.refusals[:3])
        more = f"; and {len(self.refusals) - 3} more" if len(self.refusals) > 3 else ""
        super().__init__(f"refused {len(self.refusals)} clip(s), nothing was committed or pushed: {shown}{more}")
