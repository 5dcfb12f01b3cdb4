"""Before sending: the checklist (blockers, warnings, what passed), the inbox preview, the
save warnings, and the confirmation page that refuses a send past a blocker while the
API's send keeps its contract."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.web.pages import csrf_from
from webapp.extensions import db
from webapp.models import EmailCampaign, SendingDomain, Tenant
from webapp.services import campaigns, segments
from webapp.services.campaigns import checks
from webapp.services.customers import upsert_customer
from webapp.services.sending_domains import add_domain_of

WORDS = "Doors open at seven, the support act starts at eight and the headliner plays until late. " * 8
GOOD = (f'<html><body><h1>Hi {{{{ customer.first_name | default("there") }}}}</h1><p>{WORDS}</p>'
        '<img src="https://cdn.example.com/stage.png" alt="The stage">'
        '<p><a href="https://tickets.example.com/jazz">Get tickets</a> or <a href="mailto:box@example.com">mail '
        'us</a></p></body></html>')


@pytest.fixture
def shop(tenant_a):
    """Tenant A ready to send: sender on a verified domain, postal address, Ava (vip) and the VIP segment."""
    tenant = db.session.get(Tenant, tenant_a.id)
    tenant.sender_name, tenant.sender_email = "Arena Alpha Box Office", "tickets@alpha.example.com"
    tenant.postal_address = "1 Arena Way, Berlin"
    domain = add_domain_of(tenant_a.id, tenant.sender_email)
    domain.status = "verified"
    db.session.commit()
    upsert_customer(tenant_a.id, {"email": "ava@example.com", "first_name": "Ava", "tags": ["vip"]})
    segment = segments.create_segment(tenant_a.id, "VIPs", [{"type": "tag", "operator": "has", "value": "vip"}])
    db.session.commit()
    return {"tenant_id": tenant_a.id, "segment_id": segment.id}


def make(shop, **fields) -> EmailCampaign:
    data = {"name": "Summer Jazz", "subject": "Hi {{ customer.first_name | default('there') }}, seats are waiting",
            "preheader": "Front rows for {{ customer.first_name | default('you') }}", "html_content": GOOD,
            "segment_id": shop["segment_id"], **fields}
    return campaigns.create_campaign(shop["tenant_id"], data)


def levels(campaign: EmailCampaign) -> dict[str, str]:
    return {c.key: c.level for c in checks.presend_checklist(campaign.tenant_id, campaign.id)}


def check(campaign: EmailCampaign, key: str) -> checks.Check:
    return next(c for c in checks.presend_checklist(campaign.tenant_id, campaign.id) if c.key == key)


def after_a_test_send(campaign: EmailCampaign) -> EmailCampaign:
    campaigns.send_test(campaign.tenant_id, campaign.id, ["me@alpha.example.com"])
    return campaign


# --- the checks -------------------------------------------------------------------------------


def test_a_careful_campaign_passes_every_check_once_a_test_was_sent(shop):
    campaign = after_a_test_send(make(shop))

    assert levels(campaign) == {key: "ok" for key in (
        "audience", "sender", "test_sent", "subject", "preheader", "links", "alt_text", "unsubscribe",
        "image_ratio", "merge_tags")}


def test_blockers_come_first_then_warnings_then_what_passed(shop):
    campaign = make(shop, segment_id=None, preheader=None)

    order = [c.level for c in checks.presend_checklist(shop["tenant_id"], campaign.id)]

    assert order == sorted(order, key=["blocker", "warning", "ok"].index)
    assert order[0] == "blocker" and "warning" in order and "ok" in order


def test_no_segment_and_a_segment_nobody_can_get_are_blockers(shop):
    assert check(make(shop, segment_id=None), "audience").level == "blocker"
    nobody = segments.create_segment(shop["tenant_id"], "Nobody", [{"type": "tag", "operator": "has", "value": "x"}])

    empty = check(make(shop, segment_id=nobody.id), "audience")

    assert empty.level == "blocker" and "Nobody" in empty.detail


def test_no_test_no_preheader_and_a_shouting_subject_are_warnings(shop):
    campaign = make(shop, preheader=None, subject="HUGE SALE {{ customer.first_name }} TONIGHT ONLY!!!")

    found = levels(campaign)

    assert (found["test_sent"], found["preheader"], found["subject"]) == ("warning", "warning", "warning")
    assert "capitals" in check(campaign, "subject").detail


def test_a_test_send_is_recorded_without_moving_the_last_edit(shop):
    campaign = make(shop)
    edited = campaign.updated_at

    after_a_test_send(campaign)

    db.session.refresh(campaign)
    assert campaign.last_test_sent_at is not None and campaign.updated_at == edited
    assert check(campaign, "test_sent").detail.startswith("Last test sent ")


@pytest.mark.parametrize("href, problem", [
    ("#", "goes to “#”, nowhere"), ("", "has no address"), ("www.venue.com", "not a full web address"),
    ("/tickets", "not a full web address"), ("javascript:alert(1)", "not a full web address")])
def test_links_that_go_nowhere_or_are_not_absolute_are_named(shop, href, problem):
    html = GOOD.replace('href="https://tickets.example.com/jazz"', f'href="{href}"')

    found = check(make(shop, html_content=html), "links")

    assert found.level == "warning" and "“Get tickets”" in found.detail and problem in found.detail


def test_mailto_and_personalised_links_are_fine(shop):
    html = GOOD.replace("https://tickets.example.com/jazz", "{{ view_in_browser_url }}")

    assert check(make(shop, html_content=html), "links").level == "ok"


def test_images_without_alt_text_are_counted_and_pixels_ignored(shop):
    html = GOOD.replace('alt="The stage"', 'alt=""').replace(
        "</body>", '<img src="https://cdn.example.com/b.png"><img src="https://t.example.com/p.gif" width="1" '
                   'height="1"></body>')

    found = check(make(shop, html_content=html), "alt_text")

    assert found.level == "warning" and found.detail.startswith("2 of 2 images have no alt text")


def test_the_unsubscribe_link_is_ours_unless_the_template_places_it(shop):
    assert "footer we add" in check(make(shop), "unsubscribe").detail
    own = GOOD.replace("</body>", '<a href="{{ unsubscribe_url }}">Unsubscribe</a></body>')
    assert check(make(shop, html_content=own), "unsubscribe").detail == "Your email has its own unsubscribe link."
    mentioned = GOOD.replace("</body>", "<p>{{ unsubscribe_url }}</p></body>")

    assert check(make(shop, html_content=mentioned), "unsubscribe").level == "warning"


def test_an_image_with_little_text_warns_about_the_ratio(shop):
    html = '<p>Tickets!</p><img src="https://cdn.example.com/poster.png" alt="Poster">'

    found = check(make(shop, html_content=html), "image_ratio")

    assert found.level == "warning" and "1 image and only" in found.detail


def test_unknown_merge_tags_warn_with_what_was_meant(shop):
    campaign = make(shop, subject="Hi {{ customer.frist_name }}")

    found = check(campaign, "merge_tags")

    assert found.level == "warning" and "did you mean customer.first_name?" in found.detail


def test_an_unverified_domain_warns_and_a_missing_sender_or_address_blocks(shop):
    db.session.scalar(select(SendingDomain).where(SendingDomain.tenant_id == shop["tenant_id"])).status = "unverified"
    db.session.commit()
    campaign = make(shop)
    assert check(campaign, "sender").level == "warning"

    tenant = db.session.get(Tenant, shop["tenant_id"])
    tenant.postal_address, tenant.sender_email = "", None
    db.session.commit()

    found = levels(campaign)
    assert found["postal_address"] == "blocker" and found["sender"] == "blocker"


def test_a_template_that_cannot_render_is_a_blocker_without_an_inbox_preview(shop):
    campaign = make(shop, html_content="<p>{{ 100 / customer.orders_count }}</p>")

    review = checks.presend_review(shop["tenant_id"], campaign.id)

    assert [c.key for c in review.blockers] == ["content"] and review.inbox is None


# --- the inbox preview ------------------------------------------------------------------------


def test_the_inbox_preview_renders_subject_and_preheader_for_a_member_of_the_segment(shop):
    campaign = make(shop, from_name="Jazz Club")

    inbox = checks.presend_review(shop["tenant_id"], campaign.id).inbox

    assert (inbox.sender_name, inbox.subject, inbox.snippet) == ("Jazz Club", "Hi Ava, seats are waiting",
                                                                 "Front rows for Ava")
    assert inbox.snippet_is_preheader and inbox.customer_email == "ava@example.com"


def test_without_a_preheader_the_inbox_shows_the_first_words_of_the_email(shop):
    inbox = checks.presend_review(shop["tenant_id"], make(shop, preheader=None).id).inbox

    assert not inbox.snippet_is_preheader and inbox.snippet.startswith("Hi Ava Doors open at seven")
    assert len(inbox.snippet) <= checks.SNIPPET


# --- save warnings -------------------------------------------------------------------------------


def test_save_warnings_name_each_unknown_tag_with_a_suggestion(shop):
    campaign = make(shop, html_content="<p>Hi {{ customer.frist_name }}</p>")

    assert checks.campaign_warnings(shop["tenant_id"], campaign) == [
        "{{ customer.frist_name }} is not a field we know — did you mean customer.first_name?"]


def test_save_warnings_are_empty_for_known_fields(shop):
    assert checks.campaign_warnings(shop["tenant_id"], make(shop)) == []


# --- the confirmation page ----------------------------------------------------------------------


def _login(app, email, password):
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"email": email, "password": password, "csrf_token": token}).status_code == 302
    return client


def _post(client, path):
    token = csrf_from(client.get("/dashboard").get_data(as_text=True))
    return client.post(path, data={"csrf_token": token})


def test_the_confirmation_page_groups_the_checklist_and_shows_the_inbox_without_template_code(app, shop, tenant_a,
                                                                                                 password):
    campaign = make(shop, preheader=None, html_content=GOOD.replace("https://tickets.example.com/jazz", "#"))
    client = _login(app, tenant_a.owner_email, password)

    html = client.get(f"/campaigns/{campaign.id}/send").get_data(as_text=True)

    assert "Worth a look (3)" in html and "Must fix" not in html
    assert re.search(r'<details class="checks-passed">\s*<summary>\d+ checks passed', html)
    inbox = html[html.index('data-testid="inbox-preview"'):]
    assert "Hi Ava, seats are waiting" in inbox and "{{" not in inbox and "Arena Alpha Box Office" in inbox
    assert "Send to 1 person now" in html


def test_a_blocker_refuses_the_send_from_the_confirmation_page(app, shop, tenant_a, password):
    campaign = make(shop, html_content="<p>{{ 100 / customer.orders_count }}</p>")
    client = _login(app, tenant_a.owner_email, password)

    page = client.get(f"/campaigns/{campaign.id}/send").get_data(as_text=True)
    response = _post(client, f"/campaigns/{campaign.id}/send")

    assert "Must fix (1)" in page and "Send to 1 person now" not in page
    assert response.status_code == 422 and "Not sent" in response.get_data(as_text=True)
    db.session.refresh(campaign)
    assert campaign.status == "draft"


def test_warnings_never_stop_a_send(app, shop, tenant_a, password):
    campaign = make(shop, preheader=None, subject="LAST CHANCE")
    client = _login(app, tenant_a.owner_email, password)

    response = _post(client, f"/campaigns/{campaign.id}/send")

    assert response.status_code == 302
    db.session.refresh(campaign)
    assert campaign.status == "sending"


def test_another_tenants_confirmation_page_is_a_404(app, shop, tenant_b, password):
    campaign = make(shop)
    client = _login(app, tenant_b.owner_email, password)

    assert client.get(f"/campaigns/{campaign.id}/send").status_code == 404
    assert _post(client, f"/campaigns/{campaign.id}/send").status_code == 404


# --- the API ---------------------------------------------------------------------------------------


def test_the_api_checklist_lists_every_check_with_its_level(api, shop):
    campaign = make(shop, preheader=None)

    response = api.get(f"/campaigns/{campaign.id}/checklist")

    assert response.status_code == 200
    items = response.get_json()["data"]
    assert all(set(item) == {"key", "label", "level", "detail"} for item in items)
    assert {i["key"]: i["level"] for i in items}["preheader"] == "warning"


def test_the_api_checklist_of_another_tenants_or_a_missing_campaign_is_a_404(api, api_b, shop):
    campaign = make(shop)

    assert api_b.get(f"/campaigns/{campaign.id}/checklist").status_code == 404
    assert api.get("/campaigns/999999/checklist").status_code == 404


def test_the_api_send_keeps_its_contract_with_warnings(api, shop):
    campaign = make(shop, preheader=None, subject="HELLO")

    assert api.post(f"/campaigns/{campaign.id}/send").status_code == 202
