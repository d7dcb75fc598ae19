"""The Typer app, the consoles and the one place errors become messages and exit codes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from ..errors import SynthcamError

app = typer.Typer(
    name="synthcam",
    help="Declarative, verified synthetic security-camera video datasets (NVIDIA Cosmos Predict 2.5).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def fail(exc: SynthcamError) -> NoReturn:
    """Print a library error as one line and exit with its code."""
    message = str(exc).replace("\n", " ").strip()
    err_console.print(Text.assemble(("error: ", "bold red"), message), highlight=False, soft_wrap=True)
    raise typer.Exit(exc.exit_code)


def handles_errors(fn: F) -> F:
    """Turn SynthcamError (and Ctrl-C) into a one-line message and exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SynthcamError as exc:
            fail(exc)
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]
