"""One sentence per activity type: type -> function(properties, names) -> parts.

Properties come from the platform (purchases, scans, page views, custom types) or from the
product itself; either way they are read warily (any key may be missing or of another
type), so a sentence never raises and never shows a repr. What the sentence leaves out
(user agents, IP addresses, Message-IDs) stays in the activity's details."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from webapp.services.activity_text.names import Names, an_id, event_ids_in
from webapp.services.activity_text.parts import Link, Money, Part, Text, joined
from webapp.services.activity_text.values import label, scalar_text, shorten, summary_of, with_moments
from webapp.services.triggers import TRIGGER_TYPES
from webapp.services.user_agents import reading_place

Sentence = Callable[[dict[str, Any], Names], list[Part]]

SIGNUP_SOURCES = {"api": "through the API", "import": "from an import", "website": "on the website",
                  "box_office": "at the box office", "mobile_app": "in the mobile app", "form": "with a sign-up form"}
TRIGGER_WORDS = {name: kind.words for name, kind in TRIGGER_TYPES.items()}
# Types whose sentence shows everything they store: no details disclosure.
SHOWN_IN_FULL = frozenset({"note"})
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")


# --- pieces several sentences share --------------------------------------------------------------

def _text(props: dict[str, Any], key: str) -> str | None:
    value = props.get(key)
    if isinstance(value, str) and value.strip():
        return shorten(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return scalar_text(value)
    return None


def event_name_of(props: dict[str, Any], names: Names | None = None) -> str | None:
    """The event's name as the activity carries it, else as the tenant's purchases name its id."""
    event = props.get("event")
    if isinstance(event, dict) and (name := _text(event, "name") or _text(event, "title")):
        return name
    if name := _text(props, "event_name") or (shorten(event) if isinstance(event, str) and event.strip() else None):
        return name
    known = [names.events[i] for i in sorted(event_ids_in(props)) if i in names.events] if names else []
    return shorten(known[0]) if known else None


def _amount(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and abs(amount) < 10**15 else None


def _currency(props: dict[str, Any]) -> str | None:
    value = props.get("currency")
    return value.upper() if isinstance(value, str) and _CURRENCY.match(value) else None


def _ticket_count(props: dict[str, Any]) -> int | None:
    tickets = props.get("tickets", props.get("items"))
    if isinstance(tickets, int) and not isinstance(tickets, bool):
        return tickets if 0 < tickets < 10**6 else None
    if isinstance(tickets, list) and tickets:
        count = 0
        for item in tickets:
            quantity = item.get("quantity", 1) if isinstance(item, dict) else 1
            count += quantity if isinstance(quantity, int) and not isinstance(quantity, bool) and quantity > 0 else 1
        return count if count < 10**6 else None
    return None


def _tickets(count: int | None) -> str:
    return f"{count} ticket{'s' if count != 1 else ''}" if count else "tickets"


def campaign_ref(props: dict[str, Any], names: Names) -> list[Part]:
    """The campaign an email activity belongs to, linked to its report; a workflow's email
    names its workflow. Only the tenant's own campaigns are found by id."""
    cid = an_id(props.get("campaign_id"))
    found = names.campaigns.get(cid) if cid else None
    if found is not None and not found.of_workflow:
        return [Link(found.name, "reports.report", {"campaign_id": cid})]
    workflow_id = (found.workflow_id if found is not None else None) or an_id(props.get("workflow_id"))
    if workflow_id or found is not None:
        if workflow_id not in names.workflows:
            return [Text("an email from a deleted workflow")]
        return [Text("an email from workflow "), *workflow_ref(names, workflow_id, an_id(props.get("enrollment_id")))]
    if (stored := _text(props, "campaign_name")) is not None:
        return [Text(stored)]
    return [Text("a deleted campaign" if cid else "an email")]


def named(before: str, noun: str, ref: list[Part]) -> list[Part]:
    """ "Completed workflow <Post-purchase>", or "Completed a deleted workflow" when the
    row is not found (deleted, or not the tenant's)."""
    return [Text(f"{before} {noun} "), *ref] if ref else [Text(f"{before} a deleted {noun}")]


def workflow_ref(names: Names, workflow_id: int | None, enrollment_id: int | None = None) -> list[Part]:
    """The workflow by name: to the customer's trace when the enrollment is known, else its
    builder; nothing when it is not found."""
    name = names.workflows.get(workflow_id) if workflow_id else None
    if name is None:
        return []
    if enrollment_id and names.enrollments.get(enrollment_id) == workflow_id:
        return [Link(name, "workflows.trace", {"workflow_id": workflow_id, "enrollment_id": enrollment_id})]
    return [Link(name, "workflows.builder", {"workflow_id": workflow_id})]


def segment_ref(props: dict[str, Any], names: Names) -> list[Part]:
    sid = an_id(props.get("segment_id"))
    if sid and sid in names.segments:
        return [Link(names.segments[sid], "segments.show", {"segment_id": sid})]
    stored = _text(props, "segment_name")
    return [Text(f"{stored} (since deleted)")] if stored else []


def order_parts(props: dict[str, Any]) -> list[Part]:
    """" (£84.00, order 1042)" from what the purchase carries."""
    inside: list[list[Part]] = []
    if (amount := _amount(props.get("order_total"))) is not None:
        inside.append([Money(amount, _currency(props))])
    if (order_id := _text(props, "order_id")) is not None:
        inside.append([Text(f"order {order_id}")])
    return [Text(" ("), *joined(inside, ", "), Text(")")] if inside else []


def _by_workflow(props: dict[str, Any], names: Names) -> list[Part]:
    workflow_id = an_id(props.get("workflow_id"))
    return named(" by", "workflow", workflow_ref(names, workflow_id)) if workflow_id else []


def _place(url: str) -> str:
    """tickets.example.com/jazz: a URL as people say it (no scheme, no query)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return shorten(url, 60)
    if not parts.netloc:
        return shorten(url, 60)
    host = parts.netloc.rsplit("@", 1)[-1].removeprefix("www.")
    return shorten(host + (parts.path.rstrip("/") or ""), 60)


# --- the sentences -----------------------------------------------------------------------------

def purchase(props: dict[str, Any], names: Names) -> list[Part]:
    event = event_name_of(props, names)
    return [Text(f"Bought {_tickets(_ticket_count(props))}" + (f" for {event}" if event else "")), *order_parts(props)]


def signup(props: dict[str, Any], names: Names) -> list[Part]:
    source = props.get("source")
    if source == "form" and (form_name := _text(props, "form_name")) is not None:
        return [Text(f"Signed up with the form “{form_name}”")]
    if isinstance(source, str) and source in SIGNUP_SOURCES:
        return [Text(f"Signed up {SIGNUP_SOURCES[source]}")]
    if (source_text := _text(props, "source")) is not None:
        return [Text(f"Signed up via {label(source_text).lower()}")]
    return [Text("Signed up")]


def note(props: dict[str, Any], names: Names) -> list[Part]:
    text = props.get("text")
    parts: list[Part] = [Text(text if isinstance(text, str) else "", css="note-text")]
    if (author := _text(props, "author")) is not None:
        parts.append(Text(f" — {author}", css="muted"))
    return parts


def _tag(verb: str) -> Sentence:
    def sentence(props: dict[str, Any], names: Names) -> list[Part]:
        return [Text(verb), Text(_text(props, "tag") or "a tag", css="tag"), *_by_workflow(props, names)]
    return sentence


def _email(before: str, after: str = "") -> Sentence:
    def sentence(props: dict[str, Any], names: Names) -> list[Part]:
        return [Text(before), *campaign_ref(props, names), *([Text(after)] if after else [])]
    return sentence


def email_opened(props: dict[str, Any], names: Names) -> list[Part]:
    where = reading_place(props.get("user_agent"))
    return [Text("Opened "), *campaign_ref(props, names), *([Text(f" {where}")] if where else [])]


def email_clicked(props: dict[str, Any], names: Names) -> list[Part]:
    url = props.get("url")
    what = _place(url) if isinstance(url, str) and url.strip() else "a link"
    return [Text(f"Clicked {what} in "), *campaign_ref(props, names)]


# Where a change of consent came from (services/consent.py Evidence.source), in words.
CONSENT_SOURCES = {"preference_centre": "on the preference page", "unsubscribe_link": "with the unsubscribe link",
                   "api": "through the API", "import": "by an import", "admin": "by your team",
                   "form": "with a signup form", "complaint": "by a spam complaint", "bounce": "by a bounce"}


def _via(props: dict[str, Any]) -> list[Part]:
    source = CONSENT_SOURCES.get(props.get("source")) if isinstance(props.get("source"), str) else None
    return [Text(f" {source}")] if source else []
def _relay_said(props: dict[str, Any]) -> str:
    """" (SendGrid: 550 5.1.1 user unknown)": who reported a bounce or complaint and why."""
    provider, reason = _text(props, "provider"), _text(props, "reason")
    if reason == "reported as spam":  # what a complaint is: the sentence says it already
        reason = None
    said = ": ".join(p for p in (provider, reason) if p)
    return f" ({said})" if said else ""


def email_bounced(props: dict[str, Any], names: Names) -> list[Part]:
    how = {"hard": ": the address bounced", "soft": ": the address kept bouncing"}.get(
        props.get("bounce"), ": the address bounced")
    return [Text("Could not deliver "), *campaign_ref(props, names), Text(how + _relay_said(props))]


def email_soft_bounced(props: dict[str, Any], names: Names) -> list[Part]:
    return [Text("Temporary bounce of "), *campaign_ref(props, names), Text(_relay_said(props))]


def email_complained(props: dict[str, Any], names: Names) -> list[Part]:
    return [Text("Marked "), *campaign_ref(props, names), Text(" as spam" + _relay_said(props))]


def unsubscribed(props: dict[str, Any], names: Names) -> list[Part]:
    if an_id(props.get("campaign_id")) or _text(props, "campaign_name"):
        return [Text("Unsubscribed from "), *campaign_ref(props, names)]
    return [Text("Unsubscribed from all marketing emails"), *_via(props)]


def resubscribed(props: dict[str, Any], names: Names) -> list[Part]:
    if props.get("source") == "form" and (form_name := _text(props, "form_name")) is not None:
        return [Text(f"Subscribed to marketing emails again, confirmed with the form “{form_name}”")]
    return [Text("Subscribed to marketing emails again"), *_via(props)]


def _topic(verb: str) -> Sentence:
    def sentence(props: dict[str, Any], names: Names) -> list[Part]:
        name = _text(props, "topic_name")
        return [Text(f"{verb} "), *([Text(name, css="tag")] if name else [Text("a topic")]), *_via(props)]
    return sentence


def _segment(verb: str) -> Sentence:
    def sentence(props: dict[str, Any], names: Names) -> list[Part]:
        return named(verb, "segment", segment_ref(props, names))
    return sentence


def _one_or_many(props: dict[str, Any], one: str, many: str) -> list[Any]:
    value = props.get(many)
    return value if isinstance(value, list) else [props.get(one)]


def workflow_enrolled(props: dict[str, Any], names: Names) -> list[Part]:
    # One row per trigger: {workflow_id, enrollment_id}, or the lists when a trigger
    # started several workflows at once.
    workflows = _one_or_many(props, "workflow_id", "workflow_ids")
    enrollments = _one_or_many(props, "enrollment_id", "enrollment_ids")
    pairs = [(an_id(w), an_id(enrollments[n]) if n < len(enrollments) else None) for n, w in enumerate(workflows)]
    refs = [workflow_ref(names, w, e) or [Text("a deleted workflow")] for w, e in pairs if w][:5]
    more = [Text(f" and {len(pairs) - 5} more")] if len(pairs) > 5 else []
    trigger = props.get("trigger")
    when = [Text(f" {TRIGGER_WORDS[trigger]}")] if isinstance(trigger, str) and trigger in TRIGGER_WORDS else []
    if not refs:
        return [Text("Entered a workflow"), *when]
    return [Text("Entered workflows " if len(refs) > 1 else "Entered workflow "), *joined(refs), *more, *when]


def _workflow_ref_of(props: dict[str, Any], names: Names) -> list[Part]:
    return workflow_ref(names, an_id(props.get("workflow_id")), an_id(props.get("enrollment_id")))


def workflow_completed(props: dict[str, Any], names: Names) -> list[Part]:
    return named("Completed", "workflow", _workflow_ref_of(props, names))


def workflow_exited(props: dict[str, Any], names: Names) -> list[Part]:
    reason = props.get("reason")
    why = [Text(": "), *with_moments(shorten(reason, 160))] if isinstance(reason, str) and reason.strip() else []
    if props.get("status") == "failed":
        return [*named("Stopped in", "workflow", _workflow_ref_of(props, names)), Text(" after an error"), *why]
    return [*named("Left", "workflow", _workflow_ref_of(props, names)), *why]


def ticket_scan(props: dict[str, Any], names: Names) -> list[Part]:
    gate = _text(props, "gate") or _text(props, "entrance")
    event = event_name_of(props, names)
    words = "Scanned in"
    if gate:
        words += f" at {gate}" if "gate" in gate.lower() else \
            (f" at gate {gate}" if len(gate) <= 2 else f" at {gate} gate")
    if event:
        words += f" for {event}"
    count = _ticket_count(props)
    return [Text(words + (f" with {_tickets(count)}" if count and count > 1 else ""))]


def page_view(props: dict[str, Any], names: Names) -> list[Part]:
    url = props.get("url")
    what = _text(props, "title") or event_name_of(props, names) or \
        (_place(url) if isinstance(url, str) and url.strip() else None) or "a page"
    source = _text(props, "source")
    return [Text(f"Viewed {what}" + (f" (from {label(source).lower()})" if source else ""))]


def _plain(words: str) -> Sentence:
    def sentence(props: dict[str, Any], names: Names) -> list[Part]:
        return [Text(words)]
    return sentence


def waitlist_joined(props: dict[str, Any], names: Names) -> list[Part]:
    event = event_name_of(props, names)
    quantity = _ticket_count(props)
    return [Text("Joined the waitlist" + (f" for {event}" if event else "")
                 + (f" ({_tickets(quantity)})" if quantity else ""))]


SENTENCES: dict[str, Sentence] = {
    "purchase": purchase,
    "signup": signup,
    "note": note,
    "tag_added": _tag("Tagged "),
    "tag_removed": _tag("Removed tag "),
    "email_sent": _email("Sent "),
    "email_delivered": _email("Delivered "),
    "email_opened": email_opened,
    "email_clicked": email_clicked,
    "email_bounced": email_bounced,
    "email_soft_bounced": email_soft_bounced,
    "email_complained": email_complained,
    "email_failed": _email("Could not send "),
    "unsubscribed": unsubscribed,
    "resubscribed": resubscribed,
    "topic_subscribed": _topic("Subscribed to"),
    "topic_unsubscribed": _topic("Unsubscribed from"),
    "segment_entered": _segment("Entered"),
    "segment_exited": _segment("Left"),
    "workflow_enrolled": workflow_enrolled,
    "workflow_completed": workflow_completed,
    "workflow_exited": workflow_exited,
    "ticket_scan": ticket_scan,
    "ticket_scanned": ticket_scan,
    "page_view": page_view,
    "customer_created": _plain("Profile created"),
    "waitlist_joined": waitlist_joined,
}


def sentence_for(activity_type: str, properties: Any, names: Names) -> list[Part]:
    """The activity's one-line summary; types without a sentence show their values, labelled."""
    found = SENTENCES.get(activity_type)
    if found is None or not isinstance(properties, dict):
        return summary_of(properties)
    return found(properties, names)
