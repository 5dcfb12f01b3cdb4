"""Comparing messages: the compiled path against the per-recipient path, as a mail client
would read them (the standard library's parser; HTML as the tree it parses to)."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser

from webapp.mail.compose import Composed

# Different in every message by design.
_RANDOM_HEADERS = {"message-id", "date"}


class _Tree(HTMLParser):
    """Start and end tags with their attributes, text and comments, entities decoded: two
    spellings of one document (`&#39;` and `'`) give the same events."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[tuple] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.events.append(("start", tag, tuple(attrs)))

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.events.append(("start", tag, tuple(attrs)))

    def handle_endtag(self, tag: str) -> None:
        self.events.append(("end", tag))

    def handle_data(self, data: str) -> None:
        if self.events and self.events[-1][0] == "data":
            self.events[-1] = ("data", self.events[-1][1] + data)
        else:
            self.events.append(("data", data))

    def handle_comment(self, data: str) -> None:
        self.events.append(("comment", data))

    def handle_decl(self, decl: str) -> None:
        self.events.append(("decl", decl.lower()))


def html_tree(html: str) -> list[tuple]:
    tree = _Tree()
    tree.feed(html)
    tree.close()
    return tree.events


def parsed(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert not message.defects and all(not part.defects for part in message.walk())
    return message


def _headers(message: EmailMessage) -> list[tuple[str, str]]:
    masked = []
    for name, value in message.items():
        if name.lower() in _RANDOM_HEADERS:
            value = "*"
        elif name.lower() == "content-type":
            value = re.sub(r'boundary="[^"]*"', 'boundary="*"', str(value))
        masked.append((name, str(value)))
    return masked


def assert_same_message(compiled: Composed, reference: Composed) -> None:
    """The same subject, headers (but Message-ID, Date and boundaries), text part, and HTML
    part as a parser reads it; the raw bytes may spell characters differently."""
    assert compiled.subject == reference.subject
    assert compiled.text == reference.text
    ours, theirs = parsed(compiled.message.as_bytes()), parsed(reference.message.as_bytes())
    assert _headers(ours) == _headers(theirs)
    assert [p.get_content_type() for p in ours.walk()] == [p.get_content_type() for p in theirs.walk()]
    assert ours.get_body(("plain",)).get_content() == theirs.get_body(("plain",)).get_content()
    assert html_tree(ours.get_body(("html",)).get_content()) == html_tree(theirs.get_body(("html",)).get_content())
