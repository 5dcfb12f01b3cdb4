"""The merge tags a template uses: every variable it reads, as a dotted path.

`{{ customer.first_name | default("there") }}` reads `customer.first_name` with the
`default` filter; `{{ customer.attributes["seat pref"] }}` reads
`customer.attributes.seat pref`. Names the template sets itself (`{% set %}`, loop
variables, macro arguments, `loop`, `caller`) are its own, not merge tags. The template
is parsed with the sandbox that renders it, so what counts as a tag is what the send sees.
Parsing never raises: a template that does not parse gives a result whose `error` says
why (the save's own check names the line to the marketer).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jinja2 import TemplateSyntaxError, nodes

from webapp.mail.templating import HTML_ENV, TEXT_ENV

# Names every template has without the context giving them.
BUILTIN_NAMES = frozenset({"loop", "caller", "varargs", "kwargs", "range"})
FALLBACK_FILTERS = frozenset({"default", "d"})


@dataclass(frozen=True)
class TagUse:
    """One read of a context value: its dotted path, where, and the filters applied to it."""

    path: str
    line: int | None = None
    filters: tuple[str, ...] = ()

    @property
    def root(self) -> str:
        return self.path.split(".", 1)[0]

    @property
    def has_fallback(self) -> bool:
        return any(name in FALLBACK_FILTERS for name in self.filters)


@dataclass(frozen=True)
class ParsedTags:
    """The tags of one template, or why it could not be parsed (then `tags` is empty)."""

    tags: tuple[TagUse, ...] = ()
    assigned: frozenset[str] = field(default_factory=frozenset)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def paths(self) -> list[str]:
        """Each distinct path once, in the order the template first reads it."""
        return list(dict.fromkeys(tag.path for tag in self.tags))


def parse_tags(source: str, *, html: bool = True) -> ParsedTags:
    """The merge tags `source` reads (see the module's docstring); never raises."""
    if not isinstance(source, str):
        return ParsedTags(error="could not parse: not text")
    try:
        tree = (HTML_ENV if html else TEXT_ENV).parse(source)
    except TemplateSyntaxError as exc:
        where = f"line {exc.lineno}: " if exc.lineno else ""
        return ParsedTags(error=f"could not parse: {where}{exc.message or 'syntax error'}")
    except (RecursionError, MemoryError):  # thousands of "(" exhaust the parser's recursion
        return ParsedTags(error="could not parse: the template nests too deeply")
    assigned = _assigned_names(tree)
    uses = [use for use in _reads(tree) if use.root not in assigned and use.root not in BUILTIN_NAMES]
    return ParsedTags(tags=tuple(uses), assigned=frozenset(assigned))


def _assigned_names(tree: nodes.Template) -> set[str]:
    """Names the template gives values to anywhere: scopes are ignored, so a name set in one
    loop is never reported as a tag elsewhere either (a missed warning, never a false one)."""
    names = {node.name for node in tree.find_all(nodes.Name) if node.ctx in ("store", "param")}
    names.update(node.name for node in tree.find_all(nodes.Macro))
    return names


def _chain(node: nodes.Node) -> list[str] | None:
    """`a.b["c"]` as ["a", "b", "c"]; None when some part is computed (`a[b]`, `f().x`)."""
    parts: list[str] = []
    while True:
        if isinstance(node, nodes.Name):
            return [node.name, *reversed(parts)] if node.ctx == "load" else None
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) \
                and isinstance(node.arg.value, (str, int)) and not isinstance(node.arg.value, bool):
            parts.append(str(node.arg.value))
        else:
            return None
        node = node.node


def _reads(tree: nodes.Template) -> list[TagUse]:
    """Every variable read, in the template's order, walked without recursion (a template
    may nest deeply)."""
    found: list[TagUse] = []
    stack: list[tuple[nodes.Node, tuple[str, ...]]] = [(tree, ())]
    while stack:
        node, filters = stack.pop()
        if isinstance(node, (nodes.Name, nodes.Getattr, nodes.Getitem)):
            chain = _chain(node)
            if chain is not None:
                found.append(TagUse(".".join(chain), getattr(node, "lineno", None), filters))
                continue
        children = [(child, ()) for child in node.iter_child_nodes()]
        if isinstance(node, nodes.Filter) and node.node is not None:
            children = [(node.node, (*filters, node.name)) if child is node.node else (child, ())
                        for child, _ in children]
        elif isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):
            # customer.first_name.upper(): the method is not part of the tag.
            children = [(node.node.node, filters) if child is node.node else (child, ()) for child, _ in children]
        stack.extend(reversed(children))
    return found
