"""The webhook URLs and credentials over the API: admin tokens only, secrets write-only,
every field checked before any is saved, and a new key retires the old URLs."""

from __future__ import annotations

from tests.conftest import ApiClient
from tests.deliverability.relay_support import MAILGUN_KEY, mailgun_event, mailgun_signature
from webapp.extensions import db
from webapp.models import ProviderWebhookSettings, Tenant
from webapp.services import tenants


def test_get_shows_each_providers_url_and_no_secret(api, sendgrid_signer):
    api.patch("/settings/provider-webhooks", json={
        "sendgrid_public_key": sendgrid_signer.verification_key, "postmark_username": "hook",
        "postmark_password": "sixteen-chars-at-least", "mailgun_signing_key": MAILGUN_KEY})

    body = api.get("/settings/provider-webhooks").get_json()

    key = db.session.scalar(db.select(ProviderWebhookSettings.key))
    assert body["endpoints"] == {p: f"http://crm.test/api/crm/webhooks/{p}/{key}"
                                 for p in ("ses", "sendgrid", "postmark", "mailgun")}
    assert body["sendgrid"] == {"verification_key_set": True}
    assert body["postmark"] == {"username": "hook", "password_set": True}
    assert body["mailgun"] == {"signing_key_set": True}
    text = str(body)
    assert MAILGUN_KEY not in text and "sixteen-chars" not in text and sendgrid_signer.verification_key not in text
    row = db.session.scalar(db.select(ProviderWebhookSettings))
    assert MAILGUN_KEY not in row.mailgun_signing_key and "sixteen-chars" not in row.postmark_password_hash


def test_a_refused_field_is_named_and_nothing_is_saved(api):
    response = api.patch("/settings/provider-webhooks", json={
        "mailgun_signing_key": MAILGUN_KEY, "sendgrid_public_key": "bm90IGEga2V5",
        "ses_topic_arns": ["arn:aws:sns:eu-west-1:123456789012:bounces"]})

    assert response.status_code == 422
    assert response.get_json()["error"]["details"][0]["field"] == "sendgrid_public_key"
    body = api.get("/settings/provider-webhooks").get_json()
    assert body["mailgun"]["signing_key_set"] is False and body["ses"]["topic_arns"] == []


def test_each_credential_is_checked(api):
    for change, field in ((({"ses_topic_arns": ["arn:aws:s3:::bucket"]}), "ses_topic_arns"),
                          ({"postmark_username": "hook", "postmark_password": "short"}, "postmark_password"),
                          ({"postmark_username": "hook"}, "postmark_password"),
                          ({"postmark_username": "a:b", "postmark_password": "x" * 20}, "postmark_username"),
                          ({"mailgun_signing_key": "short"}, "mailgun_signing_key"),
                          ({"mailgun_signing_key": "key-\x00" + "x" * 20}, "mailgun_signing_key")):
        response = api.patch("/settings/provider-webhooks", json=change)
        assert response.status_code == 422, change
        assert response.get_json()["error"]["details"][0]["field"] == field, change


def test_null_clears_a_provider(api):
    api.patch("/settings/provider-webhooks", json={"postmark_username": "hook", "postmark_password": "x" * 20,
                                                   "mailgun_signing_key": MAILGUN_KEY})
    body = api.patch("/settings/provider-webhooks", json={"postmark_username": None,
                                                          "mailgun_signing_key": None}).get_json()
    assert body["postmark"] == {"username": None, "password_set": False}
    assert body["mailgun"] == {"signing_key_set": False}


def test_a_new_key_retires_the_old_urls(api, client):
    api.patch("/settings/provider-webhooks", json={"mailgun_signing_key": MAILGUN_KEY})
    old = api.get("/settings/provider-webhooks").get_json()["endpoints"]["mailgun"]

    new = api.post("/settings/provider-webhooks/new-key").get_json()["endpoints"]["mailgun"]

    call = {"signature": mailgun_signature(), "event-data": mailgun_event("delivered", "x@example.com")}
    assert new != old
    assert client.post(old.removeprefix("http://crm.test"), json=call).status_code == 404
    assert client.post(new.removeprefix("http://crm.test"), json=call).status_code == 200


def test_marketer_tokens_cannot_read_or_change_them(app, api, tenant_a):
    _, secret = tenants.create_api_token(db.session.get(Tenant, tenant_a.id), "marketing", "marketer")
    marketer = ApiClient(app.test_client(), type(tenant_a)(tenant_a.id, secret, tenant_a.owner_email))

    assert marketer.get("/settings/provider-webhooks").status_code == 403
    assert marketer.patch("/settings/provider-webhooks", json={"mailgun_signing_key": MAILGUN_KEY}).status_code == 403
    assert marketer.post("/settings/provider-webhooks/new-key").status_code == 403
