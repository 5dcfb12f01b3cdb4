"""Who holds tickets for an event, and what an event sold: one SQL rule that reminders,
changes, attendance, the event page and the API all read."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select, union

from webapp.extensions import db
from webapp.infra.pagination import Page, keyset_by_id
from webapp.models import Customer, CustomerActivity, Event, PurchaseItem


def holders_subquery(tenant_id: int, event: Event):
    """Everyone holding a ticket for `event`, as a subquery with a customer_id column (what
    enrollment takes): its buyers (any purchase naming the event) and the guests on their
    tickets who became customers."""
    return union(
        select(CustomerActivity.customer_id.label("customer_id")).where(
            CustomerActivity.tenant_id == tenant_id, CustomerActivity.type == "purchase",
            CustomerActivity.event_id == event.external_id),
        select(PurchaseItem.attendee_customer_id.label("customer_id")).where(
            PurchaseItem.tenant_id == tenant_id, PurchaseItem.event_id == event.id,
            PurchaseItem.attendee_customer_id.isnot(None))).subquery()


def list_holders(tenant_id: int, event: Event, *, limit: int = 50, cursor: str | None = None) -> Page:
    """The event's holders as customers, newest customer first, keyset-paginated."""
    holders = holders_subquery(tenant_id, event)
    stmt = select(Customer).where(Customer.tenant_id == tenant_id, Customer.id.in_(select(holders.c.customer_id)))
    return keyset_by_id(stmt, Customer.id, limit=limit, cursor=cursor)


@dataclass(frozen=True)
class EventSales:
    tickets_sold: int
    buyers: int
    orders: int
    revenue: Decimal


def sales(tenant_id: int, events: list[Event]) -> dict[int, EventSales]:
    """{event id: what it sold} for the events named, in two grouped queries: orders, buyers
    and revenue from purchases; tickets from line items (a purchase naming an event without
    line items has one written for it, services/events/purchases.py)."""
    by_external = {e.external_id: e.id for e in events}
    found = {e.id: EventSales(0, 0, 0, Decimal("0")) for e in events}
    if not events:
        return found
    orders = db.session.execute(
        select(CustomerActivity.event_id, func.count(), func.count(func.distinct(CustomerActivity.customer_id)),
               func.coalesce(func.sum(CustomerActivity.amount), 0))
        .where(CustomerActivity.tenant_id == tenant_id, CustomerActivity.type == "purchase",
               CustomerActivity.event_id.in_(list(by_external)))
        .group_by(CustomerActivity.event_id))
    tickets = dict(db.session.execute(
        select(PurchaseItem.event_id, func.coalesce(func.sum(PurchaseItem.quantity), 0))
        .where(PurchaseItem.tenant_id == tenant_id, PurchaseItem.event_id.in_(list(found)))
        .group_by(PurchaseItem.event_id)).all())
    for external_id, count, buyers, revenue in orders:
        event_id = by_external[external_id]
        found[event_id] = EventSales(int(tickets.get(event_id) or 0), int(buyers), int(count),
                                     Decimal(str(revenue)))
    return found
