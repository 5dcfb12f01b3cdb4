"""A sending domain with a DKIM key has its campaign mail signed when it goes out over SMTP;
dkimpy verifies the signature against the record Settings tells the tenant to publish."""

from __future__ import annotations

import dkim
from sqlalchemy import select

from tests.campaigns.campaign_support import (
    SENDER,
    add_audience,
    audience_segment,
    new_campaign,
    ready_tenant,
    run_burst_worker,
)
from webapp.extensions import db
from webapp.models import OutboxMessage, SendingDomain
from webapp.services import campaigns
from webapp.services.deliverability.dns_records import create_dkim_key, records_for


def published(row: SendingDomain):
    """dkimpy's dnsfunc answering with the DKIM record exactly as Settings shows it."""
    [record] = [r for r in records_for(row) if r.kind == "DKIM"]

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        return record.value.encode() if name.decode().rstrip(".") == record.name else None

    return dnsfunc


def send_campaign_to(runner, tenant_id: int, count: int = 2) -> int:
    ready_tenant(tenant_id)
    add_audience(tenant_id, count)
    campaign = new_campaign(tenant_id, audience_segment(tenant_id))
    campaigns.send_campaign(tenant_id, campaign.id)
    run_burst_worker(runner)
    return campaign.id


def the_domain(tenant_id: int) -> SendingDomain:
    return db.session.scalar(select(SendingDomain).where(SendingDomain.tenant_id == tenant_id,
                                                         SendingDomain.domain == SENDER.rpartition("@")[2]))


def test_mail_from_a_domain_with_a_key_is_signed_and_verifies_against_the_published_record(
        runner, tenant_a, smtp_mail):
    ready_tenant(tenant_a.id)
    row = create_dkim_key(tenant_a.id, the_domain(tenant_a.id).id, "spring2026")

    send_campaign_to(runner, tenant_a.id)

    received = smtp_mail.wait_for(2)
    for item in received:
        assert item.data.startswith(b"DKIM-Signature:")
        assert b"s=spring2026" in item.data.split(b"\r\n\r\n")[0].replace(b"\r\n", b"")
        assert dkim.verify(item.data, dnsfunc=published(row))
    tampered = received[0].data.replace(b"Subject: ", b"Subject: Re: ", 1)
    assert not dkim.verify(tampered, dnsfunc=published(row))


def test_mail_is_not_signed_without_a_key_nor_into_the_outbox(runner, tenant_a, smtp_mail, app_config):
    send_campaign_to(runner, tenant_a.id, 1)
    assert not smtp_mail.wait_for(1)[0].data.startswith(b"DKIM-Signature:")

    create_dkim_key(tenant_a.id, the_domain(tenant_a.id).id, None)
    app_config(MAIL_URL="outbox")
    send_campaign_to(runner, tenant_a.id, 1)
    raw = db.session.scalars(select(OutboxMessage.raw)).all()
    assert raw and not any(r.startswith(b"DKIM-Signature:") for r in raw)


def test_the_private_key_is_stored_sealed(tenant_a):
    ready_tenant(tenant_a.id)
    row = create_dkim_key(tenant_a.id, the_domain(tenant_a.id).id, "crm1")
    assert row.dkim_private_key.startswith("v1:")
    assert "PRIVATE KEY" not in row.dkim_private_key
