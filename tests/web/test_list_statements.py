"""Pages and API lists that show customers with their tags (an event's holders too) send the same number of statements
however many customers the page holds: the tags of the whole page come in one statement, not
one per customer (the segment page sent 25 tag queries for 25 members)."""

from __future__ import annotations

import pytest

from tests.sql_support import sql_sent
from webapp.extensions import db
from webapp.services import segments

from .conftest import make_customer

VIP = [{"type": "tag", "operator": "has", "value": "vip"}]


def _statements(client, url: str, headers: dict | None = None) -> int:
    with sql_sent() as seen:
        response = client.get(url, headers=headers or {})
        assert response.status_code == 200, url
    return len(seen)


def _fans(tenant_id: int, first: int, count: int) -> None:
    for n in range(first, first + count):
        make_customer(tenant_id, f"fan{n}@example.com", first_name=f"Fan{n}", tags=["vip", f"row-{n}"])
    db.session.commit()


@pytest.mark.parametrize("page", ["segment page", "segment members (API)", "customers list", "customers (API)"])
def test_a_list_of_customers_costs_the_same_statements_for_two_or_twelve(page, owner_a, client, tenant_a):
    _fans(tenant_a.id, 0, 2)
    segment_id = segments.create_segment(tenant_a.id, "VIPs", VIP).id
    url, headers, who = {
        "segment page": (f"/segments/{segment_id}", None, owner_a),
        "segment members (API)": (f"/api/crm/segments/{segment_id}/members", tenant_a.headers, client),
        "customers list": ("/customers/", None, owner_a),
        "customers (API)": ("/api/crm/customers", tenant_a.headers, client),
    }[page]
    _statements(who, url, headers)  # caches warmed (the tenant's keys, its topics)
    with_two = _statements(who, url, headers)

    _fans(tenant_a.id, 2, 10)
    segments.calculate_segment(tenant_a.id, segment_id)
    body = who.get(url, headers=headers or {}).get_data(as_text=True)
    assert "row-11" in body and "row-0" in body  # every customer's own tags are on the page
    assert _statements(who, url, headers) == with_two


def test_an_events_holders_cost_the_same_statements_for_two_or_twelve(client, tenant_a):
    from sqlalchemy import select

    from webapp.models import Event
    from webapp.services.activities import record_activity

    def buy(first: int, count: int) -> None:
        _fans(tenant_a.id, first, count)
        for n in range(first, first + count):
            record_activity(tenant_a.id, "purchase", customer={"email": f"fan{n}@example.com"},
                            properties={"order_total": 20, "order_id": f"ORD-{n}", "tickets": 1,
                                        "event": {"id": "ev-1", "name": "Summer Jazz Night", "venue": "Main Hall"}})
        db.session.commit()

    buy(0, 2)
    event_id = db.session.scalar(select(Event.id).where(Event.tenant_id == tenant_a.id))
    url = f"/api/crm/events/{event_id}/holders"
    _statements(client, url, tenant_a.headers)  # caches warmed
    with_two = _statements(client, url, tenant_a.headers)

    buy(2, 10)
    body = client.get(url, headers=tenant_a.headers).get_data(as_text=True)
    assert "row-11" in body and "row-0" in body
    assert _statements(client, url, tenant_a.headers) == with_two
