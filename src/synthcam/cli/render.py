"""`synthcam render`: one clip from the procedural CPU backend, with its ground truth."""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import Command, app, console, handles_errors


@app.command("render", cls=Command)
@handles_errors
def render(
    clip_id: str = typer.Argument(..., metavar="ID", help="Clip ID from the manifest, e.g. T01."),
    duration: int = typer.Option(..., "--duration", "-d", help="Seconds; one of the clip's durations."),
    out: Path = typer.Option(..., "--out", "-o", help="Output .mp4; ground truth goes to <name>.gt/ beside it."),
    manifest: str | None = typer.Option(None, "--manifest", "-m", help="Manifest file (default: the built-in dataset)."),
    seed: int | None = typer.Option(None, "--seed", help="Override the variant's derived seed."),
    all_frames: bool = typer.Option(False, "--all-frames", help="COCO annotations for every frame, not one per second."),
    masks: bool = typer.Option(False, "--masks", help="Also write masks.mkv: a flat colour per object on black (lossless)."),
) -> None:
    """Render one clip on the CPU, with MOT, COCO and count ground truth beside it.

    Example: synthcam render T01 --duration 5 --out clip.mp4 -m builtin
    """
    from ..backends.procedural import RenderOptions, render_clip

    result = render_clip(manifest, clip_id, duration, out, seed=seed, options=RenderOptions(all_frames=all_frames, masks=masks))
    counts = ", ".join(f"{n} {k}" for k, n in result.counts.items()) or "nothing visible"
    console.print(f"{result.video}: {result.frames} frames, {result.width}x{result.height} at {result.fps} fps, "
                  f"seed {result.seed}; ground truth in {result.truth_dir}/ ({counts})", highlight=False, soft_wrap=True)
