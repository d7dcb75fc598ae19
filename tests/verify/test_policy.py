"""Verification policies (issue 17): content checks on/off and thresholds per dataset, never silently.

A random-noise clip fails a content check under `default` and passes under `container-only`;
a truncated clip fails under every policy; bad policies are one-line file:line errors (exit 2)
from a manifest's `verify:` section and from `--verify-policy`; the report records the policy;
`synthcam verify -w W` re-checks W's verified clips under a policy and changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from helpers import assert_one_line_error, invoke
from pydantic import ValidationError

from synthcam.errors import InputError, PolicyError
from synthcam.manifest import load_manifest_text
from synthcam.verify import (
    CONTAINER_KINDS,
    CONTENT_KINDS,
    KINDS,
    PROFILES,
    Expectation,
    Thresholds,
    VerifyPolicy,
    load_policy,
    mark_duplicates,
    policy_badge,
    policy_from_manifest,
    policy_line,
    recheck_workspace,
    verify_file,
    verify_paths,
)
from synthcam.verify.checks.content import CHECK_KINDS, CONTENT_CHECKS

from .clipgen import first_frame_cut_clip, good_clip, noise_clip, take, background, write_clip

SMALL = Expectation(fps=24, width=128, height=96, duration_s=1, expects_motion=True)
EVERY_POLICY = [
    *(VerifyPolicy(profile=name) for name in PROFILES),
    VerifyPolicy(checks={"static": False}, thresholds={"flicker_max_fraction": 0.3}),
    # everything a policy can loosen, loosened as far as it goes
    VerifyPolicy(profile="container-only", thresholds={"fps_tolerance": 0.1, "vfr_tolerance": 0.5}),
]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("policy")
    noise = noise_clip(base / "noise" / "N_1s.mp4", 1)
    cut = first_frame_cut_clip(base / "cut" / "S_1s.mp4", 1, seed=1)
    truncated = base / "truncated" / "T_1s.mp4"
    truncated.parent.mkdir()
    raw = noise.read_bytes()
    truncated.write_bytes(raw[: len(raw) // 2])
    return {"noise": noise, "cut": cut, "truncated": truncated}


# --- the model ---------------------------------------------------------------------------------


def test_content_kinds_come_from_one_place():
    assert KINDS == CONTAINER_KINDS + CONTENT_KINDS and not set(CONTAINER_KINDS) & set(CONTENT_KINDS)
    assert set(CHECK_KINDS) == set(CONTENT_CHECKS) and set(CHECK_KINDS.values()) <= set(CONTENT_KINDS)
    # every content kind is switchable; switching them all off is the container-only profile
    everything_off = VerifyPolicy(checks=dict.fromkeys(CONTENT_KINDS, False))
    assert everything_off.name == "container-only" and everything_off.content_checks_off == list(CONTENT_KINDS)
    assert PROFILES["container-only"].off == frozenset(CONTENT_KINDS)


@pytest.mark.parametrize(("policy", "name", "summary"), [
    (VerifyPolicy(), "default", "default"),
    (VerifyPolicy(profile="container-only"), "container-only", "container-only"),
    (VerifyPolicy(profile="low-motion"), "low-motion", "low-motion"),
    (VerifyPolicy(checks={"static": False}, thresholds={"freeze_min_s": 4.0}), "low-motion", "low-motion"),
    (VerifyPolicy(checks={"static": False}, thresholds={"flicker_max_fraction": 0.3}), "custom",
     "custom: static off, flicker_max_fraction 0.3"),
    (VerifyPolicy(profile="container-only", checks={"black": True}), "custom", "custom: container-only + black on"),
    (VerifyPolicy(checks={"static": True}), "default", "default"),  # on is already on
    (VerifyPolicy(thresholds={"cut_hash_distance": 20}), "custom", "custom: cut_hash_distance 20"),
])
def test_name_and_summary_say_what_the_policy_does(policy, name, summary):
    assert (policy.name, policy.summary()) == (name, summary)


def test_digest_and_record():
    a = VerifyPolicy(checks={"static": False}, thresholds={"freeze_min_s": 4.0})
    assert a.digest == VerifyPolicy(profile="low-motion").digest  # same effect, same digest
    assert a.digest != VerifyPolicy().digest and len(a.digest) == 64
    custom = VerifyPolicy(checks={"static": False}, thresholds={"flicker_max_fraction": 0.3})
    record = json.loads(json.dumps(custom.to_record()))  # as a job's probe keeps it
    assert record["summary"] == custom.summary() and record["content_checks_off"] == ["static"]
    assert record["thresholds"] == {"flicker_max_fraction": 0.3} and record["digest"] == custom.digest
    assert VerifyPolicy.from_record(record) == custom
    assert custom.limits.flicker_max_fraction == 0.3 and custom.limits.black_min_s == Thresholds().black_min_s
    assert VerifyPolicy(profile="low-motion").limits.freeze_min_s == 4.0
    assert VerifyPolicy.from_thresholds(Thresholds(freeze_min_s=3.0)).summary() == "custom: freeze_min_s 3"


def test_displays_never_show_a_relaxed_clip_as_fully_checked():
    assert policy_badge(None) is None and policy_line(None) == "verify policy: default (every check)"
    assert policy_badge(VerifyPolicy().to_record()) is None
    smoke = VerifyPolicy(profile="container-only").to_record()
    assert policy_badge(smoke) == "content checks off"
    assert policy_line(smoke).startswith("verify policy: container-only (every content check off) sha256:")
    custom = VerifyPolicy(checks={"static": False}, thresholds={"flicker_max_fraction": 0.3}).to_record()
    assert policy_badge(custom) == "custom policy"
    assert "custom: static off, flicker_max_fraction 0.3 (content checks off: static)" in policy_line(custom)
    assert policy_badge(VerifyPolicy(profile="low-motion").to_record()) == "low-motion policy"
    # a record this version cannot read is shown from its own words, never as the default
    future = {"name": "custom", "summary": "custom: fidelity off", "digest": "ab" * 32,
              "content_checks_off": ["fidelity"], "checks": {"fidelity": False}}
    assert policy_badge(future) == "custom policy"
    assert policy_line(future) == "verify policy: custom: fidelity off (content checks off: fidelity) sha256:abababababab"


@pytest.mark.parametrize(("data", "needle"), [
    ({"checks": {"wrong_fps": False}}, "wrong_fps is a container check and cannot be switched off"),
    ({"checks": {"unreadable": False}}, "unreadable is a container check"),
    ({"checks": {"missing_variant": False}}, "missing_variant is a container check"),
    ({"checks": {"scenecut": False}}, "unknown check 'scenecut'"),
    ({"checks": {"static": "off"}}, "valid boolean"),
    ({"thresholds": {"flicker_max_fraction": 3}}, "less than or equal to 1"),
    ({"thresholds": {"fps_tolerance": 1.0}}, "less than or equal to 0.1"),
    ({"thresholds": {"cut_hash_distance": 12.5}}, "valid integer"),
    ({"thresholds": {"flicker_max_fraction": "0.3"}}, "valid number"),
    ({"thresholds": {"freeze_min_s": None}}, "needs a value"),
    ({"thresholds": {"no_such": 1}}, "Extra inputs"),
    ({"profile": "smoke"}, "'default', 'container-only' or 'low-motion'"),
    ({"freeze_min_s": 3}, "Extra inputs"),
])
def test_bad_policies_are_refused(data, needle):
    with pytest.raises(ValidationError, match=needle.replace("(", r"\(")):
        VerifyPolicy.model_validate(data)


# --- the verifier honours it -------------------------------------------------------------------


def test_noise_fails_under_default_and_passes_under_container_only(clips):
    for clip, kind in ((clips["noise"], "flicker"), (clips["cut"], "scene_cut")):
        strict = verify_file(clip, SMALL)
        assert strict.status == kind and strict.policy == "default", strict.findings
        smoke = verify_file(clip, SMALL, policy=VerifyPolicy(profile="container-only"))
        assert smoke.ok and smoke.findings == [] and smoke.policy == "container-only"
        assert smoke.frames == 24 and smoke.metrics["signature_seconds"] == 1  # measured all the same
        off = verify_file(clip, SMALL, policy=VerifyPolicy(checks={kind: False}))
        assert off.ok and off.policy == f"custom: {kind} off"


def test_a_truncated_clip_fails_under_every_policy(clips):
    for policy in EVERY_POLICY:
        report = verify_file(clips["truncated"], SMALL, policy=policy)
        assert report.status == "unreadable" and report.policy == policy.summary(), policy.summary()


def test_container_checks_run_under_container_only(clips):
    smoke = VerifyPolicy(profile="container-only")
    wrong = verify_file(clips["noise"], Expectation(fps=24, width=128, height=96, duration_s=2), policy=smoke)
    assert wrong.status == "wrong_frames"
    assert verify_file(clips["noise"], Expectation(fps=25, width=64, height=96, duration_s=1), policy=smoke).status \
        == "wrong_frames"
    assert [f.kind for f in verify_file(clips["noise"], Expectation(fps=24, width=64, height=96, duration_s=1),
                                        policy=smoke).findings] == ["wrong_resolution"]


def test_the_old_signature_still_works_and_both_is_refused(clips):
    assert verify_file(clips["cut"], SMALL, Thresholds(cut_hash_distance=64)).ok  # thresholds only: every check on
    assert verify_file(clips["noise"], SMALL, Thresholds()).status == "flicker"
    with pytest.raises(InputError, match="not both"):
        verify_file(clips["noise"], SMALL, Thresholds(), policy=VerifyPolicy())


def test_verify_paths_records_the_policy_and_skips_near_duplicates_when_off(tmp_path):
    frames = list(take(background(5), 24, seed=5))
    write_clip(tmp_path / "A_1s.mp4", frames, crf=23)
    write_clip(tmp_path / "B_1s.mp4", frames, crf=30)  # the same pictures, other bytes: a re-encode
    kw = {"defaults": Expectation(width=320, height=176), "in_process": True}
    strict = verify_paths([tmp_path], **kw)
    assert [f.status for f in strict.files] == ["near_duplicate", "near_duplicate"]
    assert strict.to_json()["policy"]["name"] == "default"
    relaxed = verify_paths([tmp_path], policy=VerifyPolicy(checks={"near_duplicate": False}), **kw)
    assert relaxed.ok and {f.policy for f in relaxed.files} == {"custom: near_duplicate off"}
    data = relaxed.to_json()
    assert data["schema"] == "synthcam.verify/2" and data["policy"]["content_checks_off"] == ["near_duplicate"]
    # the library call the engine makes on a new clip and its siblings
    reports = [r.model_copy(deep=True) for r in strict.files]
    for r in reports:
        r.findings, r.status = [], "ok"
    mark_duplicates(reports, policy=VerifyPolicy(profile="container-only"))
    assert all(r.ok for r in reports)
    mark_duplicates(reports, Thresholds())
    assert all(r.status == "near_duplicate" for r in reports)


# --- where a policy comes from -----------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_load_policy_yaml_json_section_and_profile_names(tmp_path):
    assert load_policy(_write(tmp_path / "p.yaml", "profile: container-only\n")).name == "container-only"
    copied = _write(tmp_path / "s.yaml", "verify:\n  checks: {static: off}\n  thresholds: {flicker_max_fraction: 0.3}\n")
    assert load_policy(copied).summary() == "custom: static off, flicker_max_fraction 0.3"
    js = _write(tmp_path / "p.json", '{"checks": {"static": false}, "thresholds": {"freeze_min_s": 4.0}}')
    assert load_policy(js).name == "low-motion"
    assert load_policy("container-only").name == "container-only"  # a profile's name, not a file here


@pytest.mark.parametrize(("name", "text", "line", "needle"), [
    ("unknown.yaml", "profile: default\nchecks:\n  static: off\nflicker_max: 0.3\n", 4, "unknown key 'flicker_max'"),
    ("range.yaml", "thresholds:\n  black_min_s: 1.0\n  flicker_max_fraction: 2\n", 3,
     "thresholds.flicker_max_fraction: Input should be less than or equal to 1"),
    ("container.yaml", "checks:\n  static: off\n  wrong_fps: off\n", 3,
     "checks.wrong_fps: wrong_fps is a container check and cannot be switched off"),
    ("decodes.yaml", "checks:\n  corrupt: false\n", 2, "corrupt is a container check"),
    ("section.yaml", "verify:\n  checks:\n    lfs_pointer: off\n", 3, "lfs_pointer is a container check"),
    ("unknown.json", '{\n  "checks": {"static": false},\n  "thresholdz": {}\n}\n', 3, "unknown key 'thresholdz'"),
    ("syntax.json", '{\n  "checks": {"static": false,}\n}\n', 2, "not valid JSON"),
    ("syntax.yaml", "checks: [\n", 2, "YAML syntax"),
    ("twice.yaml", "profile: default\nprofile: container-only\n", 2, "appears twice"),
    ("empty.yaml", "\n", 1, "file is empty"),
    ("list.yaml", "- static\n", 1, "a verification policy is a mapping"),
])
def test_bad_policy_files_are_one_line_errors_with_file_and_line(tmp_path, name, text, line, needle):
    path = _write(tmp_path / name, text)
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert (err.value.line, err.value.exit_code) == (line, 2) and needle in str(err.value), str(err.value)
    out = assert_one_line_error(invoke("verify", tmp_path, "--verify-policy", path), f"{path}:{line}:", needle)
    assert "Traceback" not in out


def test_missing_folder_fifo_and_huge_policy_files(tmp_path):
    assert_one_line_error(invoke("verify", tmp_path, "--verify-policy", tmp_path / "nope.yaml"),
                          "nope.yaml: no such file (verification policy)")
    assert_one_line_error(invoke("verify", tmp_path, "--verify-policy", tmp_path), "is a directory")
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # never opened: reading it would block
    assert_one_line_error(invoke("verify", tmp_path, "--verify-policy", fifo), "fifo.yaml: not a regular file")
    huge = _write(tmp_path / "huge.yaml", "# padding\n" * 10_000)
    assert_one_line_error(invoke("verify", tmp_path, "--verify-policy", huge), "64 KiB verification policy limit")


MANIFEST = """\
version: 1
name: policy-test
defaults:
  fps: 24
  resolution: 128x96
  durations: [1]
  negative_prompt: blurry
clips:
  - id: N
    group: g
    scenario: s
    purpose: a noise clip
    prompt: noise
    expected_risk: low
"""


def test_manifest_verify_section(tmp_path):
    plain = load_manifest_text(MANIFEST)
    assert plain.model.verify is None and policy_from_manifest(plain).is_default
    m = load_manifest_text(MANIFEST + "verify:\n  profile: container-only\n  checks: {black: on}\n")
    assert policy_from_manifest(m).summary() == "custom: container-only + black on"
    path = _write(tmp_path / "m.yaml", MANIFEST + "verify:\n  profile: container-only\n")
    r = invoke("check", "-m", path)
    assert r.exit_code == 0 and "verify policy: container-only (every content check off)" in r.stdout
    assert json.loads(invoke("check", "-m", path, "--json").stdout)["verify_policy"]["name"] == "container-only"


@pytest.mark.parametrize(("section", "line", "needle"), [
    ("verify:\n  profile: default\n  chekcs: {static: off}\n", 3, "verify: unknown key 'chekcs'"),
    ("verify:\n  thresholds:\n    static_min_moving: 1.5\n", 3, "verify.thresholds.static_min_moving: Input should be less"),
    ("verify:\n  thresholds:\n    no_such_threshold: 1\n", 3, "verify.thresholds: unknown key 'no_such_threshold'"),
    ("verify:\n  checks:\n    static: off\n    wrong_frames: off\n", 4,
     "verify.checks.wrong_frames: wrong_frames is a container check and cannot be switched off"),
    ("verify:\n  profile: smoke\n", 2, "verify.profile"),
])
def test_bad_manifest_sections_are_one_line_errors_with_file_and_line(tmp_path, section, line, needle):
    path = _write(tmp_path / "m.yaml", MANIFEST + section)
    first = MANIFEST.count("\n")
    assert_one_line_error(invoke("check", "-m", path), f"{path}:{first + line}:", needle)


# --- synthcam verify ---------------------------------------------------------------------------


def test_cli_verify_with_a_policy(clips, tmp_path):
    args = ("--width", "128", "--height", "96", "-j", "1")
    r = invoke("verify", clips["noise"].parent, *args)
    assert r.exit_code == 1 and "flicker" in r.stdout and "verify policy: default (every check)" in r.stdout
    smoke = _write(tmp_path / "smoke.yaml", "profile: container-only\n")
    r = invoke("verify", clips["noise"].parent, *args, "--verify-policy", smoke, "--json", tmp_path / "r.json")
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "passed 1, failed 0" in r.stdout and "verify policy: container-only (every content check off)" in r.stdout
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["policy"]["name"] == "container-only" and data["files"][0]["policy"] == "container-only"
    # the manifest's section applies when no file is given; a file replaces it as a whole
    manifest = _write(tmp_path / "m.yaml", MANIFEST + "verify:\n  profile: container-only\n")
    assert invoke("verify", clips["noise"].parent, "-m", manifest, "-j", "1").exit_code == 0
    strict = _write(tmp_path / "strict.yaml", "profile: default\n")
    r = invoke("verify", clips["noise"].parent, "-m", manifest, "-j", "1", "--verify-policy", strict)
    assert r.exit_code == 1 and "flicker" in r.stdout
    # a truncated clip fails whatever the policy
    r = invoke("verify", clips["truncated"].parent, *args, "--verify-policy", smoke)
    assert r.exit_code == 1 and "unreadable" in r.stdout


def test_thresholds_file_still_works_and_does_not_combine(clips, tmp_path):
    th = _write(tmp_path / "t.yaml", "cut_hash_distance: 64\n")
    r = invoke("verify", clips["cut"].parent, "--width", "128", "--height", "96", "-j", "1", "--thresholds", th)
    assert r.exit_code == 0 and "verify policy: custom: cut_hash_distance 64" in r.stdout
    assert_one_line_error(invoke("verify", clips["cut"].parent, "--thresholds", th, "--verify-policy", "default"),
                          "cannot be combined")
    assert_one_line_error(invoke("verify"), "name the clips to verify")


# --- a workspace under another policy ----------------------------------------------------------


@pytest.fixture(scope="module")
def smoke_ws(tmp_path_factory):
    """A workspace from a smoke run: R01_5s is noise verified under container-only, P01_5s and
    E01_5s are clean clips verified under the default policy, P02_10s failed on `black`."""
    from gallery.qa_factory import QA_MANIFEST, SIZE, make_workspace, record_policy

    base = tmp_path_factory.mktemp("smoke-ws")
    manifest = _write(base / "qa.yaml", QA_MANIFEST.read_text().replace("1280x704", f"{SIZE[0]}x{SIZE[1]}"))
    ws = make_workspace(base / "ws", {"P01_5s": "done", "R01_5s": "done", "E01_5s": "done", "P02_10s": "failed"},
                        manifest_path=manifest)
    with ws.store() as store:
        store.record_manifest(str(manifest), manifest.read_text())
    record_policy(ws, "R01_5s", VerifyPolicy(profile="container-only").to_record(),
                  clip=lambda path: noise_clip(path, 5, *SIZE))
    return ws.root


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_recheck_reports_the_difference(smoke_ws):
    strict = recheck_workspace(smoke_ws, VerifyPolicy(), in_process=True)
    assert [(c.clip, c.kind, c.recorded_policy) for c in strict.now_failing] == [("R01_5s", "flicker", "container-only")]
    assert strict.still_verified == 2 and strict.may_pass == [] and strict.still_failed == 1 and not strict.ok
    assert strict.recorded_policies == {"default": 2, "container-only": 1}
    smoke = recheck_workspace(smoke_ws, VerifyPolicy(profile="container-only"), in_process=True)
    assert smoke.ok and smoke.now_failing == [] and smoke.still_verified == 3
    assert [(c.clip, c.kind) for c in smoke.may_pass] == [("P02_10s", "black")]
    assert "switches off" in smoke.may_pass[0].detail and "--retry-failed" in smoke.may_pass[0].detail
    tuned = recheck_workspace(smoke_ws, VerifyPolicy(thresholds={"black_min_s": 20.0}), in_process=True)
    assert [c.clip for c in tuned.may_pass] == ["P02_10s"] and "black_min_s" in tuned.may_pass[0].detail
    data = json.loads(json.dumps(smoke.to_json()))
    assert data["schema"] == "synthcam.verify.recheck/1" and data["summary"]["may_pass"] == 1


def test_recheck_cli_changes_nothing(smoke_ws, tmp_path):
    before = _snapshot(smoke_ws)
    strict = _write(tmp_path / "strict.yaml", "profile: default\n")
    r = invoke("verify", "-w", smoke_ws, "--verify-policy", strict, "-j", "1")
    assert r.exit_code == 1, r.stdout + r.stderr
    assert "verified clips that would now fail" in r.stdout and "R01_5s" in r.stdout and "flicker" in r.stdout
    assert "2 clips verified under default, 1 clip verified under container-only" in r.stdout
    assert "under default: 2 of 3 verified clips still pass, 1 would now fail" in r.stdout
    r = invoke("verify", "-w", smoke_ws, "--verify-policy", "container-only", "-j", "1", "--json", "-")
    assert r.exit_code == 0, r.stdout + r.stderr
    data = json.loads(r.stdout)
    assert [c["clip"] for c in data["may_pass"]] == ["P02_10s"] and data["now_failing"] == []
    assert _snapshot(smoke_ws) == before  # the store (and everything else) byte for byte


def test_recheck_sets_missing_and_changed_files_apart(smoke_ws, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(smoke_ws, ws)
    (ws / "clips" / "E01_5s.mp4").unlink()
    good_clip(ws / "clips" / "P01_5s.mp4", 1)  # other bytes than were verified
    out = recheck_workspace(ws, VerifyPolicy(profile="container-only"), in_process=True)
    assert [(c.clip, c.kind) for c in out.not_as_verified] == [("E01_5s", "missing"), ("P01_5s", "changed")]
    assert out.still_verified == 1 and not out.ok
    r = invoke("verify", "-w", ws, "--verify-policy", "container-only", "-j", "1")
    assert r.exit_code == 1 and "missing or changed" in r.stdout


def test_the_manifest_validates_policies_without_the_decoder_stack():
    import subprocess
    import sys

    code = ("import sys, synthcam.manifest, synthcam.verify.policy; "
            "print(*(m in sys.modules for m in ('av', 'cv2', 'numpy', 'synthcam.verify.file')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False"] * 4
