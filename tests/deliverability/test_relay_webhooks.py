"""Bounces and complaints from SES (via SNS), SendGrid, Postmark and Mailgun: each provider's
documented payload, signed with keys the test makes, changes the customer once, lands on the
timeline and in the campaign's report; anything unverifiable changes nothing."""

from __future__ import annotations

import json
import time

from sqlalchemy import func, select

from tests.conftest import make_tenant
from tests.deliverability.relay_support import (
    MAILGUN_KEY,
    POSTMARK_PASSWORD,
    POSTMARK_USER,
    activities,
    basic_auth,
    mailgun_event,
    mailgun_signature,
    postmark_bounce,
    postmark_complaint,
    sendgrid_event,
    sent_campaign,
    ses_bounce,
    ses_complaint,
    sns_notification,
    status_of,
)
from webapp.extensions import db
from webapp.models import CustomerActivity, EmailCampaign
from webapp.services.campaigns.recipients import filter_counts
from webapp.services.campaigns.stats import campaign_stats
from webapp.services.deliverability import credentials


def report(tenant_id: int, campaign_id: int) -> dict:
    db.session.expire_all()
    return campaign_stats(tenant_id, [db.session.get(EmailCampaign, campaign_id)])[0]


def activity_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(CustomerActivity))


# --- SES via SNS ---------------------------------------------------------------------------

def test_ses_hard_bounce_matched_by_our_header_marks_the_customer_bounced_and_counts_in_the_report(
        runner, tenant_a, relay, sns_signer, amazon_certificate):
    sent = sent_campaign(runner, tenant_a.id)
    ada = sent.recipients[0]

    response = relay.post("ses", sns_signer.sign(sns_notification(ses_bounce(ada.email, token=ada.token))))

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["applied"] == 1
    assert status_of(ada.customer_id) == "bounced"
    [bounce] = activities(ada.customer_id, "email_bounced")
    assert bounce.properties == {"provider": "Amazon SES", "reason": "smtp; 550 5.1.1 user unknown",
                                 "email": ada.email, "bounce": "hard", "campaign_id": sent.campaign_id}
    assert report(tenant_a.id, sent.campaign_id)["bounced"] == 1
    assert status_of(sent.recipients[1].customer_id) == "subscribed"


def test_ses_complaint_signed_with_version_2_is_matched_by_message_id_and_shows_in_the_report(
        runner, tenant_a, relay, sns_signer, amazon_certificate):
    sent = sent_campaign(runner, tenant_a.id)
    bo = sent.recipients[1]

    response = relay.post("ses", sns_signer.sign(sns_notification(ses_complaint(bo.email, message_id=bo.message_id)),
                                                 version="2"))

    assert response.status_code == 200, response.get_json()
    assert status_of(bo.customer_id) == "complained"
    [complaint] = activities(bo.customer_id, "email_complained")
    assert complaint.properties["campaign_id"] == sent.campaign_id
    assert report(tenant_a.id, sent.campaign_id)["complained"] == 1
    assert filter_counts(tenant_a.id, sent.campaign_id)["engagement"]["complained"] == 1


def test_the_same_sns_message_delivered_twice_is_applied_once(runner, tenant_a, relay, sns_signer, amazon_certificate):
    sent = sent_campaign(runner, tenant_a.id)
    message = sns_signer.sign(sns_notification(ses_bounce(sent.recipients[0].email, permanent=False)))

    first, second = relay.post("ses", message), relay.post("ses", message)

    assert first.get_json()["applied"] == 1
    assert second.status_code == 200 and second.get_json()["applied"] == 0
    assert second.get_json()["duplicates"] == 1
    assert len(activities(sent.recipients[0].customer_id, "email_soft_bounced")) == 1


def test_a_tampered_sns_message_is_401_and_changes_nothing(runner, tenant_a, relay, sns_signer, amazon_certificate):
    sent = sent_campaign(runner, tenant_a.id)
    message = sns_signer.sign(sns_notification(ses_bounce("someone@else.example.com")))
    message["Message"] = json.dumps(ses_bounce(sent.recipients[0].email))  # signed for another address
    before = activity_count()

    response = relay.post("ses", message)

    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert status_of(sent.recipients[0].customer_id) == "subscribed"
    assert activity_count() == before


def test_a_certificate_url_not_on_amazon_is_refused_before_anything_is_fetched(
        runner, tenant_a, relay, sns_signer, amazon_certificate):
    sent = sent_campaign(runner, tenant_a.id)
    inner = ses_bounce(sent.recipients[0].email)
    for url in ("https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem", "http://sns.eu-west-1.amazonaws.com/c.pem",
                "https://evil.example/sns.eu-west-1.amazonaws.com/c.pem", "https://127.0.0.1/c.pem",
                "https://sns.eu-west-1.amazonaws.com:8443/c.pem", "https://user@sns.eu-west-1.amazonaws.com/c.pem",
                "https://sns.eu-west-1.amazonaws.com/not-a-certificate"):
        response = relay.post("ses", sns_signer.sign(sns_notification(inner), cert_url=url))
        assert response.status_code == 401, url
        assert "SigningCertURL" in response.get_json()["error"]["message"], url
    assert status_of(sent.recipients[0].customer_id) == "subscribed"


def test_a_topic_the_tenant_does_not_accept_is_403(runner, tenant_a, relay, sns_signer, amazon_certificate):
    sent = sent_campaign(runner, tenant_a.id)
    credentials.update_credentials(tenant_a.id, {"ses_topic_arns": ["arn:aws:sns:eu-west-1:123456789012:other"]})

    response = relay.post("ses", sns_signer.sign(sns_notification(ses_bounce(sent.recipients[0].email))))

    assert response.status_code == 403
    assert status_of(sent.recipients[0].customer_id) == "subscribed"


# --- SendGrid --------------------------------------------------------------------------------

def test_a_sendgrid_batch_is_applied_event_by_event(runner, tenant_a, relay, sendgrid_signer):
    sent = sent_campaign(runner, tenant_a.id, 4)
    ada, bo, cy, di = sent.recipients
    events = [sendgrid_event("bounce", ada.email, token=ada.token),
              sendgrid_event("bounce", bo.email, smtp_id=bo.message_id, type_="blocked"),
              sendgrid_event("spamreport", cy.email, token=cy.token),
              sendgrid_event("delivered", di.email, token=di.token),
              sendgrid_event("open", di.email, token=di.token)]
    body = json.dumps(events).encode()

    response = relay.post("sendgrid", body, sendgrid_signer.headers(body))

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["applied"] == 3
    assert [status_of(r.customer_id) for r in (ada, bo, cy, di)] == ["bounced", "subscribed", "complained",
                                                                       "subscribed"]
    [soft] = activities(bo.customer_id, "email_soft_bounced")
    assert soft.properties["campaign_id"] == sent.campaign_id
    figures = report(tenant_a.id, sent.campaign_id)
    assert (figures["bounced"], figures["complained"]) == (1, 1)


def test_a_sendgrid_call_with_a_wrong_signature_or_an_old_timestamp_changes_nothing(
        runner, tenant_a, relay, sendgrid_signer):
    sent = sent_campaign(runner, tenant_a.id)
    body = json.dumps([sendgrid_event("bounce", sent.recipients[0].email)]).encode()
    other = type(sendgrid_signer).make()
    before = activity_count()

    forged = relay.post("sendgrid", body, other.headers(body))
    stale = relay.post("sendgrid", body, sendgrid_signer.headers(body, timestamp=int(time.time()) - 3600))
    altered = relay.post("sendgrid", body.replace(b"bounce", b"spamreport"), sendgrid_signer.headers(body))
    unsigned = relay.post("sendgrid", body)

    assert (forged.status_code, stale.status_code, altered.status_code, unsigned.status_code) == (401, 403, 401, 401)
    assert status_of(sent.recipients[0].customer_id) == "subscribed"
    assert activity_count() == before


def test_three_soft_bounces_within_30_days_mark_the_customer_bounced(runner, tenant_a, relay, sendgrid_signer):
    sent = sent_campaign(runner, tenant_a.id)
    ada, bo = sent.recipients[0], sent.recipients[1]
    now = int(time.time())

    def soft(email: str, days_ago: int):
        body = json.dumps([sendgrid_event("bounce", email, type_="blocked", when=now - days_ago * 86400)]).encode()
        assert relay.post("sendgrid", body, sendgrid_signer.headers(body)).status_code == 200

    soft(ada.email, 20)
    soft(ada.email, 10)
    assert status_of(ada.customer_id) == "subscribed"
    soft(ada.email, 0)
    soft(bo.email, 70)  # Bo's first two are more than 30 days before the third
    soft(bo.email, 40)
    soft(bo.email, 0)

    assert status_of(ada.customer_id) == "bounced"
    [limit] = activities(ada.customer_id, "email_bounced")
    assert limit.properties["bounce"] == "soft" and limit.properties["reason"].startswith("3 soft bounces")
    assert len(activities(ada.customer_id, "email_soft_bounced")) == 3
    assert status_of(bo.customer_id) == "subscribed"


# --- Postmark ---------------------------------------------------------------------------------

def test_postmark_hard_bounce_and_complaint_with_the_tenants_credentials(runner, tenant_a, relay):
    sent = sent_campaign(runner, tenant_a.id)
    ada, bo = sent.recipients[0], sent.recipients[1]
    auth = basic_auth(POSTMARK_USER, POSTMARK_PASSWORD)

    bounced = relay.post("postmark", postmark_bounce(ada.email, token=ada.token), auth)
    complained = relay.post("postmark", postmark_complaint(bo.email, token=bo.token), auth)

    assert (bounced.status_code, complained.status_code) == (200, 200)
    assert (status_of(ada.customer_id), status_of(bo.customer_id)) == ("bounced", "complained")
    assert activities(ada.customer_id, "email_bounced")[0].properties["campaign_id"] == sent.campaign_id


def test_postmark_without_or_with_wrong_credentials_is_401_and_asks_for_basic_auth(runner, tenant_a, relay):
    sent = sent_campaign(runner, tenant_a.id)
    body = postmark_bounce(sent.recipients[0].email)

    for headers in ({}, basic_auth(POSTMARK_USER, "wrong-password-wrong"), basic_auth("someone", POSTMARK_PASSWORD),
                    {"Authorization": "Basic not-base64!"}, {"Authorization": "Bearer " + POSTMARK_PASSWORD}):
        response = relay.post("postmark", body, headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert status_of(sent.recipients[0].customer_id) == "subscribed"


# --- Mailgun ----------------------------------------------------------------------------------

def test_mailgun_permanent_failure_marks_bounced_and_its_token_is_accepted_once(runner, tenant_a, relay):
    sent = sent_campaign(runner, tenant_a.id)
    ada = sent.recipients[0]
    call = {"signature": mailgun_signature(), "event-data": mailgun_event("failed", ada.email,
                                                                          message_id=ada.message_id)}

    first = relay.post("mailgun", call)
    again = relay.post("mailgun", call)

    assert first.status_code == 200, first.get_json()
    assert status_of(ada.customer_id) == "bounced"
    assert activities(ada.customer_id, "email_bounced")[0].properties["campaign_id"] == sent.campaign_id
    assert again.status_code == 403
    assert "received before" in again.get_json()["error"]["message"]


def test_mailgun_wrong_key_or_old_timestamp_changes_nothing(runner, tenant_a, relay):
    sent = sent_campaign(runner, tenant_a.id)
    event = mailgun_event("complained", sent.recipients[0].email, token=sent.recipients[0].token)
    before = activity_count()

    forged = relay.post("mailgun", {"signature": mailgun_signature("key-not-the-tenants-0000"), "event-data": event})
    stale = relay.post("mailgun", {"signature": mailgun_signature(timestamp=int(time.time()) - 3600),
                                   "event-data": event})
    missing = relay.post("mailgun", {"event-data": event})

    assert (forged.status_code, stale.status_code, missing.status_code) == (401, 403, 401)
    assert status_of(sent.recipients[0].customer_id) == "subscribed"
    assert activity_count() == before


def test_mailgun_temporary_failure_is_a_soft_bounce(runner, tenant_a, relay):
    sent = sent_campaign(runner, tenant_a.id)
    ada = sent.recipients[0]

    response = relay.post("mailgun", {"signature": mailgun_signature(),
                                      "event-data": mailgun_event("failed", ada.email, severity="temporary",
                                                                  token=ada.token)})

    assert response.status_code == 200
    assert status_of(ada.customer_id) == "subscribed"
    assert len(activities(ada.customer_id, "email_soft_bounced")) == 1


# --- tenancy and addresses --------------------------------------------------------------------

def test_unknown_provider_or_key_is_404(client, relay):
    assert relay.post("sparkpost", []).status_code == 404
    assert relay.post("sendgrid", [], key="not-a-key").status_code == 404
    assert relay.post("mailgun", [], key="x" * 500).status_code == 404


def test_a_valid_call_to_another_tenants_url_naming_this_tenants_message_changes_nothing(
        runner, app, tenant_a, relay, sendgrid_signer):
    sent = sent_campaign(runner, tenant_a.id)
    ada = sent.recipients[0]
    tenant_b = make_tenant("Bravo Club", "owner@bravo.example.com")
    b_key = credentials.update_credentials(tenant_b.id, {"mailgun_signing_key": MAILGUN_KEY,
                                                         "sendgrid_public_key": sendgrid_signer.verification_key}).key
    body = json.dumps([sendgrid_event("bounce", ada.email, token=ada.token, smtp_id=ada.message_id)]).encode()
    before = activity_count()

    via_b = relay.post("sendgrid", body, sendgrid_signer.headers(body), key=b_key)
    mailgun_b = relay.post("mailgun", {"signature": mailgun_signature(), "event-data": mailgun_event(
        "complained", ada.email, token=ada.token, message_id=ada.message_id)}, key=b_key)

    assert via_b.status_code == 200 and via_b.get_json()["applied"] == 0
    assert mailgun_b.status_code == 200 and mailgun_b.get_json()["applied"] == 0
    assert status_of(ada.customer_id) == "subscribed"
    assert activity_count() == before


def test_a_provider_the_tenant_has_not_set_up_refuses_every_call(runner, client, tenant_a, sendgrid_signer):
    key = credentials.settings_of(tenant_a.id).key
    body = json.dumps([sendgrid_event("bounce", "x@example.com")]).encode()

    response = client.post(f"/api/crm/webhooks/sendgrid/{key}", data=body, headers=sendgrid_signer.headers(body))
    mailgun = client.post(f"/api/crm/webhooks/mailgun/{key}", json={"signature": mailgun_signature()})
    postmark = client.post(f"/api/crm/webhooks/postmark/{key}", json={},
                           headers=basic_auth(POSTMARK_USER, POSTMARK_PASSWORD))

    assert (response.status_code, mailgun.status_code, postmark.status_code) == (403, 403, 403)


def test_a_complaint_and_a_hard_bounce_each_leave_a_consent_record(runner, tenant_a, relay, sendgrid_signer):
    from webapp.models import ConsentRecord

    sent = sent_campaign(runner, tenant_a.id)
    ada, bo = sent.recipients[0], sent.recipients[1]
    events = [sendgrid_event("spamreport", ada.email, token=ada.token), sendgrid_event("bounce", bo.email)]
    body = json.dumps(events).encode()

    relay.post("sendgrid", body, sendgrid_signer.headers(body))
    relay.post("sendgrid", body, sendgrid_signer.headers(body))  # delivered again: no second record

    db.session.expire_all()
    records = {(r.customer_id, r.source, r.granted, r.topic_id, r.context)
               for r in db.session.scalars(select(ConsentRecord))}
    assert records == {(ada.customer_id, "complaint", False, None, "reported by SendGrid"),
                       (bo.customer_id, "bounce", False, None, "reported by SendGrid")}
    assert db.session.scalar(select(func.count()).select_from(ConsentRecord)) == 2
