"""Import the old v2 manifest format (nemotron-cosmos `generation_manifest.yaml` + templates).

Every entry comes across; whatever the old format held that synthcam does not use, or that
synthcam interprets differently, is reported line by line, so nothing changes silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import LegacyImportError, ManifestError
from .fsutil import write_text_atomic
from .manifest import MAX_MANIFEST_BYTES, Manifest, load_manifest_text

OLD_MODELS = {"14b": "14B/post-trained", "2b": "2B/post-trained"}
LAYOUTS = ("front_porch", "driveway", "backyard", "side_yard", "street", "garage", "walkway")
ACTION_PATHS = {
    "approach_door": "approach_door", "circle_house": "circle_house", "deliver_package": "deliver_package",
    "exit_vehicle": "exit_vehicle", "force_entry": "force_entry", "loiter": "loiter",
    "normal_entry": "enter_house", "test_handle": "test_handle",
}
# The old training entries carry no risk; the old evaluation mapped series to categories.
GROUP_RISK = {
    "threat_patterns": "high", "real_threats": "high", "false_positives": "low",
    "everyday_recognition": "low", "edge_cases": "medium", "enrichment_stress": "medium",
    "tracking_sequences": "low", "challenging_conditions": "medium",
}
DROPPED_DEFAULTS = ("model_path", "aspect_ratio", "natten", "use_cuda_graphs", "presentation", "training")


class _NoAliasDumper(yaml.SafeDumper):
    """synthcam manifests refuse aliases, so never write any."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


@dataclass
class ImportReport:
    ids: int = 0
    template_entries: int = 0
    prompt_override_entries: int = 0
    dropped: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"ids": self.ids, "template_entries": self.template_entries,
                "prompt_override_entries": self.prompt_override_entries,
                "dropped": self.dropped, "changed": self.changed}


def _read_yaml(path: Path, report: ImportReport) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LegacyImportError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise LegacyImportError(f"{path}: {len(raw):,} bytes is too large for a manifest")
    try:
        text = raw.decode("utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        _report_duplicate_keys(node, path, report)
        return yaml.safe_load(text)
    except UnicodeDecodeError:
        raise LegacyImportError(f"{path}: not UTF-8 text") from None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise LegacyImportError(f"{path}:{line}: YAML syntax: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise LegacyImportError(f"{path}: YAML: {str(exc).splitlines()[0]}") from None


def _report_duplicate_keys(node: Any, path: Path, report: ImportReport) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            if k.value in seen:
                report.changed.append(f"{path.name}:{k.start_mark.line + 1}: key {k.value!r} appears twice; the last value is kept")
            seen.add(k.value)
            _report_duplicate_keys(v, path, report)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _report_duplicate_keys(item, path, report)


def _token(value: str) -> str:
    token = re.sub(r"[^A-Za-z0-9_-]+", "_", str(value)).strip("_-")[:64]
    return token or "x"


def _sentence(*parts: Any) -> str:
    return ". ".join(str(p).strip().rstrip(".") for p in parts if p and str(p).strip())


def _time_of_day(text: str) -> str:
    t = text.lower()
    for key, words in (("night", ("night", "midnight")), ("dusk", ("dusk", "evening", "sunset")),
                       ("dawn", ("dawn", "morning", "sunrise"))):
        if any(w in t for w in words):
            return key
    return "day"


def _templates(templates_dir: Path, report: ImportReport) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for kind in ("scenes", "environments", "subjects", "actions"):
        folder = templates_dir / kind
        out[kind] = {}
        if not folder.is_dir():
            continue
        for f in sorted(folder.glob("*.yaml")):
            data = _read_yaml(f, report)
            if isinstance(data, dict):
                out[kind][str(data.get("id", f.stem))] = data
    return out


def _convert_scene(name: str, s: dict[str, Any], report: ImportReport) -> dict[str, Any]:
    layout = name if name in LAYOUTS else "front_porch"
    if name not in LAYOUTS:
        report.changed.append(f"scene {name}: no matching layout; drawn as front_porch by the procedural backend")
    unused = sorted(set(s) - {"id", "setting", "viewing_angle", "perspective_notes", "lens_effects"})
    if unused:
        report.dropped.append(f"scene {name}: unused keys {', '.join(unused)}")
    return {
        "layout": layout,
        "setting": str(s.get("setting", name.replace("_", " "))),
        "view": f"viewed from {s.get('viewing_angle', 'an elevated fixed position, looking down')}",
        "details": ", ".join(str(x) for x in (s.get("perspective_notes"), s.get("lens_effects")) if x),
    }


def _convert_environment(name: str, e: dict[str, Any], report: ImportReport) -> dict[str, Any]:
    weather = str(e.get("weather", "clear"))
    if weather not in ("clear", "overcast", "rain", "snow", "fog", "wind"):
        report.changed.append(f"environment {name}: weather {weather!r} unknown; set to clear")
        weather = "clear"
    unused = sorted(set(e) - {"id", "time_of_day", "lighting_description", "quality_notes", "weather"})
    if unused:
        report.dropped.append(f"environment {name}: unused keys {', '.join(unused)}")
    return {
        "time_of_day": _time_of_day(str(e.get("time_of_day", "day"))),
        "weather": weather,
        "lighting": str(e.get("lighting_description") or e.get("time_of_day") or "natural light"),
        "look": str(e.get("quality_notes") or "a clear, slightly grainy image"),
    }


def _convert_subject(name: str, s: dict[str, Any], report: ImportReport, description: str | None = None) -> dict[str, Any]:
    kind = "vehicle" if str(s.get("type", "person")) == "vehicle" else "person"
    text = description or ", ".join(str(x) for x in (s.get("description"), s.get("appearance")) if x)
    appearance: dict[str, Any] = {}
    if kind == "person":
        build = str(s.get("build", "average"))
        if build in ("slim", "average", "heavy"):
            appearance["build"] = build
        elif "build" in s:
            report.changed.append(f"subject {name}: build {build!r} has no match; left unset")
        if "face_visible" in s:
            appearance["face_visible"] = bool(s["face_visible"])
        clothing = s.get("clothing") if isinstance(s.get("clothing"), dict) else {}
        if clothing.get("color"):
            appearance["top"] = str(clothing["color"])
        if clothing.get("hood_up"):
            appearance["hood"] = True
    else:
        for v in ("suv", "sedan", "pickup", "van"):
            if v in text.lower():
                appearance["vehicle"] = v
    out: dict[str, Any] = {"kind": kind, "description": text, "classes": {kind: 1}}
    if appearance:
        out["appearance"] = appearance
    return out


def _convert_action(name: str, a: dict[str, Any], report: ImportReport, text: str | None = None) -> dict[str, Any]:
    base = str(a.get("id", name))
    path = ACTION_PATHS.get(base, "approach_door")
    body = text or _sentence(a.get("sequence_description"), a.get("additional_details"))
    return {"path": path, "motion": "normal", "suspicious": base in ("test_handle", "force_entry", "loiter", "circle_house"),
            "pacing": {5: body}}


def import_legacy(old: Path, templates_dir: Path | None = None) -> tuple[str, ImportReport]:
    """Convert an old v2 manifest to synthcam YAML text; the text is validated before return."""
    old = Path(old)
    report = ImportReport()
    data = _read_yaml(old, report)
    if not isinstance(data, dict) or not ({"presentation", "training"} & set(data)):
        raise LegacyImportError(f"{old}: not an old v2 manifest (no 'presentation' or 'training' section)")
    templates_dir = templates_dir or old.parent / "prompts" / "templates"
    tpl = _templates(templates_dir, report)
    d = data.get("defaults") or {}

    model_text = str(d.get("model", "")).lower()
    model = next((m for k, m in OLD_MODELS.items() if k in model_text), "2B/post-trained")
    report.changed.append(f"defaults.model {d.get('model')!r} -> {model!r} (a --model name of Cosmos Predict 2.5)")
    guidance = d.get("guidance", 7)
    if not isinstance(guidance, int):
        report.changed.append(f"defaults.guidance {guidance!r} -> {int(round(float(guidance)))} (upstream takes an integer 0-7)")
    if "resolution" in d:
        report.changed.append(f"defaults.resolution {d['resolution']!r} -> '1280x704' (width x height)")
    for key in DROPPED_DEFAULTS:
        if key in d:
            report.dropped.append(f"defaults.{key}: not used by synthcam")
    for key in ("version", "total_videos", "created_at", "cosmos_version"):
        if key in data:
            report.dropped.append(f"{key}: {data[key]!r} (counts and versions are derived, never typed in)")
    report.changed.append("seeds: the old files used seed 0 everywhere; every variant now gets its own derived seed")
    report.changed.append("durations: every ID gets 5/10/30 s variants, as the old generator did; duration_seconds is dropped")

    components: dict[str, dict[str, Any]] = {"scenes": {}, "environments": {}, "subjects": {}, "actions": {}}
    clips: list[dict[str, Any]] = []
    used: dict[str, set[str]] = {k: set() for k in components}

    def need(kind: str, name: str, entry_id: str) -> str:
        if name not in tpl[kind]:
            raise LegacyImportError(f"{old}: {entry_id} refers to {kind[:-1]} {name!r}, not found in {templates_dir / kind}")
        used[kind].add(name)
        return _token(name)

    for section in ("presentation", "training"):
        for group, entries in (data.get(section) or {}).items():
            if not isinstance(entries, list):
                continue
            for e in entries:
                if not isinstance(e, dict) or "id" not in e:
                    raise LegacyImportError(f"{old}: an entry under {section}.{group} has no id")
                cid = _token(e["id"])
                clip: dict[str, Any] = {
                    "id": cid, "group": _token(group), "scenario": _token(e.get("variation", cid)),
                    "purpose": str(e.get("description") or group),
                }
                if e.get("description"):
                    clip["description"] = str(e["description"])
                if e.get("models_exercised"):
                    clip["purpose"] += f" (exercises: {', '.join(map(str, e['models_exercised']))})"
                if e.get("scene"):
                    clip["scene"] = need("scenes", str(e["scene"]), cid)
                if e.get("environment"):
                    clip["environment"] = need("environments", str(e["environment"]), cid)
                if e.get("prompt_override"):
                    report.prompt_override_entries += 1
                    clip["prompt"] = str(e["prompt_override"])
                else:
                    report.template_entries += 1
                    subject = str(e.get("subject", "person_suspicious"))
                    action = str(e.get("action", "approach_door"))
                    need("subjects", subject, cid)
                    need("actions", action, cid)
                    if e.get("subject_override"):
                        key = f"{cid}_subject"
                        components["subjects"][key] = _convert_subject(subject, tpl["subjects"][subject], report, str(e["subject_override"]))
                        clip["subjects"] = [key]
                    else:
                        clip["subjects"] = [_token(subject)]
                    if e.get("action_override"):
                        key = f"{cid}_action"
                        components["actions"][key] = _convert_action(action, tpl["actions"][action], report, str(e["action_override"]))
                        clip["action"] = key
                    else:
                        clip["action"] = _token(action)
                risk = e.get("expected_risk")
                if risk not in ("low", "medium", "high", "critical"):
                    risk = GROUP_RISK.get(str(group), "medium")
                    report.changed.append(f"{cid}: no expected_risk; set to {risk!r} from group {group}")
                clip["expected_risk"] = risk
                if "duration_seconds" in e:
                    report.dropped.append(f"{cid}: duration_seconds {e['duration_seconds']} (the old generator ignored it too)")
                clips.append(clip)

    converters = {"scenes": _convert_scene, "environments": _convert_environment,
                  "subjects": _convert_subject, "actions": _convert_action}
    for kind, names in used.items():
        for name in sorted(names):
            components[kind][_token(name)] = converters[kind](name, tpl[kind][name], report)
    report.ids = len(clips)

    manifest = {
        "version": 1,
        "name": _token(old.stem),
        "description": f"Imported from {old.name} by synthcam import-legacy. {str(data.get('description', '')).strip()}".strip(),
        "defaults": {
            "fps": 24, "resolution": "1280x704", "durations": [5, 10, 30],
            "negative_prompt": str(d.get("negative_prompt") or "blurry, distorted, visible camera equipment, slow motion"),
            "model": model, "timing": "interpolate", "seed": 0,
            "guidance": max(0, min(7, int(round(float(guidance))))), "num_steps": 35,
        },
        "components": components,
        "clips": clips,
    }
    text = "# Imported by `synthcam import-legacy`; review the report it printed.\n" + yaml.dump(
        manifest, Dumper=_NoAliasDumper, sort_keys=False, allow_unicode=True, width=100)
    try:
        load_manifest_text(text, f"{old} (imported)")
    except ManifestError as exc:  # a converter bug, or input we could not express
        raise LegacyImportError(f"imported manifest does not validate: {exc}") from None
    return text, report


def import_legacy_to(old: Path, out: Path, templates_dir: Path | None = None) -> tuple[Manifest, ImportReport]:
    text, report = import_legacy(old, templates_dir)
    manifest = load_manifest_text(text, str(out))
    write_text_atomic(Path(out), text)
    return manifest, report
