"""Property-based: extreme values inside one item of a batch are that item's 4xx (or the
whole body's, when the JSON itself cannot be read), never a 5xx; the items around it are
stored, and the refused one leaves nothing behind."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given
from sqlalchemy import func, select

from tests.api.test_hostile_api import FRAGMENTS, HOSTILE, _refuse, extreme_fragments, raw_body, snapshot
from webapp.extensions import db
from webapp.models import Customer, CustomerActivity

ACTIVITY_SITES = [("customer_id",), ("type",), ("occurred_at",), ("idempotency_key",), ("properties",),
                  ("properties", "order_total"), ("properties", "tickets"), ("properties", "order_id"),
                  ("properties", "currency"), ("properties", "x"), ("customer",), ("customer", "email"),
                  ("customer", "external_id"), ("properties", "event"), ("properties", "event", "id"),
                  ("properties", "event", "name"), ("properties", "event", "starts_at"), ("properties", "items"),
                  ("properties", "items", 0, "price"), ("properties", "items", 0, "quantity"),
                  ("properties", "items", 0, "attendee", "email")]
# Purchases as a ticketing platform sends them: an event and a line item with its guest, so
# the batch's set-based event and ticket path meets every hostile value too.
EVENT = {"id": "ev-hostile", "name": "Show", "starts_at": "2027-01-05T20:00:00+01:00"}
LINE = {"ticket_type": "GA", "price": 5, "quantity": 1, "attendee": {"email": "guest@alpha.example.com"}}
CUSTOMER_SITES = [("email",), ("external_id",), ("first_name",), ("timezone",), ("tags",), ("attributes",),
                  ("attributes", "level"), ("total_spent",), ("orders_count",), ("email_status",), ("topics",)]
_serial = itertools.count()


def _order(kind: str) -> str:
    return f"{kind}-{next(_serial)}"


@pytest.fixture
def world(api):
    customer = api.post("/customers", json={"email": "ann@alpha.example.com"}).get_json()
    api.post("/segments", json={"name": "Buyers", "conditions": [{"type": "orders_count", "operator": ">=",
                                                                  "value": 1}]})
    return {"customer": customer["id"]}


def _send(api, name: str, items: list[dict], where: tuple, fragment: str):
    body = {name: items}
    data = raw_body(body, (name, 1, *where), fragment)
    response = api.post(f"/{name}/batch", data=data, content_type="application/json")
    assert response.status_code < 500, (fragment[:80], response.get_data(as_text=True)[:500])
    json.loads(response.get_data(as_text=True), parse_constant=_refuse)
    return response


def _stored(order_id: str) -> int:
    return db.session.scalar(select(func.count()).select_from(CustomerActivity)
                             .where(CustomerActivity.order_id == order_id))


@pytest.mark.slow
@pytest.mark.parametrize("where", ACTIVITY_SITES, ids=[".".join(map(str, w)) for w in ACTIVITY_SITES])
def test_a_hostile_activity_is_refused_alone(api, world, where):
    def check(fragment: str) -> None:
        before = snapshot()
        orders = [_order("good"), _order("hostile"), _order("good")]
        items = [{"customer_id": world["customer"], "type": "purchase",
                  "properties": {"order_total": 5, "order_id": order, "x": 1, "event": EVENT, "items": [LINE]}}
                 for order in orders]
        newcomer = f"{orders[1]}@alpha.example.com"
        items[1]["customer"] = {"email": newcomer, "external_id": orders[1]}
        del items[1]["customer_id"]
        if where[0] in ("customer_id",):
            items[1] = {**items[1], "customer_id": 0}
            del items[1]["customer"]
        response = _send(api, "activities", items, where, fragment)
        if response.status_code >= 400:  # the JSON itself was refused (nesting past the parser's limit)
            assert response.get_json()["error"]["message"]
            assert snapshot() == before
            return
        results = response.get_json()["results"]
        assert [r["index"] for r in results] == [0, 1, 2]
        assert results[0]["status"] == results[2]["status"] == 201
        assert _stored(orders[0]) == _stored(orders[2]) == 1
        if results[1]["status"] >= 400:
            assert results[1]["error"]["message"]
            assert _stored(orders[1]) == 0
            assert db.session.scalar(select(func.count()).select_from(Customer)
                                     .where(Customer.email == newcomer)) == 0
        else:
            assert results[1]["status"] in (200, 201)

    for fragment in FRAGMENTS:
        check(fragment)
    HOSTILE(given(fragment=extreme_fragments)(check))()
    # Still healthy: a plain purchase goes through the single path afterwards.
    assert api.post("/activities", json={"customer_id": world["customer"], "type": "purchase",
                                         "properties": {"order_total": 1}}).status_code == 201


@pytest.mark.slow
@pytest.mark.parametrize("where", CUSTOMER_SITES, ids=[".".join(w) for w in CUSTOMER_SITES])
def test_a_hostile_customer_is_refused_alone(api, world, where):
    def check(fragment: str) -> None:
        before = snapshot()
        emails = [f"{_order('c')}@alpha.example.com" for _ in range(3)]
        items = [{"email": email, "external_id": email, "first_name": "F", "timezone": "UTC", "tags": ["t"],
                  "attributes": {"level": 1}, "total_spent": 1, "orders_count": 1, "email_status": "subscribed",
                  "topics": []} for email in emails]
        response = _send(api, "customers", items, where, fragment)
        if response.status_code >= 400:
            assert response.get_json()["error"]["message"]
            assert snapshot() == before
            return
        results = response.get_json()["results"]
        assert results[0]["status"] == results[2]["status"] == 201
        if results[1]["status"] >= 400:
            assert results[1]["error"]["message"]
            assert db.session.scalar(select(func.count()).select_from(Customer).where(
                Customer.external_id == emails[1])) == 0
        else:
            assert results[1]["status"] in (200, 201)

    for fragment in FRAGMENTS:
        check(fragment)
    HOSTILE(given(fragment=extreme_fragments)(check))()
