"""Each event type comes from the real path where it happens, with ids and human fields, and
reaches a receiver that verifies it: customer upserts, unsubscribes, provider bounces and
complaints, campaign sends, tracked opens and clicks, segment changes, attributed purchases."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.campaigns.campaign_support import ready_tenant, run_burst_worker
from tests.campaigns.test_tracking_analytics import queue_hit
from tests.campaigns.tracking_support import (
    LINKS_HTML,
    add_audience,
    age_delivery,
    audience_segment,
    new_campaign,
    send_to_audience,
    write_hits,
)
from tests.deliverability.relay_support import (
    POSTMARK_PASSWORD,
    POSTMARK_USER,
    basic_auth,
    postmark_bounce,
    postmark_complaint,
)
from tests.sql_support import sql_sent
from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import CampaignLink, CampaignRecipient, WebhookDelivery
from webapp.services import activities, campaigns, imports, segments, webhooks, workflows
from webapp.services.customers import find_customer, update_customer, upsert_customer
from webapp.services.deliverability import credentials
from webapp.services.enrollment import process_trigger
from webapp.services.workflows.engine import run_due

# What a payload must never carry: signing secrets, recipients' tokens (they open the preference
# centre), tracking or unsubscribe addresses.
SECRETS = ("whsec_", '"token"', "/u/", "/api/crm/track/")


def data_of(event_type: str) -> list[dict]:
    db.session.expire_all()
    rows = db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.event_type == event_type)
                              .order_by(WebhookDelivery.id))
    out = []
    for row in rows:
        text = json.dumps(row.payload)
        assert not any(word in text for word in SECRETS), text
        tokens = db.session.scalars(select(CampaignRecipient.token)).all()
        assert not any(token in text for token in tokens), text
        out.append(row.payload["data"])
    return out


def test_customer_created_comes_from_the_upsert_and_reaches_the_receiver(api, tenant_a, subscribe, receiver,
                                                                        runner):
    subscribe(tenant_a.id, "customer.created")

    assert api.post("/customers", json={"email": "ada@example.com", "external_id": "p-1", "first_name": "Ada",
                                        "tags": ["vip"]}).status_code == 201
    api.post("/customers", json={"email": "ada@example.com", "first_name": "Ada L."})  # an update: no event
    run_burst_worker(runner)

    [data] = data_of("customer.created")
    assert data["customer"]["email"] == "ada@example.com" and data["customer"]["external_id"] == "p-1"
    assert data["customer"]["tags"] == ["vip"] and data["source"] == "api"
    [got] = receiver.received
    assert got.body["type"] == "customer.created" and receiver.unverified == []


def test_every_all_marketing_unsubscribe_emits_customer_unsubscribed(api, client, tenant_a, subscribe, runner):
    subscribe(tenant_a.id, "customer.unsubscribed")
    cid = send_to_audience(runner, tenant_a.id, 2)
    fan0, fan1 = db.session.scalars(select(CampaignRecipient).where(CampaignRecipient.campaign_id == cid)
                                    .order_by(CampaignRecipient.email)).all()

    assert client.post(f"/u/{fan0.token}").status_code in (200, 303)  # one-click
    api.patch(f"/customers/{fan1.customer_id}", json={"email_status": "unsubscribed"})
    client.post(f"/u/{fan0.token}")  # again: nothing changes

    sent = data_of("customer.unsubscribed")
    assert [d["customer"]["email"] for d in sent] == ["fan0@example.com", "fan1@example.com"]
    assert sent[0]["campaign_name"] and sent[1]["source"] == "api"


def test_provider_bounces_and_complaints_emit_their_events(client, tenant_a, subscribe, runner):
    subscribe(tenant_a.id, "customer.bounced", "customer.complained")
    cid = send_to_audience(runner, tenant_a.id, 2)
    ada, bo = db.session.scalars(select(CampaignRecipient).where(CampaignRecipient.campaign_id == cid)
                                 .order_by(CampaignRecipient.email)).all()
    key = credentials.update_credentials(tenant_a.id, {"postmark_username": POSTMARK_USER,
                                                       "postmark_password": POSTMARK_PASSWORD}).key
    auth = {"Content-Type": "application/json", **basic_auth(POSTMARK_USER, POSTMARK_PASSWORD)}

    for body in (postmark_bounce(ada.email, token=ada.token), postmark_complaint(bo.email, token=bo.token)):
        assert client.post(f"/api/crm/webhooks/postmark/{key}", data=json.dumps(body), headers=auth).status_code == 200

    [bounced] = data_of("customer.bounced")
    [complained] = data_of("customer.complained")
    assert (bounced["customer"]["email"], bounced["campaign_id"], bounced["provider"]) == (ada.email, cid, "Postmark")
    assert complained["customer"]["email"] == bo.email


def test_a_campaign_send_emits_email_sent_per_recipient_and_hits_emit_opens_and_clicks(tenant_a, subscribe, runner):
    subscribe(tenant_a.id, "email.sent", "email.opened", "email.clicked")
    cid = send_to_audience(runner, tenant_a.id, 2, name="Spring season")

    sent = data_of("email.sent")
    assert sorted(d["customer"]["email"] for d in sent) == ["fan0@example.com", "fan1@example.com"]
    assert {d["campaign"]["name"] for d in sent} == {"Spring season"} and all(d["message_id"] for d in sent)

    age_delivery(cid)
    fan0 = db.session.scalar(select(CampaignRecipient).where(CampaignRecipient.email == "fan0@example.com"))
    link = db.session.scalar(select(CampaignLink).where(CampaignLink.campaign_id == cid,
                                                        CampaignLink.url.like("%tickets%")))
    now = utcnow()
    queue_hit(fan0.token, "open", now - timedelta(minutes=2), ua="Mozilla/5.0")  # Apple's proxy
    queue_hit(fan0.token, "open", now - timedelta(minutes=1))
    queue_hit(fan0.token, "click", now, link_id=link.id)
    write_hits()

    opens = data_of("email.opened")
    assert [(o["machine"], o["first"]) for o in opens] == [(True, True), (False, False)]
    assert opens[0]["machine_reason"] and opens[1]["customer"]["email"] == "fan0@example.com"
    [click] = data_of("email.clicked")
    assert click["url"].startswith("https://tickets.example.com/") and click["campaign"]["name"] == "Spring season"
    assert click["machine"] is False and click["first"] is True


def test_segment_changes_emit_entered_and_exited_in_bulk_and_per_customer(tenant_a, subscribe):
    subscribe(tenant_a.id, "segment.entered", "segment.exited")
    for n in range(3):
        upsert_customer(tenant_a.id, {"email": f"vip{n}@example.com", "tags": ["vip"]})
    segment = segments.create_segment(tenant_a.id, "VIPs", [{"type": "tag", "value": "vip"}])
    segments.calculate_segment(tenant_a.id, segment.id)

    entered = data_of("segment.entered")
    assert sorted(d["customer"]["email"] for d in entered) == ["vip0@example.com", "vip1@example.com",
                                                               "vip2@example.com"]
    assert {d["segment"]["name"] for d in entered} == {"VIPs"}

    # A change to one customer moves them at once (the per-customer path).
    upsert_customer(tenant_a.id, {"email": "vip3@example.com", "tags": ["vip"]})
    assert [d["customer"]["email"] for d in data_of("segment.entered")][-1] == "vip3@example.com"

    leaving = find_customer(tenant_a.id, email="vip1@example.com")
    update_customer(tenant_a.id, leaving.id, {"tags": []})
    [exited] = data_of("segment.exited")
    assert (exited["customer"]["email"], exited["segment"]["id"]) == ("vip1@example.com", segment.id)


def test_a_purchase_moving_a_customer_through_several_segments_logs_counts_and_emits_each_once(
        tenant_a, tenant_b, subscribe):
    """One refresh moving one customer into five segments and out of one: a timeline row, a
    webhook and a count for each, written set-based (one INSERT of the rows, one UPDATE of
    the counts, one lock statement), entries before exits; another tenant's segments stay."""
    from sqlalchemy import func

    from webapp.models import CustomerActivity, CustomerSegment

    subscribe(tenant_a.id, "segment.entered", "segment.exited")
    ada = upsert_customer(tenant_a.id, {"email": "ada@example.com"})[0].id
    spenders = [segments.create_segment(tenant_a.id, f"Spent {n}+", [
        {"type": "total_spent", "operator": ">=", "value": n}]).id for n in (10, 20, 30, 40, 50)]
    newcomer = segments.create_segment(tenant_a.id, "No orders", [
        {"type": "orders_count", "operator": "=", "value": 0}]).id
    other = segments.create_segment(tenant_b.id, "Spent 10+", [{"type": "total_spent", "operator": ">=", "value": 10}])
    db.session.commit()
    assert [d["segment"]["id"] for d in data_of("segment.entered")] == [newcomer]

    with sql_sent() as statements:
        activities.record_activity(tenant_a.id, "purchase", customer_id=ada,
                                   properties={"order_total": 55, "order_id": "o-1"})

    assert [d["segment"]["id"] for d in data_of("segment.entered")] == [newcomer, *spenders]
    assert [(d["segment"]["id"], d["customer"]["email"]) for d in data_of("segment.exited")] == [
        (newcomer, "ada@example.com")]
    logged = db.session.execute(select(CustomerActivity.type, CustomerActivity.properties["segment_id"].as_integer())
                                .where(CustomerActivity.customer_id == ada,
                                       CustomerActivity.type.in_(("segment_entered", "segment_exited")))
                                .order_by(CustomerActivity.id)).all()
    assert logged == [("segment_entered", newcomer), *[("segment_entered", s) for s in spenders],
                      ("segment_exited", newcomer)]
    counts = dict(db.session.execute(select(CustomerSegment.id, CustomerSegment.member_count)).all())
    assert [counts[s] for s in spenders] == [1] * 5 and counts[newcomer] == 0 and counts[other.id] == 0
    moved = [s for s in statements if "customer_segments" in s and ("UPDATE" in s.split()[0] or " FOR " in s)]
    assert len(moved) == 2, moved  # the locks, the counts
    assert len([s for s in statements if s.startswith("INSERT INTO customer_activities")]) == 2  # purchase, moves
    assert db.session.scalar(select(func.count()).select_from(CustomerActivity).where(
        CustomerActivity.tenant_id == tenant_b.id)) == 0


def test_an_attributed_purchase_emits_purchase_attributed(api, tenant_a, subscribe, runner):
    subscribe(tenant_a.id, "purchase.attributed")
    cid = send_to_audience(runner, tenant_a.id, 1, name="Autumn")
    age_delivery(cid, minutes=180)
    fan = db.session.scalar(select(CampaignRecipient).where(CampaignRecipient.campaign_id == cid))
    queue_hit(fan.token, "open", utcnow() - timedelta(minutes=30))
    write_hits()

    response = api.post("/activities", json={"customer_id": fan.customer_id, "type": "purchase",
                                             "properties": {"order_total": 42.5, "order_id": "o-77"}})
    assert response.status_code == 201
    activities.record_activity(tenant_a.id, "purchase", customer_id=fan.customer_id,
                               properties={"order_total": 42.5, "order_id": "o-77"})  # a retry: nothing new

    [data] = data_of("purchase.attributed")
    assert data["purchase"]["order_id"] == "o-77" and data["purchase"]["amount"] == 42.5
    assert data["campaign"] == {"id": cid, "name": "Autumn"} and data["touch"] == "open"
    assert data["customer"]["email"] == fan.email


def test_a_goal_met_emits_workflow_converted(tenant_a, subscribe):
    subscribe(tenant_a.id, "workflow.converted")
    ada, _ = upsert_customer(tenant_a.id, {"email": "ada@example.com", "first_name": "Ada"})
    flow = workflows.create_workflow(tenant_a.id, {
        "name": "Nudge", "trigger_type": "custom", "goal": {"conditions": [{"type": "purchased_since_entry"}]},
        "steps": [{"type": "wait", "config": {"days": 2}}]})
    workflows.set_active(tenant_a.id, flow.id, True)
    [enrollment_id] = process_trigger(tenant_a.id, "custom", ada.id, {})
    db.session.commit()
    assert data_of("workflow.converted") == []

    activities.record_activity(tenant_a.id, "purchase", customer_id=ada.id,
                               properties={"order_total": 40, "order_id": "o-9"})
    activities.record_activity(tenant_a.id, "purchase", customer_id=ada.id,  # converted already: no second event
                               properties={"order_total": 10, "order_id": "o-10"})

    [data] = data_of("workflow.converted")
    assert data["workflow"] == {"id": flow.id, "name": "Nudge"} and data["enrollment_id"] == enrollment_id
    assert data["customer"]["email"] == "ada@example.com" and data["status"] == "converted"
    assert data["goal"] == "made a purchase since entering" and data["held_out"] is False
    with pytest.raises(ValueError):
        webhooks.emit(tenant_a.id, "workflow.finished", {})


def test_an_import_emits_customer_created_for_the_new_customers_only(tenant_a, subscribe):
    upsert_customer(tenant_a.id, {"email": "known@example.com"})
    subscribe(tenant_a.id, "customer.created")
    customer_import = imports.create_import(tenant_a.id, "fans.csv",
                                            b"email,first_name\nknown@example.com,Kay\nnew1@example.com,Nia\n"
                                            b"new2@example.com,Ola\n", start=True)
    imports.run_import(customer_import.id)

    created = data_of("customer.created")
    assert sorted(d["customer"]["email"] for d in created) == ["new1@example.com", "new2@example.com"]
    assert {d["source"] for d in created} == {"import"}


def test_a_workflow_email_emits_email_sent_naming_the_workflow(tenant_a, subscribe):
    ready_tenant(tenant_a.id)
    subscribe(tenant_a.id, "email.sent")
    ada, _ = upsert_customer(tenant_a.id, {"email": "ada@example.com", "first_name": "Ada"})
    flow = workflows.create_workflow(tenant_a.id, {"name": "Thank you", "trigger_type": "purchase", "steps": [
        {"type": "send_email", "config": {"subject": "Thanks", "content": "<p>Thanks</p>"}}]})
    workflows.set_active(tenant_a.id, flow.id, True)
    workflows.process_trigger(tenant_a.id, "purchase", ada, {"order_total": 10})
    db.session.commit()

    run_due()

    [sent] = data_of("email.sent")
    assert sent["customer"]["email"] == "ada@example.com" and sent["workflow_id"] == flow.id
    assert sent["campaign"]["subject"] == "Thanks" and sent["enrollment_id"]


def test_the_purchase_path_asks_about_endpoints_at_most_once_when_there_are_none(api, tenant_a):
    ada, _ = upsert_customer(tenant_a.id, {"email": "ada@example.com", "tags": ["vip"]})
    segment = segments.create_segment(tenant_a.id, "Buyers", [{"type": "total_spent", "operator": ">", "value": 0}])
    segments.calculate_segment(tenant_a.id, segment.id)
    db.session.commit()
    with sql_sent() as statements:
        # A new customer, a segment entered and a purchase in one request: one lookup for all.
        response = api.post("/activities", json={"customer": {"email": "bo@example.com"}, "type": "purchase",
                                                 "properties": {"order_total": 30, "order_id": "o-1"}})
        # An existing customer, nothing else moving: no lookup at all.
        again = api.post("/activities", json={"customer_id": ada.id, "type": "note", "properties": {"text": "hi"}})
    assert (response.status_code, again.status_code) == (201, 201)
    assert len([s for s in statements if "webhook_endpoints" in s]) == 1
    assert db.session.scalar(select(WebhookDelivery.id)) is None


def test_a_send_reads_the_endpoints_key_in_its_marks_and_a_new_endpoint_gets_the_next_sends_events(
        tenant_a, tenant_b, subscribe, runner):
    subscribe(tenant_b.id, "email.sent")  # another tenant's endpoint is not this tenant's subscriber
    ready_tenant(tenant_a.id)
    add_audience(tenant_a.id, 4, prefix="early", tag="early")
    campaign = new_campaign(tenant_a.id, audience_segment(tenant_a.id, tag="early"), html_content=LINKS_HTML)
    campaigns.send_campaign(tenant_a.id, campaign.id)
    with sql_sent() as statements:
        run_burst_worker(runner)  # the tests' transport sends one message a group
    assert data_of("email.sent") == []
    marks = [s for s in statements if "UPDATE campaign_recipients" in s and "sent_at" in s]
    key_reads = [s for s in statements if "webhook_endpoints" in s and s not in marks]
    assert len(marks) == 4
    if db.engine.dialect.name == "postgresql":
        # The key rides in each group's mark; what is left is the snapshot's segment events.
        assert all("webhook_endpoints" in s for s in marks) and len(key_reads) <= 1
    else:
        assert len(key_reads) >= 4

    subscribe(tenant_a.id, "email.sent")
    send_to_audience(runner, tenant_a.id, 2, prefix="late")
    assert sorted(d["to"] for d in data_of("email.sent")) == ["late0@example.com", "late1@example.com"]
