"""Personalisation of marketer-written templates in a bounded Jinja sandbox.

Templates come from marketers (and names in the context from the public), so:
- an ImmutableSandboxedEnvironment with nothing in it but `range` (capped) and the
  allowlisted context (`customer`, `tenant`, `unsubscribe_url`, `view_in_browser_url`,
  `trigger`): no config, environment, models or callables;
- templates are checked when saved (template_rules): syntax errors name the line, and
  constructs that only serve to break out of the sandbox (dunder attributes, `|attr`,
  `self`, ...) are refused;
- rendering is bounded in time and memory, before anything is allocated: every filter,
  method, operator, `~`, literal, print and block is sized from its inputs first
  (template_costs), no value may exceed MAX_VALUE characters or MAX_ITEMS items, and one
  render may allocate MAX_ALLOCATED bytes in all, freed or not, so values kept alive by
  `{% set %}` or a recursive macro cannot add up either. Loops check the clock on every
  step, every sized operation checks it too, and each is small enough to end soon after;
- functions and methods print as nothing (their repr shows an address).
A template that breaks a bound fails that recipient with RenderFailed, whose message is
stored on their row.
"""

from __future__ import annotations

import functools
import io
import threading
import time
import types
from collections.abc import Callable
from functools import lru_cache
from pprint import PrettyPrinter
from typing import Any

from jinja2 import Template, TemplateSyntaxError, pass_context, pass_eval_context
from jinja2.compiler import CodeGenerator
from jinja2.filters import do_default
from jinja2.runtime import Undefined, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from webapp.infra.errors import ValidationFailed
from webapp.mail import template_call_costs as call_costs
from webapp.mail import template_costs as costs
from webapp.mail.template_costs import MAX_ITEMS, MAX_VALUE, Cost
from webapp.mail.template_routing import RouteThroughChecks
from webapp.mail.template_rules import BLOCKED_FILTERS, RenderFailed, check_format, check_numbers, check_source
from webapp.mail.template_rules import TemplateRejected as TemplateRejected  # re-exported: importers find it here

MAX_RANGE = 1000
MAX_OUTPUT = 2_000_000  # characters of one rendered template
MAX_SECONDS = 2.0
MAX_INT_BITS = 100_000
MAX_REASON = 500  # characters of a RenderFailed message
# Estimated bytes one render may allocate in all, freed or not: values kept alive by
# `{% set %}` or a recursive macro can never add up to more.
MAX_ALLOCATED = 16 * 2**20


class _Budget:
    """What is left of one render's time and memory."""

    __slots__ = ("deadline", "left")

    def __init__(self, deadline: float):
        self.deadline = deadline
        self.left = MAX_ALLOCATED


_rendering = threading.local()


def _budget() -> _Budget:
    budget = getattr(_rendering, "budget", None)
    if budget is None:
        # Jinja folds filters on constants at compile time: this makes it leave them to the
        # render, where they are bounded (it treats any error as "not a constant").
        raise RuntimeError("template code runs only inside render()")
    return budget


def _check_time() -> None:
    budget = getattr(_rendering, "budget", None)
    if budget is not None and time.monotonic() > budget.deadline:
        raise RenderFailed(f"template took longer than {MAX_SECONDS:g} s to render")


def _spend(cost: Cost) -> None:
    """Every operation asks here with its estimate before it runs."""
    budget = _budget()
    if time.monotonic() > budget.deadline:
        raise RenderFailed(f"template took longer than {MAX_SECONDS:g} s to render")
    if cost.chars > MAX_VALUE:
        raise RenderFailed(f"template builds a value that is too large (over {MAX_VALUE:,} characters)")
    if cost.items > MAX_ITEMS:
        raise RenderFailed(f"template builds or walks a list that is too large (over {MAX_ITEMS:,} items)")
    budget.left -= cost.nbytes
    if budget.left < 0:
        raise RenderFailed(f"template builds values too large in total (over {MAX_ALLOCATED >> 20} MB in one render)")


def _checked(value: Any) -> Any:
    # After an operation that builds: the estimates are upper bounds, this only catches one
    # that is not, at its first result.
    if isinstance(value, str) and len(value) > MAX_VALUE or isinstance(value, list) and len(value) > MAX_ITEMS:
        raise RenderFailed("template builds a value that is too large")
    return value


class _Opaque:
    """A function or method as templates see it: callable, printed as nothing (its repr
    shows an address)."""

    __slots__ = ("_func",)

    def __init__(self, func: Any):
        self._func = func

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        _spend_on_call(self._func, args, kwargs)  # BoundedSandbox.call unwraps first; anything else comes here
        return self._func(*args, **kwargs)

    def __str__(self) -> str:
        return ""

    def __repr__(self) -> str:
        return "<function>"

    def __format__(self, spec: str) -> str:
        return ""

    def __html__(self) -> str:
        return ""


def _opaque(value: Any) -> Any:
    return _Opaque(value) if callable(value) and not isinstance(value, (Undefined, _Opaque)) else value


def _capped_range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise RenderFailed(f"range() is limited to {MAX_RANGE} items in templates")
    return result


def _takes_values(func: Any) -> Any:
    """Marks a function whose arguments are values, not widths or counts."""
    func.takes_values = True
    return func


class _Steps:
    """What every `{% for %}` iterates: nested loops over a saved range or string (a billion
    steps, no call in between) stay within the time budget. Sized when its iterable is, so
    loop.length does not copy it into a list."""

    __slots__ = ("_iterable",)

    def __init__(self, iterable: Any):
        self._iterable = iterable

    def __iter__(self):
        for item in self._iterable:
            _check_time()
            yield item

    def __len__(self) -> int:
        return len(self._iterable)


@_takes_values
def bounded_iter(iterable: Any) -> _Steps:
    return _Steps(iterable)


@_takes_values
@pass_context
def bounded_concat(context: Any, *values: Any) -> str:
    """Every `~` comes here: sized from its operands before they are joined."""
    autoescape = context.eval_ctx.autoescape
    _spend(costs.joined(values, escape=autoescape and any(hasattr(value, "__html__") for value in values)))
    return (markup_join if autoescape else str_join)(values)


@_takes_values
def bounded_literal(value: Any, *charge: int) -> Any:
    """Every list, tuple and dict literal comes here: `[l, l, l]` in a recursive macro adds up.
    A literal of constants brings its charge, worked out when the template was compiled."""
    _spend(Cost(*charge) if charge else costs.built(value))
    return value


class _OutputBuffer(list):
    """What a macro, call block, filter block or `{% set %}` block writes: charged as it grows
    (its chunks are joined into one string at the end)."""

    __slots__ = ("_chars",)

    def __init__(self):
        super().__init__()
        self._chars = 0

    def append(self, chunk: str) -> None:
        self._chars += len(chunk)
        _spend(costs.appended(self._chars, chunk))
        super().append(chunk)

    def extend(self, chunks) -> None:
        for chunk in chunks:
            self.append(chunk)


class _BoundedCodeGenerator(CodeGenerator):
    """Macros, call, filter and `{% set %}` blocks collect their output in a list joined at
    the end: here that list is an _OutputBuffer, charged chunk by chunk as it grows."""

    def buffer(self, frame) -> None:
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.output_buffer()")


@pass_eval_context
def _finalize(eval_ctx: Any, value: Any) -> Any:
    """Every `{{ }}` goes through this before it is escaped or made a string."""
    if value is None or callable(value):  # a missing value, or a function: nothing, never "None" or a repr
        return ""
    _spend(costs.output(value, eval_ctx.autoescape))
    return value


def _is_data_method(func: Any) -> bool:
    """Methods of strings, lists, dicts and numbers (and Markup's): each must have an estimate."""
    if isinstance(func, types.BuiltinFunctionType):
        return True
    return isinstance(func, types.MethodType) and isinstance(func.__self__, (str, type))


def _spend_on_call(func: Any, args: tuple, kwargs: dict) -> bool:
    """Charges a call before it is made; True when it builds a value (a method with a cost)."""
    if not getattr(func, "takes_values", False):
        check_numbers((*args, *kwargs.values()))
    # On its way into a macro each argument is copied into a new tuple or list about a dozen
    # times (measured): m(n - 1, *varargs) recursing keeps all those copies alive.
    cost = Cost(nbytes=12 * costs.SLOT * len(args) + 3 * costs.ENTRY * len(kwargs))
    if _is_data_method(func):
        method_cost = call_costs.method(func.__name__, func.__self__, args, kwargs)
        if method_cost is None:
            raise RenderFailed(f"'{func.__name__}' is not available in templates")
        cost += method_cost
    _spend(cost)
    return cost.chars > 0 or cost.items > 0


def _bounded_filter(name: str, func: Any) -> Any:
    value_at = 1 if hasattr(func, "jinja_pass_arg") else 0  # after the context or environment
    estimate = call_costs.FILTERS.get(name)
    make_list = name in call_costs.LAZY_FILTERS

    @functools.wraps(func)  # keeps the jinja_pass_arg marker
    def bounded(*args, **kwargs):
        if name == "format":
            check_format(args[value_at] if len(args) > value_at else None)
        else:
            check_numbers((*args[value_at + 1:], *kwargs.values()))
        _spend(estimate(*args, **kwargs) if estimate else costs.FREE)  # and the clock
        result = func(*args, **kwargs)
        if estimate is None:
            return result
        return _checked(list(result) if make_list and not isinstance(result, str) else result)
    return bounded


class _CappedText:
    """A stream that refuses to grow past MAX_VALUE characters: pprint's output is not
    bounded by its input's repr (nested items are indented by their keys' width)."""

    def __init__(self):
        self.parts: list[str] = []
        self.size = 0

    def write(self, part: str) -> None:
        self.size += len(part)
        _spend(costs.appended(self.size, part))
        self.parts.append(part)


def _pprint(value: Any) -> str:
    stream = _CappedText()
    PrettyPrinter(stream=stream).pprint(value)
    return "".join(stream.parts)[:-1]  # pprint ends with a newline, pformat does not


class BoundedSandbox(ImmutableSandboxedEnvironment):
    code_generator_class = _BoundedCodeGenerator
    output_buffer = _OutputBuffer
    # Every arithmetic operator goes through call_binop, where size and time are checked.
    intercepted_binops = frozenset({"*", "**", "+", "//", "/", "%", "-"})

    def _parse(self, source, name, filename):
        return RouteThroughChecks().visit(super()._parse(source, name, filename))

    def getattr(self, obj, attribute):
        return _opaque(super().getattr(obj, attribute))

    def getitem(self, obj, argument):
        if isinstance(argument, slice) and isinstance(obj, (str, list, tuple)):
            _spend(costs.sliced(obj, argument))
        return _opaque(super().getitem(obj, argument))

    def wrap_str_format(self, value):
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        template, by_name = value.__self__, value.__name__ == "format_map"
        check_format(template)  # "{:>999999999}".format(...): refused before it allocates

        @_takes_values
        @functools.wraps(wrapped)
        def bounded(*args, **kwargs):
            if by_name:  # format_map(mapping): sized by its values, or whole when it is not a dict
                mapping = args[0] if args and isinstance(args[0], dict) else {"": args[0] if args else None}
                _spend(costs.str_format(template, (), mapping))
            else:
                _spend(costs.str_format(template, args, kwargs))
            return _checked(wrapped(*args, **kwargs))
        return bounded

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805  (Jinja's signature)
        func = __obj._func if isinstance(__obj, _Opaque) else __obj
        builds = _spend_on_call(func, args, kwargs)
        result = super().call(__context, func, *args, **kwargs)
        return _checked(result) if builds else result

    def call_binop(self, context, operator, left, right):
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 64:
            raise RenderFailed("exponent too large in template")
        if operator in ("*", "**") and isinstance(left, int) and isinstance(right, int) and (
                left.bit_length() * (right if operator == "**" else 1) + right.bit_length() > MAX_INT_BITS):
            raise RenderFailed("number too large in template")
        if operator == "%" and isinstance(left, str):
            check_format(left)
        cost = costs.binop(operator, left, right)
        _spend(cost)
        result = super().call_binop(context, operator, left, right)
        return _checked(result) if cost is not costs.FREE else result


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    # A customer without a first name has None, not a missing key; `default("there")` is
    # what the marketer meant for both.
    return default_value if value is None else do_default(value, default_value, boolean)


def _make_env(autoescape: bool) -> BoundedSandbox:
    env = BoundedSandbox(autoescape=autoescape, auto_reload=False, cache_size=400, finalize=_finalize)
    env.globals.clear()
    env.globals["range"] = _Opaque(_capped_range)
    env.filters["pprint"] = _pprint
    for name in BLOCKED_FILTERS:  # refused when saved; not there at all when rendered
        del env.filters[name]
    for name, func in list(env.filters.items()):
        env.filters[name] = _bounded_filter(name, func)
    env.filters["default"] = env.filters["d"] = _default
    return env


HTML_ENV = _make_env(autoescape=True)
TEXT_ENV = _make_env(autoescape=False)


def check_template(source: str, *, html: bool = True) -> None:
    """Raise TemplateRejected for syntax errors and sandbox-escape constructs."""
    check_source(HTML_ENV if html else TEXT_ENV, source)


def check_template_field(field: str, source: str | None, *, html: bool = True) -> None:
    """check_template for a field being saved: its refusal is a ValidationFailed naming it."""
    if source is not None:
        try:
            check_template(source, html=html)
        except TemplateRejected as exc:
            raise ValidationFailed(field, str(exc)) from None


@lru_cache(maxsize=256)
def _compiled(source: str, html: bool):
    # Environment.from_string parses and compiles on every call (only loader templates
    # are cached), and a campaign renders the same few sources for every recipient:
    # compiling was ~18 ms of a message's ~50 ms. Errors are raised, so never cached.
    return (HTML_ENV if html else TEXT_ENV).from_string(source)


def _short(reason: str) -> str:
    # The reason is stored on the recipient's row; an error can quote a whole value
    # ([].index(text) says which text is not in the list).
    return reason if len(reason) <= MAX_REASON else reason[:MAX_REASON - 1] + "…"


def render(source: str, context: dict[str, Any], *, html: bool = True) -> str:
    """Render within the time and size budget; raises RenderFailed with a readable reason."""
    # Compiled outside the budget: constants are left to the render.
    return _render(lambda: _compiled(source, html), context)


def render_template(template: Template, context: dict[str, Any]) -> str:
    """render() of a template compiled already (a campaign's compiled message, mail/compiled.py)."""
    return _render(lambda: template, context)


def _render(template_of: Callable[[], Template], context: dict[str, Any]) -> str:
    deadline = time.monotonic() + MAX_SECONDS
    try:
        template = template_of()
        _rendering.budget = _Budget(deadline)
        out = io.StringIO()  # not a list of chunks: a million {{ i }} would keep a million small strings
        size = 0
        monotonic = time.monotonic
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise RenderFailed(f"rendered content is larger than {MAX_OUTPUT:,} characters")
            out.write(chunk)
            if monotonic() > deadline:  # _check_time, inlined: it runs for every chunk
                _check_time()
        return out.getvalue()
    except RenderFailed:
        raise
    except SecurityError as exc:
        raise RenderFailed(_short(f"not allowed in templates: {exc}")) from None
    except TemplateSyntaxError as exc:
        raise RenderFailed(f"line {exc.lineno}: {exc.message}") from None
    except Exception as exc:  # any error inside the marketer's template is that template's fault
        raise RenderFailed(_short(f"{type(exc).__name__}: {exc}")) from None
    finally:
        _rendering.budget = None
