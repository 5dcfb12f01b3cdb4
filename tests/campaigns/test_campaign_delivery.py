"""A campaign sent to a segment through real workers arrives at a real SMTP server once per
subscribed member, personalised, with the intended headers, parts and footer."""

from __future__ import annotations

import re

import pytest
from campaign_support import (
    POSTAL_ADDRESS,
    SENDER,
    activities_of,
    assert_counters_match_rows,
    audience_segment,
    campaign,
    new_campaign,
    ready_tenant,
    recipient_rows,
    run_burst_worker,
)

from webapp.services import customers

STYLED = """<html><head><style>p.lead { color: #ff0000; font-weight: bold }</style></head>
<body><p class="lead">Hi {{ customer.first_name | default("there") }}!</p>
<p>You have {{ customer.orders_count }} orders.</p></body></html>"""


@pytest.fixture
def audience(app, tenant_a, smtp_mail):
    """Three subscribed fans (one without a first name), three suppressed ones, one outsider."""
    ready_tenant(tenant_a.id)
    ids = {}
    for email, first_name in (("ann@example.com", "Ann"), ("bob@example.com", "Bob"), ("nameless@example.com", None)):
        ids[email] = customers.upsert_customer(tenant_a.id, {"email": email, "first_name": first_name,
                                                             "tags": ["fans"]})[0].id
    for email, status in (("gone@example.com", "unsubscribed"), ("bounced@example.com", "bounced"),
                          ("angry@example.com", "complained")):
        ids[email] = customers.upsert_customer(tenant_a.id, {"email": email, "first_name": "X", "tags": ["fans"],
                                                             "email_status": status})[0].id
    customers.upsert_customer(tenant_a.id, {"email": "outsider@example.com", "tags": ["other"]})
    return ids


def send_and_drain(api, runner, campaign_id: int):
    response = api.post(f"/campaigns/{campaign_id}/send")
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["status"] == "sending"
    run_burst_worker(runner)


def test_each_subscribed_member_gets_exactly_one_personalised_copy(api, runner, tenant_a, audience, smtp_mail):
    created = new_campaign(tenant_a.id, audience_segment(tenant_a.id))

    send_and_drain(api, runner, created.id)

    assert smtp_mail.per_recipient() == {"ann@example.com": 1, "bob@example.com": 1, "nameless@example.com": 1}
    subjects = {m.to: m.message["Subject"] for m in smtp_mail.messages()}
    assert subjects == {"ann@example.com": "Hello Ann", "bob@example.com": "Hello Bob",
                        "nameless@example.com": "Hello there"}
    ann = smtp_mail.to("ann@example.com")[0].message
    assert "Hi Ann, the line-up is out." in ann.get_body(("html",)).get_content()
    assert "Hi Ann, the line-up is out." in ann.get_body(("plain",)).get_content()
    assert all(m.mail_from == SENDER for m in smtp_mail.messages())


def test_suppressed_members_are_not_in_the_snapshot(api, runner, tenant_a, audience, smtp_mail):
    created = new_campaign(tenant_a.id, audience_segment(tenant_a.id))

    send_and_drain(api, runner, created.id)

    assert sorted(r.email for r in recipient_rows(created.id)) == [
        "ann@example.com", "bob@example.com", "nameless@example.com"]
    assert not smtp_mail.to("gone@example.com") and not smtp_mail.to("bounced@example.com")


def test_counters_statuses_and_timelines_end_right(api, runner, tenant_a, audience, smtp_mail):
    created = new_campaign(tenant_a.id, audience_segment(tenant_a.id))

    send_and_drain(api, runner, created.id)

    row = assert_counters_match_rows(created.id)
    assert (row.status, row.recipients_count, row.sent_count, row.failed_count, row.skipped_count) == (
        "sent", 3, 3, 0, 0)
    assert row.started_at is not None and row.finished_at is not None and row.finished_at >= row.started_at
    received_ids = {m.to: m.message["Message-ID"] for m in smtp_mail.messages()}
    for recipient in recipient_rows(created.id):
        assert recipient.status == "sent" and recipient.sent_at is not None and recipient.error is None
        assert recipient.message_id == received_ids[recipient.email]
    timeline = api.get(f"/customers/{audience['ann@example.com']}/timeline").get_json()["data"]
    [sent] = [item for item in timeline if item["type"] == "email_sent"]
    assert sent["properties"]["campaign_id"] == created.id
    assert not activities_of(audience["gone@example.com"], "email_sent")
    stats = api.get("/campaigns/stats", query_string={"campaign_id": created.id}).get_json()["data"]
    delivery = ("campaign_id", "name", "status", "recipients", "sent", "failed", "skipped", "remaining")
    assert [{k: s[k] for k in delivery} for s in stats] == [{
        "campaign_id": created.id, "name": "Summer line-up", "status": "sent", "recipients": 3, "sent": 3,
        "failed": 0, "skipped": 0, "remaining": 0}]


def test_headers_are_exactly_the_intended_ones(api, runner, tenant_a, audience, smtp_mail, app_config):
    app_config(BASE_URL="https://crm.example.com", UNSUBSCRIBE_MAILTO="unsubscribe@crm.example.com")
    created = new_campaign(tenant_a.id, audience_segment(tenant_a.id), from_name="Arena Box Office",
                           from_email="box-office@arena-alpha.example.com", reply_to="help@arena-alpha.example.com")

    send_and_drain(api, runner, created.id)

    received = smtp_mail.to("ann@example.com")[0]
    message = received.message
    assert received.mail_from == "box-office@arena-alpha.example.com"
    assert sorted(message.keys()) == sorted([
        "From", "To", "Subject", "Date", "Message-ID", "Reply-To", "List-Unsubscribe", "List-Unsubscribe-Post",
        "MIME-Version", "Content-Type", "List-Id", "Feedback-ID",
        # The recipient's token, as each relay echoes it back with a bounce or complaint.
        "X-CRM-Message", "X-SMTPAPI", "X-Mailgun-Variables", "X-PM-Metadata-crm-message"])
    assert message["From"] == "Arena Box Office <box-office@arena-alpha.example.com>"
    assert message["To"] == "ann@example.com"
    assert message["Reply-To"] == "help@arena-alpha.example.com"
    assert re.fullmatch(r"<[^<>@\s]+@arena-alpha\.example\.com>", message["Message-ID"])
    [recipient] = [r for r in recipient_rows(created.id) if r.email == "ann@example.com"]
    assert re.fullmatch(r"[0-9a-f]{32}", recipient.token)  # opaque: no id, no address in it
    # A long header is folded after its colon; unfolded, the value is exactly the two targets.
    assert message["List-Unsubscribe"].strip() == (f"<https://crm.example.com/u/{recipient.token}>, "
                                           "<mailto:unsubscribe@crm.example.com?subject=unsubscribe>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    tokens = {r.token for r in recipient_rows(created.id)}
    assert len(tokens) == 3


def test_without_a_mailto_the_list_unsubscribe_header_has_only_the_https_url(
        api, runner, tenant_a, audience, smtp_mail, app_config):
    app_config(BASE_URL="https://crm.example.com", UNSUBSCRIBE_MAILTO=None)
    created = new_campaign(tenant_a.id, audience_segment(tenant_a.id))

    send_and_drain(api, runner, created.id)

    header = smtp_mail.to("bob@example.com")[0].message["List-Unsubscribe"].strip()
    assert re.fullmatch(r"<https://crm\.example\.com/u/[0-9a-f]{32}>", header)


def test_the_message_is_multipart_text_and_html_with_css_inlined(api, runner, tenant_a, audience, smtp_mail):
    created = new_campaign(tenant_a.id, audience_segment(tenant_a.id), html_content=STYLED,
                           preheader="Doors at {{ customer.first_name }} o'clock")

    send_and_drain(api, runner, created.id)

    message = smtp_mail.to("ann@example.com")[0].message
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    html = message.get_body(("html",)).get_content()
    assert "<style" not in html
    assert re.search(r'<p class="lead" style="[^"]*color: ?#ff0000[^"]*">Hi Ann!</p>', html), html
    assert "Doors at Ann o&#x27;clock" in html or "Doors at Ann o'clock" in html
    text = message.get_body(("plain",)).get_content()
    assert "Hi Ann!" in text and "You have 0 orders." in text and "<p" not in text


def test_a_footer_with_the_unsubscribe_link_and_postal_address_is_added_when_missing(
        api, runner, tenant_a, audience, smtp_mail):
    created = new_campaign(tenant_a.id, audience_segment(tenant_a.id))

    send_and_drain(api, runner, created.id)

    message = smtp_mail.to("ann@example.com")[0].message
    [recipient] = [r for r in recipient_rows(created.id) if r.email == "ann@example.com"]
    url = f"http://crm.test/u/{recipient.token}"
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert html.count(f'href="{url}"') == 1 and POSTAL_ADDRESS in html
    assert url in text and POSTAL_ADDRESS in text


def test_a_template_that_places_the_unsubscribe_link_gets_no_second_footer(
        api, runner, tenant_a, audience, smtp_mail):
    created = new_campaign(tenant_a.id, audience_segment(tenant_a.id), html_content=(
        '<p>Hi {{ customer.first_name }}</p><p>{{ tenant.postal_address }} · '
        '<a href="{{ unsubscribe_url }}">Leave this list</a></p>'))

    send_and_drain(api, runner, created.id)

    message = smtp_mail.to("bob@example.com")[0].message
    [recipient] = [r for r in recipient_rows(created.id) if r.email == "bob@example.com"]
    html = message.get_body(("html",)).get_content()
    assert html.count(f"/u/{recipient.token}") == 1
    assert html.count(POSTAL_ADDRESS) == 1
    assert "Leave this list" in html and ">Unsubscribe<" not in html


def test_the_campaign_is_sent_only_when_every_recipient_is_final(
        api, runner, tenant_a, audience, smtp_mail, app_config):
    from datetime import timedelta

    from sqlalchemy import update

    from webapp.extensions import db
    from webapp.infra.types import utcnow
    from webapp.models import CampaignRecipient
    from webapp.tasks.delivery import reconcile_campaigns

    app_config(DELIVERY_RETRY_BASE_SECONDS=3600)
    smtp_mail.temporary["bob@example.com"] = 1
    created = new_campaign(tenant_a.id, audience_segment(tenant_a.id))

    send_and_drain(api, runner, created.id)

    assert campaign(created.id).status == "sending"
    [bob] = [r for r in recipient_rows(created.id) if r.email == "bob@example.com"]
    assert bob.status == "pending" and bob.error.startswith("451") and bob.next_attempt_at > utcnow()
    reconcile_campaigns()  # not due yet: nothing to do
    run_burst_worker(runner)
    assert campaign(created.id).status == "sending" and smtp_mail.per_recipient().get("bob@example.com") is None

    # An hour later, the reconciler finds the due retry.
    db.session.execute(update(CampaignRecipient).where(CampaignRecipient.id == bob.id)
                       .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    reconcile_campaigns()
    run_burst_worker(runner)

    assert smtp_mail.per_recipient() == {"ann@example.com": 1, "bob@example.com": 1, "nameless@example.com": 1}
    assert assert_counters_match_rows(created.id).status == "sent"
