"""`synthcam verify` (issue 3): a thin layer over `synthcam.verify.verify_paths`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..errors import InputError
from rich.text import Text

from ._app import Command, app, console, err_console, handles_errors, plain, say

if TYPE_CHECKING:  # the verify stack (PyAV, OpenCV) loads only when the command runs
    from ..verify import FileReport, Recheck, Report, Thresholds, VerifyPolicy

__all__ = ["verify_cmd"]


def _durations(value: str | None) -> list[int] | None:
    if not value:
        return None
    try:
        out = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"--durations takes whole seconds like 5,10,30, got {value!r}") from None
    if not out or any(d < 1 for d in out):
        raise InputError(f"--durations takes positive whole seconds like 5,10,30, got {value!r}")
    return out


def _check_writable(path: Path) -> None:
    """Refuse a report path that cannot be written before spending time on decoding."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if path.is_dir() or not parent.is_dir() or not os.access(parent, os.W_OK):
        raise InputError(f"--json {path}: cannot write the report there")


def _workspace_of(paths: list[Path]) -> Path | None:
    """The workspace whose clips/ folder was named, if one was (verify then expects its plan)."""
    from ..store import DB_NAME

    for p in paths:
        if p.is_dir() and p.resolve().name == "clips" and (p.resolve().parent / DB_NAME).is_file():
            return p.resolve().parent
    return None


def _short(report: FileReport) -> str:
    if not report.findings:
        return ""
    more = f" (+{len(report.findings) - 1} more)" if len(report.findings) > 1 else ""
    return report.findings[0].detail + more


def _table(report: Report, show_all: bool, limit: int) -> Table | None:
    rows = report.files if show_all else [f for f in report.files if not f.ok]
    if not rows:
        return None
    table = Table(title="files" if show_all else "failing files", title_justify="left")
    for col, opts in (("file", {"overflow": "fold"}), ("status", {}), ("frames", {"justify": "right"}),
                      ("fps", {"justify": "right"}), ("size", {}), ("finding", {"overflow": "fold"})):
        table.add_column(col, **opts)
    for f in rows[:limit] if limit else rows:
        size = f"{f.width}x{f.height}" if f.width else ""
        style = "green" if f.ok else "red"
        table.add_row(plain(f.path), Text(f.status, style=style), "" if f.frames is None else str(f.frames),
                      "" if f.fps is None else f"{f.fps:g}", size, plain(_short(f)))
    if limit and len(rows) > limit:
        table.caption = f"{len(rows) - limit} more rows in the JSON report (--json)"
    return table


def _id_table(report: Report, limit: int) -> Table | None:
    rows = [i for i in report.ids if i.status != "ok"]
    if not rows:
        return None
    table = Table(title="failing IDs", title_justify="left")
    for col in ("id", "status", "durations", "finding"):
        table.add_column(col, overflow="fold")
    for i in rows[:limit] if limit else rows:
        found = ", ".join(f"{d}s" for d in i.found_durations) or "none"
        table.add_row(plain(i.id), Text(i.status, style="red"), f"{found} of {', '.join(f'{d}s' for d in i.expected_durations)}",
                      plain(i.findings[0].detail if i.findings else ""))
    return table


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _change_table(title: str, rows: list, columns: tuple[str, str, str, str], limit: int) -> Table | None:
    if not rows:
        return None
    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col, overflow="fold")
    for c in rows[:limit] if limit else rows:
        table.add_row(plain(c.clip), plain(c.recorded_policy or c.recorded), Text(c.kind, style="red"), plain(c.detail))
    if limit and len(rows) > limit:
        table.caption = f"{len(rows) - limit} more rows in the JSON report (--json)"
    return table


def _recheck_lines(recheck: Recheck) -> list[str]:
    verified = recheck.still_verified + len(recheck.now_failing) + len(recheck.not_as_verified)
    lines = ["recorded: " + ", ".join(f"{_n(n, 'clip')} verified under {p}" for p, n in recheck.recorded_policies.items())
             if recheck.recorded_policies else "recorded: no verified clips"]
    lines.append(f"under {recheck.policy.summary()}: {recheck.still_verified} of {_n(verified, 'verified clip')} still pass, "
                 f"{len(recheck.now_failing)} would now fail, {len(recheck.not_as_verified)} missing or changed; "
                 f"{_n(len(recheck.may_pass), 'failed clip')} may pass on retry")
    lines.append(f"nothing in {recheck.workspace} was changed: done jobs stay done until you decide "
                 "(a policy change never re-verifies or invalidates them)")
    return lines


def _summary_lines(report: Report) -> list[str]:
    s = report.summary
    stubs = _n(s.lfs_pointers, "LFS pointer stub")
    if s.lfs_pointers:
        stubs += f" of {_n(s.lfs_objects, 'distinct object')} ({s.lfs_object_bytes:,} bytes never fetched)"
    files = f"{_n(s.files, 'file')}: {_n(s.videos, 'video')}, {stubs}"
    lines = [f"{files}, {s.unique_sha256} unique sha256"]
    lines.append(f"passed {s.passed}, failed {s.failed}")
    if s.by_kind:
        lines.append("failures by kind: " + ", ".join(f"{k} {n}" for k, n in s.by_kind.items()))
    if s.ids:
        lines.append(f"IDs: {s.ids}, passing {s.ids_passed}, missing variants {s.missing_variants}")
    from ..verify import policy_line

    lines.append(policy_line(report.policy))
    return lines


@app.command("verify", cls=Command)
@handles_errors
def verify_cmd(
    paths: Annotated[list[Path] | None, typer.Argument(metavar="PATH", help="Video files and/or folders (searched for *.mp4); none with -w: re-check that workspace's verified clips.", show_default=False)] = None,
    manifest: Annotated[str | None, typer.Option("--manifest", "-m", metavar="FILE", help="Manifest YAML: expectations and the variants that must exist.")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", metavar="FILE", help="Write the JSON report here ('-' prints it).")] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", metavar="N", help="Worker processes (default: CPU count).")] = None,
    fps: Annotated[int, typer.Option(metavar="FPS", help="Expected frame rate without a manifest.")] = 24,
    width: Annotated[int, typer.Option(metavar="PX", help="Expected width without a manifest.")] = 1280,
    height: Annotated[int, typer.Option(metavar="PX", help="Expected height without a manifest.")] = 704,
    codec: Annotated[str, typer.Option(metavar="NAME", help="Expected codec ('any' to skip).")] = "h264",
    pix_fmt: Annotated[str, typer.Option("--pix-fmt", metavar="NAME", help="Expected pixel format ('any' to skip).")] = "yuv420p",
    durations: Annotated[str | None, typer.Option(metavar="SECONDS", help="Durations every ID must have without a manifest, e.g. 5,10,30 (default: every duration seen).")] = None,
    verify_policy: Annotated[str | None, typer.Option("--verify-policy", metavar="FILE", help="Verification policy (YAML/JSON: profile, checks, thresholds; or a profile name such as container-only). Replaces the manifest's verify: section.")] = None,
    thresholds: Annotated[Path | None, typer.Option(metavar="FILE", help="YAML/JSON file of thresholds only, every check on (see docs/verify.md).")] = None,
    workspace: Annotated[Path | None, typer.Option("--workspace", "-w", metavar="DIR", help="Expect what this workspace planned (default: when PATH is a workspace's clips/ folder). Without PATH: re-check its verified clips under the policy and report what would change.")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="List passing files too.")] = False,
    show: Annotated[int, typer.Option(metavar="N", help="Rows to show per table (0 = all).")] = 50,
) -> None:
    """Verify video clips in one decode pass each; exit 1 if any file or ID fails.

    Checks: LFS pointer stubs, empty/not-video/unreadable/corrupt files, exact frame count,
    fps, VFR, resolution, codec, duplicates and near duplicates (re-encodes, prefixes),
    black, frozen, flicker, static, scene cuts, and missing duration variants per ID.
    A verification policy (--verify-policy, or the manifest's verify: section) may switch
    content checks off or move their thresholds; container checks always run.

    Example: synthcam verify out/ --manifest dataset.yaml --json report.json

    Example: synthcam verify -w workspace --verify-policy strict.yaml   (what would change; writes nothing)
    """
    for name, value in (("--fps", fps), ("--width", width), ("--height", height)):
        if value < 1:
            raise InputError(f"{name} must be a positive number, got {value}")
    if jobs is not None and jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {jobs}")
    if json_path is not None and str(json_path) != "-":
        _check_writable(json_path)
    if verify_policy is not None and thresholds is not None:
        raise InputError("--verify-policy and --thresholds cannot be combined: put the thresholds under "
                         "`thresholds:` in the policy file")
    if not paths and workspace is None:
        raise InputError("name the clips to verify (PATH...), or a workspace to re-check with -w DIR")
    from ..verify import Expectation, load_policy, load_thresholds, verify_paths

    policy = load_policy(verify_policy) if verify_policy is not None else None
    th = load_thresholds(thresholds) if thresholds else None
    if not paths:
        assert workspace is not None
        _recheck(workspace, manifest, policy, th, jobs, json_path, show)
    planned = workspace or _workspace_of(paths)
    if manifest is None and planned is not None:
        from ..workspace import default_manifest

        manifest = default_manifest(None, planned)  # the variants that workspace planned, as planned
    from ..verify import collect_paths

    if not collect_paths(paths):
        raise InputError(f"no clips (*.mp4 files) found in {', '.join(map(str, paths))}")
    defaults = Expectation(fps=fps, width=width, height=height, codec=None if codec == "any" else codec,
                           pix_fmt=None if pix_fmt == "any" else pix_fmt)
    run = {"manifest": manifest, "jobs": jobs, "thresholds": th, "policy": policy, "defaults": defaults,
           "durations": _durations(durations)}
    report = _with_progress(lambda progress: verify_paths(paths, progress=progress, **run))
    _emit(json_path, report.to_json(), lambda: ((_table(report, show_all, show), _id_table(report, show)),
                                                _summary_lines(report)))
    raise typer.Exit(0 if report.ok else 1)


def _with_progress(work):
    """Run `work(progress)` with a bar on a terminal, else one plain line per file on stderr."""
    if console.is_terminal:
        columns = (TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("verify", total=None)
            return work(lambda _r, done, total: bar.update(task, completed=done, total=total))
    return work(lambda r, done, total: err_console.print(plain(f"[{done}/{total}] {r.status:<16} {r.path}"), soft_wrap=True))


def _emit(json_path: Path | None, data: dict, text) -> None:
    """The JSON on stdout (--json -), or the tables and lines of `text()`, then the JSON file."""
    from ..fsutil import write_json_atomic

    if json_path is not None and str(json_path) == "-":
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    tables, lines = text()
    for table in tables:
        if table is not None:
            console.print(table)
    for line in lines:
        say(line)
    if json_path is not None:
        try:
            write_json_atomic(json_path, data)
        except OSError as exc:
            raise InputError(f"--json {json_path}: cannot write the report: {exc.strerror or exc}") from None
        say(f"report: {json_path}")


def _recheck(workspace: Path, manifest: str | None, policy: VerifyPolicy | None, th: Thresholds | None,
             jobs: int | None, json_path: Path | None, show: int) -> None:
    """`verify -w W` without PATH: W's verified clips under the policy, against W's records."""
    from ..verify import VerifyPolicy, recheck_workspace

    if policy is None and th is not None:
        policy = VerifyPolicy.from_thresholds(th)
    recheck = _with_progress(lambda progress: recheck_workspace(workspace, policy, manifest=manifest, jobs=jobs,
                                                                progress=progress))
    _emit(json_path, recheck.to_json(), lambda: ((
        _change_table("verified clips that would now fail", recheck.now_failing,
                      ("clip", "verified under", "now", "finding"), show),
        _change_table("verified clips whose file is missing or changed", recheck.not_as_verified,
                      ("clip", "verified under", "", "detail"), show),
        _change_table("failed clips that may pass", recheck.may_pass, ("clip", "recorded", "failed on", "why"), show),
    ), _recheck_lines(recheck)))
    raise typer.Exit(0 if recheck.ok else 1)
