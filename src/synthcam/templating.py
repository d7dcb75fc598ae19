"""Prompt templates come from manifests, so from users: render them with bounds.

Jinja's sandbox stops templates from reaching Python internals, but not from asking for a
billion characters (`{{ ('a' * 100000000) * 20 }}`), doubling a string forty times, or looping
for hours. Here every operation that can grow text is checked before it runs (`*`, `+`, `~`,
filters with size arguments), only filters that cannot explode are offered, the whole output is
capped, and a watchdog stops a render that runs too long. Whatever goes wrong becomes a
`TemplateLimit` with a one-line reason; the prompt compiler adds the manifest's file:line.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable
from typing import Any

import jinja2
from jinja2 import filters as jinja_filters
from jinja2.compiler import CodeGenerator, Frame
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment
from .errors import TemplateLimit

MAX_VALUE_CHARS = 64 * 1024      # any one string or list a template builds
MAX_OUTPUT_CHARS = 64 * 1024     # a whole rendered prompt (real ones are under 2,000)
MAX_RENDER_S = 2.0               # per render; real prompts take well under a millisecond
MAX_NUMBER_ARG = 100_000         # numeric arguments of filters (widths, counts)
MAX_EXPONENT = 64

__all__ = ["TemplateLimit", "bounded_environment", "render_bounded"]


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, bytes, list, tuple)) else None


def _check_value(value: Any) -> Any:
    n = _size(value)
    if n is not None and n > MAX_VALUE_CHARS:
        raise TemplateLimit(f"a template value of {n:,} items is over the limit of {MAX_VALUE_CHARS:,}")
    return value


class _BoundedCodeGenerator(CodeGenerator):
    """Routes the `~` operator through the environment's size check."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse huge numeric arguments before the filter runs, and oversized results after."""

    passes_context = hasattr(func, "jinja_pass_arg")  # then args[0] is Jinja's context, args[1] the value

    def guarded(*args: Any, **kwargs: Any) -> Any:
        operands = args[1:] if passes_context else args  # the filtered value, then the filter's arguments
        for value in (*operands[1:], *kwargs.values()):
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_NUMBER_ARG:
                raise TemplateLimit(f"filter {name!r}: argument {value:,} is over the limit of {MAX_NUMBER_ARG:,}")
        if name == "replace" and len(operands) >= 3:
            text, old, new = (str(a) for a in operands[:3])
            worst = (len(text) // max(1, len(old)) + 1) * max(1, len(new)) + len(text)
            if worst > MAX_VALUE_CHARS and len(new) > len(old):
                raise TemplateLimit(f"filter 'replace' could make {worst:,} characters (limit {MAX_VALUE_CHARS:,})")
        return _check_value(func(*args, **kwargs))

    for attr in ("jinja_pass_arg", "environmentfilter", "contextfilter", "evalcontextfilter"):
        if hasattr(func, attr):
            setattr(guarded, attr, getattr(func, attr))
    return guarded


# Filters that cannot make text much larger than their input (or are guarded above).
_ALLOWED_FILTERS = ("abs", "capitalize", "count", "default", "d", "e", "escape", "first", "float", "int", "join",
                    "last", "length", "list", "lower", "map", "reject", "rejectattr", "replace", "reverse", "round",
                    "safe", "select", "selectattr", "sort", "string", "striptags", "sum", "title", "trim", "truncate",
                    "unique", "upper", "wordcount", "max", "min")


class _BoundedSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+"})
    code_generator_class = _BoundedCodeGenerator

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
                raise TemplateLimit(f"exponent {right} is over the limit of {MAX_EXPONENT}")
            return left ** right
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                n = _size(seq)
                if n is not None and isinstance(times, int) and n * max(times, 0) > MAX_VALUE_CHARS:
                    raise TemplateLimit(f"repeating {n:,} items {times:,} times is over the limit of {MAX_VALUE_CHARS:,}")
            return _check_value(left * right)
        a, b = _size(left), _size(right)
        if a is not None and b is not None and a + b > MAX_VALUE_CHARS:
            raise TemplateLimit(f"joining {a:,} and {b:,} items is over the limit of {MAX_VALUE_CHARS:,}")
        return left + right

    def bounded_concat(self, parts: tuple[Any, ...]) -> str:
        total = 0
        strings = []
        for part in parts:
            text = str(part)
            total += len(text)
            if total > MAX_VALUE_CHARS:
                raise TemplateLimit(f"a joined string is over the limit of {MAX_VALUE_CHARS:,} characters")
            strings.append(text)
        return "".join(strings)


def bounded_environment(extra_filters: dict[str, Callable[..., Any]] | None = None) -> SandboxedEnvironment:
    env = _BoundedSandbox(undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)
    env.filters = {name: _guard_filter(name, jinja_filters.FILTERS[name]) for name in _ALLOWED_FILTERS
                   if name in jinja_filters.FILTERS}
    for name, func in (extra_filters or {}).items():
        env.filters[name] = _guard_filter(name, func)
    env.globals.pop("lipsum", None)  # makes text of any size on request
    return env


class _RenderTimeout(BaseException):
    """Raised inside the rendering thread by the watchdog (BaseException: nothing in Jinja catches it)."""


# Bound at import: the watchdog's clock and sleep must not be the ones a caller (or a test)
# patches on the time module.
_sleep = time.sleep
_now = time.monotonic


class _Watchdog:
    """One daemon thread that interrupts renders past their deadline (started on first use, so a
    render costs no thread start; it exits after a second with nothing to watch).

    The interrupt is an asynchronous exception, which Python delivers at any later bytecode of the
    rendering thread. So that thread never runs Python-level locking code while one may be
    pending (a `threading.Condition` or `Event` would be: an interrupt landing inside their
    `__exit__` leaks the lock and stops the watchdog for good): it only takes a plain C lock, with
    `with`, whose release runs even when the interrupt lands inside; the watchdog polls instead of
    being notified."""

    POLL_S = 0.05
    IDLE_EXIT_S = 1.0

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.deadlines: dict[int, float] = {}
        self.fired: set[int] = set()
        self.running = False
        self.thread: threading.Thread | None = None

    def _run(self) -> None:
        try:
            idle_since = _now()
            while True:
                _sleep(self.POLL_S)
                now = _now()
                with self.lock:
                    for ident, when in list(self.deadlines.items()):
                        if when <= now:
                            del self.deadlines[ident]
                            self.fired.add(ident)
                            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(_RenderTimeout))
                    if self.deadlines:
                        idle_since = now
                    elif now - idle_since > self.IDLE_EXIT_S:
                        self.running = False
                        return
        finally:
            # However it ends (an exception raised into it included), the next render starts another.
            with self.lock:
                if self.thread is threading.current_thread():
                    self.running = False

    def arm(self, seconds: float) -> int:
        ident = threading.get_ident()
        with self.lock:
            self.fired.discard(ident)
            self.deadlines[ident] = _now() + seconds
            start = not (self.running and self.thread is not None and self.thread.is_alive())
            if start:
                self.running = True
                self.thread = threading.Thread(target=self._run, name="template-deadline", daemon=True)
            thread = self.thread
        if start:
            thread.start()
        return ident

    def disarm(self, ident: int) -> None:
        with self.lock:
            self.deadlines.pop(ident, None)
            if ident in self.fired:
                self.fired.discard(ident)
                # An interrupt fired just as the render finished must not surface later, elsewhere.
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), None)


_WATCHDOG = _Watchdog()


def render_bounded(template: jinja2.Template, context: dict[str, Any]) -> str:
    """Render with every bound in force; any failure is a TemplateLimit with a one-line reason."""
    out: list[str] = []
    total = 0
    try:
        ident = _WATCHDOG.arm(MAX_RENDER_S)
        try:
            for piece in template.generate(**context):
                total += len(piece)
                if total > MAX_OUTPUT_CHARS:
                    raise TemplateLimit(f"the rendered prompt is over the limit of {MAX_OUTPUT_CHARS:,} characters")
                out.append(piece)
        finally:
            _WATCHDOG.disarm(ident)
    except _RenderTimeout:
        raise TemplateLimit(f"rendering took longer than {MAX_RENDER_S:g} s") from None
    except TemplateLimit:
        raise
    except jinja2.UndefinedError as exc:
        raise TemplateLimit(f"undefined: {exc.message}") from None
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateLimit(f"not allowed in a template: {exc}") from None
    except jinja2.TemplateError as exc:
        raise TemplateLimit(f"{type(exc).__name__}: {exc.message or exc}") from None
    except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError, RecursionError, MemoryError) as exc:
        raise TemplateLimit(f"{type(exc).__name__}: {exc}") from None
    return "".join(out)
