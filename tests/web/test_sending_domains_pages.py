"""Sending domains in Settings: the card with each domain's TXT record and status, Add,
Verify (against a DNS server on 127.0.0.1, or none) and Remove; From addresses off the
tenant's domains refused beside their field in Settings and in the campaign editor."""

from __future__ import annotations

import re
from html import unescape

from sqlalchemy import select

from tests.dns_support import unanswered_address
from webapp.extensions import db
from webapp.models import EmailCampaign, SendingDomain
from webapp.services import sending_domains

from .conftest import snapshot
from .pages import field_errors


def _card(html: str) -> str:
    match = re.search(r'<section class="card" id="sending-domains".*?</section>', html, re.DOTALL)
    assert match, "no sending domains card"
    return match.group(0)


def _flashes(html: str) -> list[str]:
    return [unescape(m).strip() for m in re.findall(r'<div class="flash flash-\w+" role="status">(.*?)</div>', html)]


def _domain(tenant_id: int, name: str) -> SendingDomain:
    db.session.expire_all()
    return db.session.scalar(select(SendingDomain).where(SendingDomain.tenant_id == tenant_id,
                                                         SendingDomain.domain == name))


def test_the_card_lists_each_domain_with_its_txt_record_and_status(owner_a, tenant_a, dns_server):
    pending = sending_domains.add_domain(tenant_a.id, "mail.alpha.example.com")
    proven = sending_domains.add_domain(tenant_a.id, "alpha.example.com")
    dns_server.records["_crm.alpha.example.com"] = [sending_domains.record_value(proven)]
    sending_domains.verify_domain(tenant_a.id, proven.id)

    card = _card(owner_a.get("/settings/").get_data(as_text=True))

    pending_item = re.search(r'<li class="domain-item" data-domain="mail.alpha.example.com">.*?</li>', card,
                             re.DOTALL).group(0)
    assert "Unverified" in pending_item and "_crm.mail.alpha.example.com" in pending_item
    assert f"crm-verification={pending.verification_token}" in pending_item
    assert f'action="/settings/sending-domains/{pending.id}/verify"' in pending_item
    assert f'action="/settings/sending-domains/{pending.id}/remove"' in pending_item
    assert pending_item.count('name="csrf_token"') == 2
    proven_item = re.search(r'<li class="domain-item" data-domain="alpha.example.com">.*?</li>', card,
                            re.DOTALL).group(0)
    assert "Verified" in proven_item and "/verify" not in proven_item
    assert "crm-verification=" not in proven_item  # nothing left to add
    assert 'action="/settings/sending-domains"' in card and 'name="domain"' in card


def test_a_viewer_sees_the_domains_without_the_buttons(viewer_a, tenant_a):
    sending_domains.add_domain(tenant_a.id, "mail.alpha.example.com")

    card = _card(viewer_a.get("/settings/").get_data(as_text=True))

    assert "mail.alpha.example.com" in card and "Unverified" in card
    assert "<form" not in card and "<button" not in card


def test_adding_a_domain_and_refusals_beside_the_field(owner_a, owner_b, tenant_a, tenant_b, dns_server):
    response = owner_a.post("/settings/sending-domains", {"domain": "Mail.Alpha.example.com"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/settings/#sending-domains")
    page = owner_a.get("/settings/").get_data(as_text=True)
    assert "mail.alpha.example.com added." in " ".join(_flashes(page))
    assert _domain(tenant_a.id, "mail.alpha.example.com").status == "unverified"

    before = snapshot()
    for typed, expected in (("news@alpha.example.com", "enter the domain only"),
                            ("", "Enter a domain"),
                            ("mail.alpha.example.com", "already one of your sending domains")):
        refused = owner_a.post("/settings/sending-domains", {"domain": typed})
        assert refused.status_code == 422, typed
        html = refused.get_data(as_text=True)
        assert expected in field_errors(html)["domain"][0], typed
        assert f'value="{typed}"' in html or not typed  # what was typed stays in the box
    assert snapshot() == before

    # Bravo proves alpha.example.com is theirs: Alpha can no longer add it, nor a name under it.
    theirs = sending_domains.add_domain(tenant_b.id, "alpha.example.com")
    dns_server.records["_crm.alpha.example.com"] = [sending_domains.record_value(theirs)]
    owner_b.post(f"/settings/sending-domains/{theirs.id}/verify")
    assert _domain(tenant_b.id, "alpha.example.com").verified
    for typed, expected in (
            ("alpha.example.com", "alpha.example.com is verified by another organisation: it cannot be added"),
            ("tickets.alpha.example.com", "tickets.alpha.example.com is under alpha.example.com, which another "
                                          "organisation has verified: it cannot be added")):
        refused = owner_a.post("/settings/sending-domains", {"domain": typed})
        assert refused.status_code == 422
        assert field_errors(refused.get_data(as_text=True))["domain"] == [expected]


def test_verify_finds_the_txt_record_or_says_why_not(owner_a, tenant_a, dns_server, app, monkeypatch):
    row = sending_domains.add_domain(tenant_a.id, "mail.alpha.example.com")

    owner_a.post(f"/settings/sending-domains/{row.id}/verify")  # no record yet
    page = owner_a.get("/settings/").get_data(as_text=True)
    assert any(f.startswith("mail.alpha.example.com is not verified yet: no TXT record") for f in _flashes(page))
    assert "no TXT record crm-verification=" in _card(page)  # kept beside the domain too

    monkeypatch.setitem(app.config, "DNS_RESOLVER", unanswered_address())
    owner_a.post(f"/settings/sending-domains/{row.id}/verify")
    page = owner_a.get("/settings/").get_data(as_text=True)
    assert any("DNS could not be reached" in f for f in _flashes(page))
    assert _domain(tenant_a.id, "mail.alpha.example.com").status == "unverified"

    monkeypatch.setitem(app.config, "DNS_RESOLVER", dns_server.address)
    dns_server.records["_crm.mail.alpha.example.com"] = [f"crm-verification={row.verification_token}"]
    owner_a.post(f"/settings/sending-domains/{row.id}/verify")
    page = owner_a.get("/settings/").get_data(as_text=True)
    assert "mail.alpha.example.com is verified." in _flashes(page)
    verified = _domain(tenant_a.id, "mail.alpha.example.com")
    assert verified.verified and verified.verified_at is not None and verified.last_check_error is None


def test_remove_refuses_a_domain_the_sender_uses_and_removes_an_unused_one(owner_a, tenant_a):
    used = sending_domains.add_domain(tenant_a.id, "alpha.example.com")
    unused = sending_domains.add_domain(tenant_a.id, "old.alpha.example.com")
    assert owner_a.post("/settings/tenant", {"name": "Arena Alpha", "timezone": "UTC",
                                             "sender_email": "box@alpha.example.com"}).status_code == 302

    owner_a.post(f"/settings/sending-domains/{used.id}/remove")
    page = owner_a.get("/settings/").get_data(as_text=True)
    assert any(f.startswith("alpha.example.com was not removed: the sender email in Settings") for f in _flashes(page))
    owner_a.post(f"/settings/sending-domains/{unused.id}/remove")
    page = owner_a.get("/settings/").get_data(as_text=True)
    assert any(f.startswith("old.alpha.example.com removed.") for f in _flashes(page))
    assert [d.domain for d in sending_domains.list_domains(tenant_a.id)] == ["alpha.example.com"]


def test_a_sender_email_off_the_tenants_domains_is_refused_beside_the_field(owner_a, tenant_a):
    before = snapshot()
    response = owner_a.post("/settings/tenant", {"name": "Arena Alpha", "timezone": "UTC",
                                                 "sender_email": "box@alpha.example.com"})

    assert response.status_code == 422
    [message] = field_errors(response.get_data(as_text=True))["sender_email"]
    assert message.startswith("alpha.example.com is not one of your sending domains")
    assert snapshot() == before


def test_the_campaign_editor_refuses_a_from_email_off_the_tenants_domains_beside_the_field(owner_a, tenant_a):
    sending_domains.add_domain(tenant_a.id, "alpha.example.com")
    data = {"name": "Autumn", "segment_id": "", "subject": "Hi", "preheader": "", "from_name": "",
            "from_email": "news@bravo.example.com", "reply_to": "", "html_content": "<p>Hi</p>", "text_content": ""}

    refused = owner_a.post("/campaigns/new", data)

    assert refused.status_code == 422
    [message] = field_errors(refused.get_data(as_text=True))["from_email"]
    assert message.startswith("bravo.example.com is not one of your sending domains")
    assert db.session.scalar(select(EmailCampaign)) is None
    # The live preview shows the content all the same: the domain is the save's and the send's to check.
    preview = owner_a.hx_post("/campaigns/preview", data)
    assert preview.status_code == 200 and "Can’t show the preview" not in preview.get_data(as_text=True)
    assert "news@bravo.example.com" in preview.get_data(as_text=True)
    saved = owner_a.post("/campaigns/new", {**data, "from_email": "news@alpha.example.com"})
    assert saved.status_code == 302
    assert db.session.scalar(select(EmailCampaign.from_email)) == "news@alpha.example.com"
