"""What a workflow trigger type is: one entry that validation, the builder's settings form,
its summary, the timeline's words and the merge-tag picker all find everything from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import CustomerSegment, Event, Topic


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


@dataclass(frozen=True)
class TriggerField:
    """One setting of a trigger in the builder. `kind`: text, number (`decimal` reads a
    decimal; else a whole number) or select, whose `options` names a list of the
    organisation's things the page supplies ("segments", "topics", "events") or is a tuple
    of (value, label); `empty_label` is its "none" option (absent: a choice is required)."""

    name: str
    label: str
    kind: str = "text"
    options: str | tuple[tuple[str, str], ...] = ()
    empty_label: str | None = None
    decimal: bool = False
    minimum: int | None = None
    maximum: int | None = None
    hint: str = ""
    # Options of a select are ids (whole numbers) rather than words.
    ids: bool = False


class TriggerNames:
    """Names of the organisation's things a trigger's settings point at, looked up once each
    (a summary says "Entering a segment: VIP fans", never "#3")."""

    def __init__(self, tenant_id: int) -> None:
        self.tenant_id = tenant_id
        self._cache: dict[str, dict[int, str]] = {}

    def _names(self, kind: str, model: Any) -> dict[int, str]:
        if kind not in self._cache:
            self._cache[kind] = dict(db.session.execute(select(model.id, model.name)
                                                        .where(model.tenant_id == self.tenant_id)).all())
        return self._cache[kind]

    def segment(self, segment_id: Any) -> str | None:
        return self._names("segments", CustomerSegment).get(segment_id)

    def topic(self, topic_id: Any) -> str | None:
        return self._names("topics", Topic).get(topic_id)

    def event(self, event_id: Any) -> str | None:
        return self._names("events", Event).get(event_id)


def _no_check(tenant_id: int, config: dict[str, Any]) -> None:
    return None


def _no_start(tenant_id: int) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class TriggerType:
    """A workflow trigger. `describe` is the builder's and the list's summary; `words` how
    the timeline says it started someone ("after a purchase"); `check` refuses settings that
    point at the organisation's things that do not exist (raising ValidationFailed);
    `starter` is the config a new workflow of the type starts from; `api_fired`: the API's
    POST /triggers may fire it (the others fire from what happens)."""

    name: str
    label: str
    words: str
    model: type[BaseModel]
    describe: Callable[[dict[str, Any], TriggerNames], str]
    fields: tuple[TriggerField, ...] = ()
    merge_fields: tuple[tuple[str, str, str | None], ...] = ()
    check: Callable[[int, dict[str, Any]], None] = _no_check
    starter: Callable[[int], dict[str, Any]] = _no_start
    api_fired: bool = False


# What an event trigger's payload offers emails (services/events/catalogue.py event_payload).
EVENT_PAYLOAD_FIELDS = (
    ("trigger.event.name", "Event name", ""),
    ("trigger.event.when", "Event date and time (the venue's clock)", ""),
    ("trigger.event.doors", "Doors open", ""),
    ("trigger.event.venue", "Venue", ""),
    ("trigger.event.city", "City", ""),
    ("trigger.event.url", "Event page", None),
)
