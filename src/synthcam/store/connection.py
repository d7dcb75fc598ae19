"""Opening the store: SQLite in WAL mode, typed errors for what SQLite or the disk says, the
schema created or migrated, and the transaction helpers every other part uses."""

from __future__ import annotations

import errno
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import StorageError, SynthcamError, WorkspaceError
from ..redact import mask_secrets
from .schema import DB_NAME, MIGRATIONS, SCHEMA_VERSION, create


def storage_error(exc: BaseException, path: Path | str) -> SynthcamError:
    """A one-line, typed error for what SQLite or the OS said about the store at `path`."""
    text = str(exc)
    low = text.lower()
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC or "disk is full" in low:
        return StorageError(f"{path}: the disk is full; free some space and run the command again "
                            "(nothing verified was lost; the run resumes where it stopped)")
    if (isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM)) or "readonly" in low \
            or "read-only" in low:
        return StorageError(f"{path}: cannot write here ({text}); make the workspace writable "
                            "(or use a copy) and run the command again")
    if "not a database" in low or "malformed" in low or "disk i/o error" in low or "no such table" in low:
        return WorkspaceError(f"{path} is damaged ({text}); move it aside and rebuild the store from the verified "
                              "clips with `synthcam adopt WORKSPACE/clips -w NEW_WORKSPACE`")
    if "unable to open" in low:
        return StorageError(f"{path}: cannot open the job store ({text}); check the folder exists and is writable")
    return StorageError(f"{path}: {text}")


class _Connection(sqlite3.Connection):
    """Turns SQLite's errors into synthcam's typed ones, naming the store's path."""

    store_path = ""

    def execute(self, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        try:
            return super().execute(*args)
        except sqlite3.Error as exc:
            raise storage_error(exc, self.store_path) from None

    def executemany(self, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        try:
            return super().executemany(*args)
        except sqlite3.Error as exc:
            raise storage_error(exc, self.store_path) from None


class StoreBase:
    """One SQLite database per workspace; safe to open from many processes at once.

    `readonly` opens without writing anything (not even the WAL's shared-memory file when the
    folder is read-only), for commands that only report.
    """

    def __init__(self, path: Path, timeout: float = 30.0, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        try:
            self.conn = self._connect(timeout)
            self._check_header()
            if not readonly:
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=NORMAL")
                self._create_or_migrate()
            else:
                self._check_version()
        except sqlite3.Error as exc:
            raise storage_error(exc, self.path) from None

    def _connect(self, timeout: float) -> sqlite3.Connection:
        if self.readonly:
            uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
            conn = None
            for suffix in ("", "&immutable=1"):  # a read-only folder cannot hold the WAL's -shm file
                try:
                    conn = sqlite3.connect(uri + suffix, uri=True, timeout=timeout, isolation_level=None,
                                           check_same_thread=False, factory=_Connection)
                    # the plain method: a failure here must stay sqlite3's, to try immutable next
                    sqlite3.Connection.execute(conn, "SELECT COUNT(*) FROM sqlite_master").fetchone()
                    break
                except sqlite3.OperationalError as exc:
                    if conn is not None:
                        conn.close()
                    conn = None
                    if suffix or "not a database" in str(exc):
                        raise
            assert conn is not None
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False,
                                   factory=_Connection)
        conn.store_path = str(self.path)  # type: ignore[attr-defined]
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        return conn

    def _check_header(self) -> None:
        """A file that is not SQLite, or SQLite that is not ours, is refused before anything is written."""
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()}
        if tables and "jobs" not in tables:
            raise WorkspaceError(f"{self.path} is an SQLite database but not a synthcam job store "
                                 f"(tables: {', '.join(sorted(tables))[:80]}); refusing to touch it")
        if self.readonly and "jobs" not in tables:
            raise WorkspaceError(f"{self.path} holds no job store yet; run `synthcam run` first")

    def _version(self) -> int | None:
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()}
        if "meta" not in tables:
            return None
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 1

    def _create_or_migrate(self) -> None:
        """Bring the store to SCHEMA_VERSION in one transaction per step (a new one is created whole)."""
        with self.transaction() as c:
            version = self._version()
            if version is None:
                create(c)
                return
        if version > SCHEMA_VERSION:
            raise WorkspaceError(f"{self.path} was made by a newer synthcam (store schema {version}, this one knows "
                                 f"{SCHEMA_VERSION}); upgrade synthcam to use this workspace")
        while version < SCHEMA_VERSION:
            with self.transaction() as c:
                MIGRATIONS[version](c)
                version += 1
                c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(version),))
                self._event(c, "migrated", None, None, f"store schema {version - 1} -> {version}")

    def _check_version(self) -> None:
        version = self._version()
        if version is not None and version != SCHEMA_VERSION:
            raise WorkspaceError(f"{self.path} has store schema {version}, this synthcam uses {SCHEMA_VERSION}; run a "
                                 "command that writes to the workspace (e.g. `synthcam status`) to migrate it first")

    @classmethod
    def open(cls, workspace: Path) -> StoreBase:
        return cls(Path(workspace) / DB_NAME)

    @classmethod
    def open_existing(cls, path: Path) -> StoreBase:
        """Open a store that must exist, for reading only."""
        return cls(path, readonly=True)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> StoreBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE .. COMMIT; rolls back on any exception."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            with suppress(sqlite3.Error, SynthcamError):
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A consistent read (BEGIN DEFERRED): works on a read-only store, takes no write lock."""
        self.conn.execute("BEGIN")
        try:
            yield self.conn
        finally:
            with suppress(sqlite3.Error, SynthcamError):
                self.conn.execute("COMMIT")

    def _event(self, c: sqlite3.Connection, kind: str, job_id: str | None = None, worker: str | None = None,
               detail: str = "", now: float | None = None) -> None:
        c.execute("INSERT INTO events (at, job_id, worker, kind, detail) VALUES (?,?,?,?,?)",
                  (now or time.time(), job_id, worker, kind, mask_secrets(detail)[:4000]))
