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
`run` (many files), `report` (the JSON schema), `kinds` (every finding kind: container or
content), `thresholds` (every tunable, with reasons), `policy` (which content checks run, at
which thresholds, per dataset), `recheck` (a workspace's verified clips under another policy).

Names load on first use (as in `synthcam`): the manifest validates its `verify:` section with
`synthcam.verify.policy` without loading the decoder stack (PyAV, OpenCV, numpy).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Match": "dupes", "mark_duplicates": "dupes", "near_matches": "dupes",
    "Expectation": "expect", "Expectations": "expect", "parse_name": "expect",
    "sha256_file": "file", "verify_file": "file",
    "LfsPointer": "lfs", "MalformedPointer": "lfs", "parse_pointer": "lfs",
    "CONTAINER_KINDS": "kinds", "CONTENT_KINDS": "kinds", "ID_KINDS": "kinds", "KINDS": "kinds",
    "SCHEMA": "report", "FileReport": "report", "Finding": "report", "IdReport": "report", "Report": "report",
    "Summary": "report",
    "PROFILES": "policy", "VerifyPolicy": "policy", "load_policy": "policy", "policy_badge": "policy",
    "policy_from_manifest": "policy", "policy_line": "policy", "resolve_policy": "policy",
    "Recheck": "recheck", "recheck_workspace": "recheck",
    "collect_paths": "run", "verify_paths": "run",
    "Signature": "signature",
    "Thresholds": "thresholds", "load_thresholds": "thresholds",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
