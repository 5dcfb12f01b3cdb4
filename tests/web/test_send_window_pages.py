"""Send windows on the marketer's pages: the frequency cap and quiet hours in Settings (admin),
"at this time in each recipient's timezone" on the schedule form, the waves on the progress
card, and the transactional checkbox on a workflow email's page."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select, update

from webapp.extensions import db
from webapp.models import AuditEvent, CampaignRecipient, EmailCampaign, Tenant
from webapp.services import campaigns, segments, workflows
from webapp.services.sending_domains import add_domain_of

from .conftest import make_customer, snapshot
from .pages import field_errors

ORG = {"name": "Arena Alpha", "timezone": "Europe/London"}


def tenant_row(tenant_id: int) -> Tenant:
    db.session.expire_all()
    return db.session.get(Tenant, tenant_id)


# --- settings ---------------------------------------------------------------------------------

def test_an_admin_sets_the_cap_and_quiet_hours_and_reads_them_back(owner_a, tenant_a):
    response = owner_a.post("/settings/tenant", {**ORG, "frequency_cap_emails": "3", "frequency_cap_days": "7",
                                                 "quiet_hours_start": "21:00", "quiet_hours_end": "08:00"})

    assert response.status_code == 302
    tenant = tenant_row(tenant_a.id)
    assert (tenant.frequency_cap, tenant.quiet_hours) == ({"max_emails": 3, "days": 7},
                                                          {"start": "21:00", "end": "08:00"})
    page = owner_a.get("/settings/").get_data(as_text=True)
    assert 'name="frequency_cap_emails"' in page and 'value="3"' in page and 'value="21:00"' in page
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "settings.changed")).one()
    assert event.changes["quiet_hours_start"] == [None, "21:00"]

    cleared = owner_a.post("/settings/tenant", ORG)  # both of each pair left empty: off
    assert cleared.status_code == 302
    assert (tenant_row(tenant_a.id).frequency_cap, tenant_row(tenant_a.id).quiet_hours) == (None, None)


def test_half_a_pair_or_a_value_out_of_bounds_is_explained_beside_its_box_and_nothing_is_saved(owner_a, tenant_a):
    before = snapshot()
    half = owner_a.post("/settings/tenant", {**ORG, "frequency_cap_emails": "3"})
    too_many = owner_a.post("/settings/tenant", {**ORG, "frequency_cap_emails": "500", "frequency_cap_days": "7"})
    same = owner_a.post("/settings/tenant", {**ORG, "quiet_hours_start": "21:00", "quiet_hours_end": "21:00"})
    garbled = owner_a.post("/settings/tenant", {**ORG, "quiet_hours_start": "late", "quiet_hours_end": "08:00"})

    assert [r.status_code for r in (half, too_many, same, garbled)] == [422] * 4
    assert field_errors(half.get_data(as_text=True))["frequency_cap_days"] == [
        "fill in both numbers, or neither for no cap"]
    assert "1 to 100" in field_errors(too_many.get_data(as_text=True))["frequency_cap_emails"][0]
    assert field_errors(same.get_data(as_text=True))["quiet_hours_end"]
    assert "HH:MM" in field_errors(garbled.get_data(as_text=True))["quiet_hours_start"][0]
    assert 'value="late"' in garbled.get_data(as_text=True)  # what was typed stays in the box
    assert snapshot() == before


def test_a_viewer_reads_them_in_words(viewer_a, tenant_a):
    tenant = tenant_row(tenant_a.id)
    tenant.frequency_cap, tenant.quiet_hours = {"max_emails": 1, "days": 3}, {"start": "22:00", "end": "07:30"}
    db.session.commit()

    page = viewer_a.get("/settings/").get_data(as_text=True)

    assert "At most 1 marketing email per person in 3 days" in page
    assert "No workflow emails from 22:00 to 07:30" in page
    assert 'name="frequency_cap_emails"' not in page


# --- the schedule form and the waves ----------------------------------------------------------

def sendable_draft(tenant_id: int) -> EmailCampaign:
    tenant = db.session.get(Tenant, tenant_id)
    tenant.sender_email, tenant.postal_address, tenant.timezone = "tickets@alpha.example.com", "1 Way", "Europe/London"
    add_domain_of(tenant_id, tenant.sender_email)
    db.session.commit()
    make_customer(tenant_id, "ada@example.com", tags=["vip"], timezone="Asia/Tokyo")
    make_customer(tenant_id, "bo@example.com", tags=["vip"])
    segment = segments.create_segment(tenant_id, "VIPs", [{"type": "tag", "value": "vip"}])
    return campaigns.create_campaign(tenant_id, {"name": "Jazz", "subject": "Hi", "html_content": "<p>Hi</p>",
                                                 "segment_id": segment.id})


def test_the_schedule_form_sends_at_that_time_in_each_recipients_timezone(owner_a, tenant_a):
    draft = sendable_draft(tenant_a.id)
    form = owner_a.get(f"/campaigns/{draft.id}/edit").get_data(as_text=True)
    assert "At this time in each recipient’s timezone" in form

    response = owner_a.post(f"/campaigns/{draft.id}/schedule", {"send_at": "2030-07-01T09:00",
                                                                "per_customer_timezone": "y"})

    assert response.status_code == 302
    db.session.expire_all()
    row = db.session.get(EmailCampaign, draft.id)
    assert (row.status, row.local_send_time) == ("scheduled", "2030-07-01T09:00")
    assert row.scheduled_at == datetime(2030, 6, 30, 19, 0, tzinfo=UTC)  # 09:00 at UTC+14
    page = owner_a.get(f"/campaigns/{draft.id}/edit").get_data(as_text=True)
    assert "in each recipient’s own timezone" in page and "01 Jul 2030 at 09:00" in page
    assert 'value="2030-07-01T09:00"' in page
    assert re.search(r'<input[^>]*checked[^>]*name="per_customer_timezone"|<input[^>]*name="per_customer_timezone"'
                     r'[^>]*checked', page)
    shown = owner_a.get(f"/campaigns/{draft.id}").get_data(as_text=True)
    assert "in each recipient’s timezone, in waves" in shown


def test_the_progress_card_shows_each_wave_with_its_zones_and_counts(owner_a, tenant_a, runner):
    draft = sendable_draft(tenant_a.id)
    campaigns.schedule_local(tenant_a.id, draft.id, datetime(2030, 7, 1, 9, 0), per_customer_timezone=True)
    db.session.execute(update(EmailCampaign).where(EmailCampaign.id == draft.id).values(
        status="sending", started_at=datetime.now(UTC)))
    db.session.commit()
    campaigns.snapshot_recipients(draft.id)
    # Tokyo's wave went out; London's is still to come.
    db.session.execute(update(CampaignRecipient).where(CampaignRecipient.email == "ada@example.com")
                       .values(status="sent", sent_at=datetime.now(UTC)))
    db.session.commit()

    html = owner_a.get(f"/campaigns/{draft.id}/progress").get_data(as_text=True)

    assert 'data-testid="waves"' in html and html.count('data-testid="wave"') == 2
    assert "Asia/Tokyo" in html and "your timezone (no timezone set)" in html
    assert "Done" in html and "Waiting" in html
    assert "left at the pace so far" not in html  # waiting for a wave is not slowness


# --- the transactional checkbox ------------------------------------------------------------------

def test_the_email_step_page_marks_an_email_transactional(owner_a, tenant_a):
    workflow = workflows.create_workflow(tenant_a.id, {
        "name": "Tickets", "trigger_type": "purchase",
        "steps": [{"type": "send_email", "config": {"subject": "Your tickets", "content": "<p>Here</p>"}}]})
    step = workflows.steps_of(workflow.id)[0]
    url = f"/workflows/{workflow.id}/steps/{step.id}/email"
    assert "Transactional email" in owner_a.get(url).get_data(as_text=True)

    response = owner_a.post(url, {"subject": "Your tickets", "content": "<p>Here</p>", "transactional": "y"})

    assert response.status_code == 302
    db.session.expire_all()
    step = workflows.steps_of(workflow.id)[0]
    assert step.config["transactional"] is True
    assert db.session.get(EmailCampaign, step.campaign_id).transactional is True
    assert "checked" in owner_a.get(url).get_data(as_text=True)

    owner_a.post(url, {"subject": "Your tickets", "content": "<p>Here</p>"})  # unticked: marketing again
    db.session.expire_all()
    step = workflows.steps_of(workflow.id)[0]
    assert "transactional" not in step.config
    assert db.session.get(EmailCampaign, step.campaign_id).transactional is False
