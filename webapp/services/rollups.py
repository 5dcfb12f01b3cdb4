"""The rollups database triggers keep (purchase_hours, event_sales, event_buyers,
campaign_recipient_counts, customer_counts, segment_reachable_counts,
workflow_enrollment_counts; migrations 0025, 0026, 0028, 0032, 0033 and 0035), summed afresh from the raw rows:
for a bulk load that switched the triggers off (the demo seeder's deferred-index load on
PostgreSQL). PostgreSQL only, as that load is.

And the purchase rollups of a batch's new rows, set-based (apply_inserted): a transaction
that runs a block in left_to_caller() is passed over by the insert triggers (0031), and applies
its rows with five statements before it commits, where the triggers ran four per purchase.
They do what the trigger functions do for one row, summed: an hour's orders and revenue; an
event's buyers (a buyer is new when their row's orders are this batch's alone), orders and
revenue, for purchases of an event the tenant knows; its tickets from the line items."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from sqlalchemy import BigInteger, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from webapp.models.customer import REACHABLE_STATUS

REBUILD = (
    "DELETE FROM purchase_hours",
    "INSERT INTO purchase_hours (tenant_id, hour, orders, revenue) "
    "SELECT tenant_id, date_trunc('hour', occurred_at, 'UTC'), count(*), coalesce(sum(amount), 0) "
    "FROM customer_activities WHERE type = 'purchase' GROUP BY 1, 2",
    "DELETE FROM event_buyers",
    "DELETE FROM event_sales",
    "INSERT INTO event_buyers (event_id, customer_id, orders) "
    "SELECT e.id, a.customer_id, count(*) FROM customer_activities a "
    "JOIN events e ON e.tenant_id = a.tenant_id AND e.external_id = a.event_id "
    "WHERE a.type = 'purchase' GROUP BY e.id, a.customer_id",
    "INSERT INTO event_sales (event_id, tenant_id, orders, buyers, revenue, tickets) "
    "SELECT e.id, e.tenant_id, coalesce(b.orders, 0), coalesce(b.buyers, 0), coalesce(r.revenue, 0), "
    "       coalesce(i.tickets, 0) FROM events e "
    "LEFT JOIN (SELECT event_id, sum(orders) AS orders, count(*) AS buyers FROM event_buyers GROUP BY 1) b "
    "  ON b.event_id = e.id "
    "LEFT JOIN (SELECT tenant_id, event_id, sum(amount) AS revenue FROM customer_activities "
    "           WHERE type = 'purchase' AND event_id IS NOT NULL GROUP BY 1, 2) r "
    "  ON r.tenant_id = e.tenant_id AND r.event_id = e.external_id "
    "LEFT JOIN (SELECT event_id, sum(quantity) AS tickets FROM purchase_items GROUP BY 1) i ON i.event_id = e.id",
    "DELETE FROM customer_counts",
    "INSERT INTO customer_counts (tenant_id, customers) SELECT tenant_id, count(*) FROM customers GROUP BY 1",
    "DELETE FROM segment_reachable_counts",
    "INSERT INTO segment_reachable_counts (segment_id, tenant_id, reachable) "
    "SELECT m.segment_id, min(m.tenant_id), count(*) FROM customer_segment_members m WHERE NOT EXISTS ("
    f"  SELECT 1 FROM customers u WHERE u.id = m.customer_id AND u.email_status <> '{REACHABLE_STATUS}') GROUP BY 1",
    "DELETE FROM campaign_recipient_counts",
    "INSERT INTO campaign_recipient_counts (campaign_id, status, opened, clicked, touched, tenant_id, recipients) "
    "SELECT campaign_id, status, human_opens > 0, human_clicks > 0, opens + clicks > 0, min(tenant_id), count(*) "
    "FROM campaign_recipients GROUP BY 1, 2, 3, 4, 5",
    "DELETE FROM workflow_enrollment_counts",
    "INSERT INTO workflow_enrollment_counts (workflow_id, tenant_id, status, enrollments) "
    "SELECT workflow_id, min(tenant_id), status, count(*) FROM automation_enrollments GROUP BY 1, 3",
)


def rebuild_rollups(session: Session) -> None:
    """Every rollup row again from the raw rows, in the caller's transaction."""
    for statement in REBUILD:
        session.execute(text(statement))


_LEAVE = text("SELECT set_config('crm.rollups', :value, true)")

_IDS = bindparam("ids", type_=ARRAY(BigInteger()))
_HOURS = text(
    "INSERT INTO purchase_hours AS h (tenant_id, hour, orders, revenue) "
    "SELECT tenant_id, date_trunc('hour', occurred_at, 'UTC'), count(*), coalesce(sum(amount), 0) "
    "FROM customer_activities WHERE id = ANY(:ids) AND type = 'purchase' GROUP BY 1, 2 ORDER BY 1, 2 "
    "ON CONFLICT (tenant_id, hour) DO UPDATE SET orders = h.orders + excluded.orders, "
    "revenue = h.revenue + excluded.revenue").bindparams(_IDS)
# Per event the tenant knows and buyer: the batch's orders and revenue.
_BOUGHT = text(
    "SELECT e.id, e.tenant_id, a.customer_id, count(*), coalesce(sum(a.amount), 0) "
    "FROM customer_activities a JOIN events e ON e.tenant_id = a.tenant_id AND e.external_id = a.event_id "
    "WHERE a.id = ANY(:ids) AND a.type = 'purchase' AND a.event_id IS NOT NULL "
    "GROUP BY 1, 2, 3 ORDER BY 1, 3").bindparams(_IDS)
# The buyers' rows moved; each comes back with its orders after the move (after any concurrent
# batch's: the upsert waits for its row), so a buyer is new when they are this batch's alone.
_BUYERS = text(
    "INSERT INTO event_buyers AS b (event_id, customer_id, orders) "
    "SELECT * FROM unnest(CAST(:events AS integer[]), CAST(:customers AS integer[]), CAST(:orders AS integer[])) "
    "ON CONFLICT (event_id, customer_id) DO UPDATE SET orders = b.orders + excluded.orders "
    "RETURNING event_id, customer_id, orders")
_SALES = text(
    "INSERT INTO event_sales AS s (event_id, tenant_id, orders, buyers, revenue, tickets) "
    "SELECT e, t, o, b, r, 0 FROM unnest(CAST(:events AS integer[]), CAST(:tenants AS integer[]), "
    "CAST(:orders AS integer[]), CAST(:buyers AS integer[]), CAST(:revenue AS numeric[])) AS x(e, t, o, b, r) "
    "ON CONFLICT (event_id) DO UPDATE SET orders = s.orders + excluded.orders, "
    "buyers = s.buyers + excluded.buyers, revenue = s.revenue + excluded.revenue")
_TICKETS = text(
    "INSERT INTO event_sales AS s (event_id, tenant_id, orders, buyers, revenue, tickets) "
    "SELECT event_id, min(tenant_id), 0, 0, 0, sum(quantity) FROM purchase_items "
    "WHERE activity_id = ANY(:ids) AND event_id IS NOT NULL GROUP BY 1 ORDER BY 1 "
    "ON CONFLICT (event_id) DO UPDATE SET tickets = s.tickets + excluded.tickets").bindparams(_IDS)


@contextmanager
def left_to_caller(session: Session) -> Iterator[None]:
    """Purchases and line items the block inserts are not rolled up by the triggers: the
    caller applies them with apply_inserted before it commits. PostgreSQL only: elsewhere
    the block runs as it is, and the row triggers roll its rows up."""
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    session.execute(_LEAVE, {"value": "caller"})
    try:
        yield
    finally:
        session.execute(_LEAVE, {"value": ""})


def apply_inserted(session: Session, activity_ids: list[int]) -> None:
    """The purchase rollups of these new activities and their line items, set-based, for
    rows inserted in left_to_caller (nothing to do off PostgreSQL: the triggers did it)."""
    if not activity_ids or session.get_bind().dialect.name != "postgresql":
        return
    ids = {"ids": sorted(activity_ids)}
    session.execute(_HOURS, ids)
    bought = session.execute(_BOUGHT, ids).all()
    if bought:
        mine = {(event_id, customer_id): orders for event_id, _, customer_id, orders, _ in bought}
        moved = session.execute(_BUYERS, {"events": [r[0] for r in bought], "customers": [r[2] for r in bought],
                                          "orders": [r[3] for r in bought]}).all()
        new_buyers = Counter(event_id for event_id, customer_id, orders in moved
                             if orders == mine[(event_id, customer_id)])
        sales: dict[int, list] = {}
        for event_id, tenant_id, _, orders, revenue in bought:
            row = sales.setdefault(event_id, [tenant_id, 0, Decimal(0)])
            row[1] += orders
            row[2] += revenue
        events = sorted(sales)
        session.execute(_SALES, {"events": events, "tenants": [sales[e][0] for e in events],
                                 "orders": [sales[e][1] for e in events], "buyers": [new_buyers[e] for e in events],
                                 "revenue": [sales[e][2] for e in events]})
    session.execute(_TICKETS, ids)
