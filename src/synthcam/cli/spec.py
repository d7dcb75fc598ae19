"""Spec commands: check, lint, prompts, plan, import-legacy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from rich.text import Text

from ..errors import InputError, LintFailed
from ._app import Command, DEFAULT_WORKSPACE, JsonOpt, ManifestOpt, WorkspaceOpt, app, console, echo_json, handles_errors, plain, say

# Library modules are imported inside each command so that start-up stays fast.

OnlyOpt = Annotated[Optional[str], typer.Option("--only", metavar="IDS", help="Comma-separated clip IDs or globs, e.g. P01,T*.")]
DurationsOpt = Annotated[Optional[str], typer.Option("--durations", metavar="SECONDS", help="Comma-separated durations in seconds, e.g. 5,10.")]


def split_list(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def parse_durations(value: str | None) -> list[int] | None:
    items = split_list(value)
    if not items:
        return None
    try:
        return [int(v) for v in items]
    except ValueError:
        raise InputError(f"--durations takes whole seconds like 5,10,30, got {value!r}") from None


def _print_json(data: object) -> None:
    echo_json(data)


def _manifest(manifest: str | None, workspace: Path):
    from ..workspace import default_manifest

    return default_manifest(manifest, workspace, replan=True)


@app.command("check", cls=Command)
@handles_errors
def check_cmd(manifest: ManifestOpt = None, workspace: WorkspaceOpt = DEFAULT_WORKSPACE, json_out: JsonOpt = False) -> None:
    """Validate a manifest and print what it derives (IDs, clips per series and duration).

    Example: synthcam check -m examples/quickstart.yaml
    """

    from ..verify.policy import policy_from_manifest, policy_line

    m = _manifest(manifest, workspace)
    counts = m.counts()
    policy = policy_from_manifest(m)
    if json_out:
        _print_json({"manifest": m.path, **counts, "verify_policy": policy.to_record()})
        return
    say(f"{m.model.name} ({m.path}): {counts['ids']} IDs, {counts['clips']} clips")
    say("  by series:   " + ", ".join(f"{k} {v}" for k, v in counts["by_series"].items()))
    say("  by duration: " + ", ".join(f"{k}s {v}" for k, v in counts["by_duration"].items()))
    say("  " + policy_line(policy.to_record()))


@app.command("lint", cls=Command)
@handles_errors
def lint_cmd(manifest: ManifestOpt = None, workspace: WorkspaceOpt = DEFAULT_WORKSPACE, only: OnlyOpt = None,
             durations: DurationsOpt = None, json_out: JsonOpt = False,
             show: Annotated[int, typer.Option(metavar="N", help="Rows to show in the table (0 = all).")] = 50) -> None:
    """Lint every compiled prompt; exit 1 if any rule at error level fires.

    Rules: camera-in-frame, viewer-perspective, night-look, realtime-clause, length, pacing,
    negative-prompt. Errors block generation; warnings don't.
    """
    from ..lint import RULES, lint_manifest

    m = _manifest(manifest, workspace)
    report = lint_manifest(m, split_list(only), parse_durations(durations))
    if json_out:
        _print_json({"manifest": m.path, **report.to_json()})
    else:
        table = Table(title=plain(f"lint: {m.path}"), show_lines=False)
        for col in ("severity", "rule", "clip", "finding"):
            table.add_column(col, overflow="fold")
        rows = report.errors + report.warnings
        for f in rows if show == 0 else rows[:show]:
            style = "red" if f.severity == "error" else "yellow"
            table.add_row(Text(f.severity, style=style), f.rule, plain(f.clip), plain(f.message))
        if rows:
            console.print(table)
            if show and len(rows) > show:
                console.print(f"... {len(rows) - show} more (use --show 0 or --json)")
        by_rule = ", ".join(f"{k} {v}" for k, v in sorted(report.by_rule().items())) or "none"
        console.print(f"{report.clips} prompts: {len(report.errors)} errors, {len(report.warnings)} warnings ({by_rule})")
        for rule, n in sorted(report.by_rule().items()):
            console.print(f"  {rule}: {RULES[rule][1]}", style="dim")
    if not report.ok:
        raise typer.Exit(1)


@app.command("prompts", cls=Command)
@handles_errors
def prompts_cmd(out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="Folder for <ID>_<N>s.json files and batch.jsonl.")],
                manifest: ManifestOpt = None, workspace: WorkspaceOpt = DEFAULT_WORKSPACE, only: OnlyOpt = None,
                durations: DurationsOpt = None, force: Annotated[bool, typer.Option("--force", help="Write even if lint finds errors.")] = False) -> None:
    """Write Cosmos Predict 2.5 inputs: one JSON per clip, batch.jsonl, and the timing plan.

    The files use the flat per-sample schema of cosmos-predict2.5 v1.3.2+ (no extra keys).
    Feed them with: python examples/inference.py -i OUT/batch.jsonl -o outputs/
    """
    from ..lint import lint_manifest
    from ..prompts import write_prompts

    m = _manifest(manifest, workspace)
    only_list, dur_list = split_list(only), parse_durations(durations)
    report = lint_manifest(m, only_list, dur_list)
    if not report.ok and not force:
        first = report.errors[0]
        raise LintFailed(f"lint found {len(report.errors)} errors (first: {first.clip}: {first.rule}: {first.message}); "
                         "fix them or pass --force")
    result = write_prompts(m, out, only_list, dur_list)
    say(f"wrote {result.files} sample files, {result.batch} and {result.plan}")


@app.command("plan", cls=Command)
@handles_errors
def plan_cmd(manifest: ManifestOpt = None, workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
             model: Annotated[Optional[str], typer.Option(metavar="NAME", help="2B/post-trained | 14B/post-trained | 2B/distilled | ... (default: the manifest's)")] = None,
             gpu: Annotated[str, typer.Option(metavar="KIND", help="h100 | h200 | b200")] = "h100",
             gpus: Annotated[int, typer.Option(metavar="N", help="Number of GPUs, one worker each.")] = 1,
             costs: Annotated[Optional[Path], typer.Option(metavar="FILE", help="Cost table YAML merged over the built-in one.")] = None,
             only: OnlyOpt = None, durations: DurationsOpt = None, json_out: JsonOpt = False) -> None:
    """Cost plan: clips, chunks, GPU-hours and wall-clock on N GPUs, per series and in total."""
    from ..plan import GPU_KINDS, cost_plan
    from ..prompts import compile_manifest

    if gpu not in GPU_KINDS:
        raise InputError(f"--gpu must be one of {', '.join(GPU_KINDS)}, got {gpu!r}")
    m = _manifest(manifest, workspace)
    compiled = compile_manifest(m, split_list(only), parse_durations(durations))
    p = cost_plan(m, model, gpu, gpus, costs, compiled)
    data = p.to_json()
    if json_out:
        _print_json({"manifest": m.path, **data})
        return
    table = Table(title=plain(f"plan: {m.model.name} on {gpus}x {gpu.upper()}, {p.model}, timing {p.timing_policy}"))
    for col in ("series", "clips", "chunks", "GPU-hours"):
        table.add_column(col, justify="right" if col != "series" else "left")
    for name, b in data["by_series"].items():
        table.add_row(name, str(b["clips"]), str(b["chunks"]), f"{b['gpu_hours']:.1f}")
    t = data["total"]
    table.add_row(*(Text(v, style="bold") for v in ("total", str(t["clips"]), str(t["chunks"]), f"{t['gpu_hours']:.1f}")))
    console.print(table)
    frames = Table(title="timing per duration")
    for col in ("duration", "clips", "target frames @fps", "frames asked", "model frames", "chunks each"):
        frames.add_column(col, justify="right")
    for d, b in data["by_duration"].items():
        frames.add_row(f"{d} s", str(b["clips"]), str(b["target_frames"]), str(b["frames_asked"]),
                       str(b["model_frames"]), str(b["chunks_each"]))
    console.print(frames)
    console.print(f"sampling: {p.sampling}", markup=False, highlight=False)
    console.print(f"per chunk: {p.chunk.seconds:g} s — {p.chunk.source}")
    console.print(f"model load: {p.load.load_s:g} s per GPU, once — {p.load.load_source}")
    console.print(f"GPU-hours incl. loads: {p.gpu_hours:.1f}; wall-clock on {gpus} GPU(s): "
                  f"{data['wall_clock_h']:.2f} h (lower bound {p.lower_bound_s / 3600:.2f} h)")
    style = "green" if p.fit.fits else ("yellow" if p.fit.flags and p.fit.peak_with_flags_gb <= p.fit.usable_gb else "red")
    say(f"memory: {p.fit.note}", style=style)


@app.command("import-legacy", cls=Command)
@handles_errors
def import_legacy_cmd(old: Annotated[Path, typer.Argument(metavar="OLD", help="The old v2 generation_manifest.yaml.")],
                      out: Annotated[Path, typer.Option("--out", "-o", metavar="FILE", help="Where to write the synthcam manifest.")],
                      templates: Annotated[Optional[Path], typer.Option(metavar="DIR", help="Old templates folder (default: OLD's prompts/templates).")] = None,
                      json_out: JsonOpt = False) -> None:
    """Convert an old v2 manifest (and its templates) to a synthcam manifest, reporting every change."""
    from ..legacy import import_legacy_to

    if out.exists() and out.is_dir():
        raise InputError(f"--out {out} is a directory; give a file path")
    m, report = import_legacy_to(old, out, templates)
    if json_out:
        _print_json({"out": str(out), **report.to_json()})
        return
    say(f"imported {report.ids} IDs ({report.template_entries} from templates, "
                  f"{report.prompt_override_entries} prompt overrides) -> {out}")
    say(f"changed ({len(report.changed)}):", style="bold")
    for line in report.changed:
        say(f"  - {line}")
    say(f"dropped ({len(report.dropped)}):", style="bold")
    for line in report.dropped:
        say(f"  - {line}")
    say(f"next: synthcam lint -m {out}")
