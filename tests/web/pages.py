"""Reading rendered pages in tests: form errors beside their field, CSRF tokens."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class _FieldErrorParser(HTMLParser):
    """Maps each form control's name to the `.field-error` messages in its `.field` box."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[dict | str | None] = []  # one entry per open <div>
        self.errors: dict[str, list[str]] = {}
        self.capturing: list[str] | None = None

    def _innermost_field(self) -> dict | None:
        return next((e for e in reversed(self.stack) if isinstance(e, dict)), None)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag == "div":
            if "field" in classes:
                self.stack.append({"names": [], "errors": []})
            elif "field-error" in classes:
                self.stack.append("error")
                self.capturing = []
            else:
                self.stack.append(None)
        elif tag in ("input", "select", "textarea") and attributes.get("name"):
            box = self._innermost_field()
            if box is not None:
                box["names"].append(attributes["name"])

    def handle_data(self, data):
        if self.capturing is not None:
            self.capturing.append(data)

    def handle_endtag(self, tag):
        if tag != "div" or not self.stack:
            return
        entry = self.stack.pop()
        if entry == "error":
            box = self._innermost_field()
            if box is not None:
                box["errors"].append("".join(self.capturing or []).strip())
            self.capturing = None
        elif isinstance(entry, dict):
            for name in entry["names"]:
                self.errors.setdefault(name, []).extend(entry["errors"])


def field_errors(html: str) -> dict[str, list[str]]:
    """{control name: [messages shown beside it]} for every form control in `.field` boxes."""
    parser = _FieldErrorParser()
    parser.feed(html)
    parser.close()
    return parser.errors


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or \
        re.search(r'"X-CSRFToken": "([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)
