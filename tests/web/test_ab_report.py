"""The report of an A/B-tested campaign: the variants' table (subjects, figures with ranges,
chance to be best), the verdict, the winner's time while testing and the buttons that send a
variant to the rest (CSRF, write roles, other tenants' campaigns a 404), then who won."""

from __future__ import annotations

from sqlalchemy import select

from tests.campaigns.ab_support import SUBJECTS, engage
from tests.campaigns.campaign_support import add_audience, audience_segment, ready_tenant, run_burst_worker
from webapp.extensions import db
from webapp.models import CampaignRecipient, EmailCampaign
from webapp.services import campaigns


def sent_ab_campaign(runner, tenant_id: int) -> int:
    ready_tenant(tenant_id)
    add_audience(tenant_id, 50)
    created = campaigns.create_campaign(tenant_id, {
        "name": "Line-up", "subject": "The line-up", "html_content": "<p>Hi</p>",
        "segment_id": audience_segment(tenant_id),
        "variants": [{"subject": SUBJECTS[0]}, {"subject": SUBJECTS[1], "from_name": "The Box Office"}],
        "ab_test": {"share_percent": 40, "duration_minutes": 90, "metric": "clicks"}})
    campaigns.send_campaign(tenant_id, created.id)
    run_burst_worker(runner)
    return created.id


def held(campaign_id: int) -> int:
    count = len(db.session.scalars(select(CampaignRecipient.id).where(
        CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.status == "held")).all())
    db.session.commit()
    return count


def test_the_report_shows_each_variant_the_verdict_and_when_the_winner_comes(owner_a, tenant_a, runner):
    cid = sent_ab_campaign(runner, tenant_a.id)
    engage(cid, 1, opens=6, clicks=4)

    page = owner_a.get(f"/campaigns/{cid}/report").get_data(as_text=True)

    assert 'data-testid="ab-test"' in page and SUBJECTS[0] in page and "You&#39;re invited: the line-up" in page
    assert "From The Box Office" in page and "From Arena Alpha" in page, "senders shown when they differ"
    assert "Test running." in page and "goes to the remaining 30 people" in page
    assert "A/B test running, winner at" in page
    assert 'data-testid="send-A"' in page and 'data-testid="send-B"' in page
    assert "No clear winner on human unique clicks" in page
    summary = owner_a.get(f"/campaigns/{cid}").get_data(as_text=True)
    assert 'data-testid="ab-waiting"' in summary and 'data-testid="time-left"' not in summary


def test_send_variant_b_to_the_rest_from_the_report(owner_a, tenant_a, runner):
    cid = sent_ab_campaign(runner, tenant_a.id)

    response = owner_a.post(f"/campaigns/{cid}/winner", {"variant": "B"})
    run_burst_worker(runner)

    assert response.status_code == 302
    page = owner_a.get(f"/campaigns/{cid}/report").get_data(as_text=True)
    assert "Variant B won</strong> (chosen by you)" in page and 'data-testid="send-A"' not in page
    assert "You chose variant B while the test ran; the figures then: too few people to tell" in page
    assert held(cid) == 0 and db.session.get(EmailCampaign, cid).status == "sent"
    assert owner_a.post(f"/campaigns/{cid}/winner", {"variant": "A"}).status_code == 302
    assert "variant B already won" in owner_a.get(f"/campaigns/{cid}/report").get_data(as_text=True)


def test_the_winner_button_needs_csrf_a_write_role_and_the_tenants_own_campaign(
        owner_a, owner_b, viewer_a, tenant_a, runner):
    cid = sent_ab_campaign(runner, tenant_a.id)

    assert owner_a.post(f"/campaigns/{cid}/winner", {"variant": "B"}, csrf=False).status_code in (400, 302)
    assert viewer_a.post(f"/campaigns/{cid}/winner", {"variant": "B"}).status_code == 403
    assert owner_b.post(f"/campaigns/{cid}/winner", {"variant": "B"}).status_code == 404
    assert owner_a.post(f"/campaigns/{cid}/winner", {"variant": "Z"}).status_code == 302
    assert held(cid) == 30, "nothing was released"
