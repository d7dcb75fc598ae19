"""The torchvision trap, handled in one place.

diffusers' Cosmos transformer resizes its padding mask with torchvision
(`transforms.functional.resize(mask, size, interpolation=NEAREST)`) and imports torchvision
only when it is installed. Two set-ups break that:

- no torchvision at all (a CPU-only torch 2.13.0, where PyPI's torchvision does not import):
  the module then has no `transforms` name and the first forward pass dies with NameError;
- a torchvision that does not match torch: importing diffusers' Cosmos modules fails outright.

For the first, `install_resize_fallback` gives that one module a stand-in `transforms` whose
only function is that nearest-neighbour resize, done with `torch.nn.functional.interpolate`
(which is what torchvision itself calls for tensors). It refuses any other use, so it cannot
silently change results elsewhere. For the second we only explain what to do.
"""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

from ...errors import BackendError

COSMOS_TRANSFORMER = "diffusers.models.transformers.transformer_cosmos"


class _InterpolationMode:
    NEAREST = "nearest"


def _resize(tensor, size, interpolation=None, **kwargs):  # noqa: ANN001 - torchvision's signature
    import torch.nn.functional as F

    if interpolation not in (None, _InterpolationMode.NEAREST) or kwargs or tensor.dim() != 4:
        raise NotImplementedError("synthcam's torchvision stand-in only resizes 4-D masks with NEAREST")
    return F.interpolate(tensor, size=list(size), mode="nearest")


STAND_IN = SimpleNamespace(functional=SimpleNamespace(resize=_resize), InterpolationMode=_InterpolationMode)


def import_cosmos_modules():
    """Import diffusers' Cosmos pipeline module, turning a broken torchvision into a clear error."""
    try:
        from diffusers.pipelines.cosmos import pipeline_cosmos2_5_predict
    except ImportError as exc:
        raise BackendError(f"diffusers: cannot import diffusers' Cosmos Predict 2.5 pipeline ({exc}); "
                           "install the extra: pip install 'synthcam[diffusers]'") from None
    except (RuntimeError, OSError, AttributeError) as exc:
        if importlib.util.find_spec("torchvision") is not None:
            raise BackendError(f"diffusers: torchvision is installed but does not load beside this torch ({exc}); "
                               "uninstall it (synthcam does not need it) or install the torchvision built for "
                               "your torch") from None
        raise BackendError(f"diffusers: cannot import diffusers' Cosmos pipeline: {exc}") from None
    return pipeline_cosmos2_5_predict


def install_resize_fallback() -> str:
    """Make the padding-mask resize work without torchvision; returns which one is in use."""
    import_cosmos_modules()
    module = importlib.import_module(COSMOS_TRANSFORMER)
    current = getattr(module, "transforms", None)
    if current is STAND_IN:
        return "torch"
    if current is not None:
        return "torchvision"
    module.transforms = STAND_IN
    return "torch"
