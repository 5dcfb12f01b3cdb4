"""MAIL_URL=outbox keeps every message in outbox_messages, once, as a parseable message."""

from __future__ import annotations

import email
from email.policy import default as default_policy

from campaign_support import (
    add_audience,
    assert_counters_match_rows,
    audience_segment,
    new_campaign,
    ready_tenant,
    recipient_rows,
    run_burst_worker,
)
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import OutboxMessage
from webapp.services import campaigns
from webapp.tasks.delivery import deliver_batch, reconcile_campaigns


def outbox() -> list[OutboxMessage]:
    rows = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    db.session.commit()
    return rows


def test_a_campaign_to_the_outbox_stores_each_message_once(app, runner, tenant_a, app_config):
    app_config(MAIL_URL="outbox")
    ready_tenant(tenant_a.id)
    add_audience(tenant_a.id, 4)
    campaign = new_campaign(tenant_a.id, audience_segment(tenant_a.id))

    campaigns.send_campaign(tenant_a.id, campaign.id)
    run_burst_worker(runner)
    reconcile_campaigns()  # nothing left to do: no second copy
    deliver_batch(campaign.id, 0)
    run_burst_worker(runner)

    stored = outbox()
    assert sorted(m.recipient for m in stored) == [f"fan{i}@example.com" for i in range(4)]
    by_recipient = {r.email: r for r in recipient_rows(campaign.id)}
    for item in stored:
        parsed = email.message_from_bytes(item.raw, policy=default_policy)
        assert parsed["To"] == item.recipient and parsed["Message-ID"] == item.message_id
        assert parsed["Subject"] == item.subject == f"Hello Fan{item.recipient[3]}"
        assert parsed.get_body(("html",)).get_content().count("/u/" + by_recipient[item.recipient].token) == 1
        assert by_recipient[item.recipient].message_id == item.message_id
        assert (item.tenant_id, item.campaign_id, item.sender) == (tenant_a.id, campaign.id,
                                                                   "news@arena-alpha.example.com")
    assert assert_counters_match_rows(campaign.id).status == "sent"


def test_a_test_send_to_the_outbox_is_stored_without_a_campaign_trace(api, tenant_a, app_config):
    app_config(MAIL_URL="outbox")
    ready_tenant(tenant_a.id)
    campaign = new_campaign(tenant_a.id, None)

    response = api.post(f"/campaigns/{campaign.id}/test", json={"emails": ["me@example.com"]})

    assert response.get_json()["data"][0]["status"] == "sent"
    [stored] = outbox()
    assert stored.subject == "[TEST] Hello there" and stored.recipient == "me@example.com"
    assert email.message_from_bytes(stored.raw, policy=default_policy)["Subject"] == "[TEST] Hello there"
    assert recipient_rows(campaign.id) == []
