"""Personalisation of marketer-written templates in a bounded Jinja sandbox.

Templates come from marketers (and names in the context from the public), so:
- an ImmutableSandboxedEnvironment with nothing in it but `range` (capped) and the
  allowlisted context (`customer`, `tenant`, `unsubscribe_url`, `view_in_browser_url`,
  `trigger`): no config, environment, models or callables;
- templates are checked when saved: syntax errors name the line, and constructs that only
  serve to break out of the sandbox (dunder attributes, `|attr`, `self`, ...) are refused;
- rendering is bounded in time and size, so `range` loops and string blow-ups fail cleanly.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_RANGE = 1000
MAX_OUTPUT = 2_000_000  # characters of one rendered template
MAX_SECONDS = 2.0
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


class BoundedSandbox(ImmutableSandboxedEnvironment):
    # Every arithmetic operator goes through call_binop, where size and time are checked.
    intercepted_binops = frozenset({"*", "**", "+", "//", "/", "%", "-"})

    def call(self, __context, __obj, *args, **kwargs):  # noqa: N807  (Jinja's signature)
        _check_budget()
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context, operator, left, right):
        _check_budget()
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 64:
            raise RenderFailed("exponent too large in template")
        if operator == "*" and isinstance(left, (str, list, tuple)) and isinstance(right, int) \
                and len(left) * right > MAX_OUTPUT:
            raise RenderFailed("template builds a value that is too large")
        return super().call_binop(context, operator, left, right)


def _make_env(autoescape: bool) -> BoundedSandbox:
    env = BoundedSandbox(autoescape=autoescape, auto_reload=False, cache_size=400)
    env.globals.clear()
    env.globals["range"] = _capped_range
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


def render(source: str, context: dict[str, Any], *, html: bool = True) -> str:
    """Render within the time and size budget; raises RenderFailed with a readable reason."""
    env = HTML_ENV if html else TEXT_ENV
    _deadline.at = time.monotonic() + MAX_SECONDS
    try:
        template = env.from_string(source)
        parts: list[str] = []
        size = 0
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise RenderFailed(f"rendered content is larger than {MAX_OUTPUT:,} characters")
            parts.append(chunk)
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
