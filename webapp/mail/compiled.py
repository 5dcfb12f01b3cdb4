"""A campaign's HTML compiled once for all its recipients: CSS inlined, footer, preheader and
open pixel in place, so that each recipient's message is one render of the result.

The per-recipient path (compose.compose_many) renders the template, adds the footer, the
preheader and the pixel, and then inlines the stylesheet: html5ever parses the whole
document, every selector is matched and the document is written out again, for every
recipient. None of that depends on the recipient when all markup comes from the template's
static text and personalisation only fills in text and attribute values. So the static text,
with a placeholder wherever Jinja puts something, is inlined once as one document, and the
inlined pieces go back into the template's syntax tree in place of the originals.

Inlining the template before rendering gives the same document as inlining each render when
- every element is static text: values are escaped (no `safe`, `urlize`, `xmlattr`, `tojson`,
  macros, call, filter or set blocks, recursive loops);
- the markup of every branch and loop body is whole elements, so a static element has the
  same ancestors in every render;
- selectors look at nothing but an element, its ancestors and their attributes (no sibling
  or position pseudo-classes, no `+` or `~`: a branch or a loop changes siblings), and no
  attribute that matters to them (class, id, style, or one a selector names) holds Jinja;
- html5ever leaves every placeholder where it was written (not moved out of a table, not
  into an implied element): the tags on either side of each are the same after inlining;
- no entity is split between static text and a value;
- html5ever's repairs of broken markup leave the words of the text part as they were (it is
  made from the compiled HTML), and the links the tracker rewrites.
A template that fails any of these is not compiled (None): its recipients take the
per-recipient path. The result differs from that path's in how some characters are spelled
(values are escaped by Jinja and not written out again by html5ever: `&#39;` where it writes
`'`); the documents parse to the same tree.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

import css_inline
from jinja2 import Template, nodes

from webapp.mail.plain_text import html_to_text
from webapp.mail.templating import HTML_ENV
from webapp.mail.tracking import link_hrefs

_INLINER = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)
# Context names the compiled template reads besides the marketer's: a template that uses
# them itself is not compiled.
PREHEADER_NAME = "crm_compiled_preheader"
OPEN_URL_NAME = "crm_compiled_open_url"
_MARK = "\ue000{}\ue001"  # private-use characters: text and attribute values keep them as they are
_MARKS = re.compile("\ue000(\\d+)\ue001")
_UNSUPPORTED = (nodes.Macro, nodes.CallBlock, nodes.FilterBlock, nodes.AssignBlock, nodes.Block, nodes.Extends,
                nodes.Include, nodes.Import, nodes.FromImport, nodes.EvalContextModifier, nodes.MarkSafe,
                nodes.MarkSafeIfAutoescape)
_MARKUP_FILTERS = frozenset({"safe", "urlize", "xmlattr", "tojson"})  # their output may hold tags or quotes
_STATEMENTS = (nodes.If, nodes.For, nodes.Assign, nodes.With, nodes.Scope)
# Elements whose content html5ever reads in a mode of its own, or moves text out of.
_SPECIAL = re.compile(r"<(?:script|textarea|pre|listing|xmp|iframe|noembed|noframes|noscript|plaintext|template|"
                      r"svg|math|select|frameset)\b", re.IGNORECASE)
_TOKENS = re.compile("<!--.*?-->|<(/?)([a-zA-Z][a-zA-Z0-9:-]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>|\ue000(\\d+)\ue001",
                     re.DOTALL)
_ATTRIBUTE = re.compile(r"""([^\s"'=<>/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
                   "wbr"})
_STYLE_ELEMENT = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.IGNORECASE | re.DOTALL)
_SAFE_PSEUDO = re.compile(r"::?(?:hover|active|focus|visited|link|root|before|after|first-line|first-letter)\b",
                          re.IGNORECASE)
_OPEN_ENTITY = re.compile(r"&[#a-zA-Z0-9]*$")


@dataclass(frozen=True)
class CompiledHtml:
    """The template to render for each recipient, with `unsubscribe_url`, PREHEADER_NAME (the
    rendered preheader, when there is one) and OPEN_URL_NAME (the open pixel's URL) in its
    context. Its output is the final HTML but for the tracked links (Tracker.links)."""

    template: Template


class _NotCompilable(Exception):
    pass


@functools.lru_cache(maxsize=64)
def compile_html(source: str, *, footer: tuple[str, str] | None, preheader: tuple[str, str] | None,
                 pixel: tuple[str, str]) -> CompiledHtml | None:
    """`source` compiled with its CSS inlined and the footer (the markup before and after the
    unsubscribe URL), preheader (before and after its text) and open pixel (before and after
    its URL) where compose() puts them; None when that cannot be done safely (module doc)."""
    if "\ue000" in source or "\ue001" in source:
        return None
    try:
        tree = HTML_ENV.parse(source)
        _check_nodes(tree)
        # In compose()'s order: the footer before </body>, the preheader after <body ...>, the
        # pixel before </body> (after the footer); at the end or the start without them.
        if footer is not None:
            _insert(tree, footer, "unsubscribe_url", _last_exact(tree, "</body>"), at_start=False)
        if preheader is not None:
            _insert(tree, preheader, PREHEADER_NAME, _first_body(tree), at_start=True)
        before_tracking = _skeleton(_static_groups(tree)[0])  # what compose() makes the text part from
        _insert(tree, pixel, OPEN_URL_NAME, _last_body_end(tree), at_start=False)
        tree.set_environment(HTML_ENV)
        groups, blocks = _static_groups(tree)
        skeleton = _skeleton(groups)
        _check_skeleton(skeleton, blocks)
        inlined = _INLINER.inline(skeleton)
        if _neighbours(inlined) != _neighbours(skeleton):
            raise _NotCompilable("html5ever moved a placeholder")
        # The text part comes from the compiled (inlined) HTML: html5ever's repairs of broken
        # markup (an unclosed tag or quote) must not change its words.
        repaired, written = _MARKS.sub("x", inlined), _MARKS.sub("x", before_tracking)
        if html_to_text(repaired) != html_to_text(written):
            raise _NotCompilable("inlining changes the text part")
        # Nor the links the tracker rewrites: the per-recipient path finds them in the
        # unrepaired render (an unclosed <img alt=" there has an <a href= of its own).
        if link_hrefs(repaired) != link_hrefs(written):
            raise _NotCompilable("inlining changes the links")
        pieces = _MARKS.split(inlined)
        if [int(index) for index in pieces[1::2]] != list(range(len(groups) - 1)):
            raise _NotCompilable("placeholders lost or out of order")
        for group, piece in zip(groups, pieces[0::2], strict=True):
            if not group:
                if piece:
                    raise _NotCompilable("html5ever put markup between two placeholders")
                continue
            group[0].data = piece
            for node in group[1:]:
                node.data = ""
        return CompiledHtml(HTML_ENV.from_string(tree))
    except Exception:  # noqa: BLE001  not compilable, a syntax error, an inliner error: the per-recipient path is the judge
        return None


def _skeleton(groups: list[list[nodes.TemplateData]]) -> str:
    """The static text with placeholder i after run i."""
    return "".join("".join(node.data for node in group) + (_MARK.format(i) if i < len(groups) - 1 else "")
                   for i, group in enumerate(groups))


def _check_nodes(tree: nodes.Template) -> None:
    if any(True for _ in tree.find_all(_UNSUPPORTED)):
        raise _NotCompilable("macros, blocks or markup made at render time")
    if any(f.name in _MARKUP_FILTERS for f in tree.find_all(nodes.Filter)):
        raise _NotCompilable("a filter whose output is markup")
    if any(n.name in (PREHEADER_NAME, OPEN_URL_NAME) for n in tree.find_all(nodes.Name)):
        raise _NotCompilable("the template uses a name of the compiled message")
    if any(f.recursive for f in tree.find_all(nodes.For)):
        raise _NotCompilable("a recursive loop")
    for node in tree.find_all(nodes.Stmt):
        if not isinstance(node, (nodes.Output, *_STATEMENTS)):
            raise _NotCompilable(f"a {type(node).__name__} statement")
    static = [d.data for d in tree.find_all(nodes.TemplateData)]
    if any(_SPECIAL.search(data) for data in static):
        raise _NotCompilable("an element html5ever reads in a mode of its own")
    # The footer, the preheader and the pixel go where compose() finds <body> and </body> in
    # the rendered HTML: one of each at most, outside every block.
    everywhere = "".join(static).lower()
    top = "".join(siblings[index].data for siblings, index in _top_data(tree)).lower()
    for tag in ("<body", "</body"):
        if everywhere.count(tag) > 1 or everywhere.count(tag) != top.count(tag):
            raise _NotCompilable(f"{tag}> more than once, or inside a block")


# --- the footer, preheader and pixel, where compose() puts them -------------------------

_Place = tuple[list, int, int]  # an Output's nodes, a TemplateData's index among them, a character offset


def _top_data(tree: nodes.Template) -> Iterator[tuple[list, int]]:
    for output in tree.body:
        if isinstance(output, nodes.Output):
            for index, node in enumerate(output.nodes):
                if isinstance(node, nodes.TemplateData):
                    yield output.nodes, index


def _last_exact(tree: nodes.Template, text: str) -> _Place | None:
    found = None
    for siblings, index in _top_data(tree):
        at = siblings[index].data.lower().rfind(text)
        if at != -1:
            found = (siblings, index, at)
    return found


def _first_body(tree: nodes.Template) -> _Place | None:
    for siblings, index in _top_data(tree):
        data = siblings[index].data
        match = re.search(r"<body[^>]*>", data, re.IGNORECASE)
        if match:
            return siblings, index, match.end()
        if "<body" in data.lower():
            raise _NotCompilable("the <body> tag holds Jinja")
    return None


def _last_body_end(tree: nodes.Template) -> _Place | None:
    found = None
    for siblings, index in _top_data(tree):
        matches = list(re.finditer(r"</body\s*>", siblings[index].data, re.IGNORECASE))
        if matches:
            found = (siblings, index, matches[-1].start())
    return found


def _insert(tree: nodes.Template, parts: tuple[str, str], name: str, place: _Place | None, *,
            at_start: bool) -> None:
    """`parts[0]`, the value of `name`, `parts[1]` at `place`, else at the start or the end."""
    added = [nodes.TemplateData(parts[0], lineno=1), nodes.Name(name, "load", lineno=1),
             nodes.TemplateData(parts[1], lineno=1)]
    if place is None:
        tree.body.insert(0 if at_start else len(tree.body), nodes.Output(added, lineno=1))
        return
    siblings, index, at = place
    data = siblings[index].data
    siblings[index:index + 1] = [nodes.TemplateData(data[:at], lineno=1), *added,
                                 nodes.TemplateData(data[at:], lineno=1)]


# --- the static text and its placeholders ---------------------------------------------------

def _static_groups(tree: nodes.Template) -> tuple[list[list[nodes.TemplateData]], set[int]]:
    """The template's static text in document order, in runs that a placeholder separates:
    one wherever Jinja prints a value or a block starts, changes branch or ends; and which
    placeholders (placeholder i follows run i) are such block boundaries."""
    groups: list[list[nodes.TemplateData]] = [[]]
    blocks: set[int] = set()

    def mark(block: bool) -> None:
        if block:
            blocks.add(len(groups) - 1)
        groups.append([])

    def walk(body: list) -> None:
        for node in body:
            if isinstance(node, nodes.Output):
                for child in node.nodes:
                    if isinstance(child, nodes.TemplateData):
                        groups[-1].append(child)
                    else:
                        mark(block=False)
            else:
                mark(block=True)
                for field in node.fields:
                    value = getattr(node, field)
                    if isinstance(value, list) and any(isinstance(item, nodes.Stmt) for item in value):
                        _check_whole_elements(value)
                        walk(value)
                        mark(block=True)

    walk(tree.body)
    return groups, blocks


def _check_whole_elements(body: list) -> None:
    """A branch or loop body opens and closes its own elements (blocks inside it are checked
    on their own), so a static element has the same ancestors whatever the data."""
    text = "".join("".join(c.data if isinstance(c, nodes.TemplateData) else "x" for c in node.nodes)
                   if isinstance(node, nodes.Output) else " " for node in body)
    stack: list[str] = []
    for match in _TOKENS.finditer(text):
        if match.group(2) is None:
            continue
        name = match.group(2).lower()
        if name in _VOID or match.group(3).rstrip().endswith("/"):
            continue
        if not match.group(1):
            stack.append(name)
        elif not stack or stack.pop() != name:
            raise _NotCompilable(f"a block closes <{name}> it did not open")
    if stack:
        raise _NotCompilable(f"a block leaves <{stack[-1]}> open")


def _check_skeleton(skeleton: str, blocks: set[int]) -> None:
    selector_attributes = _check_stylesheets(skeleton)
    in_style = False
    for match in _TOKENS.finditer(skeleton):
        closing, name, attributes, mark = match.groups()
        if mark is not None:
            if in_style:
                raise _NotCompilable("Jinja inside <style>")
            _check_joint(skeleton, match.start())
        elif name is not None:
            if name.lower() == "style":
                in_style = not closing
            if "\ue000" in attributes:
                if any(int(index) in blocks for index in _MARKS.findall(attributes)):
                    raise _NotCompilable("a block starts or ends inside a tag")
                _check_attributes(skeleton, match.start(3), attributes, selector_attributes)


def _check_attributes(skeleton: str, offset: int, attributes: str, selector_attributes: set[str]) -> None:
    # Jinja only inside quoted values of attributes no selector reads.
    if "\ue000" in re.sub(r"\"[^\"]*\"|'[^']*'", "", attributes):
        raise _NotCompilable("Jinja in a tag outside a quoted attribute value")
    for match in _ATTRIBUTE.finditer(attributes):
        value = match.group(2) if match.group(2) is not None else match.group(3)
        if value and "\ue000" in value:
            if match.group(1).lower() in {"class", "id", "style", *selector_attributes}:
                raise _NotCompilable(f"Jinja in a {match.group(1)} attribute")
            for mark in _MARKS.finditer(value):
                _check_joint(skeleton, offset + match.start(2 if match.group(2) is not None else 3) + mark.start())


def _check_joint(skeleton: str, at: int) -> None:
    if _OPEN_ENTITY.search(skeleton, max(0, at - 40), at):
        raise _NotCompilable("an entity split between static text and a value")


def _check_stylesheets(skeleton: str) -> set[str]:
    """The attributes the selectors read; refuses selectors that look at siblings or position."""
    names: set[str] = set()
    for css in _STYLE_ELEMENT.findall(skeleton):
        css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
        while True:  # declarations, innermost first (@media nests rules)
            stripped = re.sub(r"\{[^{}]*\}", ",", css)
            if stripped == css:
                break
            css = stripped
        selectors = _SAFE_PSEUDO.sub("", re.sub(r"@[^,{;]*", "", css))
        if re.search(r"[+~:]", selectors):
            raise _NotCompilable("a selector that looks at siblings or position")
        names.update(name.lower() for name in re.findall(r"\[\s*([^\s~|^$*=\]]+)", selectors))
    return names


def _neighbours(html: str) -> dict[int, tuple]:
    """Each placeholder in text: the tags just before and after it (style elements left out,
    the html, head and body tags html5ever adds at the ends counted as none)."""
    found: dict[int, tuple] = {}
    previous = None
    waiting: list[int] = []
    for match in _TOKENS.finditer(html):
        closing, name, _, mark = match.groups()
        if mark is not None:
            found[int(mark)] = (previous,)
            waiting.append(int(mark))
        elif name is not None and name.lower() != "style":
            tag = (name.lower(), bool(closing))
            for index in waiting:
                found[index] += (tag,)
            waiting = []
            previous = tag
    for index in waiting:
        found[index] += (None,)
    # html5ever writes <html>, <head> and <body> where a fragment has none: the ends of the
    # body are the ends of the document.
    for index, (before, after) in found.items():
        found[index] = (None if before == ("body", False) else before,
                        None if after in (("body", True), ("html", True)) else after)
    return found
