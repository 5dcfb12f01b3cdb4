"""Settings › Deliverability: each relay's webhook URL with its instructions and credential
form (secrets never shown again, refusals beside their field), new URLs, and per sending
domain the SPF, DKIM and DMARC records to publish with a DNS check."""

from __future__ import annotations

import re
from html import unescape

from sqlalchemy import select

from tests.deliverability.relay_support import MAILGUN_KEY
from webapp.extensions import db
from webapp.models import ProviderWebhookSettings, SendingDomain
from webapp.services import sending_domains
from webapp.services.deliverability import credentials, dns_records

from .conftest import snapshot
from .pages import field_errors


def _row(tenant_id: int) -> ProviderWebhookSettings:
    db.session.expire_all()
    return db.session.scalar(select(ProviderWebhookSettings).where(ProviderWebhookSettings.tenant_id == tenant_id))


def test_the_page_shows_each_providers_url_to_paste(owner_a, tenant_a):
    html = unescape(owner_a.get("/settings/deliverability").get_data(as_text=True))

    key = _row(tenant_a.id).key
    for provider in ("ses", "sendgrid", "postmark", "mailgun"):
        assert f'data-copy="http://crm.test/api/crm/webhooks/{provider}/{key}"' in html
    assert "Not set up" in html and "Signed Event Webhook" in html


def test_saving_a_mailgun_key_keeps_it_secret(owner_a, tenant_a):
    response = owner_a.post("/settings/deliverability/webhooks", {"provider": "mailgun",
                                                                   "mailgun_signing_key": MAILGUN_KEY})

    assert response.status_code == 302
    page = owner_a.get("/settings/deliverability").get_data(as_text=True)
    assert "Mailgun saved" in unescape(page)
    assert MAILGUN_KEY not in page
    assert credentials.mailgun_key(_row(tenant_a.id)) == MAILGUN_KEY


def test_a_refused_credential_is_shown_beside_its_field_and_nothing_is_saved(owner_a, tenant_a):
    credentials.settings_of(tenant_a.id)
    before = snapshot()

    response = owner_a.post("/settings/deliverability/webhooks", {"provider": "sendgrid",
                                                                   "sendgrid_public_key": "not a key"})

    assert response.status_code == 422
    errors = field_errors(response.get_data(as_text=True))
    assert any("verification key" in message for message in errors["sendgrid_public_key"])
    assert snapshot() == before


def test_an_empty_secret_keeps_the_stored_one_and_turn_off_clears_it(owner_a, tenant_a):
    credentials.update_credentials(tenant_a.id, {"mailgun_signing_key": MAILGUN_KEY})

    owner_a.post("/settings/deliverability/webhooks", {"provider": "mailgun", "mailgun_signing_key": ""})
    assert credentials.mailgun_key(_row(tenant_a.id)) == MAILGUN_KEY

    owner_a.post("/settings/deliverability/webhooks", {"provider": "mailgun", "turn_off": "y"})
    assert _row(tenant_a.id).mailgun_signing_key is None


def test_new_urls_replace_the_key(owner_a, tenant_a):
    old = credentials.settings_of(tenant_a.id).key

    owner_a.post("/settings/deliverability/new-key")

    assert _row(tenant_a.id).key != old


def test_marketers_cannot_open_the_page(marketer_a):
    assert marketer_a.get("/settings/deliverability").status_code == 403


def test_a_domain_shows_its_records_and_a_dkim_key_adds_its_record(owner_a, tenant_a):
    row = sending_domains.add_domain(tenant_a.id, "mail.alpha.example.com")

    before = unescape(owner_a.get("/settings/deliverability").get_data(as_text=True))
    response = owner_a.post(f"/settings/deliverability/domains/{row.id}/dkim", {"selector": "spring"})
    after = unescape(owner_a.get("/settings/deliverability").get_data(as_text=True))

    assert "_dmarc.mail.alpha.example.com" in before and "v=spf1" in before
    assert "_domainkey" not in before
    assert response.status_code == 302
    db.session.expire_all()
    key = db.session.get(SendingDomain, row.id).dkim_public_key
    assert "spring._domainkey.mail.alpha.example.com" in after
    assert f"v=DKIM1; k=rsa; p={key}" in after
    assert "PRIVATE KEY" not in after


def test_a_bad_selector_is_refused_beside_the_field(owner_a, tenant_a):
    row = sending_domains.add_domain(tenant_a.id, "mail.alpha.example.com")

    response = owner_a.post(f"/settings/deliverability/domains/{row.id}/dkim", {"selector": "no_good!"})

    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True))["selector"]


def test_check_dns_says_which_records_are_published(owner_a, tenant_a, dns_server):
    row = dns_records.create_dkim_key(tenant_a.id, sending_domains.add_domain(tenant_a.id, "alpha.example.com").id,
                                      "crm1")
    value = dns_records.records_for(row)[1].value
    # A DKIM key is longer than one TXT string (255 characters): published as several.
    dns_server.records["crm1._domainkey.alpha.example.com"] = ['" "'.join(value[i:i + 200]
                                                                         for i in range(0, len(value), 200))]
    dns_server.records["alpha.example.com"] = ["v=spf1 include:_spf.example.net ~all"]

    html = unescape(owner_a.get(f"/settings/deliverability/domains/{row.id}/dns").get_data(as_text=True))

    found = {kind: status for status, kind in re.findall(r'class="dns-check dns-(\w+)">\s*<strong>(\w+)</strong>',
                                                         html)}
    assert found == {"SPF": "found", "DKIM": "found", "DMARC": "missing"}


def test_the_spf_record_names_the_operators_mail_server_when_configured(owner_a, tenant_a, app, monkeypatch):
    sending_domains.add_domain(tenant_a.id, "mail.alpha.example.com")
    monkeypatch.setitem(app.config, "MAIL_SPF_INCLUDE", "_spf.mailhost.example.net")

    html = unescape(owner_a.get("/settings/deliverability").get_data(as_text=True))

    assert "v=spf1 include:_spf.mailhost.example.net ~all" in html
