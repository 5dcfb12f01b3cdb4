"""Merge tags: the fields a tenant's emails can use, and the tags an email uses that are none
of them.

`available` is what the builder's picker lists: customer fields, the custom attributes this
tenant's customers actually carry, the next event, the organisation, the links every message
has and, in workflow emails, the trigger's payload. `unknown_tags` reads templates (subject,
preheader, content; a design's tags are read from the HTML it compiled to) and names each
tag that would render blank, with the field the marketer probably meant: a typo such as
`{{ customer.frist_name }}` is otherwise silent until customers get "Hello ,".
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, cast, func, literal, select, true
from sqlalchemy.dialects.postgresql import JSONB

from webapp.extensions import db
from webapp.infra.sql import dialect
from webapp.mail.merge_tags import parse_tags
from webapp.models import Customer
from webapp.services.triggers import TRIGGER_TYPES

ATTRIBUTE_SAMPLE = 2_000  # the latest customers whose attribute keys are listed
MAX_ATTRIBUTES = 200  # distinct keys listed at most
MAX_KEY = 100  # characters of a key worth listing
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

# (tag, label, fallback): the picker inserts `{{ tag | default("fallback") }}` when there is one.
CUSTOMER_FIELDS = (
    ("customer.first_name", "First name", "there"),
    ("customer.last_name", "Last name", ""),
    ("customer.email", "Email address", None),
    ("customer.total_spent", "Total spent", None),
    ("customer.orders_count", "Number of orders", None),
    ("customer.tags", "Tags", None),
)
# The customer's next event, filled at send time from their purchases (services/upcoming_events).
EVENT_FIELDS = (
    ("next_event.name", "Event name", "our next event"),
    ("next_event.when", "Date and time", ""),
    ("next_event.starts_at", "Start (date and time to format)", ""),
    ("next_event.venue", "Venue", ""),
    ("next_event.url", "Ticket link", None),
    ("next_event.image_url", "Event image address", None),
)
TENANT_FIELDS = (
    ("tenant.name", "Organisation name", None),
    ("tenant.postal_address", "Postal address", None),
)
LINK_FIELDS = (
    ("unsubscribe_url", "Unsubscribe link", None),
    ("view_in_browser_url", "View in browser link", None),
)
# What each trigger's payload carries (services/triggers: each type's merge_fields).
# Payloads are the ticketing platform's own JSON, so any trigger.* is accepted: these are
# the keys worth offering.
TRIGGER_FIELDS: dict[str, tuple[tuple[str, str, str | None], ...]] = {
    name: kind.merge_fields for name, kind in TRIGGER_TYPES.items() if kind.merge_fields}
GENERIC_TRIGGER_FIELDS = (("trigger.event.name", "Event name (from the trigger)", ""),)
# Values a template may read whole ({% if customer %}, {% for k, v in customer.attributes.items() %}).
_CONTAINERS = frozenset({"customer", "customer.attributes", "tenant", "next_event"})
# Lists: customer.tags[0] reads customer.tags.0.
_LISTS = frozenset({"customer.tags"})


@dataclass(frozen=True)
class TagWarning:
    """A tag in `field` that is not a field we know, and what was probably meant."""

    field: str
    tag: str
    suggestion: str | None = None

    @property
    def message(self) -> str:
        text = f"{{{{ {self.tag} }}}} is not a field we know"
        return f"{text} — did you mean {self.suggestion}?" if self.suggestion else f"{text}: it will show as blank"


def _entry(tag: str, label: str, group: str, fallback: str | None) -> dict[str, Any]:
    return {"tag": tag, "label": label, "group": group, "fallback": fallback}


def attribute_keys(tenant_id: int) -> list[str]:
    """The attribute keys the tenant's latest customers carry, sorted: one statement over a
    bounded sample, keys expanded by the database (json_each / jsonb_object_keys)."""
    latest = (select(Customer.attributes.label("attributes")).where(Customer.tenant_id == tenant_id)
              .order_by(Customer.id.desc()).limit(ATTRIBUTE_SAMPLE).subquery())
    if dialect() == "postgresql":
        # Only objects have keys (jsonb_object_keys raises on anything else, whatever the WHERE).
        objects = case((func.jsonb_typeof(latest.c.attributes) == "object", latest.c.attributes),
                       else_=cast(literal("{}"), JSONB))
        each = func.jsonb_object_keys(objects).table_valued("key").render_derived(name="each").lateral()
        stmt = select(each.c.key).select_from(latest).join(each, true())
    else:
        each = func.json_each(latest.c.attributes).table_valued("key")
        stmt = select(each.c.key).select_from(latest).join(each, func.json_type(latest.c.attributes) == "object")
    keys = db.session.scalars(stmt.distinct().limit(MAX_ATTRIBUTES * 2)).all()
    # Keys starting with "_" are refused in templates (template_rules): never offered.
    usable = sorted({k for k in keys if isinstance(k, str) and k.strip() and not k.startswith("_")
                     and len(k) <= MAX_KEY}, key=str.lower)
    return usable[:MAX_ATTRIBUTES]


def attribute_tag(key: str) -> str:
    """The expression that reads attribute `key`: dotted when it is a plain name."""
    return f"customer.attributes.{key}" if _IDENTIFIER.match(key) else f"customer.attributes[{json.dumps(key)}]"


def attribute_label(key: str) -> str:
    """A readable label: "vip_level" and "vipLevel" both read "Vip level"."""
    words = " ".join(_CAMEL.sub(" ", key).replace("_", " ").replace("-", " ").split())
    return (words[:1].upper() + words[1:].lower()) if words else key


def available(tenant_id: int, *, workflow: bool = False, trigger_type: str | None = None) -> list[dict[str, Any]]:
    """The merge tags the picker offers, each {"tag", "label", "group", "fallback"}; with
    `workflow`, the trigger's keys too (those of `trigger_type` when given)."""
    fields = [_entry(t, label, "Customer", fb) for t, label, fb in CUSTOMER_FIELDS]
    fields += [_entry(attribute_tag(k), attribute_label(k), "Custom attributes", "") for k in attribute_keys(tenant_id)]
    fields += [_entry(t, label, "Next event", fb) for t, label, fb in EVENT_FIELDS]
    fields += [_entry(t, label, "Organisation", fb) for t, label, fb in TENANT_FIELDS]
    fields += [_entry(t, label, "Links", fb) for t, label, fb in LINK_FIELDS]
    if workflow:
        trigger = TRIGGER_FIELDS.get(trigger_type or "", GENERIC_TRIGGER_FIELDS)
        fields += [_entry(t, label, "Trigger", fb) for t, label, fb in trigger]
    return fields


def _known_paths(tenant_id: int) -> tuple[set[str], list[str]]:
    """Every path a campaign may read, and the attribute paths among them."""
    attributes = [f"customer.attributes.{k}" for k in attribute_keys(tenant_id)]
    known = {tag for tag, _, _ in (*CUSTOMER_FIELDS, *EVENT_FIELDS, *TENANT_FIELDS, *LINK_FIELDS)}
    return known | set(attributes) | _CONTAINERS, attributes


def _is_known(path: str, known: set[str], *, workflow: bool) -> bool:
    if path in known or (workflow and (path == "trigger" or path.startswith("trigger."))):
        return True
    if path == "events" or path.startswith("events."):  # an event card naming its event by id
        return True
    parent, _, last = path.rpartition(".")
    return parent in _LISTS and last.isdigit()


def suggest(path: str, known: set[str], attributes: list[str]) -> str | None:
    """The known field `path` most probably meant, or None."""
    leaves = sorted(p for p in known if p not in _CONTAINERS)
    last = path.rpartition(".")[2]
    if path.startswith("customer.attributes.") and attributes:
        close = difflib.get_close_matches(path, attributes, n=1, cutoff=0.6)
        if close:
            return close[0]
    # `{{ first_name }}`, `{{ customer.vip_level }}`, `{{ event.name }}`: the same field elsewhere.
    same_name = [p for p in leaves if p.rpartition(".")[2] == last and p != path]
    if same_name:
        return sorted(same_name, key=lambda p: -difflib.SequenceMatcher(None, path, p).ratio())[0]
    close = difflib.get_close_matches(path, leaves, n=1, cutoff=0.75)
    if close:
        return close[0]
    by_name = difflib.get_close_matches(last, [p.rpartition(".")[2] for p in leaves], n=1, cutoff=0.8)
    if by_name:
        return next(p for p in leaves if p.rpartition(".")[2] == by_name[0])
    return None


def unknown_tags(tenant_id: int, sources: dict[str, str | None], *, workflow: bool = False) -> list[TagWarning]:
    """The tags of each source (field name -> template) that are not fields we know, once
    per field and tag, with suggestions. Names the template sets itself are not tags; a
    source that does not parse has no tags to name (saving it reports the syntax error)."""
    known, attributes = _known_paths(tenant_id)
    warnings: list[TagWarning] = []
    for field, source in sources.items():
        if not source:
            continue
        parsed = parse_tags(source, html=field not in ("subject", "preheader", "text_content"))
        for path in parsed.paths:
            if not _is_known(path, known, workflow=workflow):
                warnings.append(TagWarning(field, path, suggest(path, known, attributes)))
    return warnings


# A merge tag's path: {{ trigger.order_id }}, {{ customer.first_name | default("there") }}.
_TAG = re.compile(r"\{\{-?\s*([A-Za-z_][\w.]*)[^{}]*\}\}")


@functools.cache
def _tag_labels() -> dict[str, str]:
    fields = (*CUSTOMER_FIELDS, *EVENT_FIELDS, *TENANT_FIELDS, *LINK_FIELDS, *GENERIC_TRIGGER_FIELDS,
              *(field for trigger in TRIGGER_FIELDS.values() for field in trigger))
    labels: dict[str, str] = {}
    for tag, label, _ in fields:
        labels.setdefault(tag, label)
    return labels


def readable(text: str) -> str:
    """A subject as a marketer reads it: merge tags as their names, "Thanks for order
    [Order number]", not template code."""
    labels = _tag_labels()
    return _TAG.sub(lambda m: f"[{labels.get(m[1]) or m[1].rpartition('.')[2].replace('_', ' ').capitalize()}]",
                    text)
