"""One exception tree for the whole library; the CLI maps it to one-line messages.

    SynthcamError                 exit 1 unless a subclass says otherwise
    ├── InputError                exit 2: the user's input is wrong; nothing was written
    │   ├── ManifestError         a manifest is unreadable or invalid (carries file:line)
    │   │   └── PolicyError       a verification policy file is unreadable or invalid (file:line)
    │   ├── LegacyImportError     an old v2 manifest or its templates cannot be read
    │   ├── UnsafePathError       an ID or path would leave the workspace
    │   ├── WorkspaceError        a workspace's store is missing, damaged or not ours; a folder links outside
    │   └── CostTableError        the cost table is invalid or lacks an entry
    │   └── publish.RepositoryError   publishing outside a git repository
    ├── StorageError              the disk is full, read-only or refuses a write (names the path and the fix)
    ├── LintFailed                prompts carry lint errors, so generation is refused
    ├── MediaError                a clip could not be decoded, encoded or written
    │   └── engine.postprocess.TooFewFrames   the model wrote fewer frames than planned
    ├── BackendError              a generation backend failed or cannot run here
    └── publish.PublishError      git / git-lfs / the LFS server failed (GitError, LfsServerError, PublishRefused)
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
