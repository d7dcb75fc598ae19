"""A corpus of generated clips: good ones and one (or more) per failure kind.

`CORPUS` maps a file's path (relative to the corpus folder) to the status it must get when
the folder is verified with `EXPECT` (320x176, 24 fps, H.264 yuv420p). Every file is made
here from numpy drawings; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from synthcam.verify import Expectation

from .clipgen import H, W, background, good_clip, take, write_clip

EXPECT = Expectation(width=W, height=H)
OID = hashlib.sha256(b"the real video").hexdigest()
POINTER = f"version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\nsize 12345678\n"

# relative path -> expected status with EXPECT and no manifest
CORPUS = {
    "A_5s.mp4": "ok",
    "A_10s.mp4": "ok",
    "B_5s.mp4": "ok",  # B_10s is missing: the ID fails, the file passes
    "C_5s.mp4": "wrong_frames",  # 93 frames at 16 fps named 5 s: the classic
    "D_5s.mp4": "wrong_frames",  # D_*: byte-identical 93-frame variants (also duplicate)
    "D_10s.mp4": "wrong_frames",
    "F_5s.mp4": "near_duplicate",  # G_5s is a re-encode of F_5s
    "G_5s.mp4": "near_duplicate",
    "H_5s.mp4": "near_duplicate",  # the first 5 s of H_10s, encoded on its own
    "H_10s.mp4": "near_duplicate",
    "K_5s.mp4": "black",
    "L_5s.mp4": "frozen",
    "M_5s.mp4": "flicker",
    "S_5s.mp4": "scene_cut",
    "V_5s.mp4": "vfr",
    "W_5s.mp4": "wrong_resolution",
    "X_5s.mp4": "wrong_codec",  # MPEG-4 part 2
    "Y_5s.mp4": "wrong_codec",  # H.264 but yuv444p
    "Z_5s.mp4": "corrupt",  # zeroed runs inside mdat
    "T_5s.mp4": "unreadable",  # truncated, moov at the end: no moov atom
    "TF_5s.mp4": "unreadable",  # truncated, moov first: frames missing
    "P_5s.mp4": "lfs_pointer",
    "Q_5s.mp4": "lfs_pointer",  # legacy hawser version URL
    "PM_5s.mp4": "not_video",  # malformed pointer
    "E0_5s.mp4": "empty",
    "TXT_5s.mp4": "not_video",
    "HTML_5s.mp4": "not_video",
    "RND_5s.mp4": "not_video",
    "ZERO_5s.mp4": "wrong_frames",  # an MP4 with no frames
    "AUD_5s.mp4": "not_video",  # audio only
    "HUGE_5s.mp4": "unreadable",  # header claims 8000x8000
    "vidéos/U_5s.mp4": "ok",  # unicode folder
    "it's a clip ü.mp4": "bad_name",
    "LINK_5s.mp4": "ok",  # symlink to a good clip outside the corpus
    "BROKEN_5s.mp4": "unreadable",  # dangling symlink
    "FIFO_5s.mp4": "unreadable",
    "DIR_5s.mp4": "unreadable",  # a folder named like a clip
}


def _copy_with(src: Path, dst: Path, mutate) -> Path:
    data = bytearray(src.read_bytes())
    mutate(data)
    dst.write_bytes(bytes(data))
    return dst


def _zero_runs(data: bytearray) -> None:
    start = data.find(b"mdat") + 2000
    for k in range(60):
        off = start + k * 700
        data[off:off + 48] = bytes(48)


def _rawvideo_with_claimed_size(path: Path, width: int, height: int) -> Path:
    """A tiny rawvideo MOV whose sample description claims width x height (libav believes it)."""
    with av.open(str(path), "w", format="mov") as out:
        stream = out.add_stream("rawvideo", rate=24)
        stream.width, stream.height, stream.pix_fmt = 32, 16, "rgb24"
        for _ in range(3):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.zeros((16, 32, 3), np.uint8), format="rgb24")))
        out.mux(stream.encode(None))
    data = bytearray(path.read_bytes())
    entry = data.find(b"stsd") + 16  # size, 'stsd', version/flags, count, then the entry's size
    at = entry + 28  # fourcc, reserved(6), ref(2), version(2), revision(2), vendor(4), temporal(4), spatial(4)
    data[at:at + 4] = width.to_bytes(2, "big") + height.to_bytes(2, "big")
    path.write_bytes(bytes(data))
    return path


def _audio_only(path: Path) -> Path:
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=48000)
        for k in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 48000, k * 1024
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _no_frames(path: Path) -> Path:
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        out.start_encoding()
    return path


def build_corpus(root: Path, outside: Path) -> None:
    good_clip(root / "A_5s.mp4", 5, scene=1, seed=1)
    good_clip(root / "A_10s.mp4", 10, scene=1, seed=2)  # same scene, another take: not a duplicate
    good_clip(root / "B_5s.mp4", 5, scene=2, seed=3)
    write_clip(root / "C_5s.mp4", take(background(3), 93, 4), fps=16)
    write_clip(root / "D_5s.mp4", take(background(4), 93, 5), fps=16)
    shutil.copyfile(root / "D_5s.mp4", root / "D_10s.mp4")
    f_frames = list(take(background(5), 120, 6))
    write_clip(root / "F_5s.mp4", f_frames, crf=20)
    write_clip(root / "G_5s.mp4", f_frames, crf=32)
    h_frames = list(take(background(6), 240, 7))
    write_clip(root / "H_10s.mp4", h_frames)
    write_clip(root / "H_5s.mp4", h_frames[:120], crf=28)
    def fresh(scene: int) -> list[np.ndarray]:  # its own scene and take, so no two defects look alike
        return list(take(background(scene), 120, scene))

    write_clip(root / "K_5s.mp4", [np.full_like(f, 16) if 30 <= i < 80 else f for i, f in enumerate(fresh(20))])
    still = fresh(21)
    write_clip(root / "L_5s.mp4", [still[30] if 30 <= i < 100 else f for i, f in enumerate(still)])
    write_clip(root / "M_5s.mp4", [np.clip(f.astype(int) + (3 if i % 2 else -3), 0, 255).astype(np.uint8)
                                   for i, f in enumerate(fresh(22))])
    write_clip(root / "S_5s.mp4", fresh(23)[:60] + fresh(24)[60:])
    steps = [42 if i % 3 else 50 for i in range(120)]
    write_clip(root / "V_5s.mp4", fresh(25), pts=np.cumsum([0] + steps[:-1]).tolist(), time_base=Fraction(1, 1000))
    write_clip(root / "W_5s.mp4", take(background(26, w=352, h=176), 120, 26))
    write_clip(root / "X_5s.mp4", fresh(27), codec="mpeg4")
    write_clip(root / "Y_5s.mp4", fresh(28), pix_fmt="yuv444p")
    good = good_clip(outside / "good_5s.mp4", 5, scene=9, seed=11)
    _copy_with(good, root / "Z_5s.mp4", _zero_runs)
    _copy_with(good, root / "T_5s.mp4", lambda d: d.__delitem__(slice(len(d) // 2, None)))
    fast = good_clip(outside / "fast_5s.mp4", 5, scene=9, seed=11, faststart=True)
    _copy_with(fast, root / "TF_5s.mp4", lambda d: d.__delitem__(slice(len(d) // 2, None)))
    (root / "P_5s.mp4").write_text(POINTER)
    (root / "Q_5s.mp4").write_text(POINTER.replace("git-lfs.github.com", "hawser.github.com"))
    (root / "PM_5s.mp4").write_text(POINTER.replace(OID, OID[:40]))
    (root / "E0_5s.mp4").write_bytes(b"")
    (root / "TXT_5s.mp4").write_text("ffmpeg: render failed\nsee log for details\n")
    (root / "HTML_5s.mp4").write_text("<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>\n")
    (root / "RND_5s.mp4").write_bytes(random.Random(3).randbytes(50_000))
    _no_frames(root / "ZERO_5s.mp4")
    _audio_only(root / "AUD_5s.mp4")
    _rawvideo_with_claimed_size(root / "HUGE_5s.mp4", 8000, 8000)
    good_clip(root / "vidéos" / "U_5s.mp4", 5, scene=10, seed=12)
    good_clip(root / "it's a clip ü.mp4", 5, scene=11, seed=13)
    (root / "LINK_5s.mp4").symlink_to(good_clip(outside / "linked_5s.mp4", 5, scene=29, seed=29))
    (root / "BROKEN_5s.mp4").symlink_to(root / "gone.mp4")
    os.mkfifo(root / "FIFO_5s.mp4")
    (root / "DIR_5s.mp4").mkdir()
