"""A batch's events and tickets, set-based: every event its purchases name linked at once
(services/events/purchases.link_events), every line item of a round stored by one INSERT,
and the late-buyer reminders looked up only when the tenant has a reminder workflow: what
record_activity does for one purchase with an event or line items, for the lot."""

from __future__ import annotations

from webapp.models import Event
from webapp.services.enrollment import active_workflows
from webapp.services.events.purchases import link_events, store_items_of
from webapp.services.events.reminders import TRIGGER as REMINDER
from webapp.services.events.reminders import remind_late_buyer
from webapp.services.ingest.items import Item


def link_batch_events(tenant_id: int, stored: list[Item]) -> dict[str, Event]:
    """The events the stored purchases name, by the platform's id, created when unknown."""
    return link_events(tenant_id, [(i.event_id, i.purchase.raw_event(i.properties), i.purchase.starts_at)
                                   for i in stored if i.purchase is not None and i.event_id is not None])


def store_tickets(tenant_id: int, stored: list[Item], events: dict[str, Event]) -> set[int]:
    """The line items of the stored purchases (one INSERT), then the reminders late buyers
    are owed; returns the guests the tickets name, who hold tickets now too."""
    purchases = [(i.as_activity(tenant_id), events.get(i.event_id or ""), i) for i in stored if i.purchase is not None]
    guests = store_items_of([(activity, event, i.purchase.details.items, i.purchase.details.tickets)  # type: ignore
                             for activity, event, i in purchases])
    if active_workflows(tenant_id, REMINDER):
        for activity, event, _ in purchases:
            if event is not None:
                remind_late_buyer(activity, event)
    return guests
