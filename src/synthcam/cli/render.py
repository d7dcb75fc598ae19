"""`synthcam render`: one clip from the procedural CPU backend, with its ground truth and its
fidelity audit; `synthcam render --audit` audits a whole dataset (or some IDs) instead."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table
from rich.text import Text

from ..errors import InputError
from ..redact import terminal_safe
from ._app import Command, app, console, err_console, handles_errors

if TYPE_CHECKING:  # the renderer (OpenCV, PyAV) loads only when the command runs
    from ..backends.procedural.sweep import AuditReport


@app.command("render", cls=Command)
@handles_errors
def render(
    clip_ids: list[str] = typer.Argument(None, metavar="[ID]...",
                                         help="Clip ID to render (one); with --audit, IDs or glob patterns (default: all)."),
    duration: int | None = typer.Option(None, "--duration", "-d", help="Seconds; one of the clip's durations."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output .mp4; ground truth goes to <name>.gt/ beside it."),
    manifest: str | None = typer.Option(None, "--manifest", "-m", help="Manifest file (default: the built-in dataset)."),
    seed: int | None = typer.Option(None, "--seed", help="Override the variant's derived seed."),
    all_frames: bool = typer.Option(False, "--all-frames", help="COCO annotations for every frame, not one per second."),
    masks: bool = typer.Option(False, "--masks", help="Also write masks.mkv: a flat colour per object on black (lossless)."),
    audit: bool = typer.Option(False, "--audit", help="Audit the selected variants from their ground truth (no files written)."),
    verify: bool = typer.Option(False, "--verify", help="With --audit: also encode each clip and run the verifier on it."),
    stride: int = typer.Option(1, "--stride", min=1, help="With --audit: draw every Nth frame only (faster, approximate)."),
    json_out: Path | None = typer.Option(None, "--json", help="With --audit: write the report as JSON here."),
) -> None:
    """Render one clip on the CPU, with MOT, COCO and count ground truth and a fidelity audit.

    Example: synthcam render T01 --duration 5 --out clip.mp4 -m builtin

    With --audit, check that every selected variant shows what its manifest says (subjects in
    view, large and distinct enough, the key moment inside the clip, named props in view)
    and print a table per series; exit 1 if any variant has findings.
    Example: synthcam render --audit --manifest builtin --verify --json audit.json
    """
    if audit:
        _audit(clip_ids or [], duration, manifest, verify, stride, json_out, out)
        return
    if verify or json_out or stride != 1:
        raise InputError("--verify, --json and --stride go with --audit")
    if not clip_ids or len(clip_ids) != 1 or duration is None or out is None:
        raise InputError("render one clip: give one ID, --duration and --out (or --audit to audit a dataset)")
    from ..backends.procedural import RenderOptions, render_clip

    result = render_clip(manifest, clip_ids[0], duration, out, seed=seed,
                         options=RenderOptions(all_frames=all_frames, masks=masks))
    counts = ", ".join(f"{n} {k}" for k, n in result.counts.items()) or "nothing visible"
    console.print(f"{result.video}: {result.frames} frames, {result.width}x{result.height} at {result.fps} fps, "
                  f"seed {result.seed}; ground truth in {result.truth_dir}/ ({counts})", highlight=False, soft_wrap=True)
    if result.audit:
        console.print(f"audit: {len(result.audit)} finding{'s' if len(result.audit) != 1 else ''} "
                      "(the engine would not verify this clip)", highlight=False)
        for f in result.audit:
            console.print(Text(f"  {f.kind}: {terminal_safe(f.detail)}"), soft_wrap=True)
    else:
        console.print("audit: ok (it shows what its manifest says)", highlight=False)


def _audit(patterns: list[str], duration: int | None, manifest_arg: str | None, verify: bool, stride: int,
           json_out: Path | None, out: Path | None) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ..backends.procedural.sweep import audit_dataset
    from ..manifest import load_manifest

    if out is not None:
        raise InputError("--audit writes no clip; leave out --out")
    if verify and stride != 1:
        raise InputError("--verify renders every frame; leave out --stride")
    if json_out is not None and (json_out.is_dir() or not json_out.parent.is_dir()):
        raise InputError(f"--json {json_out}: not a file in an existing folder")
    manifest = load_manifest(manifest_arg)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err_console, transient=True) as bar:
        task = bar.add_task("auditing", total=None)

        def progress(row, done: int, total: int) -> None:  # noqa: ANN001
            bar.update(task, completed=done, total=total, description=f"auditing {row.name}")

        report = audit_dataset(manifest, patterns or None, [duration] if duration else None, verify=verify, stride=stride,
                               progress=progress)
    console.print(audit_table(report))
    for row in report.rows:
        for f in row.findings:
            console.print(Text(f"{row.name}: {f.kind}: {terminal_safe(f.detail)}"), soft_wrap=True)
    how = "audit + verify" if report.verified else ("audit" if report.stride == 1 else f"audit, every {report.stride}th frame")
    failed = sum(1 for r in report.rows if r.status != "ok")
    console.print(f"{len(report.rows)} variants ({how}) in {report.elapsed_s:.0f} s: {len(report.rows) - failed} pass, "
                  f"{failed} with findings", highlight=False)
    if json_out is not None:
        json_out.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    if not report.ok:
        raise typer.Exit(1)


def audit_table(report: AuditReport) -> Table:
    """Findings per series: variants, passed, failed, and variants with each kind."""
    kinds = report.kinds()
    t = Table(title="fidelity audit" + (" + verify" if report.verified else ""))
    for col in ("series", "variants", "passed", "failed", *kinds):
        t.add_column(col, justify="left" if col == "series" else "right")
    for series, counts in report.by_series().items():
        t.add_row(series, *(str(counts.get(k, 0)) for k in ("variants", "passed", "failed", *kinds)))
    return t
