"""GET/POST /webhook-endpoints, PATCH/DELETE /webhook-endpoints/{id}, the deliveries list and
resend: the secret only in the create response, 422 naming the field, nothing half-written,
hostile bodies never a 5xx, another tenant's ids a 404."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.api.api_assertions import assert_error
from webapp.extensions import db
from webapp.models import WEBHOOK_EVENT_TYPES, WebhookDelivery, WebhookEndpoint
from webapp.services import webhooks

GOOD = {"url": "https://hooks.example.com/crm", "event_types": ["customer.created", "email.opened"],
        "description": "Data warehouse"}


def test_creating_an_endpoint_answers_201_with_its_secret_once(api):
    response = api.post("/webhook-endpoints", json=GOOD)

    assert response.status_code == 201
    created = response.get_json()
    assert created["secret"].startswith("whsec_") and created["enabled"] is True
    assert created["event_types"] == ["customer.created", "email.opened"]
    listed = api.get("/webhook-endpoints").get_json()
    assert [e["id"] for e in listed["data"]] == [created["id"]] and listed["next_cursor"] is None
    assert "secret" not in listed["data"][0] and created["secret"] not in json.dumps(listed)
    stored = db.session.get(WebhookEndpoint, created["id"])
    assert created["secret"] not in stored.secret  # sealed at rest
    assert webhooks.secret_of(stored) == created["secret"]


def test_bad_input_is_a_422_naming_the_field_and_stores_nothing(api):
    cases = [({**GOOD, "url": "ftp://hooks.example.com/x"}, "url"),
             ({**GOOD, "url": "http://hooks.example.com/x"}, "url"),  # plain http: not allowlisted
             ({**GOOD, "url": "https://user:pw@hooks.example.com/x"}, "url"),
             ({**GOOD, "event_types": ["customer.deleted"]}, "event_types[0]"),
             ({**GOOD, "event_types": []}, "event_types"),
             ({"url": GOOD["url"]}, "event_types"),
             ({**GOOD, "secret": "whsec_mine"}, "secret")]
    for body, field in cases:
        assert_error(api.post("/webhook-endpoints", json=body), 422, field=field, case=body)
    assert db.session.scalar(select(func.count(WebhookEndpoint.id))) == 0


def test_patch_changes_only_what_is_sent_and_disables(api):
    created = api.post("/webhook-endpoints", json=GOOD).get_json()

    response = api.patch(f"/webhook-endpoints/{created['id']}", json={"enabled": False,
                                                                      "event_types": ["segment.entered"]})

    assert response.status_code == 200
    body = response.get_json()
    assert (body["enabled"], body["event_types"], body["url"]) == (False, ["segment.entered"], GOOD["url"])
    assert body["disabled_reason"] and "secret" not in body
    assert_error(api.patch(f"/webhook-endpoints/{created['id']}", json={"url": "ftp://x"}), 422, field="url")


def test_deliveries_are_listed_newest_first_in_keyset_pages_and_can_be_resent(api, tenant_a):
    endpoint = api.post("/webhook-endpoints", json=GOOD).get_json()
    webhooks.emit_many(tenant_a.id, "email.opened", [{"n": n} for n in range(5)])
    db.session.commit()

    pages, cursor = [], None
    while True:
        body = api.get(f"/webhook-endpoints/{endpoint['id']}/deliveries",
                       query_string={"limit": 2, **({"cursor": cursor} if cursor else {})}).get_json()
        pages.append([d["payload"]["data"]["n"] for d in body["data"]])
        if not (cursor := body["next_cursor"]):
            break
    assert pages == [[4, 3], [2, 1], [0]]
    first = api.get(f"/webhook-endpoints/{endpoint['id']}/deliveries?limit=1").get_json()["data"][0]
    assert first["status"] == "pending" and first["msg_id"].startswith("msg_")

    assert_error(api.post(f"/webhook-endpoints/{endpoint['id']}/deliveries/{first['id']}/resend"), 409)
    db.session.execute(WebhookDelivery.__table__.update().values(status="failed"))
    db.session.commit()
    resent = api.post(f"/webhook-endpoints/{endpoint['id']}/deliveries/{first['id']}/resend")
    assert resent.status_code == 202 and resent.get_json()["status"] == "pending"
    assert resent.get_json()["msg_id"] == first["msg_id"]


def test_deleting_an_endpoint_removes_its_deliveries(api, tenant_a):
    endpoint = api.post("/webhook-endpoints", json=GOOD).get_json()
    webhooks.emit(tenant_a.id, "customer.created", {"n": 1})
    db.session.commit()

    assert api.delete(f"/webhook-endpoints/{endpoint['id']}").status_code == 204

    assert db.session.scalar(select(func.count(WebhookDelivery.id))) == 0
    assert_error(api.get(f"/webhook-endpoints/{endpoint['id']}/deliveries"), 404)


def test_another_tenants_endpoint_and_delivery_are_404_everywhere(api, api_b, tenant_a):
    endpoint = api.post("/webhook-endpoints", json=GOOD).get_json()
    webhooks.emit(tenant_a.id, "customer.created", {"n": 1})
    db.session.commit()
    delivery = db.session.scalar(select(WebhookDelivery.id))
    mine = api_b.post("/webhook-endpoints", json=GOOD).get_json()

    for method, path, body in [
            ("PATCH", f"/webhook-endpoints/{endpoint['id']}", {"enabled": False}),
            ("DELETE", f"/webhook-endpoints/{endpoint['id']}", None),
            ("GET", f"/webhook-endpoints/{endpoint['id']}/deliveries", None),
            ("POST", f"/webhook-endpoints/{endpoint['id']}/deliveries/{delivery}/resend", None),
            # B's own endpoint with A's delivery id: still not B's.
            ("POST", f"/webhook-endpoints/{mine['id']}/deliveries/{delivery}/resend", None)]:
        assert_error(api_b._call(method, path, **({"json": body} if body else {})), 404, code="not_found")
    assert [e["id"] for e in api_b.get("/webhook-endpoints").get_json()["data"]] == [mine["id"]]
    assert db.session.get(WebhookEndpoint, endpoint["id"]).enabled


HOSTILE_VALUES = st.one_of(
    st.text(max_size=3000), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.none(), st.booleans(),
    st.lists(st.sampled_from(WEBHOOK_EVENT_TYPES) | st.text(max_size=50), max_size=60),
    st.sampled_from(["a\x00b", "\ud800", "https://" + "x" * 3000 + ".example.com/",
                     "https://[::1]/x", "https://169.254.169.254/"]),
    st.recursive(st.none(), lambda inner: st.lists(inner, max_size=3), max_leaves=200))


@settings(max_examples=60, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(field=st.sampled_from(["url", "event_types", "description", "enabled", "extra"]), value=HOSTILE_VALUES)
def test_hostile_values_in_the_body_are_never_a_5xx(api, field, value):
    body = {**GOOD, field: value}
    raw = json.dumps(body, allow_nan=True)
    response = api.post("/webhook-endpoints", data=raw, content_type="application/json")

    assert response.status_code in (201, 400, 422), (body, response.get_data(as_text=True)[:300])
    if response.status_code == 201:
        api.delete(f"/webhook-endpoints/{response.get_json()['id']}")
    else:
        assert_error(response, response.status_code)


def test_deeply_nested_event_types_are_a_clean_error(api):
    raw = '{"url": "https://hooks.example.com/", "event_types": ' + "[" * 3000 + "]" * 3000 + "}"
    response = api.post("/webhook-endpoints", data=raw, content_type="application/json")
    assert response.status_code in (400, 422)
