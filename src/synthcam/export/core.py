"""`export()`: the verified clips of a workspace, written in a consumer's layout.

1. read the current plan's jobs from the store, keep the chosen durations;
2. check every verified file against its stored sha256 (refusing changed or missing ones);
3. build the layout's entries (labels from the manifest and ground truth; layouts.py, hf.py);
4. diff them against the output folder and, unless dry_run, apply the changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..manifest import Manifest
from ..workspace import Workspace
from .clips import ManifestCache, Refusal, SourceStat, open_workspace, verified_clips
from .hf import HF_RULES, hf_entries
from .layouts import FLAT_RULES, NEMOTRON_RULES, flat_entries, nemotron_entries
from .tree import Change, Rules, Tree

RULES: dict[str, Rules] = {"nemotron": NEMOTRON_RULES, "flat": FLAT_RULES, "hf": HF_RULES}
LAYOUTS = tuple(RULES)


@dataclass
class ExportResult:
    out: Path
    layout: str
    dry_run: bool
    exported: int                      # clips in the output once the changes are applied
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    refused: list[Refusal] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    def summary(self) -> str:
        done = ("would create", "update", "remove") if self.dry_run else ("created", "updated", "removed")
        text = (f"{done[0]} {self.count('create')}, {done[1]} {self.count('update')}, "
                f"{done[2]} {self.count('remove')}; {self.unchanged} unchanged")
        return text + (f"; {len(self.refused)} refused" if self.refused else "")

    def to_json(self) -> dict:
        return {"out": str(self.out), "layout": self.layout, "dry_run": self.dry_run, "exported": self.exported,
                "changes": [{"action": c.action, "entry": c.entry, "files": list(c.files)} for c in self.changes],
                "unchanged": self.unchanged,
                "refused": [{"clip": r.name, "reason": r.reason} for r in self.refused]}


def _check_out(ws: Workspace, out: Path) -> Path:
    out = Path(out).resolve()
    if out == ws.root or ws.root in out.parents and out.relative_to(ws.root).parts[0] in ("clips", "staging", "gallery"):
        raise InputError(f"--out {out} is inside the workspace's own folders; choose a folder of its own")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file, not a folder")
    return out


def export(workspace: str | Path, layout: str = "nemotron", out: str | Path | None = None,
           durations: list[int] | None = None, dry_run: bool = False,
           manifest: Manifest | str | Path | None = None, license: str | None = None) -> ExportResult:
    """Make `out` hold the workspace's verified clips in `layout`; idempotent, atomic, never unverified.

    `license` (a Hub license identifier such as cc-by-4.0) goes into the hf layout's dataset card.
    """
    if layout not in LAYOUTS:
        raise InputError(f"unknown layout {layout!r} (use {', '.join(LAYOUTS[:-1])} or {LAYOUTS[-1]})")
    if license is not None and layout != "hf":
        raise InputError("--license applies to --layout hf (the dataset card) only")
    if out is None:
        raise InputError("--out is required: the folder to export into")
    ws = open_workspace(workspace)
    out_dir = _check_out(ws, Path(out))

    # 1. The current plan's verified jobs, at the chosen durations.
    with ws.store() as store:
        jobs = [j for j in store.done_jobs() if durations is None or j.duration_s in durations]
        total = store.counts()["total"]
    if not jobs:
        which = f" at {', '.join(f'{d} s' for d in durations)}" if durations else ""
        raise InputError(f"workspace {ws.root} has no verified clips{which} ({total} jobs in the plan); "
                         "run `synthcam run` to make them")

    # 2. Check files against the store; reuse hashes from the last export when the stat matches.
    tree = Tree(out_dir, layout, RULES[layout])
    cached = {name: s for name, raw in tree.source_stats().items() if (s := SourceStat.from_json(raw))}
    if manifest is None:
        from ..workspace import recorded_manifest

        if recorded_manifest(ws.root) is not None:  # the manifest the plan was made from, as it was then
            from ..workspace import default_manifest

            manifest = default_manifest(None, ws.root)
    clips, refused = verified_clips(ws, jobs, ManifestCache(manifest), cached)

    # 3. Entries; a refused clip keeps whatever was exported for it before.
    refused_names = {r.name for r in refused}
    keep = {eid for eid, rec in tree.entries.items() if (rec.get("meta") or {}).get("clip") in refused_names}
    if layout == "nemotron":
        wanted = nemotron_entries(clips)
    else:
        kept_rows = [tree.entries[eid]["meta"]["row"] for eid in sorted(keep) if "row" in tree.entries[eid]["meta"]]
        wanted = flat_entries(clips, kept_rows) if layout == "flat" else hf_entries(clips, kept_rows, license)

    # 4. Diff, then apply.
    changes = tree.diff(wanted, keep)
    changed = {c.entry for c in changes}
    result = ExportResult(out_dir, layout, dry_run, len(clips) + len(keep), changes,
                          sum(1 for e in wanted if e.id not in changed), refused)
    if not dry_run and changes:
        tree.apply(wanted, changes)
    return result

