"""What a template's filters and methods will build, estimated before they run: the tables
templating.py looks a call up in (template_costs.py has the estimates of operators, prints
and blocks, and the primitives both use)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2.filters import make_attrgetter
from markupsafe import Markup

from webapp.mail.template_costs import (
    ENTRY,
    FREE,
    MAX_ITEMS,
    OBJECT,
    SLOT,
    STR,
    Cost,
    as_int,
    as_text,
    case_changed,
    escaped,
    escaped_len,
    footprint,
    joined,
    length_of,
    line_count,
    listing,
    percent,
    printed,
    replace_cost,
    replaced,
    sorting,
    text,
    text_len,
)

# Filters. Each estimate takes the filter's own arguments (the environment, eval context or
# context first where the filter takes one) and returns its Cost. Filters that return a
# number, a bool or one of their inputs are FREE; ones not here are not available.
FILTERS: dict[str, Callable[..., Cost]] = {}
FREE_FILTERS = frozenset({"abs", "count", "length", "first", "last", "float", "int", "random", "round",
                          "filesizeformat"})
# Filters that return an iterator: templating makes a list of it (sized, printable).
LAZY_FILTERS = frozenset({"batch", "slice", "select", "reject", "selectattr", "rejectattr", "unique", "items",
                          "reverse"})


def _filter(*names: str):
    def register(estimate):
        for name in names:
            FILTERS[name] = estimate
        return estimate
    return register


@_filter("max", "min")
def _extremes(environment, value, case_sensitive=False, attribute=None):
    return Cost(items=length_of(value))


@_filter("batch")
def _batch(value, linecount, fill_with=None):
    count, size = length_of(value), max(as_int(linecount), 1)
    filled = max(as_int(linecount), 0) if fill_with is not None else 0
    fill = footprint(fill_with).cost() if filled else FREE
    return Cost(items=count + filled * max(fill.items, 1), nbytes=2 * SLOT * (count + filled) + OBJECT * (
        count // size + 1) + filled * fill.nbytes)  # lists that grow by append keep room to spare


@_filter("capitalize", "lower", "upper")
def _cased(s):
    return case_changed(s)


@_filter("title")
def _title(s):
    return case_changed(s, pieces=True)  # split into words and rejoined in Python


@_filter("center")
def _center(value, width=80):
    source = printed(value)
    return text(max(source.chars, as_int(width)), value, copies=2) + source


@_filter("dictsort")
def _dictsort(value, case_sensitive=False, by="key", reverse=False):
    return sorting(value, case_sensitive) + listing(length_of(value), each=SLOT + OBJECT)


_filter("e", "escape", "forceescape")(escaped)


@_filter("format")
def _format(value, *args, **kwargs):
    if isinstance(value, str):
        return percent(value, kwargs or args)
    if isinstance(value, (int, float)) or value is None:  # no % in str(value)
        return printed(value)
    # formats str(value), whose widths were never checked (['%999999999d']): as if every
    # character were a conversion of the widest allowed
    source = printed(value)
    widest = max((as_text(arg, False).chars for arg in [*args, *kwargs.values()][:MAX_ITEMS]), default=0)
    return text(source.chars * (widest + 99_999 + 330), value, *args, copies=2) + source


@_filter("groupby")
def _groupby(environment, value, attribute, default=None, case_sensitive=False):
    return sorting(value, case_sensitive, passes=3) + listing(length_of(value), each=2 * OBJECT)


@_filter("indent")
def _indent(s, width=4, first=False, blank=False):
    source = printed(s)  # every line gets the indention (a string, or that many spaces) and a newline
    indention = len(width) if isinstance(width, str) else max(as_int(width), 0)
    lines = line_count(s) if isinstance(s, str) else source.chars + 1
    chars = source.chars + 1 + lines * (indention + 1)
    return text(chars, s, width, copies=3) + listing(lines, each=SLOT + STR) + source


@_filter("items")
def _items(value):
    return listing(length_of(value), each=SLOT + OBJECT)


@_filter("join")
def _join(eval_ctx, value, d="", attribute=None):
    """With autoescape, items are escaped when the separator or an item is Markup; joined
    attributes are parts of the items, so bounded by the items' whole text."""
    escape = eval_ctx.autoescape and (attribute is not None or hasattr(d, "__html__") or any(
        hasattr(item, "__html__") for item in (value if length_of(value) <= MAX_ITEMS else ())))
    return joined(value, separator=d, escape=escape) + Cost(items=length_of(value))


@_filter("list")
def _list(eval_ctx, value):
    count = length_of(value)
    each = SLOT + (OBJECT if isinstance(value, str) and not value.isascii() else 0)  # 'é' is one object each time
    return listing(count, each=each)


@_filter("pprint")
def _pprint(value):
    shape = footprint(value)  # at least its repr; templating's pprint stops at MAX_VALUE as it writes
    return Cost(chars=shape.repr_len(), items=3 * shape.items, nbytes=3 * shape.repr_len() * (4 if shape.wide else 1))


@_filter("reject", "select", "rejectattr", "selectattr")
def _selected(context, value, *args, **kwargs):
    return listing(length_of(value))


@_filter("replace")
def _replace_filter(eval_ctx, s, old, new, count=None):
    return replaced(eval_ctx, s, old, new, count)


@_filter("reverse")
def _reverse(value):
    return text(len(value), value, copies=2) if isinstance(value, str) else listing(length_of(value))


@_filter("safe")
def _safe(value):
    source = printed(value)
    return text(source.chars, value, copies=2) + source


@_filter("slice")
def _slice(eval_ctx, value, slices, fill_with=None):
    count, parts = length_of(value), max(as_int(slices), 0)
    fill = footprint(fill_with).cost() if fill_with is not None else FREE
    return Cost(items=count + parts * max(fill.items, 1),
                nbytes=2 * SLOT * count + (OBJECT + fill.nbytes) * parts)


@_filter("sort")
def _sort(environment, value, reverse=False, case_sensitive=False, attribute=None):
    return sorting(value, case_sensitive) + listing(length_of(value))


@_filter("string")
def _string(value):
    return FREE if isinstance(value, str) else printed(value)


@_filter("striptags")
def _striptags(value):
    source = printed(value)  # a Python step per tag; the text between split into words and rejoined
    tags = value.count("<") + 1 if isinstance(value, str) else source.chars // 2 + 1
    words = _words(value) if isinstance(value, str) else source.chars // 2 + 1
    return text(source.chars, value, copies=4) + source + Cost(items=tags, nbytes=(tags + words) * (STR + SLOT))


def _words(s: str) -> int:
    """At most how many words s.split() makes: one more than its whitespace, and one every two characters."""
    if not s.isascii():  # str.split() also splits on non-ASCII spaces
        return len(s) // 2 + 1
    return min(sum(s.count(space) for space in " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f") + 1, len(s) // 2 + 1)


@_filter("sum")
def _sum(environment, iterable, attribute=None, start=0):
    if length_of(iterable) > MAX_ITEMS:
        return Cost(items=length_of(iterable))
    values = list(map(make_attrgetter(environment, attribute), iterable)) if attribute is not None else iterable
    if not isinstance(start, (list, tuple)) and not any(isinstance(value, (list, tuple)) for value in values):
        return FREE  # numbers
    # sum() adds one at a time: every partial list is a new copy
    running, copied = length_of(start), 0
    for value in values:
        running += length_of(value)
        copied += running
    return Cost(items=running, nbytes=SLOT * copied + OBJECT * len(values))


@_filter("tojson")
def _tojson(eval_ctx, value, indent=None):
    shape = footprint(value)
    chars = shape.json_len() + (shape.items + 1) * (1 + max(as_int(indent), 0) * shape.depth)
    return Cost(chars=chars, items=shape.items, nbytes=5 * (chars + STR))  # dumps, 4 replaces, Markup


@_filter("trim")
def _trim(value, chars=None):
    source = printed(value)
    return text(source.chars, value, copies=2) + source


@_filter("truncate")
def _truncate(environment, s, length=255, killwords=False, end="...", leeway=None):
    source = printed(s)
    length = max(as_int(length), 0)
    if source.chars <= length:
        return source
    return text(min(source.chars, length) + text_len(end), s, end, copies=3) + source


@_filter("unique")
def _unique(environment, value, case_sensitive=False, attribute=None):
    return sorting(value, case_sensitive) + listing(length_of(value), each=SLOT + OBJECT)


@_filter("urlencode")
def _urlencode(value):
    shape = footprint(value)  # each UTF-8 byte (up to 4 a character) may become %XX
    chars = 12 * shape.chars + 2 * shape.items
    return Cost(chars=chars, items=shape.items, nbytes=4 * chars + STR)


@_filter("urlize")
def _urlize(eval_ctx, value, trim_url_limit=None, nofollow=False, target=None, rel=None, extra_schemes=None):
    source = printed(value)  # a Python step per word; a word may become <a href="word" ...>word</a>, escaped
    words = _words(value) if isinstance(value, str) else source.chars // 2 + 1
    per_link = 60 + text_len(target or "") + text_len(rel or "")
    chars = 10 * source.chars + words * per_link
    return text(chars, value, target, rel, copies=2) + source + Cost(items=words, nbytes=words * (STR + SLOT))


@_filter("wordcount")
def _wordcount(s):
    source = printed(s)  # findall makes a list of the words
    return source + Cost(nbytes=(source.chars // 2 + 1) * (STR + SLOT))


@_filter("wordwrap")
def _wordwrap(environment, s, width=79, break_long_words=True, wrapstring=None, break_on_hyphens=True):
    source = printed(s)  # textwrap's chunks: words, spaces, hyphenated parts, pieces of long words
    wrapstring = environment.newline_sequence if wrapstring is None else wrapstring
    breaks = sum(s.count(mark) for mark in "\t\n\x0b\x0c\r -") if isinstance(s, str) else source.chars
    chunks = min(2 * breaks + source.chars // max(as_int(width), 1) + 2, source.chars + 1)
    chars = source.chars + chunks * text_len(wrapstring)
    return text(chars, s, wrapstring, copies=2) + source + Cost(items=chunks, nbytes=chunks * (STR + SLOT))


# Methods of strings, lists, dicts, sets and numbers, by name. Those that return a number,
# a bool, one of their inputs or a view are FREE; ones not here are not available
# (encode, translate, maketrans, to_bytes...: nothing a message needs).
FREE_METHODS = frozenset({
    "count", "endswith", "find", "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier",
    "islower", "isnumeric", "isprintable", "isspace", "istitle", "isupper", "rfind", "rindex", "startswith",
    "get", "keys", "values", "items", "isdisjoint", "issubset", "issuperset",
    "bit_length", "bit_count", "conjugate", "as_integer_ratio", "is_integer", "hex", "fromhex"})


_SET_METHODS = frozenset({"union", "intersection", "difference", "symmetric_difference"})


def method(name: str, owner: Any, args: tuple, kwargs: dict) -> Cost | None:
    """The cost of owner.name(*args, **kwargs); None when the method is not available."""
    if name in FREE_METHODS:
        return FREE
    if isinstance(owner, str):
        estimate = _STR_METHODS.get(name)
        return estimate(owner, *args, **kwargs) if estimate else None
    if isinstance(owner, type) and issubclass(owner, Markup) and name == "escape":
        return escaped(*args, **kwargs)
    if name == "copy" and isinstance(owner, (list, dict, set, frozenset)):
        return listing(len(owner), each=ENTRY if isinstance(owner, dict) else SLOT)
    if name == "fromkeys" and owner is dict:
        return _fromkeys(*args, **kwargs)
    if name in _SET_METHODS and isinstance(owner, (set, frozenset)):
        return listing(len(owner) + sum(map(length_of, args)), each=OBJECT)
    return None


def _fromkeys(iterable, value=None):
    count = length_of(iterable)
    shared = footprint(value).cost() if count <= MAX_ITEMS else FREE
    return Cost(items=count * max(shared.items, 1), nbytes=count * (ENTRY + shared.nbytes))


def _copies(s: str) -> int:
    return 2 if isinstance(s, Markup) else 1  # Markup's methods make a str, then a Markup of it


def _arg_len(s: str, arg: Any) -> int:
    """Markup's methods escape their string arguments."""
    if not isinstance(arg, str):
        return 5 * text_len(arg) if isinstance(s, Markup) else text_len(arg)
    return escaped_len(arg) if isinstance(s, Markup) else len(arg)


def _pieces(s: str, count: int) -> Cost:
    return Cost(items=count, nbytes=count * (SLOT + STR) * _copies(s)) + text(len(s), s, copies=_copies(s))


def _split(s, sep=None, maxsplit=-1):
    count = s.count(sep) + 1 if isinstance(sep, str) and sep else len(s) // 2 + 1
    if isinstance(maxsplit, int) and maxsplit >= 0:
        count = min(count, maxsplit + 1)
    return _pieces(s, count)


def _join_method(s, iterable):
    return joined(iterable, separator=s, escape=isinstance(s, Markup))


def _copy(s, *args):
    return text(len(s), s, copies=_copies(s))


def _unescape(s):
    return Cost(chars=len(s), nbytes=4 * len(s) + STR)  # &#128512; is one character, of 4 bytes


def _padded(s, width, fillchar=" "):
    return text(max(len(s), as_int(width)), s, fillchar, copies=_copies(s))


_STR_METHODS: dict[str, Callable[..., Cost]] = {
    **dict.fromkeys(("strip", "lstrip", "rstrip", "removeprefix", "removesuffix"), _copy),
    "unescape": _unescape,
    **dict.fromkeys(("lower", "upper", "title", "capitalize", "swapcase", "casefold"),
                    lambda s: case_changed(s) + Cost(nbytes=len(s) * (_copies(s) - 1))),
    **dict.fromkeys(("center", "ljust", "rjust"), _padded),
    "zfill": lambda s, width: text(max(len(s), as_int(width)), s, copies=_copies(s)),
    "expandtabs": lambda s, tabsize=8: text(len(s) + s.count("\t") * max(as_int(tabsize), 0), s, copies=_copies(s)),
    "join": _join_method,
    "split": _split,
    "rsplit": _split,
    "splitlines": lambda s, keepends=False: _pieces(s, line_count(s)),
    "partition": lambda s, sep: _pieces(s, 3),
    "rpartition": lambda s, sep: _pieces(s, 3),
    "replace": lambda s, old, new, count=-1: replace_cost(s, old if isinstance(old, str) else "", new, _arg_len(s, new),
                                                      count, exact=isinstance(old, str) and not isinstance(s, Markup)),
    "striptags": _striptags,
}
SIZED_METHODS = frozenset(_STR_METHODS) | _SET_METHODS | {"copy", "fromkeys", "escape"}
