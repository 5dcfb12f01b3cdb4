"""Personalisation of marketer-written templates in a bounded Jinja sandbox.

Templates come from marketers (and names in the context from the public), so:
- an ImmutableSandboxedEnvironment with nothing in it but `range` (capped) and the
  allowlisted context (`customer`, `tenant`, `unsubscribe_url`, `view_in_browser_url`,
  `trigger`): no config, environment, models or callables;
- templates are checked when saved: syntax errors name the line, and constructs that only
  serve to break out of the sandbox (dunder attributes, `|attr`, `self`, ...) are refused;
- rendering is bounded in time and size: loops check the clock on every step, `~`, operators,
  methods and filters check sizes, and numbers that would make a width or count (and so
  gigabytes) are refused before anything is allocated. A template that breaks a bound
  fails that recipient with RenderFailed, whose message is stored on their row.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from functools import lru_cache
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.filters import do_default
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.visitor import NodeTransformer

MAX_RANGE = 1000
MAX_OUTPUT = 2_000_000  # characters of one rendered template
MAX_SECONDS = 2.0
MAX_ARGUMENT = 99_999  # a width or count given to a filter or method
MAX_INT_BITS = 100_000
# A printf width or precision above MAX_ARGUMENT, or one taken from the arguments ("*"),
# and the same in str.format specs ("{:>999999}").
_HUGE_WIDTH = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d{6,}|\d*\.(?:\*|\d{6,}))|\{[^{}]*:[^{}]*(?:\d{6,}|\{)")
BLOCKED_NAMES = frozenset({"self", "config", "request", "session", "g", "url_for", "get_flashed_messages",
                           "lipsum", "cycler", "joiner", "namespace", "environment", "loop_controls"})
BLOCKED_FILTERS = frozenset({"attr", "map", "xmlattr"})


class TemplateRejected(ValueError):
    """A template that cannot be saved; `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line
        self.reason = message


class RenderFailed(RuntimeError):
    """Rendering one recipient's copy failed; the reason is stored on their row."""


_deadline = threading.local()


def _check_budget() -> None:
    limit = getattr(_deadline, "at", None)
    if limit is not None and time.monotonic() > limit:
        raise RenderFailed(f"template took longer than {MAX_SECONDS:g} s to render")


def _capped_range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise RenderFailed(f"range() is limited to {MAX_RANGE} items in templates")
    return result


def bounded_iter(iterable: Any):
    """Every `{% for %}` iterates through this: nested loops over a saved range or string
    (a billion steps, no call in between) stay within the time budget."""
    for item in iterable:
        _check_budget()
        yield item


def checked_size(value: Any) -> Any:
    """Every `~` passes its result through this: repeated doubling stops at the size limit."""
    if isinstance(value, (str, list, tuple)) and len(value) > MAX_OUTPUT:
        raise RenderFailed("template builds a value that is too large")
    return value


def _check_numbers(values) -> None:
    # Widths and counts (center, indent, batch, zfill...) allocate before any budget check
    # could run: a number far above any layout need is refused up front.
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_ARGUMENT:
            raise RenderFailed(f"{value} is too large a number for a template function")


def _check_format(fmt: Any) -> None:
    if isinstance(fmt, str) and _HUGE_WIDTH.search(fmt):
        raise RenderFailed(f"format widths above {MAX_ARGUMENT}, or taken from the arguments, are not allowed "
                           "in templates")


def _check_growth(name: str, args: tuple) -> None:
    """replace and join multiply sizes: refuse before they allocate (args: the string or
    separator first, as the str method's self or the filter's value)."""
    if name == "replace" and len(args) >= 3 and all(isinstance(a, str) for a in args[:3]):
        text, old, new = args[:3]
        growth = (text.count(old) if old else len(text) + 1) * max(len(new) - len(old), 0)
        if len(text) + growth > MAX_OUTPUT:
            raise RenderFailed("template builds a value that is too large")
    if name == "join" and len(args) >= 2 and isinstance(args[0], str) and hasattr(args[1], "__len__") \
            and len(args[0]) * len(args[1]) > MAX_OUTPUT:
        raise RenderFailed("template builds a value that is too large")


def _check_method(func: Any, args: tuple, kwargs: dict) -> None:
    if getattr(func, "checked_format", False):
        return  # values, not widths: the format string was checked in wrap_str_format
    owner = getattr(func, "__self__", None)
    _check_numbers((*args, *kwargs.values()))
    if isinstance(owner, str):
        _check_growth(func.__name__, (owner, *args))


def _guard_filter(func):
    value_at = 1 if hasattr(func, "jinja_pass_arg") else 0  # after the context or environment

    @functools.wraps(func)  # keeps the jinja_pass_arg marker
    def guarded(*args, **kwargs):
        _check_budget()
        value, options = (args[value_at], args[value_at + 1:]) if len(args) > value_at else (None, ())
        if func.__name__ == "do_format":
            _check_format(value)
        else:
            _check_numbers((*options, *kwargs.values()))
            if func.__name__ == "do_replace":
                _check_growth("replace", (value, *options))
            elif func.__name__ == "do_join":
                _check_growth("join", (options[0] if options else "", value))
        return checked_size(func(*args, **kwargs))
    return guarded


class _RouteThroughChecks(NodeTransformer):
    """Loops and `~` are plain Python in a compiled template, out of the sandbox's reach:
    wrap each loop's iterable in bounded_iter and each `~` in checked_size."""

    def visit_For(self, node):  # noqa: N802 (NodeTransformer's naming)
        node = self.generic_visit(node)
        node.iter = _call_here("bounded_iter", node.iter)
        return node

    def visit_Concat(self, node):  # noqa: N802
        return _call_here("checked_size", self.generic_visit(node))


def _call_here(function: str, arg: nodes.Expr) -> nodes.Call:
    return nodes.Call(nodes.ImportedName(f"{__name__}.{function}"), [arg], [], None, None, lineno=arg.lineno)


class BoundedSandbox(ImmutableSandboxedEnvironment):
    # Every arithmetic operator goes through call_binop, where size and time are checked.
    intercepted_binops = frozenset({"*", "**", "+", "//", "/", "%", "-"})

    def _parse(self, source, name, filename):
        return _RouteThroughChecks().visit(super()._parse(source, name, filename))

    def wrap_str_format(self, value):
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:  # "{:>999999999}".format(...): refused before it allocates
            _check_format(value.__self__)
            wrapped.checked_format = True
        return wrapped

    def call(self, __context, __obj, *args, **kwargs):  # noqa: N807  (Jinja's signature)
        _check_budget()
        _check_method(__obj, args, kwargs)
        return checked_size(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context, operator, left, right):
        _check_budget()
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 64:
            raise RenderFailed("exponent too large in template")
        if operator in ("*", "**") and isinstance(left, int) and isinstance(right, int) and (
                left.bit_length() * (right if operator == "**" else 1) + right.bit_length() > MAX_INT_BITS):
            raise RenderFailed("number too large in template")
        if operator == "*":
            seq, times = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and len(seq) * times > MAX_OUTPUT:
                raise RenderFailed("template builds a value that is too large")
        if operator == "%" and isinstance(left, str):
            _check_format(left)
        return checked_size(super().call_binop(context, operator, left, right))


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    # A customer without a first name has None, not a missing key; `default("there")` is
    # what the marketer meant for both.
    return default_value if value is None else do_default(value, default_value, boolean)


def _make_env(autoescape: bool) -> BoundedSandbox:
    # finalize: a missing value prints as nothing, never as "None".
    env = BoundedSandbox(autoescape=autoescape, auto_reload=False, cache_size=400,
                         finalize=lambda value: "" if value is None else value)
    env.globals.clear()
    env.globals["range"] = _capped_range
    for name, func in list(env.filters.items()):
        env.filters[name] = _guard_filter(func)
    env.filters["default"] = env.filters["d"] = _default
    return env


HTML_ENV = _make_env(autoescape=True)
TEXT_ENV = _make_env(autoescape=False)


def check_template(source: str, *, html: bool = True) -> None:
    """Raise TemplateRejected for syntax errors and sandbox-escape constructs."""
    env = HTML_ENV if html else TEXT_ENV
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateRejected(exc.message or "syntax error", exc.lineno) from None
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name, nodes.Filter, nodes.Extends,
                               nodes.Include, nodes.Import, nodes.FromImport)):
        line = getattr(node, "lineno", None)
        if isinstance(node, (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
            raise TemplateRejected("templates cannot include or import other templates", line)
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            raise TemplateRejected(f"'{node.attr}' is not available in templates", line)
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) \
                and isinstance(node.arg.value, str) and node.arg.value.startswith("_"):
            raise TemplateRejected(f"'{node.arg.value}' is not available in templates", line)
        if isinstance(node, nodes.Name) and node.name in BLOCKED_NAMES:
            raise TemplateRejected(f"'{node.name}' is not available in templates", line)
        if isinstance(node, nodes.Filter) and node.name in BLOCKED_FILTERS:
            raise TemplateRejected(f"the '{node.name}' filter is not available in templates", line)
    try:
        env.from_string(source)
    except TemplateSyntaxError as exc:  # e.g. an unknown filter, found at compile time
        raise TemplateRejected(exc.message or "syntax error", exc.lineno) from None


@lru_cache(maxsize=256)
def _compiled(source: str, html: bool):
    # Environment.from_string parses and compiles on every call (only loader templates
    # are cached), and a campaign renders the same few sources for every recipient:
    # compiling was ~18 ms of a message's ~50 ms. Errors are raised, so never cached.
    return (HTML_ENV if html else TEXT_ENV).from_string(source)


def render(source: str, context: dict[str, Any], *, html: bool = True) -> str:
    """Render within the time and size budget; raises RenderFailed with a readable reason."""
    deadline = _deadline.at = time.monotonic() + MAX_SECONDS
    try:
        template = _compiled(source, html)
        parts: list[str] = []
        size = 0
        monotonic = time.monotonic
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise RenderFailed(f"rendered content is larger than {MAX_OUTPUT:,} characters")
            parts.append(chunk)
            if monotonic() > deadline:  # _check_budget, inlined: it runs for every chunk
                _check_budget()
        return "".join(parts)
    except RenderFailed:
        raise
    except SecurityError as exc:
        raise RenderFailed(f"not allowed in templates: {exc}") from None
    except TemplateSyntaxError as exc:
        raise RenderFailed(f"line {exc.lineno}: {exc.message}") from None
    except Exception as exc:  # any error inside the marketer's template is that template's fault
        raise RenderFailed(f"{type(exc).__name__}: {exc}") from None
    finally:
        _deadline.at = None
