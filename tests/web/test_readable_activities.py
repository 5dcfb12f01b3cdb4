"""The timeline, the dashboard's recent activity and workflow traces say what happened in
sentences with links; the stored values stay one click away, in a details list."""

from __future__ import annotations

import re

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import AutomationEnrollment, CustomerActivity
from webapp.services import segments, workflows
from webapp.services.activities import record_activity
from webapp.services.campaigns import drafts

from .conftest import HX, VIP_CONDITIONS, make_customer

UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def visible(html: str) -> str:
    """The text a reader sees: no tags, no attribute values."""
    return re.sub(r"<[^>]*>", "", html)


def system_activity(tenant_id: int, customer_id: int, activity_type: str, properties: dict) -> None:
    db.session.add(CustomerActivity(tenant_id=tenant_id, customer_id=customer_id, type=activity_type,
                                    properties=properties))
    db.session.commit()


def purchase_workflow(tenant_id: int, name: str = "Post-purchase"):
    workflow = workflows.create_workflow(tenant_id, {
        "name": name, "trigger_type": "purchase", "steps": [{"type": "wait", "config": {"days": 2}}]})
    workflows.set_active(tenant_id, workflow.id, True)
    return workflow


def jazz_purchase(tenant_id: int, customer_id: int) -> None:
    record_activity(tenant_id, "purchase", customer_id=customer_id, properties={
        "order_total": 84, "currency": "GBP", "order_id": "1042", "tickets": 2,
        "event": {"id": "evt_1007", "name": "Jazz Night", "starts_at": "2026-12-20T19:30:00+00:00"}})


def test_timeline_reads_scans_purchases_and_workflows_as_sentences_with_links(owner_a, tenant_a):
    ada = make_customer(tenant_a.id, "ada@example.com", first_name="Ada")
    workflow = purchase_workflow(tenant_a.id)
    jazz_purchase(tenant_a.id, ada.id)
    record_activity(tenant_a.id, "ticket_scan", customer_id=ada.id, properties={
        "event": {"id": "evt_1007", "name": "Jazz Night"}, "gate": "North", "tickets": 2})
    enrollment_id = db.session.scalar(select(AutomationEnrollment.id))

    html = owner_a.get(f"/customers/{ada.id}/timeline", headers=HX).get_data(as_text=True)
    text = visible(html)

    assert "Scanned in at North gate for Jazz Night with 2 tickets" in text
    assert re.search(r"Bought 2 tickets for Jazz Night \(\s*[^)]*84[^)]*, order 1042\)", text)
    assert f'<a href="/workflows/{workflow.id}/enrollments/{enrollment_id}">Post-purchase</a>' in html
    assert "Entered workflow Post-purchase after a purchase" in text
    # No dict reprs, no key: value data, no ISO timestamps on screen.
    assert "{'" not in text and "workflow_ids" not in text and "evt_1007" not in text.split("Details")[0]
    assert not ISO.search(text.replace("Details", ""))  # only inside the <time datetime> attributes


def test_the_stored_values_are_in_a_details_list_on_each_item(owner_a, tenant_a):
    ada = make_customer(tenant_a.id, "ada@example.com")
    vip = segments.create_segment(tenant_a.id, "VIPs", VIP_CONDITIONS)
    campaign = drafts.create_campaign(tenant_a.id, {"name": "Jazz weekly", "subject": "Hi",
                                                    "html_content": "<p>Hi</p>", "segment_id": vip.id})
    system_activity(tenant_a.id, ada.id, "email_opened", {"campaign_id": campaign.id, "user_agent": UA,
                                                           "referer": "https://mail.example.com/inbox"})
    system_activity(tenant_a.id, ada.id, "segment_entered", {"segment_id": vip.id, "segment_name": "VIPs"})

    html = owner_a.get(f"/customers/{ada.id}").get_data(as_text=True)
    items = re.findall(r'<li class="timeline-item type-(\w+)">(.*?)</li>', html, re.S)
    opened = dict(items)["email_opened"]
    summary, details = opened.split("<details", 1)

    assert "Opened Jazz weekly on iPhone" in visible(summary)
    assert f'<a href="/campaigns/{campaign.id}/report">Jazz weekly</a>' in summary
    assert "Mozilla" not in summary and "mail.example.com" not in summary
    assert "<dt>User agent</dt>" in details and "Mozilla/5.0 (iPhone" in details
    assert "<dt>Referer</dt>" in details and "<dt>Campaign id</dt>" in details
    entered = dict(items)["segment_entered"]
    assert f'Entered segment <a href="/segments/{vip.id}">VIPs</a>' in entered


def test_dashboard_recent_activity_reads_as_sentences(owner_a, tenant_a):
    ada = make_customer(tenant_a.id, "ada@example.com", first_name="Ada")
    workflow = purchase_workflow(tenant_a.id)
    jazz_purchase(tenant_a.id, ada.id)
    enrollment_id = db.session.scalar(select(AutomationEnrollment.id))
    system_activity(tenant_a.id, ada.id, "workflow_completed", {"workflow_id": workflow.id,
                                                                "enrollment_id": enrollment_id, "status": "completed"})

    html = owner_a.get("/dashboard").get_data(as_text=True)
    text = visible(html)

    assert "Completed workflow Post-purchase" in text
    assert "workflow_id" not in text and "enrollment_id" not in text and "status: completed" not in text
    assert f'href="/workflows/{workflow.id}/enrollments/{enrollment_id}"' in html
    assert re.search(r'<time datetime="[^"]+" title="[^"]+">just now</time>', html)


def test_a_trace_shows_the_trigger_as_a_sentence_and_the_wait_as_a_local_time(owner_a, tenant_a):
    ada = make_customer(tenant_a.id, "ada@example.com", first_name="Ada")
    workflow = purchase_workflow(tenant_a.id)
    jazz_purchase(tenant_a.id, ada.id)
    enrollment = db.session.scalars(select(AutomationEnrollment)).one()
    assert enrollment.status == "waiting"

    html = owner_a.get(f"/workflows/{workflow.id}/enrollments/{enrollment.id}").get_data(as_text=True)
    text = visible(html)

    trigger = re.search(r'data-testid="trigger">(.*?)</details>', html, re.S).group(1)
    assert re.match(r"Purchase of Jazz Night \(\s*[^)]*84[^)]*, order 1042\)", visible(trigger.split("<details")[0]))
    assert "<summary>Trigger data</summary>" in trigger and "<dt>Event name</dt><dd>Jazz Night</dd>" in trigger
    assert "Waiting until" in text and "(in 2 days)" in text
    assert "Wait 2 days, until" in text
    assert '{"' not in text and not ISO.search(text)

    rows = owner_a.get(f"/workflows/{workflow.id}/enrollments").get_data(as_text=True)
    assert "Purchase of Jazz Night" in visible(rows) and not ISO.search(visible(rows))
    # The next run, two days off: "Sun 6 Dec, 15:25".
    assert re.search(r"\b[A-Z][a-z]{2} \d{1,2} [A-Z][a-z]{2}, \d{2}:\d{2}\b", visible(rows))


def test_names_of_another_tenants_rows_are_never_shown_or_linked(owner_a, tenant_a, tenant_b):
    ada = make_customer(tenant_a.id, "ada@example.com")
    their_segment = segments.create_segment(tenant_b.id, "Their secret VIPs", VIP_CONDITIONS)
    their_campaign = drafts.create_campaign(tenant_b.id, {"name": "Their secret launch", "subject": "Hi",
                                                          "html_content": "<p>Hi</p>",
                                                          "segment_id": their_segment.id})
    their_workflow = purchase_workflow(tenant_b.id, "Their secret flow")
    system_activity(tenant_a.id, ada.id, "email_sent", {"campaign_id": their_campaign.id})
    system_activity(tenant_a.id, ada.id, "segment_entered", {"segment_id": their_segment.id})
    system_activity(tenant_a.id, ada.id, "workflow_completed", {"workflow_id": their_workflow.id})
    record_activity(tenant_a.id, "wishlist_added", customer_id=ada.id,
                    properties={"campaign_id": their_campaign.id, "segment_id": their_segment.id})

    for page in (owner_a.get(f"/customers/{ada.id}").get_data(as_text=True),
                 owner_a.get("/dashboard").get_data(as_text=True)):
        assert "Their secret" not in page
        assert f"/campaigns/{their_campaign.id}/report" not in page
        assert f"/segments/{their_segment.id}\"" not in page
        assert f"/workflows/{their_workflow.id}\"" not in page
        assert "Sent a deleted campaign" in visible(page)
        assert "Entered a deleted segment" in visible(page)
        assert "Completed a deleted workflow" in visible(page)
