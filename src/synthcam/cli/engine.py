"""`synthcam run`, `status`, `logs`, `adopt` (issue 5)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from ..errors import InputError
from ._app import app, console, handles_errors
from .spec import DurationsOpt, JsonOpt, OnlyOpt, parse_durations, split_list

WorkspaceOpt = Annotated[Path, typer.Option("--workspace", "-w", help="Workspace folder (job store, clips, logs).")]
DEFAULT_WORKSPACE = Path("workspace")


def parse_gpus(value: str | None) -> list[str]:
    """'0,1,3' -> ['0','1','3']; '4' -> ['0','1','2','3']."""
    if not value:
        return []
    items = split_list(value) or []
    if len(items) == 1 and "," not in value:
        try:
            n = int(items[0])
        except ValueError:
            raise InputError(f"--gpus takes N or a list like 0,1,2, got {value!r}") from None
        if n < 1 or n > 1024:
            raise InputError(f"--gpus {n}: need 1-1024")
        return [str(i) for i in range(n)]
    for item in items:
        if not item.isdigit():
            raise InputError(f"--gpus takes N or a list of GPU indices like 0,1,2, got {value!r}")
    if len(set(items)) != len(items):
        raise InputError(f"--gpus lists a GPU twice: {value!r}")
    return items


@app.command("run")
@handles_errors
def run_cmd(
    manifest: Annotated[Optional[str], typer.Option("--manifest", "-m", help="Manifest (default: examples/quickstart.yaml; 'builtin' for the full dataset).")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    backend: Annotated[Optional[str], typer.Option(help="procedural | cosmos (default: cosmos when a checkout is configured, else procedural).")] = None,
    gpus: Annotated[Optional[str], typer.Option(help="GPUs: N or a list like 0,1,2 (one worker per GPU group).")] = None,
    gpus_per_worker: Annotated[int, typer.Option(help="GPUs per worker (>1: torchrun context parallelism).")] = 1,
    workers: Annotated[Optional[int], typer.Option(help="Worker processes for CPU backends (default: CPU count).")] = None,
    only: OnlyOpt = None,
    durations: DurationsOpt = None,
    model: Annotated[Optional[str], typer.Option(help="Cosmos model (default: the manifest's).")] = None,
    cosmos_checkout: Annotated[Optional[Path], typer.Option(envvar="SYNTHCAM_COSMOS_CHECKOUT", help="cosmos-predict2.5 checkout (v1.3.2+).")] = None,
    launcher: Annotated[str, typer.Option(help="python | uv | docker | torchrun")] = "python",
    docker_image: Annotated[Optional[str], typer.Option(help="Image for --launcher docker.")] = None,
    disable_guardrails: Annotated[bool, typer.Option(help="Pass --disable-guardrails (the licence requires an equivalent safeguard).")] = False,
    offload: Annotated[Optional[list[str]], typer.Option(help="Cosmos offload flag, repeatable, e.g. --offload --offload-text-encoder.")] = None,
    job_timeout: Annotated[Optional[float], typer.Option(help="Seconds before a job counts as hung (Cosmos: per 93-frame chunk).")] = None,
    interpolation: Annotated[str, typer.Option(help="16->24 fps method: mci (motion-compensated) | blend | dup")] = "mci",
    force: Annotated[bool, typer.Option(help="Run despite lint errors.")] = False,
    retry_failed: Annotated[bool, typer.Option(help="Give failed jobs a fresh set of attempts.")] = False,
    max_attempts: Annotated[int, typer.Option(help="Attempts per job before it counts as failed.")] = 3,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Plan, generate, post-process, verify and record every clip; resumable at any point.

    With no flags it runs examples/quickstart.yaml with the procedural CPU backend.
    """
    from ..engine.runner import RunOptions, run

    chosen = backend or ("cosmos" if cosmos_checkout else "procedural")
    options: dict[str, Any] = {}
    if chosen == "cosmos":
        if not cosmos_checkout and launcher != "docker":
            raise InputError("--backend cosmos needs --cosmos-checkout DIR (or SYNTHCAM_COSMOS_CHECKOUT)")
        options = {"checkout": str(cosmos_checkout) if cosmos_checkout else None, "launcher": launcher,
                   "disable_guardrails": disable_guardrails, "offload": offload or []}
        if docker_image:
            options["image"] = docker_image
        if model:
            options["model"] = model
        if job_timeout:
            options["job_timeout_s"] = job_timeout
    if interpolation not in ("mci", "blend", "dup"):
        raise InputError(f"--interpolation must be mci, blend or dup, got {interpolation!r}")
    opts = RunOptions(backend=chosen, gpus=parse_gpus(gpus), gpus_per_worker=gpus_per_worker, workers=workers,
                      only=split_list(only), durations=parse_durations(durations), backend_options=options,
                      model=model, force=force, retry_failed=retry_failed, max_attempts=max_attempts,
                      job_timeout_s=job_timeout if chosen != "cosmos" else None, interpolation=interpolation)
    if chosen == "cosmos" and not opts.gpus:
        raise InputError("--backend cosmos needs --gpus (N or a list like 0,1)")
    target = manifest or "quickstart"
    show = not quiet and not json_out and console.is_terminal
    progress = Progress(TextColumn("[bold]generating"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[note]}"),
                        TimeElapsedColumn(), TimeRemainingColumn(), console=console, disable=not show)
    task = progress.add_task("run", total=None, note="")
    last_line = [0.0]

    def tick(status: dict[str, Any]) -> None:
        busy = ", ".join(f"{w['worker'].split('-')[-1]}:{w['job']}" for w in status["workers"] if w["job"])
        progress.update(task, total=status["total"], completed=status["completed"] + status["failed"] + status["blocked"],
                        note=f"failed {status['failed']} blocked {status['blocked']} | {busy}"[:60])
        if not show and not quiet and not json_out and time.time() - last_line[0] > 5:
            last_line[0] = time.time()
            console.print(f"{status['completed']}/{status['total']} verified, {status['in_progress']} running, "
                          f"{status['failed']} failed, {status['blocked']} blocked", highlight=False)

    with progress:
        result = run(target, workspace, opts, on_tick=tick)
    if json_out:
        typer.echo(json.dumps({"workspace": str(result.workspace), "selected": result.selected, "done": result.done,
                               "failed": result.failed, "blocked": result.blocked, "pending": result.pending,
                               "new_jobs": result.new_jobs, "elapsed_s": round(result.elapsed_s, 1),
                               "status": result.status}, indent=2))
    else:
        console.print(f"{result.done}/{result.selected} clips verified in {result.elapsed_s:.1f} s "
                      f"({result.failed} failed, {result.blocked} blocked, {result.pending} pending) -> {result.workspace}/clips",
                      highlight=False)
        for f in result.status["recent_failures"][:5]:
            console.print(f"  {f['state']} {f['name']}: {f['kind']}: {f['reason']}", highlight=False)
        console.print(f"status: {result.workspace}/generation_status.json", highlight=False)
    if not result.ok:
        raise typer.Exit(1)


def _status_table(status: dict[str, Any]) -> Table:
    from ..engine.status import eta_seconds

    t = Table(title=f"status (updated {status['updated_at']})")
    for col in ("", "total", "completed", "in progress", "pending", "failed", "blocked"):
        t.add_column(col, justify="right" if col else "left")
    rows = [("all", status)] + [(k, v) for k, v in status["by_series"].items()] + [(k, v) for k, v in status["by_duration"].items()]
    for name, s in rows:
        t.add_row(name, *(str(s[k]) for k in ("total", "completed", "in_progress", "pending", "failed", "blocked")))
    eta = eta_seconds(status)
    t.caption = (f"GPU-hours {status['gpu_hours']:.2f} | throughput {status['throughput_per_hour']}/h"
                 + (f" | ETA ~{eta / 60:.0f} min" if eta else "")
                 + (f" | published {status['published']}" if "published" in status else ""))
    return t


def _workers_table(status: dict[str, Any]) -> Table:
    t = Table(title="workers")
    for col in ("worker", "gpus", "job", "elapsed", "model loads", "done"):
        t.add_column(col)
    for w in status["workers"]:
        t.add_row(w["worker"], w["gpus"] or "-", w["job"] or "idle", f"{w['elapsed_s']:.0f} s" if w["elapsed_s"] else "-",
                  str(w["model_loads"]), str(w["jobs_done"]))
    return t


def _render_status(status: dict[str, Any]) -> Table:
    grid = Table.grid()
    grid.add_row(_status_table(status))
    if status["workers"]:
        grid.add_row(_workers_table(status))
    if status["recent_failures"]:
        f = Table(title="recent failures")
        for col in ("clip", "state", "kind", "reason"):
            f.add_column(col, overflow="fold")
        for r in status["recent_failures"][:8]:
            f.add_row(r["name"], r["state"], r["kind"] or "", r["reason"] or "")
        grid.add_row(f)
    return grid


@app.command("status")
@handles_errors
def status_cmd(workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
               watch: Annotated[bool, typer.Option(help="Refresh live until Ctrl-C.")] = False,
               json_out: JsonOpt = False) -> None:
    """Counts, workers, throughput, ETA and recent failures, derived from the job store."""
    from ..engine.status import write_status
    from ..workspace import Workspace

    ws = Workspace.existing(workspace)
    store = ws.store()
    try:
        if json_out:
            typer.echo(json.dumps(write_status(ws, store), indent=2))
            return
        if not watch:
            console.print(_render_status(write_status(ws, store)))
            return
        with Live(_render_status(write_status(ws, store)), console=console, refresh_per_second=2) as live:
            while True:
                time.sleep(1.0)
                live.update(_render_status(write_status(ws, store)))
    finally:
        store.close()


@app.command("logs")
@handles_errors
def logs_cmd(job: Annotated[str, typer.Argument(help="Job ID (or a prefix) or clip name like P01_5s.")],
             workspace: WorkspaceOpt = DEFAULT_WORKSPACE) -> None:
    """A job's events and log."""
    from ..workspace import Workspace

    ws = Workspace.existing(workspace)
    store = ws.store()
    try:
        found = store.find(job)
        if not found:
            raise InputError(f"no job matches {job!r} in {workspace}")
        j = found[0]
        console.print(f"[bold]{j.name}[/] job {j.job_id} state {j.state} attempts {j.attempts}"
                      + (f" error {j.error_kind}: {j.error}" if j.error else ""), highlight=False)
        for e in store.events(job_id=j.job_id, limit=200):
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e["at"]))
            console.print(f"{stamp} {e['kind']:<10} {e['worker'] or '':<14} {e['detail']}", highlight=False, markup=False)
        log = ws.job_log(j.job_id)
        if log.exists():
            console.print(log.read_text(encoding="utf-8", errors="replace"), highlight=False, markup=False, end="")
    finally:
        store.close()


@app.command("adopt")
@handles_errors
def adopt_cmd(source: Annotated[Path, typer.Argument(help="Folder of clips made elsewhere (Cosmos output with sidecars, or <ID>_<N>s.mp4).")],
              manifest: Annotated[Optional[str], typer.Option("--manifest", "-m", help="Manifest (default: the built-in dataset).")] = None,
              workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
              backend: Annotated[str, typer.Option(help="Backend the clips came from (part of each job's identity).")] = "cosmos",
              model: Annotated[Optional[str], typer.Option(help="Model the clips came from (default: the manifest's).")] = None,
              json_out: JsonOpt = False) -> None:
    """Record clips generated outside synthcam as done, only if each matches its job and passes verify."""
    from ..engine.adopt import adopt

    entries = adopt(source, workspace, manifest, backend, model)
    counts = {a: sum(1 for e in entries if e.action == a) for a in ("adopted", "rejected", "skipped")}
    if json_out:
        typer.echo(json.dumps({"counts": counts, "files": [e.__dict__ for e in entries]}, indent=2))
    else:
        table = Table(title=f"adopt {source}")
        for col in ("file", "action", "reason"):
            table.add_column(col, overflow="fold")
        for e in entries:
            style = {"adopted": "green", "rejected": "red"}.get(e.action, "yellow")
            table.add_row(e.path, f"[{style}]{e.action}[/]", e.reason)
        console.print(table)
        console.print(", ".join(f"{n} {a}" for a, n in counts.items()))
    if counts["rejected"]:
        raise typer.Exit(1)
