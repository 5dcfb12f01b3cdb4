"""Activities and workflow triggers as sentences for people, with the stored detail as a
labelled list one click away. The registry of sentences is `sentences.SENTENCES`; pages
render the parts with the macros in templates/_readable.html."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from webapp.models import CustomerActivity
from webapp.services.activity_text.names import Names, lookup_names
from webapp.services.activity_text.parts import Link, Moment, Money, Part, Text
from webapp.services.activity_text.sentences import (
    SENTENCES,
    SHOWN_IN_FULL,
    TRIGGER_WORDS,
    event_name_of,
    named,
    order_parts,
    segment_ref,
    sentence_for,
    signup,
)
from webapp.services.activity_text.values import label, labelled, summary_of, with_moments

__all__ = ["SENTENCES", "TRIGGER_WORDS", "ActivityText", "Link", "Moment", "Money", "Names", "Part", "Text",
           "for_activities", "for_triggers", "labelled", "with_moments"]


class ActivityText:
    """Sentences for a page of activities (or enrollments), with the names they link to."""

    def __init__(self, names: Names) -> None:
        self.names = names

    def summary(self, activity: CustomerActivity) -> list[Part]:
        return sentence_for(activity.type, activity.properties, self.names)

    def details(self, activity: CustomerActivity) -> list[tuple[str, list[Part]]]:
        return [] if activity.type in SHOWN_IN_FULL else labelled(activity.properties or {})

    def trigger(self, trigger_type: str, payload: Any) -> list[Part]:
        """What started an enrollment: "Purchase of Jazz Night (£84.00, order 1042)"."""
        props = payload if isinstance(payload, dict) else {}
        event = event_name_of(props, self.names)
        if trigger_type == "purchase":
            return [Text("Purchase" + (f" of {event}" if event else "")), *order_parts(props)]
        if trigger_type == "signup":
            return signup(props, self.names)
        if trigger_type == "event_day":
            return [Text(f"The day of {event}" if event else "The day of an event")]
        if trigger_type == "event_ended":
            came = {True: ", came", False: ", did not come"}.get(props.get("attended"), "")
            return [Text((f"The end of {event}" if event else "The end of an event") + came)]
        if trigger_type == "segment_entered":
            return named("Entering", "segment", segment_ref(props, self.names))
        if trigger_type == "custom" and not props:
            return [Text("Enrolled by hand")]
        words = "A custom trigger" if trigger_type == "custom" else f"{label(trigger_type)} trigger"
        return [Text(words + (": " if props else "")), *(summary_of(props) if props else [])]


def for_activities(tenant_id: int, activities: Iterable[CustomerActivity]) -> ActivityText:
    """Sentences for these activities: the names they mention are read in one query per kind."""
    return ActivityText(lookup_names(tenant_id, [a.properties for a in activities]))


def for_triggers(tenant_id: int, payloads: Iterable[Any]) -> ActivityText:
    """Sentences for enrollments' triggers (their payloads may name a segment)."""
    return ActivityText(lookup_names(tenant_id, payloads))
