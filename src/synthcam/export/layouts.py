"""Verified clips -> output entries, one function per layout.

nemotron: the folders the downstream risk evaluation walks,
    OUT/{normal|suspicious|threats}/cosmos_<ID>_<scenario>_<YYYYMMDD>/
        media/001.mp4  media/thumbnail.jpg  metadata.json  scenario_spec.json  expected_labels.json
        ground_truth/...   (only when the backend wrote ground truth)
The 5 s variant keeps that exact name (the old mapping migrated only `*_5s.mp4`, so
`--durations 5` gives the names the evaluation knew); other durations put the length after
the ID (`cosmos_P01_10s_...`), so durations never share a folder. The evaluation finds a
scenario's events with `file_path LIKE '%<folder>%'`, so no folder name may be part of another.

flat: `OUT/<name>.mp4` for every clip plus `index.csv` and `index.json` describing them.

hf: the Hugging Face `datasets` folder layout (hf.py).

Each layout's `Rules` say which paths its export record may name (tree.py checks the record).
"""

from __future__ import annotations

import csv
import io
import json
import re
from functools import partial

from ..errors import InputError
from ..frames import poster_frame
from .clips import VerifiedClip
from .files import read_regular
from .labels import ExpectedLabels, expected_labels
from .metadata import SCHEMA, metadata, scenario_spec, source_name, to_json_bytes, verification_of
from .tree import Entry, File, Rules

BARE_DURATION_S = 5
MEDIA_FILE = "media/001.mp4"
THUMBNAIL = "media/thumbnail.jpg"
THUMB_KEY_VERSION = 1
NAME = r"[A-Za-z0-9][A-Za-z0-9_-]{0,199}"
SAFE_NAME = re.compile(f"^{NAME}$")
NOTHING = re.compile(r"(?!)")
NEMOTRON_RULES = Rules(folders=re.compile(rf"(?:normal|suspicious|threats)/{NAME}"), loose=NOTHING)
FLAT_RULES = Rules(folders=None, loose=re.compile(rf"{NAME}\.mp4|index\.csv|index\.json"))
INDEX_FIELDS = ("name", "file", "clip_id", "series", "duration_s", "group", "scenario", "category", "expected_risk",
                "risk_min", "risk_max", "detections", "detections_from", "fps", "frames", "width", "height", "codec",
                "size_bytes", "sha256", "seed", "backend", "model", "generated_at", "verify_policy", "content_checks_off",
                "prompt")
# What rows exported before verification policies existed say: those clips had every check.
POLICY_DEFAULTS = {"verify_policy": "default", "content_checks_off": ""}


def labels_of(clip: VerifiedClip) -> ExpectedLabels:
    return expected_labels(clip.facts, clip.name, str(clip.job.spec.get("prompt") or ""),
                           source_name(clip.job.backend), clip.truth)


def clip_meta(clip: VerifiedClip, **extra: object) -> dict:
    return {"clip": clip.name, "job_id": clip.job.job_id, "source": clip.stat.to_json(), **extra}


def folder_name(clip: VerifiedClip) -> str:
    job = clip.job
    length = "" if job.duration_s == BARE_DURATION_S else f"_{job.duration_s}s"
    name = f"cosmos_{job.clip_id}{length}_{job.spec.get('scenario') or 'clip'}_{clip.date}"
    if not SAFE_NAME.match(name):
        raise InputError(f"{job.name}: folder name {name!r} is not a safe file name")
    return name


def _check_distinct(names: list[str]) -> None:
    """The evaluation matches folders by substring, so none may contain another."""
    ordered = sorted(set(names), key=len)
    if len(ordered) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"two clips would share the export folder {dupes[0]}")
    for i, short in enumerate(ordered):
        for longer in ordered[i + 1:]:
            if short in longer:
                raise InputError(f"export folder {short} is part of {longer}; the evaluation matches folders by "
                                 "substring, so rename a scenario in the manifest")


def nemotron_entries(clips: list[VerifiedClip]) -> list[Entry]:
    names = [folder_name(c) for c in clips]
    _check_distinct(names)
    entries = []
    for clip, name in zip(clips, names):
        folder = f"{clip.category}/{name}"
        scenario_id = f"cosmos_{clip.job.clip_id}_{clip.job.spec.get('scenario') or 'clip'}"
        files = [
            File(f"{folder}/{MEDIA_FILE}", clip.stat.sha256, copy_from=clip.path),
            File(f"{folder}/{THUMBNAIL}", f"thumbnail/{THUMB_KEY_VERSION}/{clip.stat.sha256}",
                 make=partial(poster_frame, clip.path, width=None)),
            File.of_bytes(f"{folder}/metadata.json", to_json_bytes(metadata(clip, MEDIA_FILE))),
            File.of_bytes(f"{folder}/scenario_spec.json", to_json_bytes(scenario_spec(clip, scenario_id))),
            File.of_bytes(f"{folder}/expected_labels.json", to_json_bytes(labels_of(clip))),
        ]
        files += [File.of_bytes(f"{folder}/ground_truth/{n}", read_regular(p)) for n, p in clip.truth_files.items()]
        entries.append(Entry(folder, tuple(files), folder=folder, meta=clip_meta(clip)))
    return entries


def policy_columns(clip: VerifiedClip) -> dict[str, str]:
    """The verification policy as two text columns: its summary, and the content checks off joined by `;`."""
    v = verification_of(clip.job)
    return {"verify_policy": v.policy, "content_checks_off": ";".join(v.content_checks_off)}


def index_row(clip: VerifiedClip) -> dict:
    job, info = clip.job, clip.info
    labels = labels_of(clip)
    fps = float(info.fps) if info.fps else None
    return {
        "name": clip.name, "file": f"{clip.name}.mp4", "clip_id": job.clip_id, "series": job.series,
        "duration_s": job.duration_s, "group": job.spec.get("group"), "scenario": job.spec.get("scenario"),
        "category": labels.category, "expected_risk": labels.risk.level, "risk_min": labels.risk.min_score,
        "risk_max": labels.risk.max_score,
        "detections": ";".join(f"{d.class_}:{d.count}" for d in labels.detections),
        "detections_from": labels.validation.detections_from, "fps": fps, "frames": info.frames,
        "width": info.width, "height": info.height, "codec": info.codec, "size_bytes": clip.stat.size,
        "sha256": clip.stat.sha256, "seed": job.seed, "backend": job.backend, "model": job.model,
        "generated_at": clip.generated_at.isoformat(), **policy_columns(clip),
        "prompt": job.spec.get("prompt"),
        "labels": labels.model_dump(by_alias=True, mode="json"),
    }


def flat_entries(clips: list[VerifiedClip], kept_rows: list[dict]) -> list[Entry]:
    """One entry per clip file, plus the index; `kept_rows` are rows of clips left as they were."""
    entries, rows = [], [{**r, **{k: v for k, v in POLICY_DEFAULTS.items() if k not in r}} for r in kept_rows]
    for clip in clips:
        row = index_row(clip)
        rows.append(row)
        entries.append(Entry(clip.name, (File(row["file"], clip.stat.sha256, copy_from=clip.path),),
                             meta=clip_meta(clip, row=row)))
    rows.sort(key=lambda r: r["name"])
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=INDEX_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    index_json = json.dumps({"schema": SCHEMA, "clips": rows}, indent=2, ensure_ascii=False) + "\n"
    entries.append(Entry("index", (File.of_bytes("index.csv", text.getvalue().encode()),
                                   File.of_bytes("index.json", index_json.encode()))))
    return entries
