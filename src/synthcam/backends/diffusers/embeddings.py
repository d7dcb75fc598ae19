"""Each distinct prompt is encoded once per worker, then the text encoder can leave the GPU.

The text encoder (Cosmos-Reason1, a 7B Qwen2.5-VL) is the largest component and runs once
per prompt; the transformer runs 35 steps x 2 passes per chunk. Every clip shares the
negative prompt, and a clip's 5/10/30 s variants often share their text, so the native
CLI's encode-per-sample repeats work and keeps 16 GB on the GPU throughout.

Embeddings are large for the real model (512 tokens x 28 layers x 3584 = 100,352 values per
token: about 100 MB in bfloat16), so they are kept in host memory under a budget, and the
queue is taken in windows whose prompts fit it: encode the window's prompts (encoder on the
GPU), move the encoder back to the CPU, denoise the window, repeat. On a CPU-only machine the
moves are no-ops.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

MAX_SEQUENCE_LENGTH = 512  # what the pipeline pads every prompt to (the model was trained with it)

T = TypeVar("T")


class PromptCache:
    """Prompt text -> embeddings (host memory), encoded with the pipeline's own `encode_prompt`."""

    def __init__(self, pipe: Any, device: str, *, offload_encoder: bool, managed_offload: bool) -> None:
        self.pipe = pipe
        self.device = device
        self.offload_encoder = offload_encoder and device != "cpu" and not managed_offload
        self.entries: dict[str, Any] = {}
        self.encoded = 0                   # calls of the text encoder, for logs and tests

    def bytes_per_prompt(self) -> int:
        """Size of one cached embedding, from the text encoder's configuration."""
        cfg = self.pipe.text_encoder.config
        text = getattr(cfg, "text_config", cfg)
        width = text.hidden_size * text.num_hidden_layers
        return MAX_SEQUENCE_LENGTH * width * self.pipe.text_encoder.dtype.itemsize

    def prepare(self, texts: Iterable[str], keep: Iterable[str] = ()) -> None:
        """Encode the texts not cached yet, dropping cached ones outside texts + keep."""
        wanted = list(dict.fromkeys(texts))
        needed = set(wanted) | set(keep)
        for text in [t for t in self.entries if t not in needed]:
            del self.entries[text]
        missing = [t for t in wanted if t not in self.entries]
        if not missing:
            return
        import torch

        encoder = self.pipe.text_encoder
        if self.offload_encoder:
            encoder.to(self.device)
        try:
            for text in missing:
                with torch.no_grad():
                    embeds, _ = self.pipe.encode_prompt(prompt=text, do_classifier_free_guidance=False,
                                                        max_sequence_length=MAX_SEQUENCE_LENGTH, device=self.device)
                self.encoded += 1
                host = embeds.to("cpu")
                if self.device.startswith("cuda"):
                    host = host.pin_memory()
                self.entries[text] = host
        finally:
            if self.offload_encoder:
                encoder.to("cpu")
                with contextlib.suppress(Exception):
                    torch.cuda.empty_cache()

    def get(self, texts: Sequence[str]) -> Any:
        """The embeddings of `texts`, stacked as one batch on the device."""
        import torch

        return torch.cat([self.entries[t] for t in texts]).to(self.device, non_blocking=True)


def windows(items: Sequence[T], texts_of: Callable[[T], Iterable[str]], budget: int, per_text: int) -> list[list[T]]:
    """Split items, in order, into runs whose distinct texts fit `budget` bytes (at least one item each)."""
    out: list[list[T]] = []
    current: list[T] = []
    seen: set[str] = set()
    for item in items:
        new = set(texts_of(item)) - seen
        if current and (len(seen) + len(new)) * per_text > budget:
            out.append(current)
            current, seen = [], set()
            new = set(texts_of(item))
        current.append(item)
        seen |= new
    if current:
        out.append(current)
    return out
