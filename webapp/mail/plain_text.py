"""The plain-text part of a message, made from its HTML."""

from __future__ import annotations

import functools
import re
from html import unescape

_WS = re.compile(r"[ \t]+")
_BLOCK_TAGS = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"})
_HIDDEN_TAGS = frozenset({"style", "script", "head", "title"})
# Attribute values may hold ">". A run of plain characters is taken whole (atomic): splitting
# it never finds a ">" (there is none in it), and char by char cost a third of html_to_text on
# a design's long style attributes.
_ATTRIBUTES = r"""(?:(?>[^>"']+)|"[^"]*"|'[^']*'|["'])*"""


def _raw_text_element(name: str) -> str:
    # Script and style hold raw text up to their end tag ("<" in them starts no tag); the
    # text is skipped a run of non-"<" characters at a time (a lazy ".*?" tried the end tag
    # at every character).
    return (rf"(?i:{name})(?![a-zA-Z0-9:-]){_ATTRIBUTES}>[^<]*(?:<(?!/(?i:{name})\s*>)[^<]*)*"
            rf"(?:</(?i:{name})\s*>|\Z)")


# A script or style element, a tag (groups: "/" of an end tag, name, attributes), a
# comment, or a declaration; text is what lies between. A comment runs to the first "-->"
# (a run of characters at a time, not a lazy ".*?" that tried "-->" at each: MSO
# conditionals are long comments), or to the end.
_MARKUP = re.compile(rf"<(?:{_raw_text_element('script')}|{_raw_text_element('style')}"
                     rf"|(/?)([a-zA-Z][a-zA-Z0-9:-]*)({_ATTRIBUTES})>|!--[^-]*(?:-(?!->)[^-]*)*(?:-->|$)|![^>]*>)",
                     re.DOTALL)
_HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n\n\n+")
_BLOCK, _LINK, _HIDDEN, _OTHER = "block", "link", "hidden", "other"


@functools.lru_cache(maxsize=1000)  # tag names as written are few; a document of made-up ones stays bounded
def _tag_kind(tag: str) -> str:
    name = tag.lower()
    return _BLOCK if name in _BLOCK_TAGS else _LINK if name == "a" else _HIDDEN if name in _HIDDEN_TAGS else _OTHER


def html_to_text(html: str) -> str:
    """A readable plain-text alternative: paragraphs kept, links shown after their text.

    One regular expression splits the markup (html.parser took ~0.8 ms for a typical
    newsletter: a third of all the work of composing one message); the split's list of
    strings is cheaper to walk than a match object per tag."""
    pieces = _MARKUP.split(html)  # text, then (end, name, attributes, text) per match
    parts = [unescape(pieces[0])]
    links: list[str] = []
    hidden = 0
    for i in range(1, len(pieces), 4):
        end, tag, attributes, text = pieces[i:i + 4]
        if tag is not None:  # None: a script, style, comment or declaration
            kind = _tag_kind(tag)
            if kind is _BLOCK:
                parts.append("\n")
            elif kind is _LINK:
                if not end:
                    href = _HREF.search(attributes)
                    links.append(unescape(next(g for g in href.groups() if g is not None)) if href else "")
                elif links:
                    href = links.pop()
                    if href and not href.startswith(("#", "mailto:")):
                        parts.append(f" ({href})")
            elif kind is _HIDDEN:
                hidden = max(0, hidden - 1) if end else hidden + 1
        if text and not hidden:
            parts.append(unescape(text) if "&" in text else text)
    # Lines stripped first: what is left of runs of blanks is inside lines, and rarely there.
    text = "\n".join([line.strip() for line in "".join(parts).splitlines()])
    if "  " in text or "\t" in text:
        text = _WS.sub(" ", text)
    return _BLANK_LINES.sub("\n\n", text).strip() + "\n"
