"""Every finding kind, in one dependency-free place (re-exported by `report`).

The order is the verdict order: a file's status is its first finding in `KINDS`. The split
between the two groups is what a verification policy may touch:

- `CONTAINER_KINDS` say whether the file is the clip that was asked for at all (it decodes,
  has the right frames, rate, size and codec, is not a stub, a copy or a stray file). No
  policy can switch them off: a dataset of clips that do not decode is not a relaxed dataset.
- `CONTENT_KINDS` judge the pictures (black, frozen, flicker, motion, cuts, near copies).
  They are a quality bar, and a dataset may set it: a smoke run with random weights makes
  noise that decodes perfectly. A new content check (e.g. a fidelity check a backend adds)
  is appended here and becomes switchable everywhere: policies, profiles, records, displays.

Kept free of imports so that the manifest can validate a `verify:` section without loading
the decoder stack.
"""

from __future__ import annotations

__all__ = ["CONTAINER_KINDS", "CONTENT_KINDS", "ID_KINDS", "KINDS"]

CONTAINER_KINDS = (
    "lfs_pointer",      # a Git LFS pointer stub, not the video
    "empty",            # zero bytes
    "not_video",        # text, HTML, random bytes, audio only
    "unreadable",       # cannot be opened or read to the end (truncated, no moov, not a file)
    "corrupt",          # decoder errors or corrupt frames anywhere
    "unexpected_file",  # with a manifest: not one of its variants
    "bad_name",         # without a manifest: not <ID>_<N>s.mp4, so its length is unknown
    "wrong_frames",     # frame count != fps x seconds
    "vfr",              # variable frame intervals (explains a wrong average fps)
    "wrong_fps",
    "wrong_resolution",
    "wrong_codec",      # codec or pixel format
    "duplicate",        # same bytes as another file
)
CONTENT_KINDS = (
    "near_duplicate",   # same pictures as another clip (re-encode, or prefix of a longer one)
    "black",
    "frozen",
    "flicker",
    "static",           # no motion where the manifest expects action
    "scene_cut",
    # fidelity, from a backend's own ground truth (the procedural audit): the clip does not show its manifest
    "out_of_frame",     # a subject the manifest names is not in view for the part of the clip its action needs
    "cut_short",        # the action's key moment happens after the clip ends, or out of view
    "prop_missing",     # a prop or scene element the description names (or the occluder) is not in view
    "too_small",        # a subject's image is below the minimum box size for a detector
    "low_contrast",     # a subject barely differs from its background
    "ir_colour",        # the description names a colour that a night infrared (monochrome) picture cannot show
)
# Every per-file finding kind, most fundamental first: a file's status is the first one found.
KINDS = CONTAINER_KINDS + CONTENT_KINDS
ID_KINDS = ("missing_variant",)
