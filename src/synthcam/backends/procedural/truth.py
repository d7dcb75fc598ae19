"""Ground truth beside each clip, measured from the rendered masks, streamed to disk.

    <clip>.gt/gt.txt        MOTChallenge rows: frame,id,left,top,width,height,conf,class,visibility
    <clip>.gt/seqinfo.ini   MOTChallenge sequence header (frame rate, length, size)
    <clip>.gt/coco.json     COCO video annotations (1 fps by default, every frame on request)
    <clip>.gt/counts.json   visible objects per class, per-track summary, the class table, the plan
    <clip>.gt/masks.mkv     optional: a flat colour per track on black, lossless FFV1

Frames are 1-based in gt.txt and in COCO `frame_id`; pixel boxes are 0-based (the same
numbers in both files). Visibility is visible mask pixels over the full figure's pixels,
where "full" is the figure drawn alone, including any part outside the frame.
"""

from __future__ import annotations

import colorsys
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import cv2
import numpy as np

from ...manifest import Manifest
from .plan import ANIMAL_NAMES, ITEM_CLASSES, PERSON_CLASSES, VEHICLE_NAMES

# Fixed ids for the vocabulary the renderer knows; a manifest's other class names follow from 101.
CLASS_IDS = {
    "person": 1, "car": 2, "truck": 3, "bus": 4, "bicycle": 5, "motorcycle": 6, "vehicle": 7, "van": 8,
    "dog": 11, "cat": 12, "deer": 13, "raccoon": 14, "coyote": 15, "animal": 16,
    "package": 21, "box": 22, "parcel": 23, "bag": 24, "handbag": 25, "backpack": 26, "groceries": 27, "umbrella": 28,
    "phone": 29, "cell_phone": 30, "flashlight": 31, "ladder": 32, "tool": 33,
    "weapon": 41, "handgun": 42, "gun": 43, "pistol": 44, "firearm": 45, "knife": 46, "bat": 47, "baseball_bat": 48,
    "crowbar": 49, "object": 90,
}
MIN_PIXELS = 20          # a glimpse smaller than this is not "seen"
MIN_VISIBILITY = 0.1
MIN_FRAMES = 3           # an eighth of a second at 24 fps


def class_table(manifest: Manifest) -> dict[str, int]:
    """Class name -> id for a whole manifest, so every clip of a dataset agrees."""
    names: set[str] = set()
    for subject in manifest.components.subjects.values():
        names.update(subject.classes)
    for clip in manifest.clips:
        names.update(clip.expected_objects or {})
    table = dict(CLASS_IDS)
    for i, name in enumerate(sorted(n for n in names if n not in table)):
        table[name] = 101 + i
    return table


def supercategory(name: str) -> str:
    if name in PERSON_CLASSES:
        return "person"
    if name in VEHICLE_NAMES:
        return "vehicle"
    if name in ANIMAL_NAMES:
        return "animal"
    if any(name in names for names in ITEM_CLASSES.values()) or name in CLASS_IDS:
        return "object"
    return "other"


def mask_colour(track: int) -> tuple[int, int, int]:
    """A distinct, saturated RGB colour per track (golden-ratio hue steps)."""
    r, g, b = colorsys.hsv_to_rgb((track * 0.61803398875) % 1.0, 0.85 if track % 2 else 1.0, 1.0 if track % 3 else 0.8)
    return int(r * 255), int(g * 255), int(b * 255)


def rle(mask: np.ndarray) -> list[int]:
    """COCO uncompressed RLE (column-major run lengths, starting with zeros)."""
    flat = np.asfortranarray(mask).ravel(order="F").astype(np.int8)
    edges = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], edges, [flat.size]])
    counts = np.diff(bounds).tolist()
    return ([0] + counts) if flat.size and flat[0] else counts


@dataclass
class TrackStats:
    label: str
    role: str
    first: int = 0
    last: int = 0
    seen: int = 0                 # frames that pass the visibility rule
    rows: int = 0
    best: float = 0.0


@dataclass
class Truth:
    """Collects per-frame measurements and writes the ground-truth files."""

    folder: Path
    name: str
    width: int
    height: int
    fps: int
    frames: int
    classes: dict[str, int]
    every_frame: bool = False
    tracks: dict[int, TrackStats] = field(default_factory=dict)
    images: list[dict[str, Any]] = field(default_factory=list)
    _mot: TextIO | None = None
    _ann: TextIO | None = None
    _ann_count: int = 0

    def __post_init__(self) -> None:
        self._mot = open(self.folder / "gt.txt", "w", encoding="ascii", newline="\n")
        self._ann = open(self.folder / ".annotations.jsonl", "w", encoding="utf-8", newline="\n")

    def release(self) -> None:
        """Close the streamed files (also after a failure, so the temp folder can be removed)."""
        for handle in (self._mot, self._ann):
            if handle is not None and not handle.closed:
                handle.close()

    def class_id(self, label: str) -> int:
        if label not in self.classes:
            self.classes[label] = 101 + sum(1 for v in self.classes.values() if v > 100)
        return self.classes[label]

    def sampled(self, index: int) -> bool:
        return self.every_frame or index % self.fps == 0

    def add(self, index: int, track: int, label: str, role: str, full: int, box: tuple[int, int, int, int],
            visible: np.ndarray | None, at: tuple[int, int], seen: int | None = None) -> None:
        """One labelled object in frame `index` (0-based): full pixel count, amodal box, and its
        visible mask (bool or uint8 non-zero) placed at `at` in the frame (`seen`: its pixel
        count, when the caller has it already)."""
        frame = index + 1
        if seen is None:
            seen = int(np.count_nonzero(visible)) if visible is not None else 0
        vis = seen / full if full else 0.0
        stats = self.tracks.setdefault(track, TrackStats(label, role, frame))
        stats.last, stats.rows = frame, stats.rows + 1
        stats.best = max(stats.best, vis)
        if seen >= MIN_PIXELS and vis >= MIN_VISIBILITY:
            stats.seen += 1
        x0, y0, x1, y1 = box
        cid = self.class_id(label)
        self._mot.write(f"{frame},{track},{x0},{y0},{x1 - x0},{y1 - y0},{1 if seen else 0},{cid},{vis:.4f}\n")  # type: ignore[union-attr]
        if self.sampled(index) and seen:
            c0, r0, bw, bh = cv2.boundingRect(visible.view(np.uint8) if visible.dtype == bool else visible)
            c1, r1 = c0 + bw, r0 + bh
            full_mask = np.zeros((self.height, self.width), bool)
            full_mask[at[1]:at[1] + visible.shape[0], at[0]:at[0] + visible.shape[1]] = visible != 0
            self._ann_count += 1
            ann = {"id": self._ann_count, "image_id": frame, "video_id": 1, "frame_id": frame, "track_id": track,
                   "category_id": cid, "bbox": [at[0] + c0, at[1] + r0, c1 - c0, r1 - r0], "area": seen, "iscrowd": 0,
                   "visibility": round(vis, 4), "amodal_bbox": [x0, y0, x1 - x0, y1 - y0],
                   "segmentation": {"size": [self.height, self.width], "counts": rle(full_mask)}}
            self._ann.write(json.dumps(ann, separators=(",", ":")) + "\n")  # type: ignore[union-attr]

    def frame_done(self, index: int) -> None:
        if self.sampled(index):
            frame = index + 1
            self.images.append({"id": frame, "video_id": 1, "frame_id": frame, "file_name": f"{self.name}/{frame:06d}.jpg",
                                "width": self.width, "height": self.height, "time_s": round(index / self.fps, 4)})

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for stats in self.tracks.values():
            if stats.seen >= MIN_FRAMES:
                out[stats.label] = out.get(stats.label, 0) + 1
        return dict(sorted(out.items()))

    def close(self, meta: dict[str, Any]) -> dict[str, Path]:
        """Finish every file; returns name -> path."""
        self.release()
        used = sorted({s.label for s in self.tracks.values()} | set(meta.get("declared", {})))
        categories = [{"id": self.class_id(n), "name": n, "supercategory": supercategory(n)} for n in used]
        coco_path = self.folder / "coco.json"
        head = {"info": {"description": f"synthcam procedural ground truth for {self.name}", "version": "1.0",
                         "frames_sampled": "all" if self.every_frame else f"1 per second (every {self.fps}th frame)"},
                "videos": [{"id": 1, "name": self.name, "width": self.width, "height": self.height, "fps": self.fps,
                            "frames": self.frames}],
                "images": self.images, "categories": categories}
        ann_path = self.folder / ".annotations.jsonl"
        with open(coco_path, "w", encoding="utf-8", newline="\n") as out, open(ann_path, encoding="utf-8") as anns:
            out.write(json.dumps(head, separators=(",", ":"))[:-1] + ',"annotations":[')
            for i, line in enumerate(anns):
                out.write(("," if i else "") + line.rstrip("\n"))
            out.write("]}\n")
        ann_path.unlink()
        (self.folder / "seqinfo.ini").write_text(
            f"[Sequence]\nname={self.name}\nimDir=img1\nframeRate={self.fps}\nseqLength={self.frames}\n"
            f"imWidth={self.width}\nimHeight={self.height}\nimExt=.jpg\n", encoding="ascii")
        tracks = [{"track_id": t, "class": s.label, "class_id": self.class_id(s.label), "role": s.role, "first_frame": s.first,
                   "last_frame": s.last, "rows": s.rows, "visible_frames": s.seen, "max_visibility": round(s.best, 4),
                   "counted": s.seen >= MIN_FRAMES, "mask_rgb": list(mask_colour(t))} for t, s in sorted(self.tracks.items())]
        summary = {"clip": self.name, **meta, "frames": self.frames, "fps": self.fps, "width": self.width, "height": self.height,
                   "counts": self.counts(), "count_rule": f"a track counts when at least {MIN_FRAMES} frames show >= {MIN_PIXELS} px "
                   f"at visibility >= {MIN_VISIBILITY}", "tracks": tracks,
                   "classes": {n: self.class_id(n) for n in used}}
        (self.folder / "counts.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        return {"mot": self.folder / "gt.txt", "seqinfo": self.folder / "seqinfo.ini", "coco": coco_path,
                "counts": self.folder / "counts.json"}
