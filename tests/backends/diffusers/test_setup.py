"""Options, weights resolution, guidance mapping and the torchvision fallback: the set-up around the model."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from backends.diffusers.support import Recorder, manifest, requests
from synthcam.backends.base import Failure
from synthcam.backends.diffusers import DiffusersBackend, diffusers_guidance, parse_options
from synthcam.backends.diffusers.weights import MissingWeights, resolve
from synthcam.backends.registry import create_backend
from synthcam.errors import BackendError, InputError


@pytest.mark.parametrize("options,needle", [
    ({"batch_size": 0}, "diffusers option batch_size: Input should be greater than or equal to 1"),
    ({"device": "gpu0"}, "diffusers option device: device 'gpu0': use cpu, cuda or cuda:N"),
    ({"dtype": "fp8"}, "diffusers option dtype:"),
    ({"model": "not a repo"}, "diffusers option model: 'not a repo' is not a Hugging Face repository id"),
    ({"revision": "../../etc"}, "diffusers option revision:"),
    ({"checkpoint": "x"}, "diffusers option checkpoint: Extra inputs are not permitted"),
])
def test_bad_options_are_one_line_input_errors(options, needle):
    with pytest.raises(InputError) as err:
        parse_options(options)
    assert str(err.value).startswith(needle) and "\n" not in str(err.value)


def test_model_names_and_defaults():
    assert parse_options({}).weights_for("2B/post-trained") == ("nvidia/Cosmos-Predict2.5-2B", "diffusers/base/post-trained")
    assert parse_options({}).weights_for("14B/pre-trained") == ("nvidia/Cosmos-Predict2.5-14B", "diffusers/base/pre-trained")
    assert parse_options({"model": "14B"}).weights_for("2B/post-trained") == (
        "nvidia/Cosmos-Predict2.5-14B", "diffusers/base/post-trained")
    opts = parse_options({"model": "14B/pre-trained"})
    assert (opts.model, opts.revision) == ("nvidia/Cosmos-Predict2.5-14B", "diffusers/base/pre-trained")
    with pytest.raises(InputError, match="2B/distilled has no diffusers revision"):
        parse_options({}).weights_for("2B/distilled")


def test_one_gpu_per_worker():
    with pytest.raises(InputError, match="one GPU per worker"):
        create_backend("diffusers", {}, ["0", "1"])


def test_native_guidance_maps_onto_diffusers_scale():
    assert diffusers_guidance(7) == (6.0, False)
    assert diffusers_guidance(3) == (2.0, False)
    assert diffusers_guidance(1) == (0.0, False)      # the conditional prediction alone: CFG off
    assert diffusers_guidance(0) == (0.0, True)       # the unconditional prediction alone
    scale, _ = diffusers_guidance(2)                  # cond + 1 x (cond - uncond): CFG must stay on
    assert scale > 1.0 and np.float32(scale) == 1.0 and torch.tensor(scale, dtype=torch.float32).item() == 1.0
    with pytest.raises(InputError):
        diffusers_guidance(1.5)


def test_missing_weights_name_the_download_command(tmp_path):
    opts = parse_options({"model": "nvidia/Cosmos-Predict2.5-2B", "cache_dir": str(tmp_path / "hub")})
    with pytest.raises(MissingWeights) as err:
        resolve(opts)
    message = str(err.value)
    assert "hf download nvidia/Cosmos-Predict2.5-2B --revision diffusers/base/post-trained --cache-dir" in message
    assert "never downloads" in message and "\n" not in message
    backend = DiffusersBackend(opts.model_copy(update={"disable_guardrails": True}))
    with pytest.raises(MissingWeights):
        backend.check()


def test_missing_weights_fail_every_job_without_retry(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    backend = DiffusersBackend(parse_options({"disable_guardrails": True, "cache_dir": str(tmp_path / "empty")}))
    rec = Recorder()
    out = list(backend.generate_many(requests(manifest(), ["A01_5s", "A02_5s"], tmp_path / "w"), tmp_path / "s",
                                     rec.hooks()))
    assert [type(r) for r in out] == [Failure, Failure] and rec.started == ["A01_5s", "A02_5s"]
    assert all(f.kind == "missing_checkpoint" and not f.retryable for f in out)
    assert "hf download nvidia/Cosmos-Predict2.5-2B --revision diffusers/base/post-trained" in out[0].message


def test_model_dir_must_be_a_pipeline_folder(tmp_path):
    with pytest.raises(MissingWeights, match="does not exist"):
        resolve(parse_options({"model_dir": str(tmp_path / "nope")}))
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingWeights, match="no model_index.json"):
        resolve(parse_options({"model_dir": str(tmp_path / "empty")}))


def test_cuda_asked_for_without_a_gpu_is_a_clear_error(tiny_dir):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    backend = DiffusersBackend(parse_options({"model_dir": str(tiny_dir), "disable_guardrails": True,
                                              "device": "cuda"}))
    with pytest.raises(BackendError, match="device cuda asked for, but torch sees no CUDA GPU"):
        backend.check()


def test_padding_mask_resize_without_torchvision_matches_nearest():
    from synthcam.backends.diffusers import compat

    module = __import__(compat.COSMOS_TRANSFORMER, fromlist=["x"])
    saved = getattr(module, "transforms", None)
    try:
        if saved is None:
            assert compat.install_resize_fallback() == "torch" and module.transforms is compat.STAND_IN
        mask = torch.arange(16.0).reshape(1, 1, 4, 4)
        out = compat.STAND_IN.functional.resize(mask, [2, 2], interpolation=compat.STAND_IN.InterpolationMode.NEAREST)
        assert torch.equal(out, mask[:, :, ::2, ::2])
        with pytest.raises(NotImplementedError):
            compat.STAND_IN.functional.resize(mask, [2, 2], interpolation="bilinear")
        # With torchvision present (any `transforms` the module already has), nothing is replaced.
        sentinel = object()
        module.transforms = sentinel
        assert compat.install_resize_fallback() == "torchvision" and module.transforms is sentinel
    finally:
        if saved is None:
            module.transforms = compat.STAND_IN
        else:
            module.transforms = saved


def test_choosing_the_backend_does_not_import_torch():
    code = ("import sys; from synthcam.backends.registry import backend_class; backend_class('diffusers'); "
            "from synthcam.backends.diffusers import parse_options; parse_options({'batch_size': 2}); "
            "print(sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_offline_switch_restores_the_hub_state():
    from huggingface_hub import constants

    from synthcam.backends.diffusers.guardrails import hub_offline

    before = constants.HF_HUB_OFFLINE
    with hub_offline():
        assert constants.HF_HUB_OFFLINE
    assert constants.HF_HUB_OFFLINE == before


def test_weights_come_from_the_hub_cache_by_branch_name(tiny_dir, tmp_path):
    """A cache laid out as `hf download --revision diffusers/base/post-trained` leaves it; loaded offline."""
    import shutil

    from synthcam.backends.base import RawClip

    repo = tmp_path / "hub" / "models--nvidia--Cosmos-Predict2.5-2B"
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(tiny_dir, repo / "snapshots" / commit)
    (repo / "refs" / "diffusers" / "base").mkdir(parents=True)
    (repo / "refs" / "diffusers" / "base" / "post-trained").write_text(commit)
    opts = parse_options({"cache_dir": str(tmp_path / "hub"), "disable_guardrails": True})
    weights = resolve(opts, "2B/post-trained")
    assert weights.folder == repo / "snapshots" / commit
    assert weights.label == "nvidia/Cosmos-Predict2.5-2B@diffusers/base/post-trained"
    assert commit in weights.identity  # chunk records name the cached commit: new weights, new chunks
    with pytest.raises(MissingWeights, match="--revision diffusers/base/pre-trained"):
        resolve(opts, "2B/pre-trained")  # another branch of the same repository is not there
    backend = DiffusersBackend(opts)
    (clip,) = backend.generate_many(requests(manifest(), ["A01_5s"], tmp_path / "w"), tmp_path / "s")
    assert isinstance(clip, RawClip)
    backend.close()
