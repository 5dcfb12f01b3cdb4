"""The campaign report, the dashboard's campaign figures, timelines with campaign names,
and the tracking settings (UTM on the campaign form, the attribution window)."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.campaigns.tracking_support import age_delivery, hit, outbox_html, send_to_audience, tracking_urls, write_hits
from webapp.extensions import db
from webapp.models import CampaignRecipient, EmailCampaign, Tenant

SCRIPT_UA = '<script>alert("ua")</script> Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0'
SCRIPT_REFERER = 'https://mail.example.com/"><img src=x onerror=alert(1)>'


def _engaged_campaign(client, runner, tenant_id: int) -> int:
    """Sent to two fans; fan0 opens and clicks with hostile headers, fan1 only via Apple's proxy."""
    cid = send_to_audience(runner, tenant_id, 2)
    age_delivery(cid)
    pages = outbox_html(cid)
    pixel0, clicks0 = tracking_urls(pages["fan0@example.com"])
    pixel1, _ = tracking_urls(pages["fan1@example.com"])
    hit(client, pixel0, ua=SCRIPT_UA, referer=SCRIPT_REFERER)
    hit(client, clicks0[0], ua=SCRIPT_UA, referer=SCRIPT_REFERER)
    hit(client, pixel1, ua="Mozilla/5.0")
    write_hits()
    return cid


def test_script_in_user_agent_and_referer_is_shown_escaped_on_report_and_timeline(client, owner_a, tenant_a, runner):
    cid = _engaged_campaign(client, runner, tenant_a.id)
    report = owner_a.get(f"/campaigns/{cid}/report")
    assert report.status_code == 200
    page = report.get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;ua&#34;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page

    customer_id = db.session.scalar(select(CampaignRecipient.customer_id).where(
        CampaignRecipient.email == "fan0@example.com"))
    timeline = owner_a.get(f"/customers/{customer_id}").get_data(as_text=True)
    assert "<script>alert" not in timeline and "<img src=x" not in timeline
    assert "&lt;script&gt;alert" in timeline
    # Sent, opened and clicked each name the campaign (linked to its report).
    link = f'<a href="/campaigns/{cid}/report">Summer line-up</a>'
    assert timeline.count(link) == 3


def test_report_shows_people_only_or_all_hits(client, owner_a, tenant_a, runner):
    cid = _engaged_campaign(client, runner, tenant_a.id)
    people = owner_a.get(f"/campaigns/{cid}/report").get_data(as_text=True)
    everyone = owner_a.get(f"/campaigns/{cid}/report?view=all").get_data(as_text=True)

    def figure(page: str, testid: str) -> str:
        return re.search(rf'data-testid="{testid}">([^<]+)<', page).group(1)

    assert figure(people, "open-rate") == "50.0%" and figure(everyone, "open-rate") == "100.0%"
    assert figure(people, "click-rate") == "50.0%"
    assert "<svg" in people and "People who opened and clicked since sending started" in people
    assert "https://tickets.example.com/show?id=7&amp;ref=mail" in people
    assert "Apple Mail Privacy Protection proxy" in people


def test_report_recipients_filter_by_engagement_and_status_and_page(client, owner_a, tenant_a, runner):
    cid = _engaged_campaign(client, runner, tenant_a.id)
    clicked = owner_a.get(f"/campaigns/{cid}/report?engagement=clicked", headers={"HX-Request": "true"})
    body = clicked.get_data(as_text=True)
    assert "HX-Request" in clicked.headers["Vary"] and "<html" not in body
    assert "fan0@example.com" in body and "fan1@example.com" not in body
    machines = owner_a.get(f"/campaigns/{cid}/report?engagement=machine_only").get_data(as_text=True)
    assert "fan1@example.com" in machines and ">fan0@example.com<" not in machines
    failed = owner_a.get(f"/campaigns/{cid}/report?status=failed", headers={"HX-Request": "true"})
    assert "No recipient matches these filters" in failed.get_data(as_text=True)


def test_report_of_another_tenants_campaign_is_404(client, owner_b, tenant_a, runner):
    cid = _engaged_campaign(client, runner, tenant_a.id)
    assert owner_b.get(f"/campaigns/{cid}/report").status_code == 404


def test_report_of_an_unsent_campaign_says_what_to_do(owner_a, world_a):
    page = owner_a.get(f"/campaigns/{world_a['campaign_id']}/report").get_data(as_text=True)
    assert "Not sent yet" in page and "No opens or clicks yet" in page


def test_dashboard_lists_latest_campaigns_with_rates_and_a_30_day_chart(client, owner_a, tenant_a, runner):
    empty = owner_a.get("/dashboard").get_data(as_text=True)
    assert "No campaign has gone out yet" in empty and "No opens or clicks in the last 30 days" in empty
    cid = _engaged_campaign(client, runner, tenant_a.id)
    page = owner_a.get("/dashboard").get_data(as_text=True)
    row = re.search(r'data-testid="latest-campaigns">.*?</table>', page, re.S).group(0)
    assert f'href="/campaigns/{cid}/report">Summer line-up</a>' in row
    assert "50.0%" in row  # one of two people opened (the Apple proxy does not count)
    assert 'aria-label="Email opens and clicks per day, last 30 days"' in page


def test_campaign_form_keeps_utm_parameters(owner_a, world_a):
    cid = world_a["campaign_id"]
    response = owner_a.post(f"/campaigns/{cid}/edit", {
        "name": "Spring draft", "subject": "Hi", "html_content": "<p>Hi</p>", "segment_id": str(world_a["segment_id"]),
        "utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "spring"})
    assert response.status_code == 302
    db.session.expire_all()
    campaign = db.session.get(EmailCampaign, cid)
    assert (campaign.utm_source, campaign.utm_medium, campaign.utm_campaign) == ("newsletter", "email", "spring")
    bad = owner_a.post(f"/campaigns/{cid}/edit", {"name": "Spring draft", "subject": "Hi", "html_content": "<p>Hi</p>",
                                                  "utm_source": "x" * 101})
    assert bad.status_code == 422 and "utm_source" in bad.get_data(as_text=True)


def test_settings_change_the_attribution_window(owner_a, tenant_a):
    data = {"name": "Arena", "timezone": "UTC", "attribution_days": "9"}
    assert owner_a.post("/settings/tenant", data).status_code in (200, 302)
    db.session.expire_all()
    assert db.session.get(Tenant, tenant_a.id).attribution_days == 9
    refused = owner_a.post("/settings/tenant", {**data, "attribution_days": "400"})
    assert refused.status_code == 422 and "between 0" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Tenant, tenant_a.id).attribution_days == 9
