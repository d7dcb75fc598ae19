"""Cosmos Predict 2.5 inputs: a strict replica of the upstream sample schema accepts every file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes.fake_cosmos_inference import Sample
from pydantic import ValidationError

from synthcam.errors import InputError
from synthcam.manifest import load_manifest, load_manifest_text
from synthcam.prompts import (
    CHUNK_FRAMES,
    PLAN_FILE,
    SEED_LIMIT,
    chunk_count,
    compile_manifest,
    derive_seed,
    timing_for,
    write_prompts,
)


# The strict replica of upstream's sample schema lives with the fake Cosmos that enforces it.
UpstreamSample = Sample


def test_replica_rejects_what_upstream_rejects():
    base = {"inference_type": "text2world", "name": "a", "prompt": "p"}
    UpstreamSample(**base)
    for bad in ({"fps": 24}, {"guidance": 7.5}, {"resolution": "720"}, {"chunk_size": 120}, {"inference_type": "t2w"}):
        with pytest.raises(ValidationError):
            UpstreamSample(**{**base, **bad})


@pytest.mark.parametrize("seconds,policy,asked,chunks,ar", [
    (5, "interpolate", 80, 1, False), (10, "interpolate", 160, 2, True), (30, "interpolate", 480, 6, True),
    (5, "retime", 120, 2, True), (10, "retime", 240, 3, True), (30, "retime", 720, 8, True),
])
def test_timing_policies(seconds, policy, asked, chunks, ar):
    t = timing_for(policy, seconds, 24)
    assert (t.frames_needed, t.chunks, t.autoregressive, t.target_frames) == (asked, chunks, ar, 24 * seconds)
    # standard mode always writes 93 frames; autoregressive mode exactly the frames asked
    assert t.model_frames == (asked if ar else CHUNK_FRAMES)


def test_chunk_count_matches_upstream_formula():
    assert [chunk_count(n) for n in (1, 93, 94, 185, 186, 200, 720)] == [1, 1, 2, 2, 3, 3, 8]


def test_seeds_are_distinct_and_in_range_for_chunks(mini_manifest_path):
    clips = compile_manifest(load_manifest(mini_manifest_path))
    seeds = [c.seed for c in clips]
    assert len(set(seeds)) == len(seeds)
    assert all(0 <= s and s + c.timing.chunks - 1 < SEED_LIMIT for s, c in zip(seeds, clips))
    assert derive_seed(7, "P01", 5) == derive_seed(7, "P01", 5) != derive_seed(8, "P01", 5)


def test_written_files_validate_and_match_plan(mini_manifest_path, tmp_path):
    m = load_manifest(mini_manifest_path)
    out = tmp_path / "prompts"
    result = write_prompts(m, out)
    files = sorted(out.glob("*.json"))
    assert result.files == len(files) == 5
    batch = [json.loads(line) for line in (out / "batch.jsonl").read_text().splitlines()]
    assert len(batch) == 5 and len({b["name"] for b in batch}) == 5
    plan = json.loads((out / PLAN_FILE).read_text())
    by_name = {c["name"]: c for c in plan["clips"]}
    for f in files:
        sample = json.loads(f.read_text())
        UpstreamSample(**sample)
        assert f.name == f"{sample['name']}.json"
        assert sample in batch
        t = by_name[sample["name"]]["timing"]
        if t["autoregressive"]:
            assert sample["num_output_frames"] == t["frames_needed"] and sample["chunk_size"] == 93
            assert sample["chunk_overlap"] == 1 and sample["enable_autoregressive"] is True
        else:
            assert "num_output_frames" not in sample  # ignored upstream outside autoregressive mode
    assert by_name["P01_30s"]["timing"]["chunks"] == 6


def test_prompts_refuses_a_foreign_folder(mini_manifest_path, tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(InputError):
        write_prompts(load_manifest(mini_manifest_path), tmp_path)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_rewrite_replaces_previous_output(mini_manifest_path, tmp_path):
    m = load_manifest(mini_manifest_path)
    out = tmp_path / "p"
    write_prompts(m, out)
    write_prompts(m, out, only=["T*"])
    assert sorted(p.name for p in out.glob("*.json")) == ["T01_10s.json", "T01_5s.json"]


def test_only_and_durations_filters(mini_manifest_path):
    m = load_manifest(mini_manifest_path)
    assert [c.name for c in compile_manifest(m, only=["P*"], durations=[30])] == ["P01_30s"]
    with pytest.raises(InputError):
        compile_manifest(m, only=["Z*"])


def test_template_uses_pacing_for_each_duration(mini_manifest_path):
    clips = {c.name: c for c in compile_manifest(load_manifest(mini_manifest_path))}
    assert clips["P01_5s"].action_pacing_s == 5 and clips["P01_30s"].action_pacing_s == 30
    assert "photograph it" in clips["P01_30s"].prompt and "photograph it" not in clips["P01_5s"].prompt
    assert clips["P01_5s"].prompt != clips["P01_10s"].prompt


def test_explicit_prompt_per_duration(mini_manifest_path):
    text = Path(mini_manifest_path).read_text().replace(
        "    durations: [5, 10]",
        "    durations: [5, 10]\n    prompt:\n      5: short text\n      10: longer text",
    )
    clips = {c.name: c for c in compile_manifest(load_manifest_text(text, "x.yaml"))}
    assert clips["T01_5s"].prompt == "short text" and clips["T01_10s"].prompt == "longer text"
    assert clips["T01_5s"].prompt_source == "explicit"


def test_timing_plan_retime_policy(mini_manifest_path):
    text = Path(mini_manifest_path).read_text().replace("  seed: 7", "  seed: 7\n  timing: retime")
    clips = {c.name: c for c in compile_manifest(load_manifest_text(text, "x.yaml"))}
    assert clips["P01_30s"].timing.frames_needed == 720 and clips["P01_30s"].timing.chunks == 8


def test_builtin_dataset_writes_621_valid_samples(tmp_path):
    m = load_manifest()
    out = tmp_path / "builtin"
    result = write_prompts(m, out)
    files = list(out.glob("*.json"))
    assert result.files == len(files) == 621
    lines = (out / "batch.jsonl").read_text().splitlines()
    assert len(lines) == 621
    samples = [json.loads(line) for line in lines]
    for s in samples:
        UpstreamSample(**s)
    seeds = [s["seed"] for s in samples]
    assert len(set(seeds)) == 621 and len({s["name"] for s in samples}) == 621
    plan = json.loads((out / PLAN_FILE).read_text())
    expected = {5: (80, 1, False), 10: (160, 2, True), 30: (480, 6, True)}
    for clip, s in zip(plan["clips"], samples):
        t = clip["timing"]
        assert (t["frames_needed"], t["chunks"], t["autoregressive"]) == expected[clip["duration_s"]]
        assert s.get("num_output_frames") == (t["frames_needed"] if t["autoregressive"] else None)
        assert s["seed"] + t["chunks"] - 1 < SEED_LIMIT
