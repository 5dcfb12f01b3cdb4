"""The rollups database triggers keep (purchase_hours, event_sales, event_buyers,
campaign_recipient_counts; migrations 0025, 0026 and 0028), summed afresh from the raw rows:
for a bulk load that switched the triggers off (the demo seeder's deferred-index load on
PostgreSQL). PostgreSQL only, as that load is."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

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
    "DELETE FROM campaign_recipient_counts",
    "INSERT INTO campaign_recipient_counts (campaign_id, status, opened, clicked, touched, tenant_id, recipients) "
    "SELECT campaign_id, status, human_opens > 0, human_clicks > 0, opens + clicks > 0, min(tenant_id), count(*) "
    "FROM campaign_recipients GROUP BY 1, 2, 3, 4, 5",
)


def rebuild_rollups(session: Session) -> None:
    """Every rollup row again from the raw rows, in the caller's transaction."""
    for statement in REBUILD:
        session.execute(text(statement))
