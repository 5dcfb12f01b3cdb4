"""What a marketer's template may not do: refused outright, never estimated.

- When it is saved (check_source): syntax errors name their line, and constructs that only
  serve to break out of the sandbox (dunder attributes, `|attr`, `self`, includes, ...) or
  nest too deep are refused with TemplateRejected.
- When it runs, before a call is sized (check_numbers, check_format): widths and counts far
  above any layout need, and format widths above MAX_ARGUMENT or taken from the arguments,
  fail that recipient with RenderFailed.
Everything else a template does is sized and bounded by webapp.mail.templating, which is
where the rest of the app finds these names.
"""

from __future__ import annotations

import re
from typing import Any

from jinja2 import Environment, TemplateSyntaxError, nodes

MAX_ARGUMENT = 99_999  # a width or count given to a filter or method
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



def check_source(env: Environment, source: str) -> None:
    """Raise TemplateRejected for syntax errors and sandbox-escape constructs, as `env` (the
    bounded sandbox that will render the template) parses and compiles it."""
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateRejected(exc.message or "syntax error", exc.lineno) from None
    except RecursionError:  # the parser descends once per level: thousands of "(" exhaust it
        raise TemplateRejected(_TOO_DEEP) from None
    if _deepest(tree) > MAX_NESTING:
        raise TemplateRejected(_TOO_DEEP)
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
    except (SyntaxError, RecursionError):  # Python's own compiler: "too many nested parentheses"
        raise TemplateRejected(_TOO_DEEP) from None


# Expressions and blocks inside one another. A newsletter nests about twenty; a chain of
# 200 `+` is 200 deep, took seconds to compile in the web process and then failed with
# Python's "too many nested parentheses".
MAX_NESTING = 64
_TOO_DEEP = f"expressions and blocks nest more than {MAX_NESTING} levels deep: split them into smaller ones"


def _deepest(tree: nodes.Node) -> int:
    """How deep the template's tree goes, walked without recursion (stops past the limit)."""
    deepest, stack = 0, [(tree, 1)]
    while stack and deepest <= MAX_NESTING:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())
    return deepest


def check_numbers(values) -> None:
    # Widths and counts (center, indent, batch, zfill...) far above any layout need are
    # refused with their own message before anything is estimated.
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_ARGUMENT:
            raise RenderFailed(f"{value} is too large a number for a template function")


def check_format(fmt: Any) -> None:
    if isinstance(fmt, str) and _HUGE_WIDTH.search(fmt):
        raise RenderFailed(f"format widths above {MAX_ARGUMENT}, or taken from the arguments, are not allowed "
                           "in templates")
