"""`--layout hf`: the folder layout that Hugging Face `datasets` and the Hub read.

    OUT/README.md                                 the dataset card: YAML header + counts
    OUT/{train,validation,test}/<name>.mp4        the verified clips, byte for byte
    OUT/{train,validation,test}/metadata.jsonl    one row per clip, keyed by `file_name`
    OUT/ground_truth/<name>/...                   the backend's ground truth, when it has some

`datasets`' videofolder loader pairs each `metadata.jsonl` row with the video named by its
`file_name` (relative to that metadata file) and turns the column into a `video` feature;
every other key is a column. The card's YAML header names each split's files (`configs`),
so `load_dataset(DIR)` and the Hub find the splits without guessing. Ground-truth pointers
are paths from the dataset root, as `hf_hub_download(repo, filename=...)` takes them; no key
ends in `file_name`, which the loader would take for another video.

Splits follow the clip ID (`split_of`), so the 5/10/30 s variants of one ID never straddle
splits and a clip keeps its split as the dataset grows. Rows and card are derived from the
store and the manifest only, so re-exporting unchanged clips rewrites nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable

import yaml

from .. import __version__
from ..errors import InputError
from .clips import VerifiedClip
from .files import read_regular
from .layouts import NAME, POLICY_DEFAULTS, clip_meta, labels_of, policy_columns
from .metadata import measured
from .tree import Entry, File, Rules

__all__ = ["COLUMNS", "HF_RULES", "SPLITS", "dataset_card", "hf_entries", "hf_row", "split_of"]

# (split, upper bound of its bucket): bucket = int(sha256(ID)[:8], 16) % 100.
SPLITS = (("train", 80), ("validation", 90), ("test", 100))
SPLIT_NAMES = tuple(name for name, _ in SPLITS)
GROUND_TRUTH = "ground_truth"
CARD = "README.md"
METADATA = "metadata.jsonl"
LICENSE = re.compile(r"^[a-z0-9][a-z0-9.+-]{0,63}$")
HF_RULES = Rules(folders=re.compile(rf"{GROUND_TRUTH}/{NAME}"),
                 loose=re.compile(rf"(?:{'|'.join(SPLIT_NAMES)})/(?:{NAME}\.mp4|metadata\.jsonl)|README\.md"))
# The Hub's size buckets: (upper bound, label).
SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                   (10_000_000, "1M<n<10M"))

# Every column of metadata.jsonl, in order, with what the card says about it. Each column has
# one JSON type in every row and is never null or a list: the loader infers each split's types
# from its own file and refuses splits whose types differ, so a column that is null (or an
# empty list) throughout one split would break loading. Undeclared text is "", and labels
# that may be unknown (face_visible, is_suspicious...) live in `expected_labels`, a JSON string.
COLUMNS: dict[str, str] = {
    "file_name": "the video, beside metadata.jsonl (the `video` column once loaded)",
    "clip": "the clip name, `<ID>_<N>s`",
    "id": "the manifest ID; all durations of an ID share it (and its split)",
    "series": "the ID's series (its leading letters unless the manifest says otherwise)",
    "duration_s": "the requested length in seconds",
    "scenario": "the manifest's scenario name",
    "group": "the manifest's group",
    "category": "normal, suspicious or threats, from the expected risk",
    "expected_risk": "low, medium, high or critical, as the manifest declares",
    "risk_min": "lowest risk score (0-100) a detector should give",
    "risk_max": "highest risk score (0-100) a detector should give",
    "detections": "expected objects as `class:count` joined by `;` (e.g. `package:1;person:1`); empty for none",
    "detections_from": "where the counts come from: ground_truth, expected_objects, subjects or none",
    "face_detected": "a person is in the clip",
    "action": "the action path (e.g. loiter); empty for prompt-only clips",
    "location": "the scene layout (e.g. front_porch); empty for prompt-only clips",
    "time_of_day": "from the environment; empty for prompt-only clips",
    "weather": "from the environment; empty when not declared",
    "expected_labels": "the full expected labels as a JSON string (the nemotron layout's expected_labels.json: "
                       "detections with confidences, face, pose, action, scene, risk; null where undeclared)",
    "prompt": "the full text prompt the clip was generated from",
    "seed": "the generation seed",
    "backend": "the generator (cosmos, procedural...)",
    "model": "the backend's model",
    "fps": "frames per second, from the file's header",
    "frames": "frame count (the header's, else the verifier's)",
    "width": "pixels",
    "height": "pixels",
    "codec": "video codec",
    "size_bytes": "file size",
    "sha256": "sha256 of the file (also its Git LFS oid)",
    "job_id": "synthcam's job ID: a hash of everything that decided the pixels",
    "generated_at": "when the clip was verified (ISO 8601, UTC, whole seconds)",
    "verify_policy": "the verification policy the clip passed: `default` (every check), a profile such as "
                     "`container-only` (content checks off, for smoke runs), or `custom: ...` saying what differs",
    "content_checks_off": "the content checks that did not run for this clip, joined by `;`; empty when every check ran",
    "ground_truth": "the clip's ground-truth folder, a path from the dataset root (`ground_truth/<clip>`); "
                    "empty when the backend has none",
}


def split_of(clip_id: str) -> str:
    """train, validation or test, from the ID alone (see SPLITS)."""
    bucket = int(hashlib.sha256(clip_id.encode("utf-8")).hexdigest()[:8], 16) % 100
    return next(name for name, upper in SPLITS if bucket < upper)


def hf_row(clip: VerifiedClip) -> dict:
    """One metadata.jsonl row: every key of COLUMNS, in that order, each of one type (see COLUMNS)."""
    job, info, spec = clip.job, clip.info, clip.job.spec
    labels = labels_of(clip)
    duration, fps, frames = measured(clip)
    if frames is None:
        frames = int((job.probe or {}).get("frames") or round(duration * fps))
    return {
        "file_name": f"{clip.name}.mp4", "clip": clip.name, "id": job.clip_id, "series": job.series,
        "duration_s": job.duration_s, "scenario": str(spec.get("scenario") or ""), "group": str(spec.get("group") or ""),
        "category": labels.category, "expected_risk": labels.risk.level, "risk_min": labels.risk.min_score,
        "risk_max": labels.risk.max_score, "detections": ";".join(f"{d.class_}:{d.count}" for d in labels.detections),
        "detections_from": labels.validation.detections_from, "face_detected": labels.face.detected,
        "action": labels.action.action or "", "location": labels.scene.location or "",
        "time_of_day": labels.scene.time_of_day or "", "weather": labels.scene.weather or "",
        "expected_labels": labels.model_dump_json(by_alias=True),
        "prompt": str(spec.get("prompt") or ""), "seed": job.seed, "backend": job.backend, "model": job.model,
        "fps": float(fps), "frames": int(frames), "width": info.width, "height": info.height, "codec": info.codec,
        "size_bytes": clip.stat.size, "sha256": clip.stat.sha256, "job_id": job.job_id,
        "generated_at": clip.generated_at.isoformat(timespec="seconds"), **policy_columns(clip),
        "ground_truth": f"{GROUND_TRUTH}/{clip.name}" if clip.truth_files else "",
    }


def _jsonl(rows: Iterable[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def _size_category(n: int) -> str:
    return next((label for upper, label in SIZE_CATEGORIES if n < upper), "n>10M")


def _table(title: str, counts: Counter, total_s: Counter | None = None) -> list[str]:
    head = f"| {title} | clips |" + (" seconds |" if total_s is not None else "")
    rule = "|---|---:|" + ("---:|" if total_s is not None else "")
    lines = [head, rule]
    for key in sorted(counts):
        seconds = f" {total_s[key]} |" if total_s is not None else ""
        lines.append(f"| {key} | {counts[key]} |{seconds}")
    return lines + [""]


def _header(rows: list[dict], splits: list[str], license_id: str | None, name: str) -> str:
    has_truth = any(r["ground_truth"] for r in rows)
    header: dict = {"pretty_name": name, "license": license_id or "other"}
    if not license_id:
        header["license_name"] = "not-declared"
    header.update({
        "task_categories": ["video-classification"] + (["object-detection"] if has_truth else []),
        "tags": ["synthetic", "video", "security-camera", "synthcam"],
        "size_categories": [_size_category(len(rows))],
        "configs": [{"config_name": "default",
                     "data_files": [{"split": s, "path": f"{s}/*"} for s in splits]}],
    })
    return "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n"


def _verification(rows: list[dict]) -> list[str]:
    """Which clips were verified under which policy: a relaxed clip is never presented as fully checked."""
    policies = Counter(r["verify_policy"] for r in rows)
    lines = ["## Verification", ""]
    if set(policies) == {"default"}:
        return lines + ["Every clip was verified under the default policy: every container and content check.", ""]
    lines += ["Not every clip was verified with every check. Clips under another policy than `default` decoded end "
              "to end and are the files that were asked for (frames, fps, size, codec), but some of their content "
              "checks (black, frozen, flicker, static, scene cut, near duplicate) did not run or ran at other "
              "thresholds: the `verify_policy` and `content_checks_off` columns say which, per clip.", ""]
    return lines + _table("verify policy", policies)


def dataset_card(rows: list[dict], license_id: str | None, name: str, description: str) -> str:
    """README.md: the YAML header the Hub reads, then what is in the dataset, counted from the rows."""
    by_split = Counter(split_of(r["id"]) for r in rows)
    splits = [s for s in SPLIT_NAMES if by_split[s]]
    seconds: Counter = Counter()
    for key in ("series", "duration_s", "category"):
        for r in rows:
            seconds[(key, r[key])] += r["duration_s"]
    lines = [f"# {name}", ""]
    if description:
        lines += [description.strip(), ""]
    lines += [
        f"Synthetic security-camera video, generated by synthcam {__version__}. Every clip passed synthcam's "
        "verification (decoded end to end and checked against what the manifest asked for) before it was "
        "exported; the `sha256` column is the hash of the exact bytes here. Labels come from what the "
        "manifest declares or the backend measured, never from a guess.",
        "",
        "## Contents",
        "",
        f"{len(rows)} clips of {len({r['id'] for r in rows})} IDs, {sum(r['duration_s'] for r in rows)} s of "
        f"video, {sum(r['size_bytes'] for r in rows)} bytes.",
        "",
    ]
    lines += _table("split", Counter({s: by_split[s] for s in splits}))
    for key, title in (("series", "series"), ("duration_s", "duration (s)"), ("category", "category")):
        counts = Counter(r[key] for r in rows)
        lines += _table(title, counts, Counter({k: seconds[(key, k)] for k in counts}))
    lines += _table("backend / model", Counter(f"{r['backend']} / {r['model']}" for r in rows))
    lines += _verification(rows)
    if not license_id:
        lines += ["No license was declared for this export: set one with "
                  "`synthcam export --layout hf --license <id>` before publishing it.", ""]
    lines += [
        "## Splits",
        "",
        "A clip's split follows its ID: `int(sha256(ID)[:8], 16) % 100` (the first 8 hex digits of the "
        "SHA-256 of the UTF-8 ID) below 80 is `train`, below 90 `validation`, else `test`. All durations of "
        "an ID are in the same split, and a clip never changes split when the dataset grows.",
        "",
        "## Columns",
        "",
        "`metadata.jsonl` in each split folder has one row per clip:",
        "",
        "| column | meaning |",
        "|---|---|",
        *(f"| `{c}` | {text} |" for c, text in COLUMNS.items()),
        "",
        "## Loading",
        "",
        "```python",
        "from datasets import Video, load_dataset",
        "",
        'ds = load_dataset("path/to/this/folder")  # or the dataset\'s Hub name',
        'paths = ds["train"].cast_column("video", Video(decode=False))  # file paths, no video decoder needed',
        "```",
        "",
    ]
    if any(r["ground_truth"] for r in rows):
        lines += ["## Ground truth", "",
                  "Where the backend knows exactly what it drew (the procedural renderer), "
                  "`ground_truth/<clip>/` holds it: MOT-style boxes (`gt.txt`, `seqinfo.ini`), COCO "
                  "(`coco.json`) and exact visible counts per class (`counts.json`, the source of "
                  "`detections` for those clips). The `ground_truth` column points to a clip's folder.", ""]
    return _header(rows, splits, license_id, name) + "\n" + "\n".join(lines)


def hf_entries(clips: list[VerifiedClip], kept_rows: list[dict], license_id: str | None = None) -> list[Entry]:
    """A video entry (+ a ground-truth folder) per clip, then the card and each split's metadata."""
    if license_id is not None and not LICENSE.match(license_id):
        raise InputError(f"--license {license_id!r} is not a license identifier like cc-by-4.0 or apache-2.0")
    entries: list[Entry] = []
    rows = [{**r, **{k: r.get(k, v) for k, v in POLICY_DEFAULTS.items()}} for r in kept_rows]
    rows = [{c: r[c] for c in COLUMNS if c in r} for r in rows]  # documented order, old rows included
    for clip in clips:
        row = hf_row(clip)
        rows.append(row)
        video = File(f"{split_of(clip.job.clip_id)}/{row['file_name']}", clip.stat.sha256, copy_from=clip.path)
        entries.append(Entry(clip.name, (video,), meta=clip_meta(clip, row=row)))
        if clip.truth_files:
            folder = f"{GROUND_TRUTH}/{clip.name}"
            files = tuple(File.of_bytes(f"{folder}/{rel}", read_regular(p)) for rel, p in clip.truth_files.items())
            entries.append(Entry(f"{clip.name}/{GROUND_TRUTH}", files, folder=folder, meta=clip_meta(clip)))
    rows.sort(key=lambda r: r["clip"])
    names = sorted({c.facts.dataset for c in clips if c.facts.dataset}) or ["synthcam dataset"]
    descriptions = sorted({c.facts.dataset_description for c in clips if c.facts.dataset_description})
    card = dataset_card(rows, license_id, ", ".join(names), "\n\n".join(descriptions))
    files = [File.of_bytes(CARD, card.encode("utf-8"))]
    for split in SPLIT_NAMES:
        in_split = [r for r in rows if split_of(r["id"]) == split]
        if in_split:
            files.append(File.of_bytes(f"{split}/{METADATA}", _jsonl(in_split)))
    entries.append(Entry("dataset", tuple(files)))
    return entries
