"""The Typer app, the consoles, the options every command shares, and the one place errors
become messages and exit codes."""

from __future__ import annotations

import errno
import functools
import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, Optional, TypeVar

import typer
import typer.core
from rich.console import Console
from rich.text import Text

from ..errors import StorageError, SynthcamError, WorkspaceError
from ..redact import mask_secrets, terminal_safe

# Typer labels every option and argument with its Python type ("<str>", "<list[Path]>"): noise
# for a person reading --help at 80 columns. Options carry their own metavars (FILE, DIR, N).
_TYPE_TAG = re.compile(r" <(?:str|int|float|bool|path|Path|list\[(?:str|Path|path)\])>")


class Command(typer.core.TyperCommand):
    """A command whose help has no Python type tags: a value option without its own metavar shows
    its name in capitals (--out OUT), as plain Click does."""

    def get_help(self, ctx: Any) -> str:
        for param in self.params:  # (Typer attaches params after construction: set them here)
            if getattr(param, "param_type_name", "") == "option" and not param.is_flag and param.metavar is None:
                param.metavar = (param.name or "value").upper()
        return _TYPE_TAG.sub("", super().get_help(ctx))


app = typer.Typer(
    name="synthcam",
    help="Declarative, verified synthetic security-camera video datasets (NVIDIA Cosmos Predict 2.5).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain Click help: wraps cleanly at 80 columns
    context_settings={"max_content_width": 100},
)
console = Console(highlight=False, markup=False)  # untrusted text can never be markup
err_console = Console(stderr=True, highlight=False, markup=False)

F = TypeVar("F", bound=Callable[..., Any])

# --- options every command spells the same way ----------------------------------------------

DEFAULT_WORKSPACE = Path("workspace")
WorkspaceOpt = Annotated[Path, typer.Option(
    "--workspace", "-w", envvar="SYNTHCAM_WORKSPACE", metavar="DIR",
    help="Workspace folder: job store, clips, logs.")]
ManifestOpt = Annotated[Optional[str], typer.Option(
    "--manifest", "-m", metavar="FILE",
    help="Manifest YAML, or 'builtin' / 'quickstart' (embedded). Default: the manifest the workspace "
         "was planned from, else 'quickstart'.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (errors too) instead of text.")]


# --- printing untrusted text -------------------------------------------------------------------

def plain(text: object) -> Text:
    """Text from outside (paths, model output, file bytes) as characters: never markup, no escapes,
    no secrets."""
    return Text(terminal_safe(mask_secrets(str(text))))


def say(text: object, *, style: str | None = None) -> None:
    line = plain(text)
    if style:
        line.stylize(style)
    console.print(line, soft_wrap=True)


def warn(text: object) -> None:
    err_console.print(plain(text), soft_wrap=True)


def echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


# --- errors ---------------------------------------------------------------------------------

def _as_synthcam(exc: BaseException) -> SynthcamError | None:
    """Backstop for failures of the environment that reached the CLI untyped."""
    from ..store import storage_error

    if isinstance(exc, sqlite3.Error):
        return storage_error(exc, "the job store")
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT):
        where = exc.filename or "a workspace file"
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return StorageError(f"{where}: the disk is full; free some space and run the command again")
        return StorageError(f"{where}: {exc.strerror}; make it writable and run the command again")
    return None


def fail(exc: SynthcamError, json_out: bool = False) -> NoReturn:
    """Print a library error as one line (or a JSON object) and exit with its code."""
    message = terminal_safe(mask_secrets(str(exc))).replace("\n", " ").strip()
    if json_out:
        echo_json({"error": message, "kind": type(exc).__name__, "exit_code": exc.exit_code})
    else:
        err_console.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)
    raise typer.Exit(exc.exit_code)


def handles_errors(fn: F) -> F:
    """Turn SynthcamError (and Ctrl-C, and a full or read-only disk) into a one-line message and
    exit code; a command given --json gets the error as JSON on stdout."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        json_out = bool(kwargs.get("json_out"))
        try:
            return fn(*args, **kwargs)
        except SynthcamError as exc:
            fail(exc, json_out)
        except KeyboardInterrupt:
            if json_out:
                echo_json({"error": "interrupted", "kind": "KeyboardInterrupt", "exit_code": 130})
            else:
                err_console.print("interrupted")
            raise typer.Exit(130) from None
        except (sqlite3.Error, OSError) as exc:
            typed = _as_synthcam(exc)
            if typed is None:
                raise
            fail(typed, json_out)

    return wrapper  # type: ignore[return-value]


__all__ = ["DEFAULT_WORKSPACE", "JsonOpt", "ManifestOpt", "WorkspaceError", "WorkspaceOpt", "app", "console",
           "echo_json", "err_console", "fail", "handles_errors", "plain", "say", "warn"]
