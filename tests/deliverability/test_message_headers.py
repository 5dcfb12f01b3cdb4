"""Every campaign message carries List-Id, Feedback-ID and the headers each relay echoes
back with a bounce or complaint; a [TEST] copy carries none of the per-recipient ones."""

from __future__ import annotations

import email
import json
from email.policy import default as default_policy
from urllib.parse import urlsplit

from sqlalchemy import select

from tests.deliverability.relay_support import sent_campaign
from webapp.extensions import db
from webapp.mail.compose import Envelope, build_message, feedback_id_header, list_id_header
from webapp.models import EmailCampaign, OutboxMessage, Tenant, Topic
from webapp.services import campaigns
from webapp.services.campaigns.rendering import _Recipients


def test_a_delivered_message_names_its_list_its_feedback_loop_and_its_recipient(runner, tenant_a):
    sent = sent_campaign(runner, tenant_a.id, 2)
    ada = sent.recipients[0]
    raw = db.session.scalar(select(OutboxMessage.raw).where(OutboxMessage.campaign_id == sent.campaign_id,
                                                           OutboxMessage.recipient == ada.email))
    message = email.message_from_bytes(raw, policy=default_policy)

    assert message["List-Id"] == "Arena Alpha <arena-alpha.list-id.crm.test>"
    assert message["Feedback-ID"] == f"{sent.campaign_id}:campaign:{tenant_a.id}:crm.test"
    assert message["X-CRM-Message"] == ada.token
    assert json.loads(message["X-SMTPAPI"]) == {"unique_args": {"crm_message": ada.token}}
    assert json.loads(message["X-Mailgun-Variables"]) == {"crm_message": ada.token}
    assert message["X-PM-Metadata-crm-message"] == ada.token
    assert message["Message-ID"] == ada.message_id


def test_a_test_send_carries_the_list_id_but_no_recipient_token(runner, tenant_a):
    sent = sent_campaign(runner, tenant_a.id, 1)
    campaigns.send_test(tenant_a.id, sent.campaign_id, ["me@example.com"])
    raw = db.session.scalar(select(OutboxMessage.raw).where(OutboxMessage.recipient == "me@example.com"))
    message = email.message_from_bytes(raw, policy=default_policy)

    assert message["List-Id"] == "Arena Alpha <arena-alpha.list-id.crm.test>"
    assert message["Feedback-ID"] is None and message["X-CRM-Message"] is None


def test_list_id_and_feedback_id_stay_one_header_line_whatever_the_name():
    list_id = list_id_header("Zoë's \"Jazz\" Club,\r\nBcc: evil@example.com", "zoe-s-jazz", "crm.example.com")
    envelope = Envelope(from_name="Zoë", from_email="news@zoe.example.com", reply_to=None, to="fan@example.com",
                        unsubscribe_url="https://crm.example.com/u/x", list_id=list_id,
                        feedback_id=feedback_id_header(12, "campaign:x", 3, "crm.example.com"), message_token="ab12")
    raw, _ = build_message(envelope, "Hi", "text", "<p>html</p>")
    message = email.message_from_bytes(raw.as_bytes(), policy=default_policy)

    assert message["Bcc"] is None
    assert str(message["List-Id"]).endswith("<zoe-s-jazz.list-id.crm.example.com>")
    assert "Zoë" in str(message["List-Id"])
    assert message["Feedback-ID"] == "12:campaignx:3:crm.example.com"


def test_a_campaign_under_a_topic_is_its_own_list(app, tenant_a):
    topic = Topic(tenant_id=tenant_a.id, name="Jazz listings")
    db.session.add(topic)
    db.session.commit()
    tenant = db.session.get(Tenant, tenant_a.id)
    under_topic = EmailCampaign(tenant_id=tenant_a.id, name="c", subject="s", html_content="<p>x</p>",
                                topic_id=topic.id)
    no_topic = EmailCampaign(tenant_id=tenant_a.id, name="c", subject="s", html_content="<p>x</p>")

    with app.test_request_context():
        topical, general = _Recipients(under_topic, tenant).list_id, _Recipients(no_topic, tenant).list_id

    host = urlsplit(app.config["BASE_URL"]).hostname
    assert topical == f'"{tenant.name}: Jazz listings" <topic-{topic.id}.{tenant.slug}.list-id.{host}>'
    assert general == f"{tenant.name} <{tenant.slug}.list-id.{host}>"
