"""Poster frames and contact sheets for the gallery, made only when a clip's bytes changed.

A 621-clip dataset takes minutes to decode, so `assets/thumbs.json` remembers the sha256 each
pair of images was made from; a clip whose store sha256 is unchanged (and whose images are
still there) is skipped. Images of clips that are no longer verified are removed.
Decoding and JPEG encoding release the GIL, so a thread pool keeps every core busy.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from ..errors import SynthcamError
from ..fsutil import check_id, write_json_atomic
from ..frames import poster_and_sheet

STATE_FILE = "thumbs.json"
# Bump when the images' look changes, so every thumbnail is remade once.
THUMB_VERSION = 1


@dataclass(frozen=True)
class Source:
    """A verified clip to make images for."""

    name: str
    path: Path
    sha256: str


@dataclass(frozen=True)
class Thumbs:
    """The images of one clip, as file names in the assets folder plus their pixel sizes."""

    poster: str
    poster_size: tuple[int, int]
    sheet: str
    sheet_size: tuple[int, int]


@dataclass
class ThumbReport:
    thumbs: dict[str, Thumbs] = field(default_factory=dict)
    made: int = 0
    kept: int = 0
    removed: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # name -> reason


def _names(name: str) -> tuple[str, str]:
    check_id(name, "clip name")
    return f"{name}.poster.jpg", f"{name}.sheet.jpg"


def _load_state(assets: Path) -> dict[str, dict]:
    try:
        data = json.loads((assets / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != THUMB_VERSION or not isinstance(data.get("clips"), dict):
        return {}
    return data["clips"]


def _size(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size


def _make(assets: Path, src: Source) -> Thumbs:
    poster, sheet = _names(src.name)
    poster_and_sheet(src.path, assets / poster, assets / sheet)
    return Thumbs(poster, _size(assets / poster), sheet, _size(assets / sheet))


def _kept(assets: Path, src: Source, record: dict | None) -> Thumbs | None:
    if not record or record.get("sha256") != src.sha256:
        return None
    poster, sheet = _names(src.name)
    if not ((assets / poster).is_file() and (assets / sheet).is_file()):
        return None
    try:
        return Thumbs(poster, tuple(record["poster_size"]), sheet, tuple(record["sheet_size"]))  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError):
        return None


def refresh(assets: Path, sources: list[Source], workers: int | None = None) -> ThumbReport:
    """Bring the assets folder in line with `sources`: make new images, keep current ones, drop stale ones."""
    assets.mkdir(parents=True, exist_ok=True)
    state = _load_state(assets)
    report = ThumbReport()
    todo: list[Source] = []
    for src in sources:
        kept = _kept(assets, src, state.get(src.name))
        if kept is None:
            todo.append(src)
        else:
            report.thumbs[src.name] = kept
            report.kept += 1

    def work(src: Source) -> tuple[Source, Thumbs | str]:
        try:
            return src, _make(assets, src)
        except (SynthcamError, OSError) as exc:
            return src, str(exc).replace("\n", " ")

    n = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    with ThreadPoolExecutor(max_workers=n) as pool:
        for src, result in pool.map(work, todo):
            if isinstance(result, Thumbs):
                report.thumbs[src.name] = result
                report.made += 1
            else:
                report.failed[src.name] = result

    wanted = {f for t in report.thumbs.values() for f in (t.poster, t.sheet)}
    for path in assets.glob("*.jpg"):
        if path.name.endswith((".poster.jpg", ".sheet.jpg")) and path.name not in wanted:
            path.unlink(missing_ok=True)
            report.removed += 1
    sha = {s.name: s.sha256 for s in sources}
    write_json_atomic(assets / STATE_FILE, {
        "version": THUMB_VERSION,
        "clips": {name: {"sha256": sha[name], "poster_size": list(t.poster_size), "sheet_size": list(t.sheet_size)}
                  for name, t in sorted(report.thumbs.items())},
    })
    return report
