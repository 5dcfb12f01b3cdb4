"""Workflows over JSON: CRUD, steps, ordering, activation, enrollment, triggers, traces."""

from __future__ import annotations

import pytest
from api_assertions import assert_error

from webapp.extensions import db
from webapp.models import Tenant
from webapp.services.workflows.engine import run_due


@pytest.fixture
def ready(tenant_a):
    tenant = db.session.get(Tenant, tenant_a.id)
    tenant.postal_address, tenant.sender_email = "1 Stage Door, Leeds", "hello@alpha.example.com"
    db.session.commit()
    return tenant_a


def new_workflow(api, **fields) -> dict:
    body = {"name": "After purchase", "trigger_type": "purchase", "trigger_config": {"min_order_total": 100},
            "steps": [{"type": "wait", "config": {"days": 2}},
                      {"type": "send_email", "config": {"subject": "Parking", "content": "<p>Park</p>"}}], **fields}
    response = api.post("/workflows", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_create_get_list_and_patch(api, ready):
    created = new_workflow(api)

    assert created["active"] is False and created["reentry"] == "one_at_a_time"
    assert [s["type"] for s in created["steps"]] == ["wait", "send_email"]
    assert created["steps"][0]["summary"] == "Wait 2 days"
    listed = api.get("/workflows").get_json()["data"]
    assert [w["id"] for w in listed] == [created["id"]] and listed[0]["counts"]["enrolled"] == 0
    patched = api.patch(f"/workflows/{created['id']}", json={"name": "Renamed", "reentry": "always"}).get_json()
    assert (patched["name"], patched["reentry"]) == ("Renamed", "always")


@pytest.mark.parametrize(("step", "field"), [
    ({"type": "wait", "config": {"days": 1, "hours": 2}}, "config"),
    ({"type": "wait", "config": {"weeks": 1}}, "config.weeks"),
    ({"type": "send_email", "config": {"subject": "Hi {{ customer.", "content": "<p>x</p>"}}, "config.subject"),
    ({"type": "condition", "config": {"conditions": [{"type": "nope", "value": 1}]}}, "config.conditions[0].type"),
    ({"type": "condition", "config": {"conditions": [{"type": "tag", "value": "vip"}], "else_step": 99999}},
     "config.else_step"),
    ({"type": "webhook", "config": {"url": "http://example.com/hook"}}, "config.url"),
    ({"type": "add_tag", "config": {"tag": "!!"}}, "config.tag"),
    ({"type": "wait_until", "config": {"at": "2026-01-01T10:00:00"}}, "config.at"),
])
def test_invalid_step_configs_are_422_naming_the_field(api, ready, step, field):
    workflow = new_workflow(api)

    response = api.post(f"/workflows/{workflow['id']}/steps", json=step)

    assert_error(response, 422)
    assert response.get_json()["error"]["details"][0]["field"] == field


def test_invalid_trigger_config_is_422(api, ready):
    response = api.post("/workflows", json={"name": "x", "trigger_type": "purchase",
                                            "trigger_config": {"min_order_total": "lots"}})
    assert_error(response, 422)
    assert response.get_json()["error"]["details"][0]["field"] == "trigger_config.min_order_total"
    response = api.post("/workflows", json={"name": "x", "trigger_type": "segment_entered",
                                            "trigger_config": {"segment_id": 424242}})
    assert response.get_json()["error"]["details"][0]["field"] == "trigger_config.segment_id"


def test_activation_without_steps_is_refused_with_a_message(api, ready):
    empty = new_workflow(api, steps=[])

    response = api.post(f"/workflows/{empty['id']}/toggle")

    assert_error(response, 422)
    assert "at least one step" in response.get_json()["error"]["message"]
    assert api.get(f"/workflows/{empty['id']}").get_json()["active"] is False


def test_toggle_flips_or_sets(api, ready):
    workflow = new_workflow(api)
    path = f"/workflows/{workflow['id']}/toggle"

    assert api.post(path).get_json()["active"] is True
    assert api.post(path, json={"active": True}).get_json()["active"] is True
    assert api.post(path).get_json()["active"] is False
    assert_error(api.post(path, json={"active": "yes"}), 422)


def test_steps_insert_at_position_reorder_patch_and_delete(api, ready):
    workflow = new_workflow(api)
    wid = workflow["id"]
    wait, email = (s["id"] for s in workflow["steps"])

    first = api.post(f"/workflows/{wid}/steps", json={"type": "add_tag", "config": {"tag": "vip"},
                                                       "position": 0}).get_json()
    assert [s["id"] for s in api.get(f"/workflows/{wid}").get_json()["steps"]] == [first["id"], wait, email]
    reordered = api.put(f"/workflows/{wid}/steps/order", json={"step_ids": [email, first["id"], wait]}).get_json()
    assert [s["id"] for s in reordered["steps"]] == [email, first["id"], wait]
    assert_error(api.put(f"/workflows/{wid}/steps/order", json={"step_ids": [email]}), 422)
    patched = api.patch(f"/workflows/{wid}/steps/{wait}", json={"config": {"hours": 3}}).get_json()
    assert patched["summary"] == "Wait 3 hours"
    assert api.delete(f"/workflows/{wid}/steps/{first['id']}").status_code == 204
    assert [s["id"] for s in api.get(f"/workflows/{wid}").get_json()["steps"]] == [email, wait]


def test_manual_enrollment_trace_and_delete_needing_force(api, ready):
    workflow = new_workflow(api, trigger_type="custom", trigger_config={})
    wid = workflow["id"]
    customer = api.post("/customers", json={"email": "ada@example.com", "first_name": "Ada"}).get_json()
    assert_error(api.post(f"/workflows/{wid}/enroll", json={"customer_ids": [customer["id"]]}), 409)
    api.post(f"/workflows/{wid}/toggle")

    result = api.post(f"/workflows/{wid}/enroll", json={"customer_ids": [customer["id"]]}).get_json()
    again = api.post(f"/workflows/{wid}/enroll", json={"customer_ids": [customer["id"]]}).get_json()
    assert result == {"enrolled": [customer["id"]], "skipped": []}
    assert again == {"enrolled": [], "skipped": [customer["id"]]}
    run_due()

    waiting = api.get(f"/workflows/{wid}/enrollments", query_string={"status": "waiting"}).get_json()["data"]
    assert [e["customer_id"] for e in waiting] == [customer["id"]]
    assert api.get(f"/workflows/{wid}/enrollments", query_string={"status": "completed"}).get_json()["data"] == []
    [traced] = api.get(f"/customers/{customer['id']}/enrollments").get_json()["data"]
    assert [(x["step_type"], x["outcome"]) for x in traced["trace"]] == [("wait", "waiting")]
    assert api.get("/workflows").get_json()["data"][0]["counts"]["active"] == 1

    assert_error(api.delete(f"/workflows/{wid}"), 409)
    assert api.delete(f"/workflows/{wid}", query_string={"force": "true"}).status_code == 204
    assert_error(api.get(f"/workflows/{wid}"), 404)


def test_triggers_endpoint_and_signup_on_customer_creation(api, ready):
    welcome = new_workflow(api, trigger_type="signup", trigger_config={},
                           steps=[{"type": "add_tag", "config": {"tag": "welcomed"}}])
    buyers = new_workflow(api)
    for wid in (welcome["id"], buyers["id"]):
        assert api.post(f"/workflows/{wid}/toggle").status_code == 200

    created = api.post("/customers", json={"email": "new@example.com", "signup": True}).get_json()
    run_due()
    assert api.get(f"/customers/{created['id']}").get_json()["tags"] == ["welcomed"]

    small = api.post("/triggers", json={"type": "purchase", "customer_id": created["id"],
                                        "payload": {"order_total": 50}})
    big = api.post("/triggers", json={"type": "purchase", "customer_id": created["id"],
                                      "payload": {"order_total": 150}})
    assert small.status_code == 201 and small.get_json()["enrollment_ids"] == []
    assert len(big.get_json()["enrollment_ids"]) == 1
    assert_error(api.post("/triggers", json={"type": "event_day", "customer_id": created["id"]}), 422)
    assert_error(api.post("/triggers", json={"type": "custom", "customer_id": 999999}), 404)


@pytest.mark.parametrize("event", ["not an object", {"starts_at": 20260610}, {"starts_at": "2026-06-10T19:00"},
                                   {"starts_at": "0001-01-01T00:00:00+00:00"}])
def test_a_trigger_whose_event_a_wait_cannot_use_is_enrolled_and_the_wait_passed_over(api, ready, event):
    """The trigger starts a workflow's opening wait itself: whatever the payload holds, the
    request succeeds, and a wait with no usable event time is passed by the worker."""
    workflow = new_workflow(api, trigger_type="custom", trigger_config={},
                            steps=[{"type": "wait_until", "config": {"before_event_hours": 24}},
                                   {"type": "add_tag", "config": {"tag": "on"}}])
    api.post(f"/workflows/{workflow['id']}/toggle")
    customer = api.post("/customers", json={"email": "ada@example.com"}).get_json()

    fired = api.post("/triggers", json={"type": "custom", "customer_id": customer["id"],
                                        "payload": {"event": event}})

    assert fired.status_code == 201 and len(fired.get_json()["enrollment_ids"]) == 1
    run_due()
    [traced] = api.get(f"/customers/{customer['id']}/enrollments").get_json()["data"]
    assert [(x["step_type"], x["outcome"]) for x in traced["trace"]] == \
        [("wait_until", "skipped"), ("add_tag", "done")]
    assert "nothing to wait for" in traced["trace"][0]["detail"]


def test_the_hidden_campaign_of_an_email_step_is_not_a_campaign(api, ready):
    from webapp.models import AutomationStep

    workflow = new_workflow(api)
    step = db.session.get(AutomationStep, workflow["steps"][1]["id"])

    assert step.campaign_id is not None
    assert api.get("/campaigns").get_json()["data"] == []
    assert_error(api.get(f"/campaigns/{step.campaign_id}"), 404)
    assert_error(api.post(f"/campaigns/{step.campaign_id}/send"), 404)
    assert api.get("/campaigns/stats").get_json()["data"] == []
    assert_error(api.get(f"/campaigns/{step.campaign_id}/stats"), 404)
    # Nor on the dashboard's latest campaigns, even once it has sent something.
    from webapp.infra.types import utcnow
    from webapp.models import EmailCampaign
    from webapp.services.campaigns.stats import latest_sent_campaigns

    hidden = db.session.get(EmailCampaign, step.campaign_id)
    hidden.started_at, hidden.sent_count = utcnow(), 3
    db.session.commit()
    assert latest_sent_campaigns(hidden.tenant_id) == []
    from webapp.tasks.delivery import reconcile_campaigns

    assert reconcile_campaigns()["campaigns_sending"] == 0  # the reconciler never picks it up


def test_another_tenants_workflow_cannot_be_fired_at(api, api_b, ready):
    workflow = new_workflow(api)
    api.post(f"/workflows/{workflow['id']}/toggle")
    theirs = api_b.post("/customers", json={"email": "b@example.com"}).get_json()

    response = api_b.post("/triggers", json={"type": "purchase", "customer_id": theirs["id"],
                                             "payload": {"order_total": 500}})

    assert response.get_json()["enrollment_ids"] == []
    assert_error(api_b.post(f"/workflows/{workflow['id']}/enroll", json={"customer_ids": [theirs["id"]]}), 404)


def test_enrollments_are_paged_newest_first(api, ready):
    workflow = new_workflow(api, trigger_type="custom", trigger_config={})
    wid = workflow["id"]
    api.post(f"/workflows/{wid}/toggle")
    ids = [api.post("/customers", json={"email": f"fan{i}@example.com"}).get_json()["id"] for i in range(3)]
    api.post(f"/workflows/{wid}/enroll", json={"customer_ids": ids})

    first = api.get(f"/workflows/{wid}/enrollments", query_string={"limit": 2}).get_json()
    rest = api.get(f"/workflows/{wid}/enrollments",
                   query_string={"limit": 2, "cursor": first["next_cursor"]}).get_json()

    # Newest first is by enrollment id: one set-based INSERT gives the three their ids in
    # whatever order the database produced the rows, so the customers' order is not the point.
    paged = first["data"] + rest["data"]
    assert [e["id"] for e in paged] == sorted((e["id"] for e in paged), reverse=True)
    assert sorted(e["customer_id"] for e in paged) == sorted(ids)
    assert len(first["data"]) == 2 and rest["next_cursor"] is None
