"""The campaigns API: lifecycle rules (edit, delete, schedule, send, cancel), preview, test
sends, stats, and the refusal to send without a postal address."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from campaign_support import (
    add_audience,
    assert_counters_match_rows,
    assert_error,
    audience_segment,
    campaign,
    ready_tenant,
    recipient_rows,
    run_burst_worker,
    statuses,
    wait_until,
)

from webapp.extensions import db
from webapp.models import CustomerActivity, EmailCampaign
from webapp.services import customers


def future(minutes: int = 60) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


@pytest.fixture
def segment_id(app, tenant_a):
    ready_tenant(tenant_a.id)
    add_audience(tenant_a.id, 2)
    return audience_segment(tenant_a.id)


@pytest.fixture
def create(api, segment_id):
    def create(**fields):
        body = {"name": "Autumn tour", "subject": "Hi {{ customer.first_name | default('there') }}",
                "content": "<p>Tickets for {{ customer.first_name | default('you') }}</p>", "segment_id": segment_id,
                **fields}
        response = api.post("/campaigns", json=body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()
    return create


def set_status(campaign_id: int, status: str) -> None:
    db.session.get(EmailCampaign, campaign_id).status = status
    db.session.commit()


def test_create_returns_the_draft_with_defaults(api, create, segment_id):
    created = create(preheader="Doors at 7", from_name="Box Office", reply_to="Help@Arena.example.com")

    assert created["status"] == "draft" and created["segment_id"] == segment_id
    assert created["content"] == "<p>Tickets for {{ customer.first_name | default('you') }}</p>"
    assert created["reply_to"] == "help@arena.example.com"
    assert (created["recipients"], created["sent"], created["failed"], created["skipped"]) == (0, 0, 0, 0)
    assert api.get(f"/campaigns/{created['id']}").get_json() == created


@pytest.mark.parametrize("missing", ["name", "subject", "content"])
def test_create_without_a_required_field_is_422_naming_it(api, segment_id, missing):
    body = {"name": "n", "subject": "s", "content": "<p>c</p>", "segment_id": segment_id}
    del body[missing]
    assert_error(api.post("/campaigns", json=body), 422, field=missing)


def test_create_with_another_tenants_segment_is_422(api, api_b, tenant_b):
    other = api_b.post("/segments", json={"name": "B", "conditions": [{"type": "tag", "value": "x"}]}).get_json()
    response = api.post("/campaigns", json={"name": "n", "subject": "s", "content": "c", "segment_id": other["id"]})
    assert_error(response, 422, field="segment_id")


def test_list_filters_by_status(api, create):
    draft, scheduled = create(name="One"), create(name="Two")
    assert api.post(f"/campaigns/{scheduled['id']}/schedule", json={"send_at": future()}).status_code == 200

    def names(**query):
        response = api.get("/campaigns", query_string=query)
        assert response.status_code == 200
        return [c["name"] for c in response.get_json()["data"]]

    assert names() == ["Two", "One"]
    assert names(status="scheduled") == ["Two"]
    assert names(status="draft") == ["One"]
    assert names(status="sent") == []
    assert_error(api.get("/campaigns", query_string={"status": "bogus"}), 422, field="status")
    assert draft["id"] != scheduled["id"]


def test_update_is_allowed_for_draft_and_scheduled_only(api, create):
    created = create()
    cid = created["id"]

    assert api.patch(f"/campaigns/{cid}", json={"subject": "New subject"}).get_json()["subject"] == "New subject"
    api.post(f"/campaigns/{cid}/schedule", json={"send_at": future()})
    assert api.patch(f"/campaigns/{cid}", json={"name": "Renamed"}).get_json()["name"] == "Renamed"
    for status in ("sending", "sent", "cancelled"):
        set_status(cid, status)
        error = assert_error(api.patch(f"/campaigns/{cid}", json={"name": "Too late"}), 409)
        assert status in error["message"]
    assert api.get(f"/campaigns/{cid}").get_json()["name"] == "Renamed"


def test_update_checks_what_it_changes(api, create):
    cid = create()["id"]
    assert_error(api.patch(f"/campaigns/{cid}", json={"content": "<p>{% if %}</p>"}), 422, field="html_content")
    assert_error(api.patch(f"/campaigns/{cid}", json={"unknown": 1}), 422)


def test_delete_is_for_drafts_only(api, create):
    draft, scheduled, sending = create(), create(), create()
    api.post(f"/campaigns/{scheduled['id']}/schedule", json={"send_at": future()})
    set_status(sending["id"], "sending")

    assert api.delete(f"/campaigns/{draft['id']}").status_code == 204
    assert_error(api.get(f"/campaigns/{draft['id']}"), 404)
    assert_error(api.delete(f"/campaigns/{scheduled['id']}"), 409)
    assert_error(api.delete(f"/campaigns/{sending['id']}"), 409)
    assert api.get(f"/campaigns/{scheduled['id']}").status_code == 200


@pytest.mark.parametrize("send_at, why", [
    ("2099-01-01T09:00:00", "timezone"),                        # naive: ambiguous
    ("2020-01-01T09:00:00+00:00", "future"),                   # past
    ("tomorrow at nine", None),                                 # not a date
])
def test_schedule_needs_a_future_timezone_aware_time(api, create, send_at, why):
    cid = create()["id"]
    error = assert_error(api.post(f"/campaigns/{cid}/schedule", json={"send_at": send_at}), 422, field="send_at")
    if why:
        assert why in error["message"]
    assert api.get(f"/campaigns/{cid}").get_json()["status"] == "draft"


def test_schedule_stores_the_instant_in_utc(api, create):
    cid = create()["id"]
    send_at = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    local = send_at.astimezone(ZoneInfo("Europe/Paris")).isoformat()

    scheduled = api.post(f"/campaigns/{cid}/schedule", json={"send_at": local}).get_json()

    assert scheduled["status"] == "scheduled"
    assert datetime.fromisoformat(scheduled["scheduled_at"]) == send_at


def test_send_is_202_once_then_409(api, create):
    cid = create()["id"]

    first = api.post(f"/campaigns/{cid}/send")
    second = api.post(f"/campaigns/{cid}/send")

    assert first.status_code == 202 and first.get_json()["status"] == "sending"
    assert_error(second, 409)


def test_sending_without_a_postal_address_is_refused_with_a_clear_message(api, create, tenant_a):
    cid = create()["id"]
    ready_tenant(tenant_a.id, postal_address=None)

    for path, body in ((f"/campaigns/{cid}/send", None), (f"/campaigns/{cid}/schedule", {"send_at": future()})):
        error = assert_error(api.post(path, json=body), 422, field="postal_address")
        assert "postal address" in error["message"] and "Settings" in error["message"]
    assert api.get(f"/campaigns/{cid}").get_json()["status"] == "draft"


def test_sending_without_a_segment_is_refused(api, create):
    cid = create(segment_id=None)["id"]
    assert_error(api.post(f"/campaigns/{cid}/send"), 422, field="segment_id")


def test_cancel_a_scheduled_campaign_and_it_never_starts(api, create, runner, smtp_mail):
    from webapp.tasks.delivery import reconcile_campaigns, start_scheduled_campaign

    cid = create()["id"]
    api.post(f"/campaigns/{cid}/schedule", json={"send_at": future()})

    cancelled = api.post(f"/campaigns/{cid}/cancel")

    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    db.session.get(EmailCampaign, cid).scheduled_at = datetime.now(UTC) - timedelta(minutes=1)
    db.session.commit()
    reconcile_campaigns()
    start_scheduled_campaign(cid)  # the job enqueued at scheduling time, run when it falls due
    run_burst_worker(runner)
    assert smtp_mail.count() == 0 and recipient_rows(cid) == []
    assert campaign(cid).status == "cancelled"
    assert_error(api.post(f"/campaigns/{cid}/send"), 409)


def test_cancel_is_only_for_scheduled_or_sending_campaigns(api, create):
    cid = create()["id"]
    assert_error(api.post(f"/campaigns/{cid}/cancel"), 409)
    set_status(cid, "sent")
    assert_error(api.post(f"/campaigns/{cid}/cancel"), 409)


def test_cancel_before_the_start_job_runs_sends_nothing(api, create, runner, smtp_mail):
    cid = create()["id"]
    api.post(f"/campaigns/{cid}/send")

    assert api.post(f"/campaigns/{cid}/cancel").get_json()["status"] == "cancelled"
    run_burst_worker(runner)

    assert smtp_mail.count() == 0 and campaign(cid).status == "cancelled"


def test_cancel_while_sending_stops_further_delivery(api, tenant_a, smtp_mail, worker_processes):
    ready_tenant(tenant_a.id, rate=10)
    add_audience(tenant_a.id, 40, prefix="slow")
    segment = audience_segment(tenant_a.id)
    cid = api.post("/campaigns", json={"name": "n", "subject": "s", "content": "<p>c</p>",
                                       "segment_id": segment}).get_json()["id"]
    api.post(f"/campaigns/{cid}/send")
    worker_processes()
    smtp_mail.wait_for(3, timeout=20)

    assert api.post(f"/campaigns/{cid}/cancel").get_json()["status"] == "cancelled"
    cancelled_at = time.time()
    wait_until(lambda: set(statuses(cid)) <= {"sent", "skipped"}, 10, "the worker to let go of its rows")

    # The worker notices within a second; at 10 messages a second most are never sent.
    late = [round(m.at - cancelled_at, 3) for m in smtp_mail.messages() if m.at > cancelled_at + 1]
    assert late == []
    row = assert_counters_match_rows(cid)
    assert row.status == "cancelled" and row.sent_count == smtp_mail.count() and row.skipped_count >= 10
    assert {r.error for r in recipient_rows(cid) if r.status == "skipped"} == {"campaign cancelled"}
    assert set(smtp_mail.per_recipient().values()) == {1}


def test_preview_renders_as_a_customer_or_a_sample(api, create, tenant_a):
    cid = create()["id"]
    customer, _ = customers.upsert_customer(tenant_a.id, {"email": "zoe@example.com", "first_name": "Zoë"})

    as_zoe = api.post(f"/campaigns/{cid}/preview", json={"customer_id": customer.id})
    as_sample = api.post(f"/campaigns/{cid}/preview", json={})

    assert as_zoe.status_code == 200
    body = as_zoe.get_json()
    assert body["subject"] == "Hi Zoë" and "Tickets for Zoë" in body["html"] and "Tickets for Zoë" in body["text"]
    assert as_sample.get_json()["subject"] == "Hi there"
    assert "Tickets for you" in as_sample.get_json()["html"]


def test_preview_as_another_tenants_customer_is_404(api, create, tenant_b):
    cid = create()["id"]
    other, _ = customers.upsert_customer(tenant_b.id, {"email": "b@example.com", "first_name": "Secret"})
    assert_error(api.post(f"/campaigns/{cid}/preview", json={"customer_id": other.id}), 404)


def test_test_send_arrives_marked_and_leaves_no_trace(api, create, smtp_mail):
    cid = create()["id"]

    response = api.post(f"/campaigns/{cid}/test", json={"emails": ["Me@Example.com", "colleague@example.com"]})

    assert response.status_code == 200, response.get_json()
    assert [r["status"] for r in response.get_json()["data"]] == ["sent", "sent"]
    assert smtp_mail.per_recipient() == {"me@example.com": 1, "colleague@example.com": 1}
    assert {m.message["Subject"] for m in smtp_mail.messages()} == {"[TEST] Hi there"}
    after = api.get(f"/campaigns/{cid}").get_json()
    assert (after["status"], after["recipients"], after["sent"]) == ("draft", 0, 0)
    assert recipient_rows(cid) == []
    assert db.session.query(CustomerActivity).filter_by(type="email_sent").count() == 0


def test_test_send_checks_its_addresses(api, create):
    cid = create()["id"]
    assert_error(api.post(f"/campaigns/{cid}/test", json={"emails": []}), 422, field="emails")
    assert_error(api.post(f"/campaigns/{cid}/test", json={"emails": ["not an address"]}), 422)
    assert_error(api.post(f"/campaigns/{cid}/test", json={"emails": [f"a{i}@x.com" for i in range(11)]}), 422)


def test_stats_list_every_campaign_and_one_by_id(api, create, runner, smtp_mail, api_b):
    sent, draft = create(name="Sent one"), create(name="Draft one")
    api.post(f"/campaigns/{sent['id']}/send")
    run_burst_worker(runner)

    all_stats = api.get("/campaigns/stats").get_json()["data"]
    one = api.get("/campaigns/stats", query_string={"campaign_id": sent["id"]}).get_json()["data"]

    by_name = {s["name"]: s for s in all_stats}
    delivery = ("campaign_id", "name", "status", "recipients", "sent", "failed", "skipped", "remaining")
    assert {k: by_name["Sent one"][k] for k in delivery} == {
        "campaign_id": sent["id"], "name": "Sent one", "status": "sent", "recipients": 2, "sent": 2, "failed": 0,
        "skipped": 0, "remaining": 0}
    assert by_name["Draft one"]["status"] == "draft" and by_name["Draft one"]["recipients"] == 0
    # One campaign adds its per-link and per-hour series to the same figures.
    assert by_name["Sent one"]["links"] is None and one[0]["links"] == [] and one[0]["hourly"] == []
    assert {k: v for k, v in one[0].items() if k not in ("links", "hourly")} == {
        k: v for k, v in by_name["Sent one"].items() if k not in ("links", "hourly")}
    assert_error(api_b.get("/campaigns/stats", query_string={"campaign_id": sent["id"]}), 404)
    assert api_b.get("/campaigns/stats").get_json()["data"] == []
    assert draft["id"]


def test_every_campaign_route_is_404_for_another_tenant(api, api_b, create):
    cid = create()["id"]
    routes = [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/schedule"), ("POST", "/send"),
              ("POST", "/cancel"), ("POST", "/preview"), ("POST", "/test")]
    bodies = {"PATCH": {"name": "Hijacked"}, "/schedule": {"send_at": future()}, "/preview": {},
              "/test": {"emails": ["evil@example.com"]}}
    for method, suffix in routes:
        body = bodies.get(suffix) if suffix else bodies.get(method)
        response = api_b._call(method, f"/campaigns/{cid}{suffix}", **({"json": body} if body is not None else {}))
        assert_error(response, 404)
    after = api.get(f"/campaigns/{cid}").get_json()
    assert (after["name"], after["status"]) == ("Autumn tour", "draft")


def test_a_cancelled_campaign_can_be_deleted_but_a_sent_one_cannot(api, app, tenant_a):
    from webapp.extensions import db
    from webapp.models import EmailCampaign
    from webapp.services import campaigns as campaign_service

    created = api.post("/campaigns", json={"name": "Old", "subject": "Hi", "content": "<p>Hi</p>"}).get_json()
    campaign = db.session.get(EmailCampaign, created["id"])
    campaign.status = "cancelled"
    db.session.commit()
    assert api.delete(f"/campaigns/{created['id']}").status_code == 204
    assert api.get(f"/campaigns/{created['id']}").status_code == 404

    other = campaign_service.create_campaign(tenant_a.id, {"name": "Done", "subject": "Hi", "html_content": "<p>x</p>"})
    other.status = "sent"
    db.session.commit()
    response = api.delete(f"/campaigns/{other.id}")
    assert response.status_code == 409
    assert response.get_json()["error"]["message"] == "a sent campaign cannot be deleted"


def test_crm_service_creates_and_sends_a_campaign_like_the_specification(app, tenant_a, smtp_mail):
    from webapp.extensions import db
    from webapp.models import EmailCampaign, Tenant
    from webapp.services import customers, sending_domains, tenant_settings
    from webapp.services.crm import CRMService

    tenant = db.session.get(Tenant, tenant_a.id)
    sending_domains.add_domain(tenant_a.id, "arena.example.com")
    tenant_settings.update_settings(tenant, {"sender_name": "Arena", "sender_email": "hello@arena.example.com",
                                             "postal_address": "1 High Street, Leeds"})
    customers.upsert_customer(tenant_a.id, {"email": "rich@example.com", "total_spent": 900})
    service = CRMService()
    segment = service.create_segment({"tenant_id": tenant_a.id, "name": "High Value",
                                      "conditions": [{"type": "total_spent", "operator": ">=", "value": 500}]})
    campaign = service.create_campaign({"tenant_id": tenant_a.id, "segment_id": segment.id, "name": "VIP Offer",
                                        "subject": "Exclusive discount for you", "content": "<html><p>Hi</p></html>"})
    assert campaign.status == "draft" and campaign.html_content == "<html><p>Hi</p></html>"
    service.send_campaign(campaign)
    assert db.session.get(EmailCampaign, campaign.id).status == "sending"
