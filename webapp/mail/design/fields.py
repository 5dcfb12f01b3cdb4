"""The kinds of field a block has: how each is checked, and how its value is written into MJML.

Text fields hold merge tags (`{{ customer.first_name | default("there") }}`): they are
checked as templates here, one field at a time, so an error names its block and field, and
they stay Jinja in the compiled HTML, personalised at send time."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from html import escape
from typing import Any

import nh3

from webapp.infra.errors import ValidationFailed
from webapp.infra.types import MAX_ID
from webapp.mail.templating import check_template_field

# A merge tag or template statement: kept as written when the text around it is escaped.
TEMPLATE_PART = re.compile(r"(\{\{.*?\}\}|\{%.*?%\})", re.DOTALL)
_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")
_LINK_START = re.compile(r"^(?:https?://[^\s/?#]+|mailto:\S|tel:\+?[0-9]|\{\{)", re.IGNORECASE)
_EVENT_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")
_PLACEHOLDER = re.compile("[\ue000\ue001]")
_PLACEHOLDER_REF = re.compile("\ue000([0-9]+)\ue001")
_ALIGN_CLASS = re.compile(r'\sclass="ql-align-(center|right|justify)"')

RICH_TAGS = {"p", "br", "strong", "b", "em", "i", "u", "s", "a", "ul", "ol", "li", "span"}
RICH_ATTRIBUTES = {"a": {"href", "title"}, "p": {"style"}, "li": {"style"}, "span": {"style"}}
MAX_TEXT = 2_000
MAX_RICH = 50_000
MAX_URL = 2_000


@dataclass(frozen=True)
class Field:
    """One setting of a block, as the builder's side panel edits it."""

    name: str
    label: str
    kind: str  # text | richtext | url | asset | number | select | color | checkbox | links | event | columns
    default: Any = None
    required: bool = False
    options: tuple[tuple[str, str], ...] = ()
    min: int | None = None
    max: int | None = None
    max_length: int = MAX_TEXT
    hint: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "label": self.label, "kind": self.kind}
        for key in ("required", "hint"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.options:
            out["options"] = [list(o) for o in self.options]
        if self.min is not None:
            out["min"], out["max"] = self.min, self.max
        return {**out, **self.extra}


def _text(value: Any, path: str, limit: int) -> str:
    if not isinstance(value, str):
        raise ValidationFailed(path, "must be text")
    if "\x00" in value:
        raise ValidationFailed(path, "must not contain NUL characters")
    if len(value) > limit:
        raise ValidationFailed(path, f"must be at most {limit:,} characters")
    return value


def _template(value: str, path: str) -> str:
    check_template_field(path, value, html=True)
    return value


def clean_rich_text(html: str) -> str:
    """The rich-text editor's HTML, down to what email clients show alike: its alignment
    classes become inline styles, and everything not allowlisted (scripts, handlers, images,
    classes) is dropped by nh3 (the ammonia sanitiser)."""
    html = _ALIGN_CLASS.sub(lambda m: f' style="text-align:{m.group(1)}"', html)
    # Merge tags and conditions step aside while the sanitiser runs: it would escape the
    # ">" of {% if customer.orders_count > 2 %} and break the template.
    kept: list[str] = []

    def keep(match: re.Match) -> str:
        kept.append(match.group(0))
        return f"\ue000{len(kept) - 1}\ue001"

    html = _PLACEHOLDER.sub("", html)  # private-use marks are never the editor's own
    clean = nh3.clean(TEMPLATE_PART.sub(keep, html), tags=RICH_TAGS, attributes=RICH_ATTRIBUTES,
                      filter_style_properties={"text-align"}, url_schemes={"http", "https", "mailto", "tel"},
                      link_rel=None)
    return _PLACEHOLDER_REF.sub(lambda m: kept[int(m.group(1))], clean)


def check_value(spec: Field, value: Any, path: str) -> Any:
    """The field's value, normalised, or ValidationFailed naming `path`."""
    kind = spec.kind
    if value is None:
        if spec.required:
            raise ValidationFailed(path, "is required")
        return copy.deepcopy(spec.default)
    if kind == "text":
        value = _template(_text(value, path, spec.max_length), path)
        if spec.required and not value.strip():
            raise ValidationFailed(path, "must not be empty")
        return value
    if kind == "richtext":
        return _template(clean_rich_text(_text(value, path, MAX_RICH)), path)
    if kind == "url":
        return check_url(value, path, required=spec.required)
    if kind == "color":
        if not isinstance(value, str) or not _COLOR.match(value):
            raise ValidationFailed(path, "must be a colour like #3355ff")
        return value.lower()
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationFailed(path, "must be a whole number")
        if not spec.min <= value <= spec.max:
            raise ValidationFailed(path, f"must be between {spec.min} and {spec.max}")
        return value
    if kind == "select":
        # Compared one by one: a list or an object from the JSON is not hashable.
        if not isinstance(value, (str, int)) or isinstance(value, bool) or \
                not any(value == option for option, _ in spec.options):
            raise ValidationFailed(path, "must be one of " + ", ".join(str(o[0]) for o in spec.options))
        return value
    if kind == "checkbox":
        if not isinstance(value, bool):
            raise ValidationFailed(path, "must be true or false")
        return value
    if kind == "asset":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
            raise ValidationFailed(path, "must be the id of an uploaded image")
        return value
    if kind == "event":
        return check_event(value, path)
    if kind == "links":
        return check_links(value, path, spec.extra.get("networks", ()))
    raise ValidationFailed(path, "cannot be set")  # columns are checked by the block tree


def check_url(value: Any, path: str, *, required: bool = False) -> str:
    value = _text(value, path, MAX_URL).strip()
    if not value:
        if required:
            raise ValidationFailed(path, "is required")
        return ""
    if any(c in value for c in ' "<>\r\n\t') and not TEMPLATE_PART.search(value):
        raise ValidationFailed(path, "must be a web address without spaces or quotes")
    if not _LINK_START.match(value):
        raise ValidationFailed(path, "must be an absolute http(s) URL (or mailto:, tel:, or a merge tag)")
    return _template(value, path)


def check_event(value: Any, path: str) -> Any:
    if value == "next":
        return value
    if isinstance(value, dict) and set(value) == {"id"} and isinstance(value["id"], str) \
            and _EVENT_ID.match(value["id"]):
        return {"id": value["id"]}
    raise ValidationFailed(path, 'must be "next" or {"id": "<the platform\'s event id>"}')


def check_links(value: Any, path: str, networks: tuple[str, ...]) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise ValidationFailed(path, "must be a list of links")
    if len(value) > 10:
        raise ValidationFailed(path, "at most 10 links")
    out = []
    for i, link in enumerate(value):
        here = f"{path}[{i}]"
        if not isinstance(link, dict) or set(link) - {"network", "url"}:
            raise ValidationFailed(here, 'must be {"network": ..., "url": ...}')
        if link.get("network") not in networks:
            raise ValidationFailed(f"{here}.network", "must be one of " + ", ".join(networks))
        out.append({"network": link["network"], "url": check_url(link.get("url"), f"{here}.url", required=True)})
    return out


# --- writing values into MJML -----------------------------------------------------------

def text_html(value: str) -> str:
    """Plain text as HTML: escaped, line breaks kept, merge tags left for the send."""
    parts = TEMPLATE_PART.split(value)
    return "".join(part if i % 2 else escape(part, quote=False).replace("\n", "<br>")
                   for i, part in enumerate(parts))


def attribute(value: str) -> str:
    """A value for a double-quoted MJML attribute; merge tags inside use single quotes."""
    parts = TEMPLATE_PART.split(value)
    return "".join(part.replace('"', "'") if i % 2 else escape(part, quote=True)
                   for i, part in enumerate(parts))
