"""Cosmos guardrails as upstream runs them, with synthcam deciding what a block means.

The pipeline is always given a pass-through checker: we hand it prompt embeddings (so its
own text check never runs) and it checks videos only when its checker is a real
`cosmos_guardrail.CosmosSafetyChecker`. Instead the backend calls the real checker itself,
once per distinct prompt before any GPU work (stage "prompt") and once on each finished clip
(stage "video", which may also blur faces). A block ends the job as blocked, never retried.

Without `cosmos-guardrail` the backend refuses to run unless guardrails are explicitly
disabled, like the native CLI (`--disable-guardrails`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator
from typing import Any, Protocol

from ...errors import BackendError

GUARDRAIL_REPOS = ("nvidia/Cosmos-1.0-Guardrail", "Qwen/Qwen3Guard-Gen-0.6B")


class SafetyChecker(Protocol):
    """What `cosmos_guardrail.CosmosSafetyChecker` offers (and test doubles imitate)."""

    def check_text_safety(self, prompt: str) -> bool: ...

    def check_video_safety(self, frames: Any) -> Any: ...  # uint8 (T, H, W, 3) -> frames, or None when blocked


def installed() -> bool:
    return importlib.util.find_spec("cosmos_guardrail") is not None


def require(disabled: bool) -> None:
    """check(): refuse to run without guardrails unless the user turned them off."""
    if not disabled and not installed():
        raise BackendError("diffusers: cosmos-guardrail is not installed, and the NVIDIA Open Model License asks for "
                           "guardrails: pip install cosmos-guardrail, or set the option disable_guardrails=true "
                           "(then provide an equivalent safeguard yourself)")


@contextlib.contextmanager
def hub_offline() -> Iterator[None]:
    """Nothing is fetched while this is on: the Hub client refuses every request (cache only)."""
    from huggingface_hub import constants

    saved_env, saved_flag = os.environ.get("HF_HUB_OFFLINE"), constants.HF_HUB_OFFLINE
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved_flag
        if saved_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = saved_env


def load_checker(device: str) -> SafetyChecker:
    """The real checker, from the Hub cache only; a clear error names what to download."""
    try:
        from cosmos_guardrail import CosmosSafetyChecker
    except ImportError as exc:
        raise BackendError(f"diffusers: cannot import cosmos_guardrail ({exc})") from None
    try:
        with hub_offline():
            checker = CosmosSafetyChecker()
    except Exception as exc:  # noqa: BLE001 - any load failure has the same cure
        commands = " and ".join(f"`hf download {repo}`" for repo in GUARDRAIL_REPOS)
        raise BackendError(f"diffusers: the Cosmos guardrail models are not in the Hugging Face cache "
                           f"({type(exc).__name__}): run {commands}, or set disable_guardrails=true") from None
    with contextlib.suppress(Exception):
        checker.to(device)
    return checker


_PASS_THROUGH: type | None = None


def _pass_through_class() -> type:
    """Defined on first use, so importing this module does not import torch."""
    global _PASS_THROUGH
    if _PASS_THROUGH is None:
        import torch
        from diffusers.configuration_utils import ConfigMixin
        from diffusers.models.modeling_utils import ModelMixin

        class PassThroughChecker(ModelMixin, ConfigMixin):
            """Checks nothing; synthcam runs the real checks itself (module docstring)."""

            def __init__(self) -> None:
                super().__init__()
                self.register_buffer("_where", torch.zeros(1), persistent=False)

            def check_text_safety(self, prompt: str) -> bool:
                return True

            def check_video_safety(self, frames: Any) -> Any:
                return frames

            @property
            def device(self) -> torch.device:
                return self._where.device

            @property
            def dtype(self) -> torch.dtype:
                return self._where.dtype

        PassThroughChecker.__module__ = __name__
        _PASS_THROUGH = PassThroughChecker
    return _PASS_THROUGH


def pass_through_checker() -> Any:
    """A checker the pipeline accepts (a diffusers model with a device) that checks nothing.

    diffusers' `_execution_device` walks the pipeline's modules, so a plain object or an
    nn.Module without parameters would break it; a registered buffer gives it a device.
    """
    return _pass_through_class()()


def __getattr__(name: str) -> Any:
    """diffusers looks a pipeline's component classes up by module and name when it loads one."""
    if name == "PassThroughChecker":
        return _pass_through_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
