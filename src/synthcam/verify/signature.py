"""Perceptual hashes and the per-second signature a clip leaves for cross-file checks.

The signature holds, for each whole second k of a clip, the 64-bit pHash of the frame shown
at k + 0.5 s and the pHash of that second's motion map (where pixels changed). Frame hashes
alone match any two takes of the same static CCTV scene; motion hashes tell them apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["Signature", "hamming", "phash", "popcount"]

_HASH_SIDE = 32  # pHash: DCT of a 32x32 image, keep the 8x8 lowest frequencies


def phash(grey: np.ndarray) -> int:
    """64-bit perceptual hash (DCT of a 32x32 reduction; bit set where above the median).

    The same construction as imagehash.phash, on a numpy array, without PIL. A flat image
    (all coefficients equal, e.g. a motion map with no motion) hashes to 0.
    """
    small = cv2.resize(grey, (_HASH_SIDE, _HASH_SIDE), interpolation=cv2.INTER_AREA)
    low = cv2.dct(np.float32(small))[:8, :8].ravel()
    middle = np.partition(low, (31, 32))  # the median of 64 values, without np.median's overhead
    bits = low > (middle[31] + middle[32]) / 2
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def popcount(values: np.ndarray) -> np.ndarray:
    """Bits set in each uint64."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(values).astype(np.int64)
    as_bytes = values.astype(np.uint64).view(np.uint8).reshape(*values.shape, 8)
    return np.unpackbits(as_bytes, axis=-1).sum(axis=-1).astype(np.int64)


def hamming(a: int, b: int) -> int:
    """Bits that differ between two 64-bit hashes."""
    return (a ^ b).bit_count()


@dataclass(frozen=True)
class Signature:
    """Per-second hashes of one clip (5 s -> 5 entries each); small enough to keep for every file."""

    frame_hashes: tuple[int, ...] = ()
    motion_hashes: tuple[int, ...] = ()
    motion_active: tuple[bool, ...] = ()  # did anything move in that second?

    @property
    def seconds(self) -> int:
        return len(self.frame_hashes)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The three sequences as numpy arrays (uint64, uint64, bool)."""
        return (
            np.array(self.frame_hashes, dtype=np.uint64),
            np.array(self.motion_hashes, dtype=np.uint64),
            np.array(self.motion_active, dtype=bool),
        )
