"""Pages and API lists that show customers with their tags send the same number of statements
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
