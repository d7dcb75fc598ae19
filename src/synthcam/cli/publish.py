"""`synthcam publish` (issue 7): Git LFS with proof that the server holds every object."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.table import Table

from ..errors import InputError
from ._app import Command, DEFAULT_WORKSPACE, WorkspaceOpt, app, console, err_console, fail, handles_errors, plain

if TYPE_CHECKING:  # the publish stack loads only when the command runs
    from ..publish import CheckResult, ClipState, PublishResult

PathOpt = Annotated[Optional[Path], typer.Option(
    "--path", help="Publish this folder (e.g. an export, inside a git work tree) instead of clips/.")]
RemoteOpt = Annotated[Optional[str], typer.Option(
    "--remote", help="Git remote (default origin; with --check, every recorded server).")]
BranchOpt = Annotated[Optional[str], typer.Option("--branch", help="Branch to push HEAD to (default: the current).")]
CheckOpt = Annotated[bool, typer.Option("--check", help="Ask the server again about every clip recorded as published.")]
RepairOpt = Annotated[bool, typer.Option(
    "--repair", help="Check, and re-upload missing (with --sample/--deep: also corrupt) objects from local content.")]
SampleOpt = Annotated[Optional[int], typer.Option(
    "--sample", help="Check: also download N objects (a random sample) and re-hash them.", show_default=False)]
DeepOpt = Annotated[bool, typer.Option("--deep", help="Check: download every object and re-hash it.")]
SeedOpt = Annotated[Optional[int], typer.Option(
    "--seed", help="Draw the --sample with this seed (default: a fresh one, printed).", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _say(text: str) -> None:
    """Paths, server messages and endpoints are untrusted: printed as text, never as markup."""
    console.print(plain(text), soft_wrap=True)


def _progress(quiet: bool) -> Callable[[str], None] | None:
    """Step messages on a terminal's stderr; none in pipes, so stderr stays one error line."""
    if quiet or not err_console.is_terminal:
        return None
    return lambda message: err_console.print(plain(message), style="dim", soft_wrap=True)


def _table(title: str, columns: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> Table:
    table = Table(title=title)
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*(plain(cell) for cell in row))
    return table


def _missing(rows: list[ClipState], title: str = "missing on the server") -> Table:
    return _table(title, ("clip", "path", "oid", "why"), [(c.name, c.path, c.oid[:12], c.detail) for c in rows])


def _show_publish(r: PublishResult) -> None:
    what = f"commit {r.commit[:12]}" if r.commit else "no commit"
    _say(f"published to {r.remote} ({r.endpoint}), branch {r.branch}, {what} "
         f"({'new' if r.committed else 'unchanged'})")
    _say(f"  uploaded {r.uploaded} objects ({r.uploaded_bytes} bytes); "
         f"the server confirmed {r.published} of {len(r.clips)} clips")
    if r.missing:
        console.print(_missing(r.missing))


def _show_check(r: CheckResult, repair: bool) -> None:
    present = sum(c.present for c in r.clips)
    corrupt = f", {len(r.corrupt)} corrupt" if r.read is not None or r.corrupt else ""
    repaired = f", {len(r.repaired)} repaired" if repair else ""
    _say(f"checked {len(r.clips)} published clips on {', '.join(r.endpoints) or 'no server'}: "
         f"{present} present, {len(r.missing)} missing{corrupt}{repaired}")
    if r.read is not None:
        how = "all" if r.read.mode == "deep" else f"a sample (seed {r.read.seed}; --seed {r.read.seed} draws it again)"
        _say(f"read back {r.read.objects} of {r.read.of} objects, {r.read.bytes} bytes, re-hashed: {how}")
    if r.missing:
        console.print(_missing(r.missing))
    if r.corrupt:
        console.print(_missing(r.corrupt, "corrupt on the server (wrong bytes)"))
    if (r.missing or r.corrupt) and not repair:
        deep = " --deep" if r.corrupt else ""
        _say(f"re-upload them from local content with: synthcam publish --repair{deep}")


@app.command("publish", cls=Command)
@handles_errors
def publish_cmd(workspace: WorkspaceOpt = DEFAULT_WORKSPACE, path: PathOpt = None, remote: RemoteOpt = None,
                branch: BranchOpt = None, check_only: CheckOpt = False, repair: RepairOpt = False,
                sample: SampleOpt = None, deep: DeepOpt = False, seed: SeedOpt = None,
                json_out: JsonOpt = False) -> None:
    """Commit verified clips to Git LFS, push (with hooks), and prove the server holds every object.

    --check asks the server which objects it holds; --sample N / --deep (which imply --check)
    also download N objects (or all) and re-hash them, so wrong bytes of the right size are found.

    Exit 0 when the server confirmed every clip; 1 when any is missing or corrupt, or when a
    clip was refused (then nothing is committed); 2 for usage errors.

    \b
    Examples:
      synthcam publish -w runs/demo --remote origin
      synthcam publish -w runs/demo --check --sample 20
      synthcam publish -w runs/demo --deep --repair
    """
    from ..publish import PublishRefused, check, publish

    checking = check_only or repair or deep or sample is not None or seed is not None
    if branch and checking:
        raise InputError("--branch applies to publishing, not to --check/--repair/--sample/--deep")
    progress = _progress(json_out)
    if checking:
        result = check(workspace, path=path, remote=remote, repair=repair, progress=progress, sample=sample,
                       deep=deep, seed=seed)
        if json_out:
            typer.echo(json.dumps(result.to_json(), indent=2))
        else:
            _show_check(result, repair)
        raise typer.Exit(1 if result.failed else 0)
    try:
        published = publish(workspace, path=path, remote=remote or "origin", branch=branch, progress=progress)
    except PublishRefused as exc:
        if json_out:
            typer.echo(json.dumps({"refused": [vars(r) for r in exc.refusals]}, indent=2))
        else:
            rows = [(r.name, r.path, r.reason) for r in exc.refusals]
            console.print(_table("refused", ("clip", "path", "reason"), rows))
        fail(exc)
    if json_out:
        typer.echo(json.dumps(published.to_json(), indent=2))
    else:
        _show_publish(published)
    raise typer.Exit(1 if published.missing else 0)

