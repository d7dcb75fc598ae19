"""The `synthcam` command: a thin layer; every command calls one library function.

Command families live in their own modules and register on `app` when imported below.
Library errors (SynthcamError) become one-line messages with the error's exit code.
"""

from __future__ import annotations

import sys

from ._app import app, console, err_console, fail

# Importing registers the commands.
from . import spec as _spec  # noqa: E402,F401
from . import verify as _verify  # noqa: E402,F401
from . import render as _render  # noqa: E402,F401
from . import engine as _engine  # noqa: E402,F401
from . import qa as _qa  # noqa: E402,F401
from . import publish as _publish  # noqa: E402,F401

__all__ = ["app", "main", "console", "err_console", "fail"]


def main() -> None:
    from ..errors import SynthcamError

    try:
        app(standalone_mode=True)
    except SynthcamError as exc:  # pragma: no cover - commands catch these themselves
        fail(exc)
    sys.exit(0)
