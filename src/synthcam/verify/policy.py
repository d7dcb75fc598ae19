"""A dataset's verification policy: which content checks run, and at which thresholds.

The verifier's content checks are a quality bar, and a dataset sets its own: a smoke run with
a tiny random-weight model makes noise that decodes perfectly but "cuts" and "flickers", and a
dataset of empty driveways at night legitimately hardly moves. Container checks (the file
decodes, has the frames, rate, size and codec asked for, is not a stub, a copy or a stray
file) say whether the clip exists at all, so no policy can switch them off.

    verify:                       # in a manifest, or the same keys in a --verify-policy file
      profile: container-only     # default | container-only | low-motion
      checks: {static: off}       # content checks on/off by kind, over the profile's
      thresholds:                 # Thresholds fields by name, over the profile's
        flicker_max_fraction: 0.3

A policy never hides: its `summary()` ("default", "container-only", "custom: static off,
flicker_max_fraction 0.3") and `digest` travel with every verdict reached under it (the
report, each verified job's record, the gallery badge, export metadata), so a clip verified
with content checks off never looks like a fully checked one.

Imports only pydantic, the thresholds and the kinds: the manifest validates its `verify:`
section with this module without loading the decoder stack.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo

from ..errors import InputError, ManifestError, PolicyError
from .kinds import CONTAINER_KINDS, CONTENT_KINDS, ID_KINDS
from .thresholds import Thresholds

if TYPE_CHECKING:
    from ..manifest import Manifest

__all__ = [
    "DEFAULT_PROFILE",
    "KIND_LIMITS",
    "POLICY_SCHEMA",
    "PROFILES",
    "PolicyView",
    "Profile",
    "ThresholdOverrides",
    "VerifyPolicy",
    "load_policy",
    "policy_badge",
    "policy_from_manifest",
    "policy_line",
    "policy_view",
    "resolve_policy",
]

POLICY_SCHEMA = "synthcam.policy/1"
DEFAULT_PROFILE = "default"
MAX_POLICY_BYTES = 64 * 1024  # a policy is a few lines; anything bigger is the wrong file


@dataclass(frozen=True)
class Profile:
    """A named starting point: content checks off and thresholds changed from the defaults."""

    name: str
    purpose: str
    off: frozenset[str] = frozenset()
    thresholds: Mapping[str, float | int] = field(default_factory=dict)


PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile(DEFAULT_PROFILE, "every check on, at the documented thresholds"),
    Profile("container-only", "every content check off: the clip must decode and be the file asked for (frames, "
            "fps, size, codec), nothing more. For smoke runs with tiny random-weight models, whose noise "
            "decodes perfectly but cuts, flickers and stands still", frozenset(CONTENT_KINDS)),
    Profile("low-motion", "static off and frozen only after 4 s: for datasets where a still, empty scene is "
            "legitimate (a driveway at night); a generator stall that freezes the rest of a clip is still caught",
            frozenset({"static"}), {"freeze_min_s": 4.0}),
)}
ProfileName = Literal[tuple(PROFILES)]  # type: ignore[valid-type]
# The thresholds each content check reads (analysis_width shapes them all). A policy that
# sets one of these changes what that check accepts.
KIND_LIMITS: dict[str, tuple[str, ...]] = {
    "near_duplicate": ("dup_hash_median", "dup_hash_max", "dup_motion_max", "dup_motion_agree"),
    "black": ("black_pixel_level", "black_frame_ratio", "black_min_s"),
    "frozen": ("freeze_mae", "freeze_min_s"),
    "flicker": ("flicker_level", "flicker_max_fraction", "flicker_min_score"),
    "static": ("motion_pixel_delta", "motion_min_area", "static_min_moving"),
    "scene_cut": ("cut_hash_distance", "cut_mae_ratio", "cut_persist_distance"),
}
_SWITCHABLE = ", ".join(CONTENT_KINDS)


def _switchable(kind: str) -> str:
    if kind in CONTENT_KINDS:
        return kind
    if kind in CONTAINER_KINDS or kind in ID_KINDS:
        raise ValueError(f"{kind} is a container check and cannot be switched off: only content checks "
                         f"can ({_SWITCHABLE})")
    raise ValueError(f"unknown check {kind!r} (content checks: {_SWITCHABLE})")


def _needs_value(value: Any) -> Any:
    if value is None:
        raise ValueError("needs a value (leave the key out to keep the profile's)")
    return value


CheckKind = Annotated[str, AfterValidator(_switchable)]

# Every Thresholds field, optional, with the same bounds and descriptions: what a policy
# changes. Made from Thresholds so a new threshold is settable without touching this file.
ThresholdOverrides = create_model(
    "ThresholdOverrides",
    __config__=ConfigDict(extra="forbid", strict=True, frozen=True),
    __doc__="Thresholds a policy sets, by name; a key left out keeps the profile's value.",
    __module__=__name__,
    **{name: (Annotated[info.annotation | None, BeforeValidator(_needs_value)],  # type: ignore[name-defined]
              FieldInfo.merge_field_infos(info, default=None))
       for name, info in Thresholds.model_fields.items()},
)


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class VerifyPolicy(BaseModel):
    """What a dataset's verification accepts: a profile, content checks on/off, thresholds.

    Two policies with the same effect have the same `name`, `summary()` and `digest`, however
    they are written (`checks` that switch every content check off is `container-only`).
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    profile: ProfileName = Field(DEFAULT_PROFILE, description="The starting point: " + "; ".join(
        f"{p.name}: {p.purpose}" for p in PROFILES.values()))
    checks: dict[CheckKind, bool] = Field(default_factory=dict, description=(
        f"Content checks switched on (true/on) or off (false/off) over the profile: {_SWITCHABLE}. "
        "Container checks cannot be switched off."))
    thresholds: ThresholdOverrides = Field(default_factory=ThresholdOverrides, description=(  # type: ignore[valid-type]
        "Thresholds by name (docs/verify.md), over the profile's."))

    # --- what it does ---------------------------------------------------------------------

    @cached_property
    def off(self) -> frozenset[str]:
        """Content kinds this policy does not check."""
        off = set(PROFILES[self.profile].off)
        for kind, on in self.checks.items():
            (off.discard if on else off.add)(kind)
        return frozenset(off)

    @property
    def content_checks_off(self) -> list[str]:
        """The content checks switched off, in verdict order (for displays: "content checks off")."""
        return [k for k in CONTENT_KINDS if k in self.off]

    def allows(self, kind: str) -> bool:
        """Whether findings of `kind` count under this policy (container kinds always do)."""
        return kind not in self.off

    def limits_changed(self, kind: str) -> list[str]:
        """The thresholds of a content check that this policy moves from the defaults."""
        defaults = Thresholds()
        names = (*KIND_LIMITS.get(kind, ()), "analysis_width") if kind in KIND_LIMITS else ()
        return [n for n in names if getattr(self.limits, n) != getattr(defaults, n)]

    @cached_property
    def overrides(self) -> dict[str, Any]:
        """The thresholds this policy sets itself, as written."""
        return self.thresholds.model_dump(exclude_none=True)  # type: ignore[attr-defined]

    @cached_property
    def limits(self) -> Thresholds:
        """The thresholds in force: the defaults, then the profile's, then this policy's."""
        return Thresholds(**{**PROFILES[self.profile].thresholds, **self.overrides})

    # --- how it is named and recorded -----------------------------------------------------

    @cached_property
    def _effect(self) -> tuple[frozenset[str], Thresholds]:
        return self.off, self.limits

    @cached_property
    def name(self) -> str:
        """The profile this policy amounts to, or "custom"."""
        for profile in PROFILES.values():
            if self._effect == (profile.off, Thresholds(**profile.thresholds)):
                return profile.name
        return "custom"

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_PROFILE

    def summary(self) -> str:
        """A short stable description: a profile name, or "custom: " + what differs from its profile."""
        if self.name != "custom":
            return self.name
        base = PROFILES[self.profile]
        items = [f"{k} {'off' if k in self.off else 'on'}" for k in CONTENT_KINDS if (k in self.off) != (k in base.off)]
        base_limits = Thresholds(**base.thresholds)
        items += [f"{k} {_number(v)}" for k, v in self.limits.model_dump().items() if getattr(base_limits, k) != v]
        start = "" if base.name == DEFAULT_PROFILE else f"{base.name} + "
        return f"custom: {start}{', '.join(items)}"

    @cached_property
    def digest(self) -> str:
        """sha256 of what the policy does (every content check on/off, every threshold in force)."""
        effect = {"checks": {k: k not in self.off for k in CONTENT_KINDS}, "thresholds": self.limits.model_dump()}
        return hashlib.sha256(json.dumps(effect, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    def to_record(self) -> dict[str, Any]:
        """The JSON form kept with each verdict (a job's probe["policy"], a report's "policy")."""
        return {
            "schema": POLICY_SCHEMA, "name": self.name, "summary": self.summary(), "digest": self.digest,
            "content_checks_off": self.content_checks_off,
            "profile": self.profile, "checks": dict(self.checks), "thresholds": dict(self.overrides),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> VerifyPolicy:
        """The policy a record was written from (raises ValidationError if it is not one)."""
        return cls.model_validate({k: record[k] for k in ("profile", "checks", "thresholds") if k in record})

    @classmethod
    def from_thresholds(cls, thresholds: Thresholds) -> VerifyPolicy:
        """Every check on, at these thresholds (what `--thresholds FILE` and `thresholds=` mean)."""
        defaults = Thresholds()
        return cls(thresholds={k: v for k, v in thresholds.model_dump().items() if getattr(defaults, k) != v})


# --- where a policy comes from --------------------------------------------------------------


def policy_from_manifest(manifest: Manifest | None) -> VerifyPolicy:
    """The manifest's `verify:` section, or the default policy when it has none."""
    section = manifest.model.verify if manifest is not None else None
    return section if section is not None else VerifyPolicy()


def resolve_policy(policy: VerifyPolicy | None = None, thresholds: Thresholds | None = None,
                   manifest: Manifest | None = None) -> VerifyPolicy:
    """The policy in force: a policy given (a --verify-policy file) wins, then bare thresholds
    (--thresholds: every check on), then the manifest's `verify:` section, then the default.

    A file replaces the manifest's section as a whole: keys are never merged between them, so
    what a file says is exactly what runs.
    """
    if policy is not None and thresholds is not None:
        raise InputError("give a verification policy or thresholds, not both: put the thresholds under "
                         "`thresholds:` in the policy")
    if policy is not None:
        return policy
    if thresholds is not None:
        return VerifyPolicy.from_thresholds(thresholds)
    return policy_from_manifest(manifest)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice")
        out[key] = value
    return out


def _parse(raw: bytes, source: str, is_json: bool) -> tuple[Any, dict[tuple[Any, ...], int]]:
    from ..manifest import parse_yaml

    if not raw.strip():
        raise PolicyError(source, 1, "file is empty; a verification policy is a mapping such as "
                          "`profile: container-only`")
    try:
        if not is_json:
            return parse_yaml(raw, source)
        try:
            data = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys)
        except UnicodeDecodeError as exc:
            raise PolicyError(source, raw[: exc.start].count(b"\n") + 1, "file is not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise PolicyError(source, exc.lineno, f"not valid JSON: {exc.msg}") from None
        except ValueError as exc:  # a duplicate key
            raise PolicyError(source, None, f"not valid JSON: {exc}") from None
        try:  # JSON is YAML: the YAML reader gives each key its line, when it can
            lines = parse_yaml(raw, source)[1]
        except ManifestError:
            lines = {}
        return data, lines
    except PolicyError:
        raise
    except ManifestError as exc:
        raise PolicyError(source, exc.line, exc.reason) from None


def load_policy(path: str | Path) -> VerifyPolicy:
    """Read a policy from a YAML or JSON file (`--verify-policy FILE`).

    It holds the keys of a manifest's `verify:` section (optionally under `verify:` itself, so
    the section can be copied out of a manifest as it is). A profile's name that is not a file
    here (`--verify-policy container-only`) is that profile. Any problem is a PolicyError that
    names file:line, as manifest errors do.
    """
    p = Path(path)
    source = str(path)
    if source in PROFILES and not p.exists():
        return VerifyPolicy(profile=source)
    from ..manifest import read_spec_file

    raw = read_spec_file(p, source, MAX_POLICY_BYTES, "verification policy", PolicyError)
    data, lines = _parse(raw, source, p.suffix.lower() == ".json")
    if not isinstance(data, dict):
        raise PolicyError(source, 1, f"a verification policy is a mapping such as `profile: container-only`, "
                          f"got {type(data).__name__}")
    if list(data) == ["verify"] and isinstance(data["verify"], dict):
        data = data["verify"]
        lines = {k[1:]: v for k, v in lines.items() if k[:1] == ("verify",)}
    try:
        return VerifyPolicy.model_validate(data)
    except ValidationError as exc:
        from ..manifest import validation_message

        raise PolicyError(source, *validation_message(exc, lines)) from None


# --- how a recorded policy is shown ---------------------------------------------------------

_TOKEN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class PolicyView:
    """A recorded policy as displays show it (from a job's probe["policy"], or its absence)."""

    name: str
    summary: str
    digest: str | None
    content_checks_off: tuple[str, ...]

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_PROFILE and not self.content_checks_off


def _text(value: Any, limit: int = 200) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return "".join(ch if ch.isprintable() else "?" for ch in value[:limit])


def policy_view(record: Mapping[str, Any] | None) -> PolicyView:
    """What a verdict's policy record says. No record is the default policy (records made before
    policies existed were all verified with every check); a record this version cannot read is
    shown from its own summary, never as the default."""
    if record is None:
        p = VerifyPolicy()
        return PolicyView(p.name, p.summary(), p.digest, ())
    if not isinstance(record, Mapping):
        return PolicyView("unknown", "unknown (unreadable policy record)", None, ())
    try:
        p = VerifyPolicy.from_record(record)
    except (ValidationError, TypeError):
        p = None
    off = record.get("content_checks_off")
    recorded_off = tuple(k for k in off if isinstance(k, str) and _TOKEN.match(k)) if isinstance(off, list) else None
    if p is None:
        summary = _text(record.get("summary")) or "unknown"
        return PolicyView(_text(record.get("name"), 40) or "unknown", summary, _text(record.get("digest"), 64),
                          recorded_off or ())
    # What was recorded wins where it is readable: it is what the clip was verified under, even
    # if a later version's defaults would now give another digest.
    return PolicyView(p.name, _text(record.get("summary")) or p.summary(), _text(record.get("digest"), 64) or p.digest,
                      recorded_off if recorded_off is not None else tuple(p.content_checks_off))


def policy_badge(record: Mapping[str, Any] | None) -> str | None:
    """What a "verified" badge adds for a clip's policy: None for the default (every check),
    "content checks off" when none ran, "<profile> policy", or "custom policy"."""
    view = policy_view(record)
    if view.is_default:
        return None
    if set(CONTENT_KINDS) <= set(view.content_checks_off):
        return "content checks off"
    return f"{view.name} policy" if view.name in PROFILES else "custom policy"


def policy_line(record: Mapping[str, Any] | None) -> str:
    """One line for `status` and `logs`: the policy a clip was verified under, e.g.
    "verify policy: container-only (every content check off) sha256:1a2b3c4d5e6f"."""
    view = policy_view(record)
    if view.is_default:
        return "verify policy: default (every check)"
    if set(CONTENT_KINDS) <= set(view.content_checks_off):
        off = " (every content check off)"
    else:
        off = f" (content checks off: {', '.join(view.content_checks_off)})" if view.content_checks_off else ""
    digest = f" sha256:{view.digest[:12]}" if view.digest else ""
    return f"verify policy: {view.summary}{off}{digest}"
