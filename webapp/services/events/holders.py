"""Who holds tickets for an event, and what an event sold: one SQL rule that reminders,
changes, attendance, the event page and the API all read."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select, union
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.infra.pagination import Page, keyset_by_id
from webapp.models import Customer, CustomerActivity, Event, EventSalesTotal, PurchaseItem


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
    # The API lists each holder's tags: loaded for the whole page in one statement.
    stmt = select(Customer).where(Customer.tenant_id == tenant_id, Customer.id.in_(select(holders.c.customer_id))) \
        .options(selectinload(Customer.tag_rows))
    return keyset_by_id(stmt, Customer.id, limit=limit, cursor=cursor)


@dataclass(frozen=True)
class EventSales:
    tickets_sold: int
    buyers: int
    orders: int
    revenue: Decimal


def sales(tenant_id: int, events: list[Event]) -> dict[int, EventSales]:
    """{event id: what it sold} for the events named, in one read of their rollup rows
    (event_sales, kept by triggers as purchases and line items come and go): orders, buyers
    and revenue of the purchases that name each event, tickets of its line items (a purchase
    naming an event without line items has one written for it, services/events/purchases.py)."""
    found = {e.id: EventSales(0, 0, 0, Decimal("0")) for e in events}
    if not events:
        return found
    for row in db.session.scalars(select(EventSalesTotal).where(EventSalesTotal.tenant_id == tenant_id,
                                                                EventSalesTotal.event_id.in_(list(found)))):
        found[row.event_id] = EventSales(row.tickets, row.buyers, row.orders, Decimal(str(row.revenue)))
    return found
