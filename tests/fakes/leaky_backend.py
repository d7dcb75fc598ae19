"""A backend that fails loudly: its log lines and failure messages carry secrets and hostile text.

Registered through SYNTHCAM_BACKENDS="leaky=fakes.leaky_backend:LeakyBackend". LEAKY_MESSAGE
replaces the failure message (e.g. rich markup and terminal escapes).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from synthcam.backends.base import Backend, Failure, GenerationRequest, Hooks, RawClip

TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123"


class LeakyBackend(Backend):
    name = "leaky"

    def generate(self, request: GenerationRequest, staging: Path) -> RawClip | Failure:
        raise NotImplementedError  # generate_many below

    def generate_many(self, requests: Iterable[GenerationRequest], staging: Path,
                      hooks: Hooks | None = None) -> Iterator[RawClip | Failure]:
        hooks = hooks or Hooks()
        for request in requests:
            hooks.on_start(request)
            hooks.log(f"cloning https://user:{TOKEN}@github.com/o/r with DB_PW=hunter2hunter2")
            message = os.environ.get("LEAKY_MESSAGE") or (
                f"HTTP 401 for https://x:{TOKEN}@hub.example/m (Authorization: Bearer {TOKEN}; DB_PW=hunter2hunter2)")
            kind = os.environ.get("LEAKY_KIND", "error")
            yield Failure(request, kind, message, retryable=False)
