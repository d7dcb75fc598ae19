"""Prompt lint: rules learned from what went wrong before. Errors block generation.

About 60% of the old clips showed camera hardware in frame, because the prompts named the
device ("Security camera footage from elevated doorbell camera"): a model draws what a prompt
names. Each rule below has an ID, a severity and a one-line reason.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Literal

from .manifest import Manifest
from .prompts import CompiledClip, compile_manifest

Severity = Literal["error", "warning"]

CAMERA_HARDWARE = re.compile(
    r"\b(?:"
    r"(?:security|surveillance|cctv|doorbell|dome|bullet|ptz|ip|nest|ring|trail|spy|wall[- ]mounted|ceiling[- ]mounted)"
    r"[- ]?cam(?:era)?s?"
    r"|cctv|webcam|camcorder|gopro"
    r"|cameras?[- ](?:footage|housing|mount|lens|pole|bracket|device|feed|recording|view|angle)"
    r"|(?:security|surveillance|doorbell)[- ](?:footage|video|feed|recording)"
    r"|footage from"
    r"|recording device"
    r")\b",
    re.IGNORECASE,
)
PERSPECTIVE = re.compile(
    r"\b(?:viewed|seen|looking (?:down|out|across|along|over|toward)|overlooking|view(?:point)? (?:from|above|over|across|down)"
    r"|from (?:above|high|an? (?:elevated|high|raised)))\b",
    re.IGNORECASE,
)
NIGHT_WORDS = re.compile(r"\b(?:night|nighttime|night-time|midnight|after dark|in the dark)\b", re.IGNORECASE)
NIGHT_LOOK = re.compile(r"\b(?:infrared|ir\b|monochrome|black[- ]and[- ]white|grayscale|greyscale|low[- ]light|night[- ]vision)",
                        re.IGNORECASE)
REALTIME = re.compile(r"\b(?:real[- ]time|1x (?:speed|playback)|normal (?:playback )?speed)\b", re.IGNORECASE)
NEG_CAMERA = re.compile(r"\b(?:camera|cctv|lens|recording device|webcam)\b", re.IGNORECASE)
NEG_SLOWMO = re.compile(r"\bslow[- ]motion\b", re.IGNORECASE)

RULES: dict[str, tuple[Severity, str]] = {
    "camera-in-frame": ("error", "camera-hardware wording makes the model draw a camera in the scene"),
    "viewer-perspective": ("warning", "describe the view from the viewer's side ('seen from above the door, looking out')"),
    "night-look": ("error", "a night scene must state the infrared / low-light look, or the model renders daylight colours"),
    "realtime-clause": ("warning", "without a real-time clause the model often drifts into slow motion"),
    "length": ("warning", "prompt length outside the configured word range"),
    "pacing": ("error", "the action text was written for a much shorter clip (a 30 s clip must not reuse a 5 s action)"),
    "negative-prompt": ("error", "the negative prompt must carry camera-equipment and slow-motion terms"),
}


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    clip: str            # variant name, or "defaults" for dataset-wide findings
    message: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class LintReport:
    findings: list[Finding]
    clips: int

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def by_rule(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.rule] = out.get(f.rule, 0) + 1
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "clips": self.clips,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "by_rule": self.by_rule(),
            "findings": [f.to_json() for f in self.findings],
        }


def _finding(rule: str, clip: str, detail: str) -> Finding:
    severity, _ = RULES[rule]
    return Finding(rule, severity, clip, detail)


def _quote(match: re.Match[str]) -> str:
    return f"'{match.group(0)}'"


def lint_clip(c: CompiledClip, word_range: tuple[int, int], is_night: bool | None, longest_pacing: dict[str, int]) -> list[Finding]:
    out: list[Finding] = []
    text = c.prompt
    hits = list(dict.fromkeys(m.group(0).lower() for m in CAMERA_HARDWARE.finditer(text)))
    if hits:
        out.append(_finding("camera-in-frame", c.name, f"names camera hardware: {', '.join(repr(h) for h in hits)}"))
    if not PERSPECTIVE.search(text):
        out.append(_finding("viewer-perspective", c.name, "no viewer-side view phrase ('seen from', 'viewed from', 'looking down')"))
    night = is_night if is_night is not None else bool(NIGHT_WORDS.search(text))
    if night and not NIGHT_LOOK.search(text):
        out.append(_finding("night-look", c.name, "night scene without an infrared / monochrome / low-light look"))
    if not REALTIME.search(text):
        out.append(_finding("realtime-clause", c.name, "no real-time clause ('real time at normal 1x speed')"))
    words = len(text.split())
    lo, hi = word_range
    if not lo <= words <= hi:
        out.append(_finding("length", c.name, f"{words} words, outside {lo}-{hi}"))
    duration = c.variant.duration_s
    written_for = c.action_pacing_s if c.action_pacing_s is not None else longest_pacing.get(c.variant.clip_id)
    if written_for is not None and duration >= 2 * written_for:
        source = "action" if c.action_pacing_s is not None else "prompt"
        out.append(_finding("pacing", c.name, f"{duration} s clip uses the {source} text paced for {written_for} s"))
    return out


def lint_compiled(manifest: Manifest, clips: list[CompiledClip]) -> LintReport:
    findings: list[Finding] = []
    negative = manifest.defaults.negative_prompt
    missing = [what for what, rx in (("camera-equipment", NEG_CAMERA), ("slow-motion", NEG_SLOWMO)) if not rx.search(negative)]
    if missing:
        findings.append(_finding("negative-prompt", "defaults", f"negative prompt lacks {' and '.join(missing)} terms"))
    # An explicit prompt is written for one length: the shortest variant it serves, unless
    # it is given per duration (then each text serves the lengths up to its key).
    longest_pacing: dict[str, int] = {}
    for clip in manifest.clips:
        if isinstance(clip.prompt, str):
            longest_pacing[clip.id] = min(manifest.durations_for(clip))
    per_duration = {c.id: c.prompt for c in manifest.clips if isinstance(c.prompt, dict)}
    envs = manifest.components.environments
    for c in clips:
        env_name = c.clip.environment
        is_night = envs[env_name].is_night if env_name in envs and c.clip.prompt is None else None
        pacing = dict(longest_pacing)
        if c.variant.clip_id in per_duration:
            keys = per_duration[c.variant.clip_id]
            pacing[c.variant.clip_id] = next((s for s in keys if s >= c.variant.duration_s), max(keys))
        findings.extend(lint_clip(c, manifest.defaults.prompt_words, is_night, pacing))
    return LintReport(findings, len(clips))


def lint_manifest(manifest: Manifest, only: list[str] | None = None, durations: list[int] | None = None) -> LintReport:
    return lint_compiled(manifest, compile_manifest(manifest, only, durations))
