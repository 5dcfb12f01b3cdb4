"""Sending domains over the API: a From address must be on a domain the tenant added
(exactly), a domain another organisation proved is theirs is refused, and verification
reads a real DNS answer (a server on 127.0.0.1), or says DNS could not be reached."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from tests.dns_support import LocalDnsServer, unanswered_address
from webapp.extensions import db
from webapp.models import SendingDomain, Tenant
from webapp.services import campaigns, segments, tenant_settings
from webapp.services.customers import upsert_customer

CAMPAIGN = {"name": "Launch", "subject": "Hi", "content": "<p>Hi</p>"}


def _add(api, domain: str) -> dict:
    response = api.post("/sending-domains", json={"domain": domain})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _verify_with_dns(api, dns_server, domain: dict) -> dict:
    dns_server.records[domain["txt_record"]["name"]] = [domain["txt_record"]["value"]]
    response = api.post(f"/sending-domains/{domain['id']}/verify")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _field_error(response) -> tuple[str, str]:
    [detail] = response.get_json()["error"]["details"]
    return detail["field"], detail["message"]


def test_a_domain_is_added_unverified_with_the_txt_record_that_proves_it(api):
    body = _add(api, " Mail.Venue.example.com. ")

    assert body["domain"] == "mail.venue.example.com" and body["status"] == "unverified"
    assert body["verified_at"] is None and body["last_check_error"] is None
    assert body["txt_record"]["type"] == "TXT" and body["txt_record"]["name"] == "_crm.mail.venue.example.com"
    value = body["txt_record"]["value"]
    assert value.startswith("crm-verification=") and len(value) > len("crm-verification=") + 20
    assert _add(api, "tickets.venue.example.com")["txt_record"]["value"] != value  # a token per domain

    listed = api.get("/sending-domains").get_json()
    assert {d["domain"] for d in listed["data"]} == {"mail.venue.example.com", "tickets.venue.example.com"}
    assert listed["next_cursor"] is None
    assert api.get(f"/sending-domains/{body['id']}").get_json() == body
    again = api.post("/sending-domains", json={"domain": "mail.venue.example.com"})
    assert again.status_code == 409 and _field_error(again)[0] == "domain"


def test_what_is_not_a_sendable_domain_is_a_422_naming_domain(api):
    for bad in ("news@venue.example.com", "https://venue.example.com", "venue", "localhost", "shop.test",
                "-bad-.example.com", "a" * 64 + ".example.com"):
        response = api.post("/sending-domains", json={"domain": bad})
        assert response.status_code == 422, bad
        assert _field_error(response)[0] == "domain", bad
    assert api.get("/sending-domains").get_json()["data"] == []


def test_campaign_from_email_must_be_on_one_of_the_tenants_domains_exactly(api):
    refused = api.post("/campaigns", json={**CAMPAIGN, "from_email": "news@venue.example.com"})
    assert refused.status_code == 422
    field, message = _field_error(refused)
    assert field == "from_email" and "venue.example.com is not one of your sending domains" in message

    _add(api, "venue.example.com")
    created = api.post("/campaigns", json={**CAMPAIGN, "from_email": "News@Venue.example.com"})
    assert created.status_code == 201 and created.get_json()["from_email"] == "news@venue.example.com"
    # Exact: a subdomain is a domain of its own, to be added (and proven) on its own.
    sub = api.patch(f"/campaigns/{created.get_json()['id']}", json={"from_email": "news@mail.venue.example.com"})
    assert sub.status_code == 422 and _field_error(sub)[0] == "from_email"
    assert api.get(f"/campaigns/{created.get_json()['id']}").get_json()["from_email"] == "news@venue.example.com"
    # Without a from_email the campaign uses the sender in Settings: nothing to check here.
    assert api.post("/campaigns", json=CAMPAIGN).status_code == 201


def test_verification_reads_the_txt_record_from_dns(api, dns_server):
    domain = _add(api, "mail.venue.example.com")
    dns_server.records["_crm.mail.venue.example.com"] = ["v=spf1 include:mail.example.net -all",
                                                         "crm-verification=not-this-one"]

    missing = api.post(f"/sending-domains/{domain['id']}/verify").get_json()
    assert missing["status"] == "unverified" and missing["verified_at"] is None
    assert "no TXT record " + domain["txt_record"]["value"] in missing["last_check_error"]
    assert missing["last_checked_at"] is not None

    verified = _verify_with_dns(api, dns_server, domain)
    assert verified["status"] == "verified" and verified["verified_at"] is not None
    assert verified["last_check_error"] is None
    assert dns_server.questions == ["_crm.mail.venue.example.com"] * 2
    # Verified stays verified: asking again does not need DNS.
    assert api.post(f"/sending-domains/{domain['id']}/verify").get_json()["status"] == "verified"
    assert len(dns_server.questions) == 2


def test_unreachable_dns_leaves_the_domain_unverified_and_says_so_within_the_timeout(api, app, monkeypatch):
    domain = _add(api, "mail.venue.example.com")
    monkeypatch.setitem(app.config, "DNS_TIMEOUT", 1.0)
    with LocalDnsServer(silent=True) as silent:  # asked, never answers
        monkeypatch.setitem(app.config, "DNS_RESOLVER", silent.address)
        started = time.monotonic()
        body = api.post(f"/sending-domains/{domain['id']}/verify").get_json()
        assert time.monotonic() - started < 5
        assert silent.questions == ["_crm.mail.venue.example.com"]
    assert body["status"] == "unverified" and "DNS could not be reached" in body["last_check_error"]

    monkeypatch.setitem(app.config, "DNS_RESOLVER", unanswered_address())  # a port nothing listens on
    started = time.monotonic()
    body = api.post(f"/sending-domains/{domain['id']}/verify").get_json()
    assert time.monotonic() - started < 5
    assert body["status"] == "unverified" and "DNS could not be reached" in body["last_check_error"]
    # Unverified domains still send.
    assert api.post("/campaigns", json={**CAMPAIGN, "from_email": "news@mail.venue.example.com"}).status_code == 201


def test_a_domain_another_tenant_verified_is_refused_to_everyone_else(api, api_b, dns_server):
    mine_early = _add(api, "venue.example.com")  # A adds it before B proves it is theirs
    early = api.post("/campaigns", json={**CAMPAIGN, "from_email": "news@venue.example.com"}).get_json()
    _verify_with_dns(api_b, dns_server, _add(api_b, "venue.example.com"))

    added = api.post("/sending-domains", json={"domain": "venue.example.com"})
    assert added.status_code == 409  # A has it already; for anyone else:
    other = api.post("/sending-domains", json={"domain": "mail.venue.example.com"})
    assert other.status_code == 409 and _field_error(other) == (
        "domain", "mail.venue.example.com is under venue.example.com, which another organisation has verified: "
                  "it cannot be added")
    from_email = api.patch(f"/campaigns/{early['id']}", json={"from_email": "news@venue.example.com"})
    assert from_email.status_code == 422
    assert _field_error(from_email) == ("from_email", "venue.example.com is verified by another organisation; "
                                                      "send from a domain of your own")
    # A second verification is refused even with the TXT record in place for A's token.
    dns_server.records["_crm.venue.example.com"].append(mine_early["txt_record"]["value"])
    second = api.post(f"/sending-domains/{mine_early['id']}/verify")
    assert second.status_code == 409
    assert db.session.get(SendingDomain, mine_early["id"]).status == "unverified"


def test_a_campaign_saved_before_another_tenant_verified_its_domain_is_not_sent(api, api_b, dns_server, tenant_a):
    tenant = db.session.get(Tenant, tenant_a.id)
    tenant.postal_address = "1 Arena Way, Leeds"
    db.session.commit()
    upsert_customer(tenant_a.id, {"email": "fan@example.com", "tags": ["fans"]})
    segment = segments.create_segment(tenant_a.id, "Fans", [{"type": "tag", "value": "fans"}])
    _add(api, "venue.example.com")
    campaign = api.post("/campaigns", json={**CAMPAIGN, "segment_id": segment.id,
                                            "from_email": "news@venue.example.com"}).get_json()
    _verify_with_dns(api_b, dns_server, _add(api_b, "venue.example.com"))

    for path, body in ((f"/campaigns/{campaign['id']}/send", None),
                       (f"/campaigns/{campaign['id']}/schedule", {"send_at": "2099-01-01T09:00:00+00:00"}),
                       (f"/campaigns/{campaign['id']}/test", {"emails": ["me@example.com"]})):
        response = api.post(path, json=body) if body else api.post(path)
        assert response.status_code == 422, path
        assert _field_error(response)[0] == "from_email"
    assert campaigns.get_campaign(tenant_a.id, campaign["id"]).status == "draft"


def test_the_sender_in_settings_must_be_on_a_domain_of_the_tenant(tenant_a):
    from webapp.infra.errors import ValidationFailed

    tenant = db.session.get(Tenant, tenant_a.id)
    with pytest.raises(ValidationFailed) as refused:
        tenant_settings.update_settings(tenant, {"sender_email": "hello@arena.example.com"})
    assert refused.value.field == "sender_email"
    assert refused.value.reason.startswith("arena.example.com is not one of your sending domains")
    db.session.expire_all()
    assert db.session.get(Tenant, tenant_a.id).sender_email is None


def test_a_domain_in_use_cannot_be_removed_and_one_unused_can(api, tenant_a):
    used_by_sender = _add(api, "arena.example.com")
    used_by_draft = _add(api, "news.arena.example.com")
    unused = _add(api, "old.arena.example.com")
    tenant = db.session.get(Tenant, tenant_a.id)
    tenant_settings.update_settings(tenant, {"sender_email": "hello@arena.example.com"})
    api.post("/campaigns", json={**CAMPAIGN, "name": "Autumn", "from_email": "hi@news.arena.example.com"})

    sender = api.delete(f"/sending-domains/{used_by_sender['id']}")
    assert sender.status_code == 409 and "sender email in Settings" in _field_error(sender)[1]
    draft = api.delete(f"/sending-domains/{used_by_draft['id']}")
    assert draft.status_code == 409 and "“Autumn”" in _field_error(draft)[1]
    assert api.delete(f"/sending-domains/{unused['id']}").status_code == 204
    assert api.get(f"/sending-domains/{unused['id']}").status_code == 404
    remaining = db.session.scalars(select(SendingDomain.domain).where(SendingDomain.tenant_id == tenant_a.id))
    assert sorted(remaining) == ["arena.example.com", "news.arena.example.com"]


def test_another_tenants_domain_id_is_a_404_and_changes_nothing(api, api_b, dns_server):
    theirs = _add(api_b, "bravo.example.com")
    dns_server.records[theirs["txt_record"]["name"]] = [theirs["txt_record"]["value"]]

    assert api.get(f"/sending-domains/{theirs['id']}").status_code == 404
    assert api.post(f"/sending-domains/{theirs['id']}/verify").status_code == 404
    assert api.delete(f"/sending-domains/{theirs['id']}").status_code == 404
    assert api.get("/sending-domains").get_json()["data"] == []
    assert api_b.get(f"/sending-domains/{theirs['id']}").get_json() == theirs  # not verified, not removed
    assert dns_server.questions == []
