"""`synthcam verify`: audit clips in one decode pass each, then compare them with each other.

    from synthcam.verify import verify_file, verify_paths, Expectation, Thresholds

    report = verify_file("P01_5s.mp4", Expectation(fps=24, duration_s=5, expects_motion=True))
    report.status            # "ok", or the first failing kind (see KINDS)
    run = verify_paths(["out/"], manifest="dataset.yaml", jobs=4)
    run.summary.failed, run.to_json()
    near_matches([report, *sibling_reports], Thresholds())   # a new clip against known ones

Modules: `file` (one file: precheck, sha256, decode, checks), `decode` + `stats` (the single
streaming pass), `checks/` (one detector per kind), `lfs` (pointer stubs), `signature` +
`dupes` (exact and near duplicates), `variants` (per-ID), `pool` (crash-proof workers),
`run` (many files), `report` (the JSON schema), `thresholds` (every tunable, with reasons).
"""

from __future__ import annotations

from .dupes import Match, mark_duplicates, near_matches
from .expect import Expectation, Expectations, parse_name
from .file import sha256_file, verify_file
from .lfs import LfsPointer, MalformedPointer, parse_pointer
from .report import ID_KINDS, KINDS, SCHEMA, FileReport, Finding, IdReport, Report, Summary
from .run import collect_paths, verify_paths
from .signature import Signature
from .thresholds import Thresholds, load_thresholds

__all__ = [
    "ID_KINDS",
    "KINDS",
    "SCHEMA",
    "Expectation",
    "Expectations",
    "FileReport",
    "Finding",
    "IdReport",
    "LfsPointer",
    "MalformedPointer",
    "Match",
    "Report",
    "Signature",
    "Summary",
    "Thresholds",
    "collect_paths",
    "load_thresholds",
    "mark_duplicates",
    "near_matches",
    "parse_name",
    "parse_pointer",
    "sha256_file",
    "verify_file",
    "verify_paths",
]
