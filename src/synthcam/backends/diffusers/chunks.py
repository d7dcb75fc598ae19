"""Clips longer than one chunk, made chunk by chunk, with finished chunks kept across crashes.

Upstream's autoregressive mode, rebuilt on the pipeline: chunk 0 is text-to-world; chunk
k+1 is conditioned on the last frame of chunk k (`video=`, `num_latent_conditional_frames=1`,
upstream's `chunk_overlap=1`) and its first frame, which re-makes that conditioning frame, is
dropped; chunk k uses seed + k. Every chunk is 93 frames, the length the model was trained
on; the clip is cut to exactly the frames the timing plan needs.

Each finished chunk is written losslessly into the job's work folder (H.264 RGB at crf 0, so
the frame a resumed clip conditions on is bit-identical to the one in memory), then its record:
the job, seed, shape, settings and the file's hash. The record is the commit point. On resume
the chunks are checked in order and the first one that is missing, torn or made for other
settings is deleted with everything after it, so a chunk is never reused for another job.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ...fsutil import write_json_atomic
from ...media.encode import VideoWriter
from ...prompts import CHUNK_FRAMES, CHUNK_OVERLAP, MODEL_FPS, chunk_count

FORMAT = 1
LOSSLESS = {"codec": "libx264rgb", "pix_fmt": "rgb24", "crf": 0, "preset": "ultrafast"}


@dataclass(frozen=True)
class ChunkPlan:
    """How many chunks a clip needs and how many new frames each adds."""

    frames_needed: int
    chunk_frames: int = CHUNK_FRAMES

    @property
    def chunks(self) -> int:
        return chunk_count(self.frames_needed, self.chunk_frames, CHUNK_OVERLAP)

    def seed(self, clip_seed: int, k: int) -> int:
        return clip_seed + k  # upstream's convention (RandomState(seed + chunk) there, a torch generator here)


@dataclass(frozen=True)
class ChunkKey:
    """Everything that makes a chunk what it is; a record that differs in any field is not reused."""

    job_id: str
    name: str
    seed: int
    height: int
    width: int
    chunk_frames: int
    num_steps: int
    guidance: float          # the scale passed to diffusers
    weights: str             # repository@revision, or the local folder
    prompt_sha256: str
    negative_sha256: str


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_video(path: Path, frames: np.ndarray | Iterator[np.ndarray], width: int, height: int) -> int:
    """Write RGB uint8 frames losslessly at 16 fps (atomically); returns the frame count."""
    with VideoWriter(path, width, height, MODEL_FPS, **LOSSLESS) as writer:  # type: ignore[arg-type]
        for frame in frames:
            writer.write(frame, fmt="rgb24")
    return writer.frames


def read_video(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])


class ChunkStore:
    """The finished chunks of one clip in its work folder."""

    def __init__(self, folder: Path, key: ChunkKey) -> None:
        self.folder = Path(folder)
        self.key = key

    def video(self, k: int) -> Path:
        return self.folder / f"chunk-{k:03d}.mkv"

    def record(self, k: int) -> Path:
        return self.folder / f"chunk-{k:03d}.json"

    def _expected(self, k: int, after: str | None) -> dict:
        return {"format": FORMAT, **asdict(self.key), "chunk": k, "chunk_seed": self.key.seed + k,
                "shape": [self.key.chunk_frames, self.key.height, self.key.width, 3], "after": after}

    def finished(self) -> int:
        """How many leading chunks are intact and ours; the rest are deleted."""
        self.folder.mkdir(parents=True, exist_ok=True)
        after: str | None = None
        k = 0
        while True:
            try:
                record = json.loads(self.record(k).read_text(encoding="utf-8"))
                digest = file_sha256(self.video(k))
            except (OSError, ValueError):
                break
            if not isinstance(record, dict) or record.pop("sha256", None) != digest or record != self._expected(k, after):
                break
            after = digest
            k += 1
        self.discard_from(k)
        return k

    def discard_from(self, k: int) -> None:
        for path in self.folder.glob("chunk-*"):
            index = path.name.split(".")[0].removeprefix("chunk-")
            if not index.isdigit() or int(index) >= k:
                with contextlib.suppress(OSError):
                    path.unlink()

    def save(self, k: int, frames: np.ndarray) -> None:
        """Video first, record last: a crash in between leaves an unrecorded chunk, redone on resume."""
        want = (self.key.chunk_frames, self.key.height, self.key.width, 3)
        if frames.shape != want or frames.dtype != np.uint8:
            raise ValueError(f"chunk {k} of {self.key.name} is {frames.shape} {frames.dtype}, expected {want} uint8")
        self.folder.mkdir(parents=True, exist_ok=True)
        write_video(self.video(k), frames, self.key.width, self.key.height)
        after = file_sha256(self.video(k - 1)) if k else None
        write_json_atomic(self.record(k), {**self._expected(k, after), "sha256": file_sha256(self.video(k))})

    def load(self, k: int) -> np.ndarray:
        frames = read_video(self.video(k))
        want = (self.key.chunk_frames, self.key.height, self.key.width, 3)
        if frames.shape != want:
            raise ValueError(f"{self.video(k).name} holds {frames.shape}, expected {want}")
        return frames

    def clip_frames(self, chunks: int, frames_needed: int) -> Iterator[np.ndarray]:
        """The clip's frames in order: chunk 0 whole, later chunks without their overlapping first frame."""
        made = 0
        for k in range(chunks):
            frames = self.load(k)
            for frame in frames[CHUNK_OVERLAP if k else 0:]:
                if made == frames_needed:
                    return
                yield frame
                made += 1
