"""The static QA gallery: one HTML file that shows the whole plan, opened straight from disk.

Everything is relative to `gallery/index.html` (clips as `../clips/<name>.mp4`, images in
`assets/`), CSS and JS are inline, nothing comes from a server or a CDN, so the folder works
from file://, a USB stick or a zip. Each row is one ID with its durations side by side; cells
of jobs that are not verified show their state and reason instead of media, so gaps are
visible. With hundreds of clips the page stays light: images load lazily with their sizes
reserved, and no <video> element exists until its poster is clicked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from ..errors import InputError, UnsafePathError
from ..export.clips import open_workspace
from ..frames import readable
from ..fsutil import inside, write_text_atomic
from ..store import STATES, Job
from ..verify.policy import PolicyView, policy_badge, policy_view
from ..verify.report import KINDS
from ..workspace import Workspace
from .thumbs import Source, ThumbReport, Thumbs, refresh

GALLERY_DIR = "gallery"
ASSETS_DIR = "assets"
INDEX = "index.html"
BADGES = {
    "done": "verified",
    "failed": "failed",
    "blocked": "blocked",
    "pending": "pending",
    "running": "running",
}


@dataclass
class Cell:
    """One job (an ID at one duration) as the page shows it."""

    job: Job
    kinds: list[str]
    reason: str | None = None
    video: str | None = None
    thumbs: Thumbs | None = None
    problem: str | None = None  # a verified clip whose file or images are missing

    @property
    def policy(self) -> PolicyView | None:
        """The verification policy a verified clip passed under (None for other states)."""
        return policy_view((self.job.probe or {}).get("policy")) if self.job.state == "done" else None

    @property
    def policy_note(self) -> str | None:
        """What the badge adds when the clip was not verified with every check ("content checks off")."""
        return policy_badge((self.job.probe or {}).get("policy")) if self.job.state == "done" else None

    @property
    def badge(self) -> str:
        text = BADGES.get(self.job.state, self.job.state)
        return f"{text} · {self.policy_note}" if self.policy_note else text


@dataclass
class Row:
    clip_id: str
    series: str
    spec: dict[str, Any]
    cells: dict[int, Cell] = field(default_factory=dict)

    @property
    def states(self) -> list[str]:
        return sorted({c.job.state for c in self.cells.values()})

    @property
    def kinds(self) -> list[str]:
        return sorted({k for c in self.cells.values() for k in c.kinds})


@dataclass
class GalleryResult:
    path: Path
    rows: int
    jobs: int
    verified: int
    thumbs: ThumbReport
    problems: dict[str, str]  # clip name -> what is wrong with a verified clip on disk


def finding_kinds(job: Job) -> list[str]:
    """Kinds a person can filter by: verify findings, and the failure kind of a failed job."""
    kinds = {str(f.get("kind")) for f in job.findings if isinstance(f, dict) and f.get("kind")}
    if job.state in ("failed", "blocked") and job.error_kind:
        kinds.add(job.error_kind.removeprefix("verify:"))
        also = (job.error or "").partition(" (also ")[2]  # a failed verification names its other findings there
        kinds.update(k for k in KINDS if f"{k}: " in also)
    return sorted(kinds)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("synthcam.gallery", "templates"), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["short"] = lambda s, n=12: (s or "")[:n]
    env.filters["hours"] = lambda s: f"{(s or 0) / 3600:.2f}"
    return env


def _clip_file(ws: Workspace, job: Job) -> Path | None:
    """The verified file, or None when the store names none (or a path outside the workspace)."""
    try:
        return inside(ws.root, job.output) if job.output else None
    except UnsafePathError:
        return None


def _reason(job: Job) -> str | None:
    """Why a cell has no clip: the failure, the block, a pending retry, or the worker on it."""
    if job.state == "running":
        return f"generating on {job.worker}" if job.worker else "generating"
    if job.state in ("failed", "blocked", "pending") and job.error:
        prefix = "retrying after " if job.state == "pending" else ""
        return f"{prefix}{job.error_kind or job.state}: {job.error}"
    return None


def _rows(jobs: list[Job]) -> list[Row]:
    rows: dict[str, Row] = {}
    for job in sorted(jobs, key=lambda j: (j.series, j.clip_id, j.duration_s)):
        row = rows.setdefault(job.clip_id, Row(job.clip_id, job.series, job.spec))
        row.cells[job.duration_s] = Cell(job, finding_kinds(job), _reason(job))
    return list(rows.values())


def build_gallery(workspace: str | Path, workers: int | None = None, now: float | None = None) -> GalleryResult:
    """Write `<workspace>/gallery/index.html` and its images; returns what was made."""
    ws = open_workspace(workspace)
    with ws.store() as store:
        jobs = store.jobs()
        counts = store.counts()
    if not jobs:
        raise InputError(f"workspace {ws.root} has no jobs yet; run `synthcam run` first")

    # 1. Verified clips on disk -> thumbnails (incremental).
    out_dir = ws.root / GALLERY_DIR
    problems: dict[str, str] = {}
    sources: list[Source] = []
    for job in jobs:
        if job.state != "done":
            continue
        path = _clip_file(ws, job)
        if path is None or not path.is_file():
            problems[job.name] = f"verified clip file is missing: {job.output}"
        else:
            sources.append(Source(job.name, path, job.sha256 or ""))
    report = refresh(out_dir / ASSETS_DIR, sources, workers)
    present = {s.name for s in sources}
    problems.update({name: f"no thumbnail: {why}" for name, why in report.failed.items()})

    # 2. Rows and cells, with media links relative to gallery/.
    rows = _rows(jobs)
    for row in rows:
        for cell in row.cells.values():
            job = cell.job
            if job.state != "done":
                continue
            cell.problem = problems.get(job.name)
            if job.name in present:
                cell.video = "../" + Path(job.output or "").as_posix()
            cell.thumbs = report.thumbs.get(job.name)

    # 3. Render.
    durations = sorted({d for row in rows for d in row.cells})
    other_policy = sum(1 for row in rows for cell in row.cells.values() if cell.policy_note)
    negatives = {str(j.spec.get("negative_prompt") or "") for j in jobs}
    html = _environment().get_template("index.html.j2").render(
        title=ws.root.name,
        generated_at=time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(now or time.time())),
        counts=counts,
        other_policy=other_policy,
        states=STATES,
        rows=rows,
        durations=durations,
        series=sorted({r.series for r in rows}),
        kinds=sorted({k for r in rows for k in r.kinds}),
        assets=ASSETS_DIR,
        # The dataset-wide negative prompt is shown once, not in each of hundreds of cells.
        common_negative=negatives.pop() if len(negatives) == 1 else None,
    )
    index = out_dir / INDEX
    write_text_atomic(index, html)
    readable(index)
    return GalleryResult(index, len(rows), len(jobs), len(sources), report, problems)
