"""`synthcam run`, `status`, `logs`, `adopt`: generate, watch, inspect, take in."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from ..errors import InputError
from ._app import Command, DEFAULT_WORKSPACE, JsonOpt, ManifestOpt, WorkspaceOpt, app, console, echo_json, handles_errors, plain, say, warn
from .spec import DurationsOpt, OnlyOpt, parse_durations, split_list


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


def parse_backend_options(items: list[str] | None) -> dict[str, Any]:
    """`-o key=value` pairs; values are YAML scalars (numbers, true/false, lists), validated by the backend."""
    import yaml

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise InputError(f"--backend-option takes KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


def describe_plan(plan: Any, backend: str, workspace: Path) -> list[str]:
    """What a run is about to do, first: a resumed run says what it found."""
    lines = []
    if not plan.integrity.ok:
        lines.append(f"warning: {plan.integrity.summary()}: returned to the queue, they will be made again")
    if plan.resumed:
        extra = [f"{plan.reclaimed} reclaimed from a run that stopped" if plan.reclaimed else "",
                 f"{plan.landed} finished from a crash" if plan.landed else "",
                 f"{plan.cleaned} leftovers of dead workers removed" if plan.cleaned else ""]
        lines.append(f"resuming {workspace}: {plan.already_verified} of {plan.selected} already verified, "
                     f"{plan.to_do} to do" + "".join(f", {e}" for e in extra if e))
        if plan.failed or plan.blocked:
            lines.append(f"  not retried: {plan.failed} failed (use --retry-failed), {plan.blocked} blocked by guardrails")
    if plan.to_do:
        lines.append(f"generating {plan.to_do} clips with {backend} on {plan.workers} worker(s) -> {workspace}/clips")
    elif not plan.resumed or plan.already_verified == plan.selected:
        lines.append(f"nothing to do: {plan.already_verified} of {plan.selected} clips verified")
    return lines


@app.command("run", cls=Command)
@handles_errors
def run_cmd(
    manifest: ManifestOpt = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    backend: Annotated[Optional[str], typer.Option(metavar="NAME", help="procedural | cosmos (default: cosmos when a checkout is configured, else procedural).")] = None,
    gpus: Annotated[Optional[str], typer.Option(metavar="N|LIST", help="GPUs: N or a list like 0,1,2 (one worker per GPU group).")] = None,
    gpus_per_worker: Annotated[int, typer.Option(metavar="K", help="GPUs per worker (>1: torchrun context parallelism).")] = 1,
    workers: Annotated[Optional[int], typer.Option(metavar="N", help="Worker processes for CPU backends (default: CPU count, at most the jobs to do).")] = None,
    only: OnlyOpt = None,
    durations: DurationsOpt = None,
    model: Annotated[Optional[str], typer.Option(metavar="NAME", help="Cosmos model (default: the manifest's).")] = None,
    cosmos_checkout: Annotated[Optional[Path], typer.Option(envvar="SYNTHCAM_COSMOS_CHECKOUT", metavar="DIR", help="cosmos-predict2.5 checkout (v1.3.2+), env SYNTHCAM_COSMOS_CHECKOUT.")] = None,
    launcher: Annotated[Optional[str], typer.Option(metavar="NAME", help="Cosmos launcher: python (default) | uv | docker | torchrun")] = None,
    docker_image: Annotated[Optional[str], typer.Option(metavar="IMAGE", help="Image for --launcher docker.")] = None,
    disable_guardrails: Annotated[bool, typer.Option("--disable-guardrails", help="Pass --disable-guardrails (the licence requires an equivalent safeguard).")] = False,
    model_dir: Annotated[Optional[Path], typer.Option(metavar="DIR", help="diffusers: a local pipeline folder with the weights.")] = None,
    revision: Annotated[Optional[str], typer.Option(metavar="REV", help="diffusers: the Hub revision, e.g. diffusers/base/post-trained.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(metavar="N", help="diffusers: clips of the same shape denoised together.")] = None,
    offload: Annotated[Optional[list[str]], typer.Option(metavar="FLAG", help="Cosmos offload flag, repeatable, e.g. --offload --offload-text-encoder.")] = None,
    job_timeout: Annotated[Optional[float], typer.Option(metavar="SECONDS", help="Seconds before a job counts as hung (Cosmos: per 93-frame chunk).")] = None,
    interpolation: Annotated[str, typer.Option(metavar="METHOD", help="16->24 fps: mci (motion-compensated) | blend | dup")] = "mci",
    force: Annotated[bool, typer.Option("--force", help="Run despite lint errors.")] = False,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Give failed jobs a fresh set of attempts.")] = False,
    max_attempts: Annotated[int, typer.Option(metavar="N", help="Attempts per job before it counts as failed.")] = 3,
    finish_workers: Annotated[Optional[int], typer.Option(metavar="N", help="CPU processes that post-process and verify while GPUs generate (default: cores - 1; 0: in the worker).")] = None,
    executor: Annotated[str, typer.Option(metavar="NAME", help="Where workers run: local | ray.")] = "local",
    address: Annotated[Optional[str], typer.Option(metavar="ADDR", help="Ray cluster address (auto, or ray://HOST:10001); --executor ray.")] = None,
    artifacts: Annotated[Optional[str], typer.Option(metavar="URI", help="Ray: shared storage for raw clips (a path or fsspec URL) instead of the object store.")] = None,
    finish_on: Annotated[Optional[str], typer.Option(metavar="WHERE", help="Ray: finish clips on the driver's cores (driver, default) or as Ray tasks on any node's (cluster; the workspace must be at the same path on every node).")] = None,
    backend_option: Annotated[Optional[list[str]], typer.Option("--backend-option", "-o", metavar="KEY=VALUE", help="A backend option, repeatable (see the backend's docs), e.g. -o model_dir=/weights.")] = None,
    verify_policy: Annotated[Optional[str], typer.Option(metavar="FILE", help="Verification policy file (or a profile name like container-only); default: the manifest's verify: section.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Plan, generate, post-process, verify and record every clip; resumable at any point.

    With no flags it runs the embedded quickstart manifest (or the one the workspace was
    planned from) with the procedural CPU backend into ./workspace.
    """
    from ..engine.runner import RunOptions, run
    from ..workspace import default_manifest

    from ..backends.registry import backend_class

    chosen = backend or ("cosmos" if cosmos_checkout else "procedural")
    cls = backend_class(chosen)
    # Flags are shorthands for backend options; the backend validates them (an option it does not
    # take is a one-line error), so nothing here knows which backend takes what.
    flags: dict[str, Any] = {"checkout": str(cosmos_checkout) if cosmos_checkout else None, "launcher": launcher,
                             "image": docker_image, "disable_guardrails": disable_guardrails or None,
                             "offload": offload, "model_dir": str(model_dir) if model_dir else None,
                             "revision": revision, "batch_size": batch_size}
    options: dict[str, Any] = {k: v for k, v in flags.items() if v is not None}
    if model and "model" in cls.option_names():
        options["model"] = model
    own_timeout = "job_timeout_s" in cls.option_names()  # the backend times its own chunks (Cosmos)
    if job_timeout and own_timeout:
        options["job_timeout_s"] = job_timeout
    if interpolation not in ("mci", "blend", "dup"):
        raise InputError(f"--interpolation must be mci, blend or dup, got {interpolation!r}")
    if max_attempts < 1:
        raise InputError(f"--max-attempts must be at least 1, got {max_attempts}")
    if finish_workers is not None and not 0 <= finish_workers <= 64:
        raise InputError(f"--finish-workers must be 0-64, got {finish_workers}")
    options.update(parse_backend_options(backend_option))
    executor_options: dict[str, Any] = {}
    if finish_on is not None and finish_on not in ("driver", "cluster"):
        raise InputError(f"--finish-on must be driver or cluster, got {finish_on!r}")
    if executor == "ray":
        executor_options = {"address": address, "artifacts": artifacts, "finish": finish_on or "driver"}
    elif address or artifacts or finish_on:
        raise InputError("--address, --artifacts and --finish-on are for --executor ray")
    from ..verify.policy import load_policy

    policy = load_policy(verify_policy) if verify_policy else None
    opts = RunOptions(backend=chosen, gpus=parse_gpus(gpus), gpus_per_worker=gpus_per_worker, workers=workers,
                      only=split_list(only), durations=parse_durations(durations), backend_options=options,
                      model=model, force=force, retry_failed=retry_failed, max_attempts=max_attempts,
                      job_timeout_s=None if own_timeout else job_timeout, interpolation=interpolation,
                      finish_workers=finish_workers, executor=executor, executor_options=executor_options,
                      policy=policy)
    m = default_manifest(manifest, workspace, replan=True)
    show = not quiet and not json_out and console.is_terminal
    talk = not quiet and not json_out
    progress = Progress(TextColumn("verified", style="bold"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[note]}"),
                        TimeElapsedColumn(), TimeRemainingColumn(), console=console, disable=not show)
    task = progress.add_task("run", total=None, note="")
    last_line = [0.0]

    def on_plan(plan: Any) -> None:
        if talk:
            for line in describe_plan(plan, chosen, Path(workspace)):
                (warn if line.startswith("warning") else say)(line)
        progress.update(task, total=plan.selected, completed=plan.already_verified + plan.failed + plan.blocked)

    def tick(p: Any) -> None:
        busy = ", ".join(f"{w['worker'].split('-')[-1]}:{w['job']}" for w in p.status["workers"] if w["job"])
        note = f"{p.failed} failed, {p.blocked} blocked" + (f" | {busy}" if busy else "")
        progress.update(task, total=p.selected, completed=p.finished, note=note[:40])
        if talk and not show and busy and time.time() - last_line[0] > 5:
            last_line[0] = time.time()
            say(f"{p.verified}/{p.selected} verified, {p.in_progress} in progress, {p.failed} failed, {p.blocked} blocked")

    with progress:
        result = run(m, workspace, opts, on_tick=tick, on_plan=on_plan)
    if json_out:
        plan = result.plan
        echo_json({"workspace": str(result.workspace), "selected": result.selected, "verified": result.done,
                   "failed": result.failed, "blocked": result.blocked, "pending": result.pending,
                   "new_jobs": result.new_jobs, "elapsed_s": round(result.elapsed_s, 1),
                   "resumed": {"already_verified": plan.already_verified, "reclaimed": plan.reclaimed,
                               "landed": plan.landed, "cleaned": plan.cleaned,
                               "missing_or_changed": plan.integrity.missing + plan.integrity.changed} if plan else None,
                   "status": result.status})
    else:
        say(f"{result.done}/{result.selected} clips verified in {result.elapsed_s:.1f} s "
            f"({result.failed} failed, {result.blocked} blocked, {result.pending} pending) -> {result.workspace}/clips")
        for f in result.status["recent_failures"][:5]:
            say(f"  {f['state']} {f['name']}: {f['kind']}: {f['reason']}")
        say(f"status: {result.workspace}/generation_status.json")
    if not result.ok:
        raise typer.Exit(1)


_COLUMNS = (("total", "total"), ("verified", "completed"), ("in progress", "in_progress"),
            ("finishing", "finishing"), ("pending", "pending"), ("failed", "failed"), ("blocked", "blocked"))


def _status_table(status: dict[str, Any]) -> Table:
    from ..engine.status import compute_time, eta_seconds, published_line

    t = Table(title=f"status (updated {status['updated_at']})")
    for col, _ in (("", ""), *_COLUMNS):
        t.add_column(col, justify="right" if col else "left")
    rows = [("all", status)] + list(status["by_series"].items()) + list(status["by_duration"].items())
    for name, s in rows:
        t.add_row(plain(name), *(str(s[k]) for _, k in _COLUMNS))
    eta = eta_seconds(status)
    caption = [compute_time(status), f"throughput {status['throughput_per_hour']}/h"]
    if eta:
        caption.append(f"ETA ~{eta / 60:.0f} min")
    relaxed = {k: v for k, v in (status.get("verify_policies") or {}).items() if k != "default"}
    if relaxed:
        caption.append("verified under relaxed policies: " + ", ".join(f"{n} {k}" for k, n in relaxed.items()))
    if published_line(status.get("published")):
        caption.append(published_line(status.get("published")))
    t.caption = " | ".join(caption)
    return t


def _progress_text(p: dict[str, Any] | None) -> str:
    """'chunk 2/6, step 12/35, 1.9 s/step' for backends that report progress within a job."""
    if not p:
        return ""
    parts = []
    if p.get("chunks"):
        parts.append(f"chunk {p.get('chunk', 0)}/{p['chunks']}")
    if p.get("steps"):
        parts.append(f"step {p.get('step', 0)}/{p['steps']}")
    if p.get("seconds_per_step"):
        parts.append(f"{p['seconds_per_step']:.2g} s/step")
    return ", ".join(parts)


def _workers_table(status: dict[str, Any]) -> Table:
    t = Table(title="workers")
    for col in ("worker", "node", "gpus", "job", "progress", "elapsed", "model loads", "verified"):
        t.add_column(col)
    # on a cluster: by node, then GPU
    for w in sorted(status["workers"], key=lambda w: (w.get("node") or w.get("host") or "", w["gpus"] or "", w["worker"])):
        node = w.get("node") or w.get("host") or ""
        t.add_row(plain(w["worker"]), plain(node[:24]), plain(w["gpus"] or "-"), plain(w["job"] or "idle"),
                  plain(_progress_text(w.get("progress"))), f"{w['elapsed_s']:.0f} s" if w["elapsed_s"] else "-",
                  str(w["model_loads"]), str(w["jobs_done"]))
    if status.get("dashboard_url"):
        t.caption = f"Ray dashboard: {plain(status['dashboard_url'])}"
    return t


def _render_status(status: dict[str, Any]) -> Table:
    from ..engine.status import STATE_WORDS

    grid = Table.grid()
    grid.add_row(_status_table(status))
    if status["workers"]:
        grid.add_row(_workers_table(status))
    if status["recent_failures"]:
        f = Table(title="recent failures")
        for col in ("clip", "state", "kind", "reason"):
            f.add_column(col, overflow="fold")
        for r in status["recent_failures"][:8]:
            f.add_row(plain(r["name"]), STATE_WORDS.get(r["state"], r["state"]), plain(r["kind"] or ""),
                      plain(r["reason"] or ""))
        grid.add_row(f)
    integrity = status.get("integrity")
    if integrity and (integrity["missing"] or integrity["changed"]):
        grid.add_row(Text(f"warning: verified clips missing on disk: {len(integrity['missing'])}, changed: "
                          f"{len(integrity['changed'])}; `synthcam run` makes them again", style="yellow"))
    return grid


def read_status(workspace: Path) -> dict[str, Any]:
    """Status derived from the store, with every verified file checked against its record.

    Works on a read-only workspace: then it reports without writing (no status file, no requeue).
    """
    from ..engine.integrity import check_verified
    from ..engine.status import derive_status, write_status
    from ..errors import StorageError
    from ..workspace import Workspace

    ws = Workspace.existing(workspace)
    try:
        store = ws.store()
        writable = True
    except StorageError:
        store, writable = ws.reader(), False
    try:
        integrity = check_verified(ws, store, repair=writable)
        status = None
        if writable:
            try:
                status = write_status(ws, store)
            except StorageError:  # a read-only status file: report without writing
                writable = False
        if status is None:
            status = derive_status(store)
        status["integrity"] = {"checked": integrity.checked, "missing": integrity.missing,
                               "changed": integrity.changed, "requeued": integrity.requeued}
        status["read_only"] = not writable
        return status
    finally:
        store.close()


@app.command("status", cls=Command)
@handles_errors
def status_cmd(workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
               watch: Annotated[bool, typer.Option("--watch", help="Refresh live until Ctrl-C.")] = False,
               json_out: JsonOpt = False) -> None:
    """Counts, workers, throughput, ETA and recent failures, derived from the job store.

    Every verified clip is checked against its record (size and mtime, sha256 when those
    changed); a missing or changed clip is reported and returned to the queue.
    """
    if json_out:
        echo_json(read_status(workspace))
        return
    if not watch:
        console.print(_render_status(read_status(workspace)))
        return
    with Live(_render_status(read_status(workspace)), console=console, refresh_per_second=2) as live:
        while True:
            time.sleep(1.0)
            live.update(_render_status(read_status(workspace)))


def job_report(workspace: Path, key: str) -> dict[str, Any]:
    """A job's record, its events and its log, for `synthcam logs`."""
    from ..workspace import Workspace

    ws = Workspace.existing(workspace)
    store = ws.reader()
    try:
        found = store.find(key)
        if not found:
            raise InputError(f"no job matches {key!r} in {workspace}")
        j = found[0]
        log = ws.job_log(j.job_id)
        return {"name": j.name, "job_id": j.job_id, "state": j.state, "current": j.current,
                "generation_attempts": store.starts(j.job_id), "failed_attempts": j.attempts,
                "error_kind": j.error_kind, "error": j.error, "output": j.output, "sha256": j.sha256,
                "policy": (j.probe or {}).get("policy") if j.state == "done" else None,
                "events": store.events(job_id=j.job_id, limit=500),
                "log": log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""}
    finally:
        store.close()


@app.command("logs", cls=Command)
@handles_errors
def logs_cmd(job: Annotated[str, typer.Argument(metavar="JOB", help="Job ID (or a prefix) or clip name like P01_5s.")],
             workspace: WorkspaceOpt = DEFAULT_WORKSPACE, json_out: JsonOpt = False) -> None:
    """A job's state, its events and its log."""
    from ..engine.status import STATE_WORDS

    r = job_report(workspace, job)
    if json_out:
        echo_json(r)
        return
    attempts = r["generation_attempts"]
    head = Text.assemble((r["name"], "bold"), f" job {r['job_id']}: {STATE_WORDS.get(r['state'], r['state'])}, "
                         f"{attempts} generation attempt{'s' if attempts != 1 else ''}")
    if not r["current"]:
        head.append(" (superseded: not in the current plan)")
    if r["error"]:
        head.append(f"; last error {r['error_kind']}: ")
        head.append(plain(r["error"]))
    console.print(head, soft_wrap=True)
    if r["state"] == "done":
        from ..verify.policy import policy_line

        say(policy_line(r.get("policy")))
    for e in r["events"]:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e["at"]))
        kind = STATE_WORDS["done"] if e["kind"] == "done" else e["kind"]
        say(f"{stamp} {kind:<12} {e['worker'] or '':<14} {e['detail']}")
    if r["log"]:
        console.print(plain(r["log"]), end="", soft_wrap=True)


@app.command("adopt", cls=Command)
@handles_errors
def adopt_cmd(source: Annotated[Path, typer.Argument(metavar="DIR", help="Folder of clips made elsewhere (Cosmos output with sidecars, or <ID>_<N>s.mp4).")],
              manifest: ManifestOpt = None,
              workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
              backend: Annotated[str, typer.Option(metavar="NAME", help="Backend the clips came from (part of each job's identity).")] = "cosmos",
              model: Annotated[Optional[str], typer.Option(metavar="NAME", help="Model the clips came from (default: the manifest's).")] = None,
              verify_policy: Annotated[Optional[str], typer.Option(metavar="FILE", help="Verification policy file or profile name (default: the manifest's).")] = None,
              json_out: JsonOpt = False) -> None:
    """Record clips generated outside synthcam as verified, only if each matches its job and passes verify."""
    from ..engine.adopt import adopt
    from ..workspace import default_manifest

    from ..verify.policy import load_policy

    policy = load_policy(verify_policy) if verify_policy else None
    entries = adopt(source, workspace, default_manifest(manifest, workspace, replan=True), backend, model, policy=policy)
    counts = {a: sum(1 for e in entries if e.action == a) for a in ("adopted", "rejected", "skipped")}
    if json_out:
        echo_json({"counts": counts, "files": [e.__dict__ for e in entries]})
    else:
        table = Table(title=plain(f"adopt {source}"))
        for col in ("file", "action", "reason"):
            table.add_column(col, overflow="fold")
        for e in entries:
            style = {"adopted": "green", "rejected": "red"}.get(e.action, "yellow")
            table.add_row(plain(e.path), Text(e.action, style=style), plain(e.reason))
        console.print(table)
        say(", ".join(f"{n} {a}" for a, n in counts.items()))
    if counts["rejected"]:
        raise typer.Exit(1)
