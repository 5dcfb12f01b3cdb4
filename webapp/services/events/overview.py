"""What the Events pages show: each event's figures (sales, attendance), an event's ticket
types, its holders with their tickets and attendance, the campaigns and workflows that touched
it, and a customer's upcoming tickets. Every figure is one grouped query for all the events
(or holders) of a page, never one query per row."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, or_, select

from webapp.extensions import db
from webapp.infra.pagination import Page
from webapp.infra.types import utcnow
from webapp.models import (
    AutomationEnrollment,
    AutomationWorkflow,
    CampaignAttribution,
    Customer,
    CustomerActivity,
    EmailCampaign,
    Event,
    EventAttendance,
    PurchaseItem,
)
from webapp.services.events import holders, listing
from webapp.services.events.catalogue import event_tags
from webapp.services.events.holders import EventSales

# How a status reads on the pages.
STATUS_LABELS = {"on_sale": "On sale", "sold_out": "Sold out", "rescheduled": "Rescheduled",
                 "cancelled": "Cancelled", "ended": "Ended"}
HOLDERS_PAGE = 25
TOUCHES_SHOWN = 20


@dataclass(frozen=True)
class Attendance:
    attended: int
    no_show: int
    # The event's attendance was settled (events.settled_at): every holder has a verdict.
    closed: bool = False

    @property
    def settled(self) -> bool:
        """Whether every holder has a verdict: no-shows are only written at settlement, so
        one of them says so too when the event row does not."""
        return self.closed or self.no_show > 0

    @property
    def rate(self) -> float | None:
        """The share of holders who came, once attendance is settled."""
        counted = self.attended + self.no_show
        return self.attended / counted if self.settled and counted else None


NO_ATTENDANCE = Attendance(0, 0)


@dataclass(frozen=True)
class EventFigures:
    """One event with what the pages say of it."""

    event: Event
    zone: str
    sales: EventSales
    attendance: Attendance

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.event.status, self.event.status.replace("_", " ").capitalize())

    @property
    def sold_share(self) -> float | None:
        """Tickets sold over capacity (0..1), when the capacity is known."""
        capacity = self.event.capacity
        if not capacity:
            return None
        return min(1.0, self.sales.tickets_sold / capacity)


def attendance(tenant_id: int, event_ids: list[int]) -> dict[int, Attendance]:
    """{event id: attended and no-show counts}, in one grouped query."""
    found = {event_id: NO_ATTENDANCE for event_id in event_ids}
    if not event_ids:
        return found
    counts: dict[int, dict[str, int]] = {}
    for event_id, status, count in db.session.execute(
            select(EventAttendance.event_id, EventAttendance.status, func.count())
            .where(EventAttendance.tenant_id == tenant_id, EventAttendance.event_id.in_(event_ids))
            .group_by(EventAttendance.event_id, EventAttendance.status)):
        counts.setdefault(event_id, {})[status] = int(count)
    for event_id, by_status in counts.items():
        found[event_id] = Attendance(by_status.get("attended", 0), by_status.get("no_show", 0))
    return found


def figures(tenant_id: int, events: list[Event]) -> list[EventFigures]:
    """The events with their zone, sales and attendance: three queries for the lot."""
    ids = [e.id for e in events]
    zones = listing.zones(tenant_id, events)
    sold = holders.sales(tenant_id, events)
    came = attendance(tenant_id, ids)
    return [EventFigures(e, zones[e.id], sold[e.id], replace(came[e.id], closed=e.settled_at is not None))
            for e in events]


@dataclass(frozen=True)
class EventsPage:
    rows: list[EventFigures]
    next_cursor: str | None


def events_page(tenant_id: int, when: str, *, cursor: str | None = None, limit: int = 25,
                now: datetime | None = None) -> EventsPage:
    """Upcoming (soonest first) or past (latest first) events with their figures, a keyset
    page at a time. ValidationFailed for a cursor this list did not hand out."""
    page = listing.list_events(tenant_id, when=when, limit=limit, cursor=cursor, now=now or utcnow())
    return EventsPage(figures(tenant_id, page.items), page.next_cursor)


def has_events(tenant_id: int) -> bool:
    return db.session.scalar(select(Event.id).where(Event.tenant_id == tenant_id).limit(1)) is not None


def undated_events(tenant_id: int) -> int:
    """Events without a start (a purchase named them without one): in neither tab."""
    return db.session.scalar(select(func.count()).select_from(Event).where(
        Event.tenant_id == tenant_id, Event.starts_at.is_(None))) or 0


# --- one event ----------------------------------------------------------------------------

@dataclass(frozen=True)
class TicketType:
    ticket_type: str
    tier: str | None
    tickets: int
    # None when no line of this type carried a price.
    revenue: Decimal | None


def ticket_types(tenant_id: int, event: Event) -> list[TicketType]:
    """The event's tickets grouped by ticket type and tier, most sold first; revenue is
    quantity times the price of one ticket."""
    rows = db.session.execute(
        select(PurchaseItem.ticket_type, PurchaseItem.tier, func.coalesce(func.sum(PurchaseItem.quantity), 0),
               func.sum(PurchaseItem.quantity * PurchaseItem.price))
        .where(PurchaseItem.tenant_id == tenant_id, PurchaseItem.event_id == event.id)
        .group_by(PurchaseItem.ticket_type, PurchaseItem.tier))
    found = [TicketType(ticket_type or "Ticket", tier, int(tickets),
                        Decimal(str(revenue)).quantize(Decimal("0.01")) if revenue is not None else None)
             for ticket_type, tier, tickets, revenue in rows]
    return sorted(found, key=lambda t: (-t.tickets, t.ticket_type, t.tier or ""))


@dataclass(frozen=True)
class Holder:
    customer: Customer
    tickets: int
    ticket_types: list[str]
    # attended, no_show, or None (not scanned yet).
    attendance: str | None


def holders_page(tenant_id: int, event: Event, *, cursor: str | None = None,
                 limit: int = HOLDERS_PAGE) -> Page:
    """A page of the event's holders (newest customer first) as Holder rows: their tickets
    (bought, or on their name as a guest), ticket types and attendance, in two queries for
    the page."""
    page = holders.list_holders(tenant_id, event, limit=limit, cursor=cursor)
    ids = [c.id for c in page.items]
    if not ids:
        return Page([], page.next_cursor)
    # A guest's ticket counts for the guest, not again for the buyer who named them.
    holder = func.coalesce(PurchaseItem.attendee_customer_id, PurchaseItem.customer_id)
    tickets: dict[int, int] = {}
    kinds: dict[int, set[str]] = {}
    for customer_id, ticket_type, tier, quantity in db.session.execute(
            select(holder, PurchaseItem.ticket_type, PurchaseItem.tier, func.sum(PurchaseItem.quantity))
            .where(PurchaseItem.tenant_id == tenant_id, PurchaseItem.event_id == event.id, holder.in_(ids))
            .group_by(holder, PurchaseItem.ticket_type, PurchaseItem.tier)):
        tickets[customer_id] = tickets.get(customer_id, 0) + int(quantity or 0)
        kinds.setdefault(customer_id, set()).add(" · ".join(p for p in (ticket_type, tier) if p) or "Ticket")
    came = dict(db.session.execute(
        select(EventAttendance.customer_id, EventAttendance.status)
        .where(EventAttendance.event_id == event.id, EventAttendance.customer_id.in_(ids))).all())
    rows = [Holder(c, tickets.get(c.id, 0), sorted(kinds.get(c.id, ())), came.get(c.id)) for c in page.items]
    return Page(rows, page.next_cursor)


@dataclass(frozen=True)
class CampaignTouch:
    campaign_id: int
    name: str
    purchases: int
    revenue: Decimal


def campaigns_touching(tenant_id: int, event: Event) -> list[CampaignTouch]:
    """Campaigns credited with purchases of tickets for the event, most revenue first."""
    rows = db.session.execute(
        select(EmailCampaign.id, EmailCampaign.name, func.count(),
               func.coalesce(func.sum(CampaignAttribution.amount), 0))
        .join(CustomerActivity, CustomerActivity.id == CampaignAttribution.activity_id)
        .join(EmailCampaign, EmailCampaign.id == CampaignAttribution.campaign_id)
        .where(CampaignAttribution.tenant_id == tenant_id, CustomerActivity.tenant_id == tenant_id,
               CustomerActivity.type == "purchase", CustomerActivity.event_id == event.external_id,
               EmailCampaign.tenant_id == tenant_id)
        .group_by(EmailCampaign.id, EmailCampaign.name)
        .order_by(func.sum(CampaignAttribution.amount).desc(), EmailCampaign.id)
        .limit(TOUCHES_SHOWN))
    return [CampaignTouch(cid, name, int(count), Decimal(str(revenue))) for cid, name, count, revenue in rows]


@dataclass(frozen=True)
class WorkflowTouch:
    workflow_id: int
    name: str
    trigger_type: str
    enrollments: int


def workflows_touching(tenant_id: int, event: Event) -> list[WorkflowTouch]:
    """Workflows with enrollments this event set off, most enrollments first: every trigger
    whose payload names the event (a purchase of it, its day, a reminder, a change to it,
    its sell-out), by the enrollments' event reference and its index."""
    rows = db.session.execute(
        select(AutomationWorkflow.id, AutomationWorkflow.name, AutomationWorkflow.trigger_type, func.count())
        .join(AutomationEnrollment, AutomationEnrollment.workflow_id == AutomationWorkflow.id)
        .where(AutomationWorkflow.tenant_id == tenant_id, AutomationEnrollment.tenant_id == tenant_id,
               AutomationEnrollment.event_ref == event.external_id)
        .group_by(AutomationWorkflow.id, AutomationWorkflow.name, AutomationWorkflow.trigger_type)
        .order_by(func.count().desc(), AutomationWorkflow.id)
        .limit(TOUCHES_SHOWN))
    return [WorkflowTouch(wid, name, trigger, int(count)) for wid, name, trigger, count in rows]


@dataclass(frozen=True)
class EventDetail:
    figures: EventFigures
    tags: dict[str, list[str]]
    ticket_types: list[TicketType]
    campaigns: list[CampaignTouch]
    workflows: list[WorkflowTouch]


def event_detail(tenant_id: int, event: Event) -> EventDetail:
    """Everything the event's page shows but its holders (paged on their own)."""
    [row] = figures(tenant_id, [event])
    return EventDetail(row, event_tags([event.id])[event.id], ticket_types(tenant_id, event),
                       campaigns_touching(tenant_id, event), workflows_touching(tenant_id, event))


# --- a customer's tickets -----------------------------------------------------------------

@dataclass(frozen=True)
class CustomerTickets:
    event: Event
    zone: str
    tickets: int


def upcoming_tickets(tenant_id: int, customer_id: int, *, limit: int = 5,
                     now: datetime | None = None) -> list[CustomerTickets]:
    """The customer's next events (bought, or a guest's ticket on their name), soonest
    first, with how many tickets they hold for each."""
    holder = func.coalesce(PurchaseItem.attendee_customer_id, PurchaseItem.customer_id)
    rows = db.session.execute(
        select(Event, func.sum(PurchaseItem.quantity))
        .join(PurchaseItem, PurchaseItem.event_id == Event.id)
        .where(PurchaseItem.tenant_id == tenant_id, Event.tenant_id == tenant_id,
               or_(PurchaseItem.customer_id == customer_id, PurchaseItem.attendee_customer_id == customer_id),
               holder == customer_id, Event.starts_at >= (now or utcnow()))
        .group_by(Event.id)
        .order_by(Event.starts_at, Event.id)
        .limit(limit)).all()
    events = [event for event, _ in rows]
    zones = listing.zones(tenant_id, events)
    return [CustomerTickets(event, zones[event.id], int(tickets or 0)) for event, tickets in rows]
