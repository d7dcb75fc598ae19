"""The dataset spec: YAML in, validated immutable models out, with errors that name file:line.

A manifest holds defaults, reusable components (scenes, environments, subjects, actions) and
clip entries. Everything countable (clips, variants, per-series totals) is derived here, never
typed in. Loading is safe: no YAML tags, no anchors/aliases (components are the reuse
mechanism, and aliases are how "billion laughs" bombs work), no duplicate keys, bounded size.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ManifestError
from .limits import H264_MAX_PIXELS
from .verify.policy import VerifyPolicy  # light: the decoder stack is not loaded

MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_DURATION_S = 300
COSMOS_MODELS = ("2B/post-trained", "2B/pre-trained", "2B/distilled", "14B/post-trained", "14B/pre-trained")
# The cosmos-predict2.5 release that first accepts each --model name (older ones exit 2 "invalid
# choice"): 14B/post-trained arrived in 1.4.0, 2B/distilled in 1.4.1; the rest are in 1.3.2.
COSMOS_MODEL_SINCE: dict[str, tuple[int, int, int]] = {"14B/post-trained": (1, 4, 0), "2B/distilled": (1, 4, 1)}
# The distilled student samples at 4 fixed times without classifier-free guidance (DMD2 experiment
# dmd2_trigflow_distill_cosmos_predict2_2B_bidirectional_TnI2V): more steps are not more quality.
DISTILLED_MODELS = ("2B/distilled",)
DISTILLED_MAX_STEPS = 4


def sampling_for(model: str, num_steps: int, guidance: int) -> tuple[int, int]:
    """(num_steps, guidance) as the model really samples, so the inputs we write say what happens.

    The distilled model uses at most 4 steps and ignores guidance: its inputs carry min(steps, 4)
    and guidance 0 (no guidance), never a 35-step, guidance-7 request it would not honour.
    """
    if model in DISTILLED_MODELS:
        return min(num_steps, DISTILLED_MAX_STEPS), 0
    return num_steps, guidance
TOKEN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"

Token = Annotated[str, Field(pattern=TOKEN)]
Text = Annotated[str, Field(min_length=1, max_length=4000)]
Risk = Literal["low", "medium", "high", "critical"]
RISK_ORDER = ("low", "medium", "high", "critical")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Resolution(_Strict):
    width: int = Field(ge=16, le=8192)
    height: int = Field(ge=16, le=8192)

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            m = re.fullmatch(r"\s*(\d{1,5})\s*[xX]\s*(\d{1,5})\s*", value)
            if not m:
                raise ValueError(f"resolution must look like '1280x704' (width x height), got {value!r}")
            return {"width": int(m[1]), "height": int(m[2])}
        return value

    @model_validator(mode="after")
    def _multiple_of_16(self) -> Resolution:
        if self.width * self.height > H264_MAX_PIXELS:
            raise ValueError(f"resolution {self.width}x{self.height} is beyond H.264's largest frame "
                             f"({H264_MAX_PIXELS / 1e6:.1f} Mpx, level 6.2): no clip of that size could be verified")
        if self.width % 16 or self.height % 16:
            raise ValueError(
                f"resolution {self.width}x{self.height}: width and height must be multiples of 16 "
                "(the Cosmos VAE downsamples x8 and patches are 2x2)"
            )
        return self

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


def _check_durations(values: list[int]) -> list[int]:
    for d in values:
        if not 1 <= d <= MAX_DURATION_S:
            raise ValueError(f"duration {d} s is outside 1-{MAX_DURATION_S} s")
    dupes = sorted(d for d, n in Counter(values).items() if n > 1)
    if dupes:
        raise ValueError(f"duration {dupes[0]} s is listed twice")
    if not values:
        raise ValueError("at least one duration is needed")
    return sorted(values)


class Defaults(_Strict):
    """Dataset-wide settings; clips may override durations only."""

    fps: int = Field(24, ge=1, le=120)
    resolution: Resolution = Resolution(width=1280, height=704)
    durations: list[int] = [5, 10, 30]
    negative_prompt: Text
    model: Literal[COSMOS_MODELS] = "2B/post-trained"  # type: ignore[valid-type]
    timing: Literal["interpolate", "retime"] = "interpolate"
    seed: int = Field(0, ge=0, le=2**63 - 1)
    guidance: int = Field(7, ge=0, le=7)
    num_steps: int = Field(35, ge=1, le=500)
    template: Token = "default"
    prompt_words: tuple[int, int] = (80, 160)

    @field_validator("durations")
    @classmethod
    def _durations(cls, v: list[int]) -> list[int]:
        return _check_durations(v)

    @field_validator("prompt_words", mode="before")
    @classmethod
    def _words(cls, v: Any) -> Any:
        if isinstance(v, list):
            v = tuple(v)
        if isinstance(v, tuple) and len(v) == 2 and all(isinstance(x, int) for x in v) and 0 < v[0] <= v[1]:
            return v
        raise ValueError("prompt_words must be [min, max] with 0 < min <= max")


Layout = Literal["front_porch", "driveway", "backyard", "side_yard", "street", "garage", "walkway"]
TimeOfDay = Literal["day", "dawn", "dusk", "night"]
Weather = Literal["clear", "overcast", "rain", "snow", "fog", "wind"]


class Scene(_Strict):
    """A place as the fixed viewpoint sees it."""

    layout: Layout
    setting: Text
    view: Text  # the viewpoint, said from the viewer's side ("seen from above the door, looking out")
    details: str = ""


class Environment(_Strict):
    time_of_day: TimeOfDay
    weather: Weather = "clear"
    lighting: Text
    look: Text  # how the image looks: grain, IR monochrome, rain streaks...
    effects: list[Literal["headlights", "sun_glare", "porch_light", "flashlight", "lightning"]] = []

    @property
    def is_night(self) -> bool:
        return self.time_of_day == "night"


SubjectKind = Literal["person", "vehicle", "animal", "package", "object"]
Carried = Literal[
    "package", "bag", "backpack", "box", "tool", "crowbar", "handgun", "knife", "bat", "flashlight",
    "phone", "umbrella", "leash", "groceries", "ladder",
]


class Appearance(_Strict):
    """Typed look hints that a renderer can draw; prompts use `description`."""

    build: Literal["slim", "average", "heavy", "child"] | None = None
    top: str | None = None
    bottom: str | None = None
    hood: bool | None = None
    face_visible: bool | None = None
    carries: list[Carried] = []
    vehicle: Literal["sedan", "suv", "pickup", "van", "bicycle", "motorcycle", "box_truck"] | None = None
    animal: Literal["dog", "cat", "deer", "raccoon", "coyote"] | None = None
    colour: str | None = None


class Subject(_Strict):
    kind: SubjectKind
    description: Text
    classes: dict[Token, int] = {}  # detector classes this subject contributes, e.g. {person: 1, package: 1}
    appearance: Appearance = Appearance()

    @field_validator("classes")
    @classmethod
    def _counts(cls, v: dict[str, int]) -> dict[str, int]:
        for k, n in v.items():
            if n < 0:
                raise ValueError(f"class count for {k!r} must be >= 0")
        return v


Motion = Literal["none", "low", "normal", "high"]
Path_ = Literal[
    "approach_door", "deliver_package", "loiter", "test_handle", "peer_window", "circle_house",
    "exit_vehicle", "run_off", "walk_past", "drive_in", "drive_past", "park", "wander", "enter_house",
    "leave_house", "crouch", "fight", "brandish", "carry_off", "climb_fence", "cross", "stand", "force_entry",
]


class Action(_Strict):
    """What happens, written once per pacing so a 30 s clip is a 30 s event."""

    path: Path_
    motion: Motion = "normal"
    suspicious: bool = False
    pacing: dict[int, Text]  # duration in seconds -> action text paced for it

    @field_validator("pacing")
    @classmethod
    def _pacing(cls, v: dict[int, str]) -> dict[int, str]:
        if not v:
            raise ValueError("pacing needs at least one entry, e.g. {5: '...', 30: '...'}")
        _check_durations(list(v))
        return dict(sorted(v.items()))

    def text_for(self, duration: int) -> tuple[int, str]:
        """The pacing written for the shortest length >= duration (else the longest)."""
        for seconds, text in self.pacing.items():
            if seconds >= duration:
                return seconds, text
        seconds = max(self.pacing)
        return seconds, self.pacing[seconds]


class Components(_Strict):
    scenes: dict[Token, Scene] = {}
    environments: dict[Token, Environment] = {}
    subjects: dict[Token, Subject] = {}
    actions: dict[Token, Action] = {}


class Clip(_Strict):
    id: Token
    series: Token | None = None  # defaults to the ID's leading letters
    group: Token
    scenario: Token
    purpose: Text
    description: str = ""
    scene: Token | None = None
    environment: Token | None = None
    subjects: list[Token] = []
    action: Token | None = None
    distance: Literal["near", "mid", "far"] = "mid"
    occlusion: Literal["none", "partial", "heavy"] = "none"
    occluder: str | None = None
    prompt: Text | dict[int, Text] | None = None  # explicit prompt, optionally per duration
    expected_risk: Risk
    expected_objects: dict[Token, int] | None = None
    durations: list[int] | None = None

    @field_validator("durations")
    @classmethod
    def _durations(cls, v: list[int] | None) -> list[int] | None:
        return None if v is None else _check_durations(v)

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: Any) -> Any:
        if isinstance(v, dict):
            _check_durations(list(v))
        return v

    @model_validator(mode="after")
    def _needs_content(self) -> Clip:
        if self.prompt is None:
            missing = [k for k in ("scene", "environment", "action") if getattr(self, k) is None]
            if missing or not self.subjects:
                what = ", ".join(missing + ([] if self.subjects else ["subjects"]))
                raise ValueError(f"clip {self.id} needs either 'prompt' or components ({what} missing)")
        if self.occlusion != "none" and not self.occluder:
            raise ValueError(f"clip {self.id}: occlusion '{self.occlusion}' needs an 'occluder' (what hides the subject)")
        return self

    @property
    def series_name(self) -> str:
        return self.series or re.match(r"[A-Za-z]*", self.id).group(0) or self.id  # type: ignore[union-attr]


class ManifestModel(_Strict):
    version: Literal[1] = 1
    name: Token
    description: str = ""
    defaults: Defaults
    templates: dict[Token, Text] = {}
    components: Components = Components()
    clips: list[Clip] = Field(min_length=1)
    # The dataset's verification policy (docs/verify.md): a profile, content checks on/off,
    # thresholds. None (no section) is the default policy: every check.
    verify: VerifyPolicy | None = None


@dataclass(frozen=True)
class Variant:
    """One clip to produce: an ID at one duration."""

    clip: Clip
    duration_s: int
    fps: int

    @property
    def clip_id(self) -> str:
        return self.clip.id

    @property
    def name(self) -> str:
        return f"{self.clip.id}_{self.duration_s}s"

    @property
    def frames(self) -> int:
        return self.fps * self.duration_s

    @property
    def series(self) -> str:
        return self.clip.series_name


@dataclass(frozen=True)
class Manifest:
    """A validated manifest plus where it came from."""

    model: ManifestModel
    path: str
    lines: dict[tuple[Any, ...], int]
    # Where it can be found again: an embedded name ("quickstart") or an absolute file path.
    origin: str = ""
    # The exact text it was parsed from: a workspace keeps it, so the clips' labels never depend
    # on a file that may move or change after planning.
    text: str = ""

    @property
    def defaults(self) -> Defaults:
        return self.model.defaults

    @property
    def components(self) -> Components:
        return self.model.components

    @property
    def clips(self) -> list[Clip]:
        return self.model.clips

    def clip(self, clip_id: str) -> Clip:
        for c in self.model.clips:
            if c.id == clip_id:
                return c
        raise KeyError(clip_id)

    def durations_for(self, clip: Clip) -> list[int]:
        return clip.durations or self.model.defaults.durations

    @cached_property
    def _variants(self) -> tuple[Variant, ...]:
        fps = self.model.defaults.fps
        return tuple(Variant(c, d, fps) for c in self.model.clips for d in self.durations_for(c))

    def variants(self) -> list[Variant]:
        return list(self._variants)

    def line_of(self, *path: Any) -> int | None:
        """Best line for a path into the YAML: the deepest prefix that has one."""
        for n in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:n]))
            if line:
                return line
        return None

    def counts(self) -> dict[str, Any]:
        by_series: Counter[str] = Counter()
        by_duration: Counter[int] = Counter()
        for v in self._variants:
            by_series[v.series] += 1
            by_duration[v.duration_s] += 1
        return {
            "ids": len(self.model.clips),
            "clips": len(self._variants),
            "by_series": dict(by_series),
            "by_duration": {str(k): v for k, v in sorted(by_duration.items())},
        }


# --- loading -----------------------------------------------------------------------------


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and duplicate keys, and records a line per node."""

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(
                problem="YAML aliases (*name) are not allowed in a manifest; use components to reuse text",
                problem_mark=event.start_mark,
            )
        return super().compose_node(parent, index)


def _walk_lines(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int], source: str) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key_node.tag.endswith(":int"):
                try:
                    key = int(key)
                except ValueError:
                    pass
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ManifestError(source, line, f"key {key!r} appears twice (first on line {seen[key]})")
            seen[key] = line
            out[path + (key,)] = line
            _walk_lines(value_node, path + (key,), out, source)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk_lines(item, path + (i,), out, source)


def _too_large(source: str, raw: bytes, limit: int = MAX_MANIFEST_BYTES, what: str = "manifest",
               error: type[ManifestError] = ManifestError) -> None:
    line = raw[:limit].count(b"\n") + 1
    size = f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"
    raise error(source, line, f"file passes the {size} {what} limit at this line")


def read_spec_file(path: Path, source: str, limit: int = MAX_MANIFEST_BYTES, what: str = "manifest",
                   error: type[ManifestError] = ManifestError) -> bytes:
    """The bytes of a small YAML/JSON spec (a manifest, a verification policy), at most `limit`.

    Folders, FIFOs and devices are refused without being opened (a FIFO would block the read);
    every problem is one `error` naming the file (and the line where a size limit is passed).
    """
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise error(source, None, f"is a directory, not a {what} file")
        if not path.is_file():
            raise error(source, None, "not a regular file")
        with path.open("rb") as fh:
            raw = fh.read(limit + 1)
        if size > limit or len(raw) > limit:
            _too_large(source, raw, limit, what, error)
    except FileNotFoundError:
        raise error(source, None, f"no such file{'' if what == 'manifest' else f' ({what})'}") from None
    except IsADirectoryError:
        raise error(source, None, f"is a directory, not a {what} file") from None
    except PermissionError:
        raise error(source, None, "permission denied") from None
    except OSError as exc:
        raise error(source, None, f"cannot read: {exc.strerror or exc}") from None
    return raw


def parse_yaml(text: str | bytes, source: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Parse YAML safely into plain data plus a path -> line map. Raises ManifestError."""
    if isinstance(text, bytes):
        if len(text) > MAX_MANIFEST_BYTES:
            _too_large(source, text)
        if b"\x00" in text:
            line = text[: text.index(b"\x00")].count(b"\n") + 1
            raise ManifestError(source, line, "file is binary (NUL byte), not YAML text")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = text[: exc.start].count(b"\n") + 1
            raise ManifestError(source, line, f"file is not UTF-8 text (byte 0x{text[exc.start]:02x})") from None
    loader = _NoAliasLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ManifestError(source, 1, "file is empty; a manifest is a YAML mapping")
        lines: dict[tuple[Any, ...], int] = {}
        _walk_lines(node, (), lines, source)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise ManifestError(source, line, f"YAML syntax: {problem}") from None
    except yaml.YAMLError as exc:
        raise ManifestError(source, None, f"YAML: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise ManifestError(source, None, "YAML nests too deeply") from None
    finally:
        loader.dispose()
    return data, lines


def _loc_text(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union/type tags from a location path."""
    keep = []
    for part in loc:
        if isinstance(part, str) and (part.startswith(("function-", "union[", "tagged-union[")) or part in {
            "str", "int", "dict[int,str]", "constrained-str", "list[int]", "none", "dict[str,int]", "[key]"
        }):
            continue
        keep.append(part)
    return tuple(keep)


def validation_message(exc: ValidationError, lines: dict[tuple[Any, ...], int]) -> tuple[int | None, str]:
    """(line, one-line message) for a pydantic error on YAML data whose lines are `lines`."""
    errors = exc.errors(include_url=False)
    # Prefer the most specific error (deepest path) - for unions pydantic reports each branch.
    err = max(errors, key=lambda e: len(_clean_loc(tuple(e["loc"]))))
    loc = _clean_loc(tuple(err["loc"]))
    line = None
    for n in range(len(loc), -1, -1):
        line = lines.get(tuple(loc[:n]))
        if line:
            break
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = f"unknown key {loc[-1]!r}"
        loc = loc[:-1]
    elif err["type"] == "missing":
        msg = f"missing required key {loc[-1]!r}"
        loc = loc[:-1]
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    elif "input" in err and err["type"].endswith(("_type", "literal_error", "string_pattern_mismatch")):
        shown = repr(err["input"])
        if len(shown) > 60:
            shown = shown[:57] + "..."
        msg = f"{msg} (got {shown})"
    where = _loc_text(loc)
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return line, f"{where + ': ' if where else ''}{msg}{more}"


def _raise_validation(exc: ValidationError, source: str, lines: dict[tuple[Any, ...], int], data: Any) -> None:
    raise ManifestError(source, *validation_message(exc, lines)) from None


def _check_references(m: ManifestModel, source: str, lines: dict[tuple[Any, ...], int]) -> None:
    comps = m.components
    seen: dict[str, int] = {}
    for i, clip in enumerate(m.clips):
        line = lines.get(("clips", i, "id")) or lines.get(("clips", i))
        if clip.id in seen:
            raise ManifestError(source, line, f"duplicate clip ID {clip.id!r} (first defined at clips[{seen[clip.id]}])")
        seen[clip.id] = i
        refs = [("scene", clip.scene, comps.scenes), ("environment", clip.environment, comps.environments),
                ("action", clip.action, comps.actions)]
        refs += [(("subjects", j), s, comps.subjects) for j, s in enumerate(clip.subjects)]
        for key, ref, table in refs:
            if ref is None or ref in table:
                continue
            path = ("clips", i) + (key if isinstance(key, tuple) else (key,))
            kind = key[0] if isinstance(key, tuple) else key
            known = ", ".join(sorted(table)[:8]) or "none defined"
            raise ManifestError(
                source, lines.get(path) or line,
                f"clips[{i}] ({clip.id}): unknown {kind} {ref!r} (known: {known})",
            )
    if m.defaults.template != "default" and m.defaults.template not in m.templates:
        raise ManifestError(source, lines.get(("defaults", "template")),
                            f"defaults.template: unknown template {m.defaults.template!r}")


def load_manifest_text(text: str | bytes, source: str = "<manifest>", origin: str = "") -> Manifest:
    data, lines = parse_yaml(text, source)
    if not isinstance(data, dict):
        raise ManifestError(source, 1, f"a manifest is a YAML mapping, got {type(data).__name__}")
    try:
        model = ManifestModel.model_validate(data)
    except ValidationError as exc:
        _raise_validation(exc, source, lines, data)
        raise  # pragma: no cover - _raise_validation always raises
    except RecursionError:
        raise ManifestError(source, None, "manifest nests too deeply") from None
    _check_references(model, source, lines)
    raw_text = text.decode("utf-8") if isinstance(text, bytes) else text
    return Manifest(model=model, path=source, lines=lines, origin=origin, text=raw_text)


BUILTIN = "builtin"
QUICKSTART = "quickstart"
EMBEDDED = {"builtin": "builtin.yaml", "quickstart": "quickstart.yaml"}
# The CLI's rule for a command given no -m: the manifest its workspace was planned from, else this.
DEFAULT_MANIFEST = QUICKSTART


def builtin_manifest_text(name: str = BUILTIN) -> str:
    return resources.files("synthcam").joinpath(f"data/{EMBEDDED[name]}").read_text(encoding="utf-8")


def embedded_name(path: str | Path | None) -> str | None:
    """'builtin' (also None) and 'quickstart' name manifests shipped inside the package."""
    if path is None:
        return BUILTIN
    return str(path) if str(path) in EMBEDDED and not Path(str(path)).exists() else None


def load_manifest(path: str | Path | None = None) -> Manifest:
    """Load a manifest file, or an embedded one: None/'builtin' (the built-in dataset), 'quickstart'.

    (The CLI's default is another matter: `workspace.default_manifest` says which one a command
    uses when given no -m.)
    """
    name = embedded_name(path)
    if name is not None:
        return load_manifest_text(builtin_manifest_text(name), f"{name}:synthcam/data/{EMBEDDED[name]}", origin=name)
    p = Path(path)
    source = str(path)
    raw = read_spec_file(p, source)
    return load_manifest_text(raw, source, origin=str(p.resolve()))
