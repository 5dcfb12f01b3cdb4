"""What a template operation will build, estimated from its inputs before it runs.

templating.py asks here before every filter, method, operator, `~`, print and block a
sandboxed template can reach, and refuses the operation when the estimate is over a limit:
nothing large is built first and measured afterwards. An estimate is an upper bound on
- `chars`: the length of the string the operation returns;
- `items`: the items it returns in a list, or walks one at a time in Python (a sort's
  items, wordwrap's words, a format's fields: what makes a single call slow);
- `nbytes`: the bytes it allocates, its working copies included (a split's words).
A value that repeats references (`[s] * 1000`, `l + l`, a literal, a fill value) is
charged as if they were copies: what is printed, compared or sorted later walks it whole,
so every value a template holds costs at most what the render was allowed to spend.
"""

from __future__ import annotations

import re
from collections.abc import Sized
from typing import Any, NamedTuple

from markupsafe import Markup

MAX_VALUE = 1_000_000  # characters of any string a template builds
MAX_ITEMS = 50_000  # items of a list a template builds, or that one call walks in Python

STR = 80  # bytes of a str object besides its characters (72 when not ASCII)
SLOT = 8  # bytes of a reference in a list or tuple
OBJECT = 72  # bytes of a small object made per item (a tuple, a word, a set entry)
ENTRY = 100  # bytes of a dict entry
SHORT_TEXT = 256  # characters: a printed string this short is charged its bound, not counted
LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"  # what str.splitlines splits on
_CONTAINERS = (list, tuple, dict, set, frozenset, range, type({}.keys()), type({}.values()), type({}.items()))
# Width and precision of a printf conversion, and the numbers in a str.format spec (templating
# refuses six digits or more before these run).
_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\d{0,6})(?:\.(\d{0,6}))?")
_PRINTF_REPR = re.compile(r"%(?:\([^)]*\))?[-#0 +*.\d]*[hlL]?[ra]")  # %r and %a print a repr
_FORMAT_SPEC = re.compile(r"\{[^{}]*:[^{}\d]*(\d{0,6})[^{}\d]*(\d{0,6})")


class Cost(NamedTuple):
    chars: int = 0
    items: int = 0
    nbytes: int = 0

    def __add__(self, other: Cost) -> Cost:  # type: ignore[override]  (a sum, not tuple concatenation)
        return Cost(max(self.chars, other.chars), max(self.items, other.items), self.nbytes + other.nbytes)


FREE = Cost()
_SHORT = Cost(chars=24, nbytes=24 + 80)  # a float or None printed


class Footprint(NamedTuple):
    """A value and everything inside it, shared references counted each time."""

    chars: int  # characters of its strings and digits of its numbers
    items: int  # list, tuple, set and dict slots
    wide: bool  # some string is not ASCII (up to 4 bytes a character)
    depth: int

    def repr_len(self) -> int:  # \x00 is 4 characters in a repr, \U0001f600 10; brackets, quotes, commas
        return self.chars * (10 if self.wide else 4) + 44 * (self.items + 1)

    def json_len(self) -> int:  # \u00e9 is 6 characters, a surrogate pair 12
        return self.chars * (12 if self.wide else 6) + 44 * (self.items + 1)

    def nbytes(self) -> int:
        return self.chars * (4 if self.wide else 1) + (OBJECT + SLOT) * self.items + OBJECT

    def cost(self) -> Cost:
        return Cost(items=self.items, nbytes=self.nbytes())


def footprint(value: Any) -> Footprint:
    """Walks at most MAX_ITEMS slots: past that the caller refuses anyway (items says so)."""
    chars = items = depth = 0
    wide = False
    stack = [(value, 1)]
    while stack and items <= MAX_ITEMS:
        value, level = stack.pop()
        if isinstance(value, str):
            chars += len(value)
            wide = wide or not value.isascii()
        elif isinstance(value, bool) or value is None:
            chars += 5
        elif isinstance(value, int):
            chars += value.bit_length() * 3 // 10 + 2
        elif isinstance(value, float):
            chars += 24
        elif isinstance(value, _CONTAINERS):
            items += len(value)
            depth = max(depth, level)
            if items <= MAX_ITEMS:
                stack.extend((inner, level + 1) for inner in (_pairs(value) if isinstance(value, dict) else value))
        else:  # a function, a loop, Undefined: printed as a short word at most
            chars += 40
    return Footprint(chars, items, wide, depth)


def _pairs(mapping: dict):
    for key, value in mapping.items():
        yield key
        yield value


def _wide(*values: Any) -> bool:
    """Some of the values may print characters of more than one byte (a list's repr may)."""
    for value in values:
        if isinstance(value, str) and not value.isascii() or not isinstance(value, (str, int, float, type(None))):
            return True
    return False


def text(chars: int, *inputs: Any, copies: int = 1) -> Cost:
    """A string of `chars` characters made from `inputs` (4 bytes a character unless all are ASCII)."""
    return Cost(chars=chars, nbytes=copies * (chars * (4 if _wide(*inputs) else 1) + STR))


def listing(items: int, *, each: int = SLOT) -> Cost:
    return Cost(items=items, nbytes=OBJECT + each * items)


def as_int(value: Any) -> int:
    """A width or count as the operation will use it; not an int, the operation itself refuses it."""
    return value if isinstance(value, int) else 0


def length_of(value: Any) -> int:
    return len(value) if isinstance(value, Sized) else 0


def printed(value: Any) -> Cost:
    """str(value): the value itself for a string, a repr for anything else."""
    if isinstance(value, str):
        return Cost(chars=len(value))
    if isinstance(value, float) or value is None:
        return _SHORT
    if isinstance(value, int):
        return Cost(chars=value.bit_length() * 3 // 10 + 2, nbytes=value.bit_length() * 3 // 10 + 2 + STR)
    shape = footprint(value)
    return Cost(chars=shape.repr_len(), items=shape.items, nbytes=shape.repr_len() * (4 if shape.wide else 1) + STR)


def text_len(value: Any) -> int:
    """len(str(value)), without making the string."""
    return len(value) if isinstance(value, str) else printed(value).chars


def escaped_len(value: str) -> int:
    """len(escape(value)): & " ' are 5 characters, < > are 4."""
    if isinstance(value, Markup):
        return len(value)
    return len(value) + 4 * (value.count("&") + value.count('"') + value.count("'")) \
        + 3 * (value.count("<") + value.count(">"))


def as_text(value: Any, escape: bool, *, as_repr: bool = False) -> Cost:
    """What one value adds to a text made from it: str() of it (or its repr), escaped when it
    goes into markup."""
    if isinstance(value, str) and as_repr:
        chars = len(value) * (4 if value.isascii() else 10) + 2  # '\x00', '\U0001f600'
        return Cost(chars=chars * (5 if escape else 1))
    if isinstance(value, str):
        return Cost(chars=escaped_len(value) if escape else len(value))
    cost = printed(value)
    return cost._replace(chars=cost.chars * (5 if escape else 1))


def joined(values: Any, *, separator: Any = "", escape: bool = False) -> Cost:
    """The text of all values one after another (join, `~`), stopping once past the limit."""
    count = length_of(values)
    if count > MAX_ITEMS:
        return Cost(items=count)
    gap = as_text(separator, escape)
    chars, items = gap.chars * max(count - 1, 0), count + gap.items
    for value in values:
        part = as_text(value, escape)
        chars, items = chars + part.chars, items + part.items
        if chars > MAX_VALUE or items > MAX_ITEMS:
            break
    wide = _wide(separator) or any(not isinstance(value, str) or not value.isascii() for value in values)
    escapes = count * (STR + SLOT) + chars * (4 if wide else 1) if escape else 0  # a Markup of each part
    return Cost(chars, items, 2 * (chars * (4 if wide else 1) + STR) + SLOT * count + escapes)


def case_changed(value: Any, *, pieces: bool = False) -> Cost:
    """upper, lower, title...: 'ß'.upper() is 'SS', and no character maps to more than 3
    (CPython maps into a buffer of 3 four-byte characters for each one)."""
    source = printed(value)
    chars = source.chars if isinstance(value, str) and value.isascii() else 3 * source.chars
    cost = text(chars, value, copies=1 if isinstance(value, str) else 2) + source + Cost(nbytes=12 * source.chars)
    if pieces:  # the filter splits into words, cases each in two parts and rejoins
        cost += Cost(items=source.chars, nbytes=2 * source.chars * (STR + SLOT))
    return cost


def line_count(value: str) -> int:
    return sum(value.count(mark) for mark in LINE_BREAKS) + 1


def sorting(value: Any, case_sensitive: bool, *, passes: int = 1) -> Cost:
    """sort, unique, dictsort, groupby: a key per item (a lowered copy unless case-sensitive), walked in Python."""
    count = length_of(value)
    if count > MAX_ITEMS:
        return Cost(items=count)
    keys = Cost() if case_sensitive else Cost(nbytes=footprint(value).nbytes())
    return Cost(items=passes * count, nbytes=count * (SLOT + OBJECT)) + keys


def _widest(spec: re.Pattern, template: str) -> int:
    """The widest field a format asks for: width plus precision (%.99f of 1e308 is 309 + 99 digits)."""
    return max((sum(int(number or 0) for number in match.groups()) for match in spec.finditer(template)),
               default=0) + 330


def percent(template: Any, args: Any) -> Cost:
    """`template % args`: each conversion prints at most the largest argument (each argument
    once when they are a tuple; `%(name)s` may print one many times), padded to the widest."""
    if not isinstance(template, str):
        return FREE  # arithmetic
    conversions = template.count("%")
    values = list(args.values()) if isinstance(args, dict) else list(args) if isinstance(args, tuple) else [args]
    if conversions > MAX_ITEMS or len(values) > MAX_ITEMS:
        return Cost(items=max(conversions, len(values)))
    as_repr = _PRINTF_REPR.search(template) is not None
    parts = [as_text(value, isinstance(template, Markup), as_repr=as_repr) for value in values]
    padding = conversions * _widest(_PRINTF_SPEC, template)
    if isinstance(args, tuple):
        chars = sum(part.chars for part in parts) + padding
    else:
        chars = conversions * max((part.chars for part in parts), default=0) + padding
    items = max(conversions, sum(part.items for part in parts))
    return text(len(template) + chars, template, *values, copies=2) + Cost(items=items)


def str_format(template: str, args: tuple, kwargs: dict) -> Cost:
    """str.format and format_map: each field prints at most the largest argument (or a part
    of it: `{0.name}`, `{0[1]}`), padded to the widest; a Python step per field."""
    fields = template.count("{")
    values = [*args, *kwargs.values()]
    if fields > MAX_ITEMS or len(values) > MAX_ITEMS:
        return Cost(items=max(fields, len(values)))
    escape, as_repr = isinstance(template, Markup), "!" in template  # {0!r}, {0!a}
    parts = [as_text(value, escape, as_repr=as_repr) for value in values]
    widest = max((part.chars for part in parts), default=0) + _widest(_FORMAT_SPEC, template)
    items = max(fields, sum(part.items for part in parts))
    return text(len(template) + fields * widest, template, *values, copies=2) + Cost(items=items)


def replace_cost(s: str, old: str, new: Any, new_len: int, count: Any, *, exact: bool) -> Cost:
    if exact:
        found = s.count(old) if old else len(s) + 1
    else:  # counted in a text that is escaped first: at most one a character of old
        found = len(s) // max(len(old), 1) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return text(len(s) + found * max(new_len - len(old), 0), s, old, new, copies=2)


def replaced(eval_ctx: Any, s: Any, old: Any, new: Any, count: Any = None) -> Cost:
    """The replace filter. With autoescape, a Markup `old` or `new` escapes a plain text first,
    and a Markup text escapes `old` and `new`: then occurrences are bounded, not counted."""
    markup_args = hasattr(old, "__html__") or hasattr(new, "__html__")
    new_len = text_len(new)  # replace(s, "x", a_list) puts the list's repr in
    if isinstance(s, str) and not isinstance(s, Markup) and isinstance(old, str) and not (
            eval_ctx.autoescape and markup_args):
        return replace_cost(s, old, new, new_len, count, exact=True) + Cost(chars=new_len, nbytes=new_len + STR)
    source = printed(s)
    grown = 5 * source.chars if eval_ctx.autoescape and not isinstance(s, Markup) else source.chars
    new_len = 5 * new_len if eval_ctx.autoescape else new_len
    found = grown // max(text_len(old), 1) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return text(grown + found * new_len, s, old, new, copies=3) + source


def repeated(sequence: Any, times: Any) -> Cost:
    """`sequence * times`: the references repeated are charged as copies."""
    times = max(as_int(times), 0)
    if isinstance(sequence, str):
        return text(len(sequence) * times, sequence, copies=2 if isinstance(sequence, Markup) else 1)
    if isinstance(sequence, (list, tuple)):
        inside = footprint(sequence) if len(sequence) * times <= MAX_ITEMS else Footprint(0, len(sequence), False, 1)
        return Cost(items=inside.items * times, nbytes=inside.nbytes() * times)
    return FREE


def added(left: Any, right: Any) -> Cost:
    if isinstance(left, str) and isinstance(right, str):
        markup = isinstance(left, Markup) or isinstance(right, Markup)
        chars = escaped_len(left) + escaped_len(right) if markup else len(left) + len(right)
        return text(chars, left, right, copies=2 if markup else 1)
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return footprint(left).cost() + footprint(right).cost()
    return FREE


def binop(operator: str, left: Any, right: Any) -> Cost:
    if operator == "*":
        return repeated(left, right) if isinstance(right, int) else repeated(right, left)
    if operator == "+":
        return added(left, right)
    if operator == "%":
        return percent(left, right)
    if operator == "-" and isinstance(left, _CONTAINERS):  # dict views make sets
        return listing(len(left), each=OBJECT)
    return FREE


def sliced(sequence: Any, key: slice) -> Cost:
    count = len(range(*key.indices(len(sequence))))
    if isinstance(sequence, str):
        return text(count, sequence, copies=2 if isinstance(sequence, Markup) else 1)
    return listing(count)


def built(value: Any) -> Cost:
    """A list, tuple or dict literal, charged for everything it refers to."""
    return footprint(value).cost()


def escaped(value: Any) -> Cost:
    if isinstance(value, str):  # the escaped str, then a Markup of it
        return text(escaped_len(value), value, copies=2)
    source = printed(value)
    return text(5 * source.chars, value, copies=2) + source


def output(value: Any, autoescape: bool) -> Cost:
    """`{{ value }}`: escaped (HTML) or made a string (text); a plain string in text is itself."""
    if type(value) is str and autoescape and len(value) <= SHORT_TEXT:
        # The common print (a name, a city): bounded by five characters a character without
        # counting them, which was a third of rendering a newsletter.
        chars = 5 * len(value)
        return Cost(chars=chars, nbytes=2 * (chars * (1 if value.isascii() else 4) + STR))
    if isinstance(value, Markup) or isinstance(value, str) and not autoescape:
        return FREE if type(value) is str else Cost(nbytes=len(value) * (1 if value.isascii() else 4) + STR)
    return escaped(value) if autoescape else printed(value)


def appended(total: int, part: str) -> Cost:
    """A part written to a buffer that is joined at the end (a macro's output), `total` with it."""
    return Cost(chars=total, nbytes=SLOT + 2 * len(part) * (1 if part.isascii() else 4))
