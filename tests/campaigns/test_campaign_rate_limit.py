"""A tenant's sending rate holds across worker processes: two campaigns delivered at once by
two workers together stay within send_rate_per_second, measured where the mail arrives."""

from __future__ import annotations

from collections import Counter

from campaign_support import (
    add_audience,
    audience_segment,
    campaign,
    new_campaign,
    ready_tenant,
    wait_until,
)
from rq import Worker

from webapp.services import campaigns
from webapp.tasks import redis_connection
from webapp.tasks.delivery import start_campaign

RATE = 8


def test_the_tenant_rate_holds_across_two_worker_processes(app, tenant_a, smtp_mail, worker_processes):
    ready_tenant(tenant_a.id, rate=RATE)
    ids = []
    for tag in ("rock", "jazz"):
        add_audience(tenant_a.id, 14, prefix=tag, tag=tag)
        ids.append(new_campaign(tenant_a.id, audience_segment(tenant_a.id, tag), name=tag).id)
    worker_processes()
    worker_processes()
    # Both listening before there is work, so each takes one campaign's batch.
    wait_until(lambda: Worker.count(connection=redis_connection()) == 2, 20, "two workers to start")
    # Queued as start, start, batch, batch: each worker takes one of each, in step.
    for campaign_id in ids:
        campaigns.send_campaign(tenant_a.id, campaign_id)
    for campaign_id in ids:
        start_campaign(campaign_id)

    messages = smtp_mail.wait_for(28, timeout=30)
    wait_until(lambda: all(campaign(i).status == "sent" for i in ids), 10, "both campaigns to finish")

    # The limit counts per wall-clock second when a worker takes its turn; the message
    # arrives a few milliseconds later, so each worker may carry one across into the next
    # second: two messages of slack, never more.
    per_second = Counter(int(m.at) for m in messages)
    assert max(per_second.values()) <= RATE + 2, sorted(per_second.items())
    assert len(per_second) >= -(-28 // RATE)  # 28 messages need four seconds' worth
    # Both workers really sent at the same time: the two campaigns' deliveries overlap.
    spans = {tag: [m.at for m in messages if m.to.startswith(tag)] for tag in ("rock", "jazz")}
    assert max(min(s) for s in spans.values()) < min(max(s) for s in spans.values())
    assert set(smtp_mail.per_recipient().values()) == {1}
