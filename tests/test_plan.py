"""Cost plan: every number cites a source; memory fit and offload advice; overrides."""

from __future__ import annotations

import pytest

from synthcam.errors import CostTableError, InputError
from synthcam.manifest import load_manifest
from synthcam.plan import cost_plan, load_cost_table, lpt_makespan, memory_fit


def test_every_number_cites_a_source():
    table = load_cost_table()
    for gpu in table.gpus.values():
        assert len(gpu.source) > 20
    for model in table.models.values():
        assert model.load_source and model.memory_source
    for per_gpu in table.chunk_seconds.values():
        for cost in per_gpu.values():
            assert cost.source.split(":")[0] in {"measured", "published", "derived", "estimate", "measured (upstream issue cosmos-predict2 #20)"}


def test_14b_on_h100_needs_offload_but_fits_h200():
    table = load_cost_table()
    fit = memory_fit(table, "14B/post-trained", "h100")
    assert not fit.fits and fit.flags == ["--offload-text-encoder"] and fit.peak_with_flags_gb <= fit.usable_gb
    assert memory_fit(table, "14B/post-trained", "h200").fits
    assert memory_fit(table, "2B/post-trained", "h100").fits


def test_plan_numbers(mini_manifest_path):
    m = load_manifest(mini_manifest_path)
    p = cost_plan(m, gpu="h200", gpus=1)
    # chunks: P01 1+2+6, T01 1+2
    assert p.total.chunks == 12 and p.total.clips == 5
    assert p.total.gpu_seconds == pytest.approx(12 * 150)
    assert p.makespan_s == pytest.approx(240 + 12 * 150)
    two = cost_plan(m, gpu="h200", gpus=2)
    assert two.makespan_s < p.makespan_s and two.makespan_s >= two.lower_bound_s - 1e-6
    j = two.to_json()
    assert j["by_series"]["P"]["chunks"] == 9 and j["by_duration"]["30"]["chunks_each"] == 6


def test_lpt_longest_first():
    assert lpt_makespan([6, 1, 1, 1, 1, 1, 1], 2, 0) == 6
    assert lpt_makespan([], 3, 10) == 10


def test_cost_override_file(mini_manifest_path, tmp_path):
    f = tmp_path / "costs.yaml"
    f.write_text("chunk_seconds:\n  2B/post-trained:\n    h100:\n      seconds: 100\n      source: \"measured: our own lab run\"\n")
    p = cost_plan(load_manifest(mini_manifest_path), gpu="h100", costs=f)
    assert p.chunk.seconds == 100 and "our own lab" in p.chunk.source


def test_bad_cost_table_and_args(mini_manifest_path, tmp_path):
    m = load_manifest(mini_manifest_path)
    f = tmp_path / "costs.yaml"
    f.write_text("chunk_seconds:\n  2B/post-trained:\n    h100:\n      seconds: -1\n      source: x\n")
    with pytest.raises(CostTableError):
        cost_plan(m, costs=f)
    with pytest.raises(InputError):
        cost_plan(m, model="99B/magic")
    with pytest.raises(InputError):
        cost_plan(m, gpus=0)


def test_the_distilled_model_says_it_caps_steps_and_ignores_guidance(mini_manifest_path):
    from synthcam.manifest import DISTILLED_MAX_STEPS, DISTILLED_MODELS

    table = load_cost_table()
    for name, model in table.models.items():  # the table and the inputs we write agree
        assert (model.max_steps, model.guidance) == ((DISTILLED_MAX_STEPS, "ignored") if name in DISTILLED_MODELS
                                                     else (None, "used"))
    m = load_manifest(mini_manifest_path)  # num_steps 35, guidance 7
    p = cost_plan(m, model="2B/distilled", gpu="h100")
    sampling = p.to_json()["sampling"]
    assert sampling["num_steps"] == 4 and sampling["guidance"] == "ignored"
    assert "4 steps (at most 4: the manifest's 35 is capped)" in sampling["note"]
    assert "guidance ignored" in sampling["note"] and "written as 0" in sampling["note"]
    assert p.total.chunks == 12  # 10 s and 30 s clips run on it too (several chunks, docs/cosmos.md)
    plain = cost_plan(m, model="2B/post-trained", gpu="h100").to_json()["sampling"]
    assert plain == {"num_steps": 35, "guidance": "used", "note": "2B/post-trained: 35 steps, guidance 7"}


def test_plan_output_shows_how_the_model_samples(mini_manifest_path):
    from helpers import invoke

    result = invoke("plan", "-m", mini_manifest_path, "--model", "2B/distilled")
    assert result.exit_code == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "sampling: 2B/distilled: 4 steps (at most 4: the manifest's 35 is capped); guidance ignored" in text
