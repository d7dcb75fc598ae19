"""Limits shared by every stage that reads or plans video, so no stage accepts what another refuses."""

from __future__ import annotations

# H.264 level 6.2 allows 139,264 macroblocks of 16x16 per frame: no conformant stream is larger,
# and decoding a file that claims more could take gigabytes (a 705 KB file can claim 16000x15000).
H264_MAX_PIXELS = 139_264 * 256
