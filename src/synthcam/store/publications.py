"""Publications: which verified clip's object a Git LFS server confirmed, and when."""

from __future__ import annotations

import sqlite3
import time
from typing import Any


class PublicationsMixin:
    conn: sqlite3.Connection

    def record_publication(self, job_id: str, remote: str, path: str, oid: str, size: int,
                           commit_sha: str | None, confirmed: bool, now: float | None = None) -> None:
        now = now or time.time()
        with self.transaction() as c:
            c.execute("INSERT INTO publications (job_id, remote, path, oid, size, commit_sha, confirmed_at, missing_since)"
                      " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (job_id, remote) DO UPDATE SET path = excluded.path,"
                      " oid = excluded.oid, size = excluded.size, commit_sha = COALESCE(excluded.commit_sha, commit_sha),"
                      " confirmed_at = excluded.confirmed_at,"
                      " missing_since = CASE WHEN excluded.missing_since IS NULL THEN NULL"
                      " ELSE COALESCE(publications.missing_since, excluded.missing_since) END",
                      (job_id, remote, path, oid, size, commit_sha, now if confirmed else None, None if confirmed else now))
            self._event(c, "published" if confirmed else "publish_missing", job_id, None, f"{remote} {oid}", now=now)

    def published_counts(self) -> dict[str, int]:
        """Verified clips of the current plan: published (confirmed), missing on a server, or not published.

        A clip counts as published only when a server confirmed the object of its current content;
        one that any server has lost counts as missing until `synthcam publish --repair` fixes it.
        """
        rows = self.conn.execute(
            "SELECT j.job_id, MAX(p.confirmed_at IS NULL AND p.oid = j.sha256) AS lost,"
            " MAX(p.confirmed_at IS NOT NULL AND p.oid = j.sha256) AS confirmed"
            " FROM jobs j LEFT JOIN publications p ON p.job_id = j.job_id"
            " WHERE j.current = 1 AND j.state = 'done' GROUP BY j.job_id").fetchall()
        missing = sum(1 for r in rows if r["lost"])
        published = sum(1 for r in rows if r["confirmed"] and not r["lost"])
        return {"published": published, "missing": missing, "unpublished_verified": len(rows) - published - missing}

    def publications(self, remote: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM publications", []
        if remote:
            sql += " WHERE remote = ?"
            args.append(remote)
        return [dict(r) for r in self.conn.execute(sql + " ORDER BY path", args).fetchall()]
