"""`synthcam frames`, `gallery`, `export` (issue 6): look at clips, and hand them on."""

from __future__ import annotations

import json
import webbrowser
from pathlib import Path
from typing import Annotated, Optional

import typer

# The export, frames and gallery stacks load only when their command runs.
LAYOUTS = ("nemotron", "flat", "hf")
from ._app import Command, app, console, err_console, handles_errors
from .engine import DEFAULT_WORKSPACE, WorkspaceOpt
from .spec import DurationsOpt, JsonOpt, parse_durations


def _say(text: str) -> None:
    console.print(text, highlight=False, soft_wrap=True, markup=False)


def _warn(text: str) -> None:
    err_console.print(text, highlight=False, soft_wrap=True, markup=False)


@app.command("frames", cls=Command)
@handles_errors
def frames_cmd(
    clip: Annotated[str, typer.Argument(help="A clip file, or a clip name (P01_5s) in the workspace.")],
    count: Annotated[Optional[int], typer.Option("--count", "-n", help="Frames at the middles of N equal slices (default 3).")] = None,
    every: Annotated[Optional[str], typer.Option("--every", help="One frame per interval instead, e.g. 1s or 500ms.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Folder for the JPEGs (default: ./<clip>_frames).")] = None,
    sheet: Annotated[bool, typer.Option("--sheet", help="Also write a contact sheet of the same frames, with timestamps.")] = False,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
) -> None:
    """Save sample frames of a clip as JPEG, and optionally a contact sheet.

    Example: synthcam frames P01_5s --every 1s --sheet
    """
    from ..frames import extract

    result = extract(clip, out, count=count, every=every, sheet=sheet, workspace=workspace)
    for path in result.frames:
        _say(str(path))
    if result.sheet:
        _say(f"contact sheet: {result.sheet}")


@app.command("gallery", cls=Command)
@handles_errors
def gallery_cmd(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    open_: Annotated[bool, typer.Option("--open", help="Open the page in the default browser.")] = False,
    workers: Annotated[Optional[int], typer.Option(help="Threads making thumbnails (default: CPU count).")] = None,
) -> None:
    """Build <workspace>/gallery/index.html: every ID's clips side by side, with status and filters.

    The page works from file:// with no server. Thumbnails are remade only for clips whose
    sha256 changed. Example: synthcam gallery -w workspace --open
    """
    from ..gallery import build_gallery

    result = build_gallery(workspace, workers=workers)
    t = result.thumbs
    _say(f"{result.path}: {result.rows} IDs, {result.jobs} clips planned, {result.verified} verified "
                  f"(thumbnails: {t.made} made, {t.kept} kept)")
    for name, problem in sorted(result.problems.items()):
        _warn(f"warning: {name}: {problem}")
    if open_:
        webbrowser.open(result.path.as_uri())


@app.command("export", cls=Command)
@handles_errors
def export_cmd(
    layout: Annotated[str, typer.Option("--layout", help=f"{' | '.join(LAYOUTS)}")] = "nemotron",
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Folder to export into (required).")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    durations: DurationsOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be created, updated or removed; write nothing.")] = False,
    manifest: Annotated[Optional[str], typer.Option("--manifest", "-m", help="Manifest for the labels (default: the one each clip was planned from).")] = None,
    license_id: Annotated[Optional[str], typer.Option("--license", help="hf: the dataset card's license, a Hub identifier such as cc-by-4.0.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Export verified clips with their labels; re-running touches only what changed.

    nemotron: OUT/{normal|suspicious|threats}/cosmos_<ID>_<scenario>_<date>/ with media/001.mp4,
    metadata.json, scenario_spec.json and expected_labels.json (docs/export.md).
    flat: OUT/<clip>.mp4 plus index.csv and index.json.
    hf: the Hugging Face datasets layout: {train,validation,test}/<clip>.mp4 with metadata.jsonl,
    ground_truth/<clip>/ and a dataset card (README.md). Exits 1 if a clip was refused.

    Example: synthcam export --layout nemotron --out data/synthetic --durations 5 --dry-run
             synthcam export --layout hf --out hub/my-dataset --license cc-by-4.0
    """
    from ..export import export

    result = export(workspace, layout, out, durations=parse_durations(durations), dry_run=dry_run, manifest=manifest,
                    license=license_id)
    if json_out:
        typer.echo(json.dumps(result.to_json(), indent=2))
    else:
        prefix = "would " if dry_run else ""
        for change in result.changes:
            _say(f"{prefix}{change}")
        _say(f"{result.out}: {result.summary()}")
    for refusal in result.refused:
        _warn(f"refused: {refusal.name}: {refusal.reason}")
    if result.refused:
        raise typer.Exit(1)
