"""Inventory reports: the event's status follows what is left, and low_inventory, sold_out
and back_in_stock fire once per crossing (hysteresis, cool-down), for a segment less the
event's ticket holders, however many reports arrive at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.api.api_assertions import assert_error
from webapp.extensions import db
from webapp.models import AutomationEnrollment, Customer, InventoryCrossing
from webapp.services import workflows
from webapp.services.customers import upsert_customer
from webapp.services.events.inventory import report_inventory
from webapp.services.segments import create_segment

HOSTILE = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
T0 = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
SHOW = {"external_id": "evt-9", "name": "Low Roar", "starts_at": "2027-03-01T20:00:00+00:00", "capacity": 100,
        "timezone": "Europe/London", "url": "https://tickets.example.com/evt-9"}


def _fans(tenant_id: int, emails: list[str]) -> int:
    for email in emails:
        upsert_customer(tenant_id, {"email": email, "tags": ["fan"]})
    return create_segment(tenant_id, "Fans", [{"type": "tag", "value": "fan"}]).id


def _workflow(tenant_id: int, trigger: str, config: dict) -> int:
    created = workflows.create_workflow(tenant_id, {
        "name": f"{trigger} flow", "trigger_type": trigger, "trigger_config": config, "reentry": "always",
        "steps": [{"type": "add_tag", "config": {"tag": trigger}}]})
    workflows.set_active(tenant_id, created.id, True)
    return created.id


def _enrolled(workflow_id: int) -> list[tuple[int, str]]:
    db.session.expire_all()
    return sorted(db.session.execute(select(AutomationEnrollment.customer_id, AutomationEnrollment.dedupe_key)
                                     .where(AutomationEnrollment.workflow_id == workflow_id)).all())


def _report(tenant_id: int, event_id: int, available: int, at: datetime = T0, **more) -> None:
    report_inventory(tenant_id, event_id, {"available": available, **more}, now=at)


@pytest.fixture
def event(api):
    created = api.post("/events", json=SHOW)
    assert created.status_code == 201
    return created.get_json()


def test_inventory_is_stored_and_the_status_follows_it(api, event):
    low = api.post(f"/events/{event['id']}/inventory", json={"available": 12})
    assert low.status_code == 200, low.get_json()
    assert (low.get_json()["available"], low.get_json()["capacity"], low.get_json()["status"]) == (12, 100, "on_sale")
    gone = api.post(f"/events/{event['id']}/inventory", json={"available": 0, "capacity": 120}).get_json()
    assert (gone["available"], gone["capacity"], gone["status"]) == (0, 120, "sold_out")
    back = api.post(f"/events/{event['id']}/inventory", json={"available": 3}).get_json()
    assert back["status"] == "on_sale"
    assert back["sequence"] == 0  # a sell-out is not a change for calendars


def test_a_cancelled_event_stays_cancelled_whatever_the_inventory(api, event):
    api.patch(f"/events/{event['id']}", json={"status": "cancelled"})
    assert api.post(f"/events/{event['id']}/inventory", json={"available": 0}).get_json()["status"] == "cancelled"
    assert api.post(f"/events/{event['id']}/inventory", json={"available": 50}).get_json()["status"] == "cancelled"


def test_inventory_out_of_bounds_is_a_422_naming_the_field(api, event):
    path = f"/events/{event['id']}/inventory"
    assert_error(api.post(path, json={"available": 101}), 422, field="available")
    assert_error(api.post(path, json={"available": 10, "capacity": 5}), 422, field="capacity")
    assert_error(api.post(path, json={"available": -1}), 422, field="available")
    assert_error(api.post(path, json={"available": 10, "capacity": 10_000_001}), 422, field="capacity")
    assert_error(api.post(path, json={"available": "10"}), 422, field="available")
    assert_error(api.post(path, json={}), 422, field="available")
    assert_error(api.post(path, json={"available": 1, "sold": 3}), 422, field="sold")
    assert api.get(f"/events/{event['id']}").get_json()["available"] is None


def test_another_tenants_event_is_a_404(api, api_b, event):
    assert_error(api_b.post(f"/events/{event['id']}/inventory", json={"available": 1}), 404)
    assert_error(api.post("/events/999999/inventory", json={"available": 1}), 404)
    assert api.get(f"/events/{event['id']}").get_json()["available"] is None


@HOSTILE
@given(value=st.one_of(st.integers(min_value=2**31, max_value=2**70), st.integers(max_value=-1),
                       st.floats(allow_nan=True), st.text(max_size=5).map(lambda t: t + "\x00"),
                       st.booleans(), st.none(), st.lists(st.integers(), max_size=2)),
       field=st.sampled_from(["available", "capacity"]))
def test_hostile_inventory_is_refused_with_the_field_named(api, event, field, value):
    body = {"available": 1, "capacity": 100, field: value}
    if field == "capacity" and value is None:
        return  # capacity null is "unknown": allowed
    response = api.post(f"/events/{event['id']}/inventory", json=body)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["details"][0]["field"] == field


def test_low_inventory_has_hysteresis_9_11_9_fires_once_then_past_the_margin_again(api, tenant_a, event):
    fans = _fans(tenant_a.id, ["ava@example.com", "bo@example.com"])
    flow = _workflow(tenant_a.id, "low_inventory", {"segment_id": fans, "below_percent": 10})
    _report(tenant_a.id, event["id"], 50)
    assert _enrolled(flow) == []
    _report(tenant_a.id, event["id"], 9)
    assert len(_enrolled(flow)) == 2
    _report(tenant_a.id, event["id"], 11, T0 + timedelta(minutes=1))
    _report(tenant_a.id, event["id"], 9, T0 + timedelta(minutes=2))
    assert len(_enrolled(flow)) == 2  # 11% is inside the margin: not re-armed
    _report(tenant_a.id, event["id"], 15, T0 + timedelta(minutes=3))  # 10 + 5: re-armed
    _report(tenant_a.id, event["id"], 8, T0 + timedelta(minutes=4))
    keys = {key for _, key in _enrolled(flow)}
    assert keys == {f"low_inventory:{event['id']}:1", f"low_inventory:{event['id']}:2"}
    assert len(_enrolled(flow)) == 4


def test_low_inventory_rearms_at_its_own_setting_and_sold_out_is_not_low(api, tenant_a, event):
    fans = _fans(tenant_a.id, ["ava@example.com"])
    flow = _workflow(tenant_a.id, "low_inventory", {"segment_id": fans, "below_percent": 10, "rearm_percent": 30})
    _report(tenant_a.id, event["id"], 0)
    assert _enrolled(flow) == []  # sold out says it; "only a few left" would be wrong
    _report(tenant_a.id, event["id"], 5)
    _report(tenant_a.id, event["id"], 25)
    _report(tenant_a.id, event["id"], 5)
    assert len(_enrolled(flow)) == 1
    _report(tenant_a.id, event["id"], 30)
    _report(tenant_a.id, event["id"], 5)
    assert len(_enrolled(flow)) == 2


def test_sold_out_and_back_in_stock_fire_once_per_crossing(api, tenant_a, event):
    fans = _fans(tenant_a.id, ["ava@example.com"])
    sold = _workflow(tenant_a.id, "sold_out", {"segment_id": fans})
    back = _workflow(tenant_a.id, "back_in_stock", {"segment_id": fans, "cooldown_minutes": 60})
    _report(tenant_a.id, event["id"], 20)
    assert _enrolled(sold) == [] and _enrolled(back) == []  # never sold out: not "back"
    _report(tenant_a.id, event["id"], 0)
    _report(tenant_a.id, event["id"], 0, T0 + timedelta(minutes=1))
    assert len(_enrolled(sold)) == 1 and _enrolled(back) == []
    _report(tenant_a.id, event["id"], 4, T0 + timedelta(minutes=2))
    _report(tenant_a.id, event["id"], 6, T0 + timedelta(minutes=3))
    assert len(_enrolled(back)) == 1
    # Sold out again and back within the cool-down: sold_out fires, back_in_stock keeps quiet.
    _report(tenant_a.id, event["id"], 0, T0 + timedelta(minutes=10))
    _report(tenant_a.id, event["id"], 2, T0 + timedelta(minutes=20))
    assert len(_enrolled(sold)) == 2 and len(_enrolled(back)) == 1
    # After the cool-down, the next real crossing fires again.
    _report(tenant_a.id, event["id"], 0, T0 + timedelta(hours=3))
    _report(tenant_a.id, event["id"], 2, T0 + timedelta(hours=3, minutes=1))
    assert len(_enrolled(sold)) == 3 and len(_enrolled(back)) == 2


def test_the_audience_is_the_segment_less_the_events_holders(api, tenant_a, event):
    fans = _fans(tenant_a.id, ["ava@example.com", "bo@example.com", "cy@example.com"])
    upsert_customer(tenant_a.id, {"email": "dee@example.com"})  # not a fan
    api.post("/activities", json={"customer": {"email": "bo@example.com"}, "type": "purchase",
                                  "properties": {"order_total": 40, "order_id": "o-1", "event": {"id": "evt-9"}}})
    leave_out = _workflow(tenant_a.id, "sold_out", {"segment_id": fans})
    everyone = _workflow(tenant_a.id, "sold_out", {"segment_id": fans, "exclude_holders": False})
    _report(tenant_a.id, event["id"], 0)
    assert len(_enrolled(leave_out)) == 2 and len(_enrolled(everyone)) == 3
    bo = db.session.scalar(select(Customer.id).where(Customer.email == "bo@example.com"))
    assert bo not in {c for c, _ in _enrolled(leave_out)} and bo in {c for c, _ in _enrolled(everyone)}


def test_a_workflow_for_one_event_ignores_the_others(api, tenant_a, event):
    other = api.post("/events", json={**SHOW, "external_id": "evt-10"}).get_json()
    fans = _fans(tenant_a.id, ["ava@example.com"])
    flow = _workflow(tenant_a.id, "sold_out", {"segment_id": fans, "event_id": event["id"]})
    _report(tenant_a.id, other["id"], 0)
    assert _enrolled(flow) == []
    _report(tenant_a.id, event["id"], 0)
    assert len(_enrolled(flow)) == 1


def test_concurrent_reports_fire_once(app, api, tenant_a, event, run_in_threads):
    fans = _fans(tenant_a.id, ["ava@example.com", "bo@example.com"])
    sold = _workflow(tenant_a.id, "sold_out", {"segment_id": fans})
    low = _workflow(tenant_a.id, "low_inventory", {"segment_id": fans, "below_percent": 10})
    _report(tenant_a.id, event["id"], 50)

    for available in (5, 0):  # the same report, four times at once: running low, then sold out
        results = run_in_threads(app, 4, lambda i, n=available: report_inventory(
            tenant_a.id, event["id"], {"available": n}, now=T0))
        assert not [r for r in results if isinstance(r, BaseException)], results
    assert len(_enrolled(sold)) == 2 and len(_enrolled(low)) == 2
    assert db.session.scalar(select(func.sum(InventoryCrossing.crossings))) == 2


def test_inventory_triggers_need_a_segment_of_the_tenant(api, api_b, tenant_b):
    other_segment = create_segment(tenant_b.id, "Theirs", [{"type": "tag", "value": "x"}]).id
    mine = api.post("/segments", json={"name": "Mine", "conditions": [{"type": "tag", "value": "fan"}]}).get_json()
    base = {"name": "Low", "trigger_type": "low_inventory"}
    assert_error(api.post("/workflows", json={**base, "trigger_config": {}}), 422, field="trigger_config.segment_id")
    assert_error(api.post("/workflows", json={**base, "trigger_config": {"segment_id": other_segment}}), 422,
                 field="trigger_config.segment_id")
    assert_error(api.post("/workflows", json={**base, "trigger_config": {"segment_id": mine["id"],
                                                                         "below_percent": 100}}), 422,
                 field="trigger_config.below_percent")
    assert_error(api.post("/workflows", json={**base, "trigger_config": {"segment_id": mine["id"], "below_percent": 20,
                                                                         "rearm_percent": 15}}), 422)
    created = api.post("/workflows", json={**base, "trigger_config": {"segment_id": mine["id"], "below_percent": 20}})
    assert created.status_code == 201, created.get_json()
