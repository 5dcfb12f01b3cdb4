"""Duplicate a campaign: a new draft with the content, design, sender, audience and UTM
parameters, never the sending (status, schedule, counters, recipients); over the API and
from the campaign's page, within the tenant's walls."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.web.pages import csrf_from
from webapp.extensions import db
from webapp.infra.errors import NotFound
from webapp.infra.types import utcnow
from webapp.models import CampaignRecipient, Customer, EmailCampaign, Tenant
from webapp.services import campaigns, segments
from webapp.services.customers import upsert_customer
from webapp.services.sending_domains import add_domain_of

DESIGN = {"version": 1, "blocks": [{"type": "heading", "text": "Hi {{ customer.first_name | default(\"there\") }}"},
                                   {"type": "text", "html": "<p>See you at the show.</p>"},
                                   {"type": "button", "text": "Get tickets", "url": "https://tickets.example.com"}]}


@pytest.fixture
def original(tenant_a) -> EmailCampaign:
    tenant = db.session.get(Tenant, tenant_a.id)
    tenant.sender_email, tenant.postal_address = "tickets@alpha.example.com", "1 Arena Way"
    add_domain_of(tenant_a.id, "news@alpha.example.com")
    db.session.commit()
    upsert_customer(tenant_a.id, {"email": "ava@example.com", "first_name": "Ava", "tags": ["vip"]})
    segment = segments.create_segment(tenant_a.id, "VIPs", [{"type": "tag", "operator": "has", "value": "vip"}])
    return campaigns.create_campaign(tenant_a.id, {
        "name": "Summer Jazz", "subject": "Seats for {{ customer.first_name }}", "preheader": "Front rows",
        "design": DESIGN, "segment_id": segment.id, "from_name": "Jazz Club", "from_email": "news@alpha.example.com",
        "reply_to": "box@alpha.example.com", "utm_source": "crm", "utm_medium": "email", "utm_campaign": "jazz"})


def _sent(campaign: EmailCampaign) -> EmailCampaign:
    campaign.status, campaign.scheduled_at = "sent", utcnow() - timedelta(hours=2)
    campaign.started_at = campaign.snapshot_at = campaign.finished_at = utcnow() - timedelta(hours=1)
    campaign.recipients_count = campaign.sent_count = 1
    campaign.last_test_sent_at = utcnow() - timedelta(days=1)
    ava = db.session.scalar(select(Customer).where(Customer.email == "ava@example.com"))
    db.session.add(CampaignRecipient(campaign_id=campaign.id, tenant_id=campaign.tenant_id, customer_id=ava.id,
                                     email=ava.email, token="t" * 32, status="sent"))
    db.session.commit()
    return campaign


def test_a_copy_is_a_new_draft_with_everything_written_and_nothing_sent(tenant_a, original):
    copy = campaigns.duplicate_campaign(tenant_a.id, original.id)

    assert copy.id != original.id and copy.status == "draft" and copy.kind == "campaign"
    assert copy.name == "Copy of Summer Jazz"
    for field in ("subject", "preheader", "html_content", "text_content", "design", "segment_id", "from_name",
                  "from_email", "reply_to", "utm_source", "utm_medium", "utm_campaign"):
        assert getattr(copy, field) == getattr(original, field), field
    assert copy.design is not None


def test_a_sent_campaigns_copy_has_no_schedule_counters_test_or_recipients(tenant_a, original):
    sent = _sent(original)

    copy = campaigns.duplicate_campaign(tenant_a.id, sent.id)

    assert (copy.status, copy.scheduled_at, copy.started_at, copy.snapshot_at, copy.finished_at) == (
        "draft", None, None, None, None)
    assert (copy.recipients_count, copy.sent_count, copy.failed_count, copy.last_test_sent_at) == (0, 0, 0, None)
    assert db.session.scalar(select(func.count()).where(CampaignRecipient.campaign_id == copy.id)) == 0
    db.session.refresh(sent)
    assert sent.status == "sent" and sent.sent_count == 1


def test_editing_the_copys_design_leaves_the_original_alone(tenant_a, original):
    copy = campaigns.duplicate_campaign(tenant_a.id, original.id)

    changed = {**DESIGN, "blocks": [{"type": "heading", "text": "Changed"}]}
    campaigns.update_campaign(tenant_a.id, copy.id, {"design": changed})

    db.session.expire_all()
    assert db.session.get(EmailCampaign, original.id).design["blocks"][0]["text"].startswith("Hi ")


def test_a_long_name_is_cut_to_fit(tenant_a, original):
    original.name = "N" * 200
    db.session.commit()

    assert len(campaigns.duplicate_campaign(tenant_a.id, original.id).name) == 200


def test_another_tenants_campaign_or_a_workflow_email_cannot_be_duplicated(tenant_a, tenant_b, original):
    hidden = EmailCampaign(tenant_id=tenant_a.id, kind="workflow", name="Workflow: x", subject="s",
                           html_content="<p>x</p>", status="draft")
    db.session.add(hidden)
    db.session.commit()

    with pytest.raises(NotFound):
        campaigns.duplicate_campaign(tenant_b.id, original.id)
    with pytest.raises(NotFound):
        campaigns.duplicate_campaign(tenant_a.id, hidden.id)


# --- API --------------------------------------------------------------------------------------


def test_the_api_answers_201_with_the_copy(api, original):
    response = api.post(f"/campaigns/{original.id}/duplicate")

    body = response.get_json()
    assert response.status_code == 201
    assert body["name"] == "Copy of Summer Jazz" and body["status"] == "draft" and body["id"] != original.id
    assert body["subject"] == original.subject and body["segment_id"] == original.segment_id


def test_the_api_answers_404_for_another_tenants_campaign(api_b, original):
    before = db.session.scalar(select(func.count()).select_from(EmailCampaign))

    assert api_b.post(f"/campaigns/{original.id}/duplicate").status_code == 404
    assert api_b.post("/campaigns/99999999/duplicate").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(EmailCampaign)) == before


# --- web --------------------------------------------------------------------------------------


def _login(app, email, password):
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    return client


def test_the_duplicate_button_opens_the_copy_in_the_editor(app, tenant_a, original, password):
    client = _login(app, tenant_a.owner_email, password)
    page = client.get(f"/campaigns/{original.id}").get_data(as_text=True)
    assert f'action="/campaigns/{original.id}/duplicate"' in page

    response = client.post(f"/campaigns/{original.id}/duplicate", data={"csrf_token": csrf_from(page)})

    copy = db.session.scalar(select(EmailCampaign).where(EmailCampaign.name == "Copy of Summer Jazz"))
    assert response.status_code == 302 and response.headers["Location"] == f"/campaigns/{copy.id}/edit"


def test_duplicating_without_the_csrf_token_is_refused(app, tenant_a, original, password):
    client = _login(app, tenant_a.owner_email, password)

    assert client.post(f"/campaigns/{original.id}/duplicate").status_code == 400
    assert db.session.scalar(select(func.count()).select_from(EmailCampaign)) == 1


def test_another_tenants_campaign_is_a_404_from_the_web_too(app, tenant_b, original, password):
    client = _login(app, tenant_b.owner_email, password)
    token = csrf_from(client.get("/dashboard").get_data(as_text=True))

    assert client.post(f"/campaigns/{original.id}/duplicate", data={"csrf_token": token}).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(EmailCampaign)) == 1
