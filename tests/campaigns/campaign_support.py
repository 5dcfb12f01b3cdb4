"""Building blocks for the campaign tests: a tenant ready to send, an audience, a campaign,
workers, and reading the outcome from the database."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import CampaignRecipient, CustomerActivity, EmailCampaign, Tenant
from webapp.services import campaigns, customers, segments
from webapp.services.sending_domains import add_domain_of

POSTAL_ADDRESS = "Arena Alpha, 1 Stage Door, Leeds LS1 1AA"
SENDER = "news@arena-alpha.example.com"
AUDIENCE_TAG = "fans"
# What a mail provider POSTs to the List-Unsubscribe URL for RFC 8058 one-click.
ONE_CLICK = {"data": "List-Unsubscribe=One-Click", "content_type": "application/x-www-form-urlencoded"}


def ready_tenant(tenant_id: int, *, rate: int = 1000, postal_address: str | None = POSTAL_ADDRESS) -> Tenant:
    """The settings a tenant needs before it may send (and a rate that does not slow tests)."""
    tenant = db.session.get(Tenant, tenant_id)
    tenant.sender_name, tenant.sender_email = "Arena Alpha", SENDER
    add_domain_of(tenant_id, SENDER)  # the sender's domain, as create_tenant --sender-email adds it
    tenant.postal_address = postal_address
    tenant.send_rate_per_second = rate
    db.session.commit()
    return tenant


def add_audience(tenant_id: int, count: int, *, prefix: str = "fan", tag: str = AUDIENCE_TAG,
                 **fields) -> list[int]:
    """`count` subscribed customers tagged `tag` (fan0@example.com ...); returns their ids."""
    ids = []
    for i in range(count):
        customer, _ = customers.upsert_customer(tenant_id, {
            "email": f"{prefix}{i}@example.com", "first_name": f"{prefix.title()}{i}", "tags": [tag], **fields})
        ids.append(customer.id)
    return ids


def audience_segment(tenant_id: int, tag: str = AUDIENCE_TAG) -> int:
    return segments.create_segment(tenant_id, f"Tagged {tag}", [{"type": "tag", "value": tag}]).id


def new_campaign(tenant_id: int, segment_id: int | None, **fields) -> EmailCampaign:
    data = {"name": "Summer line-up", "subject": "Hello {{ customer.first_name | default('there') }}",
            "html_content": "<p>Hi {{ customer.first_name | default('there') }}, the line-up is out.</p>",
            "segment_id": segment_id, **fields}
    return campaigns.create_campaign(tenant_id, data)


def run_burst_worker(runner) -> None:
    """Drain every queue with `flask crm worker --burst --no-scheduler` in this process."""
    db.session.commit()  # our transaction must not hold SQLite's write lock while jobs run
    result = runner.invoke(args=["crm", "worker", "--burst", "--no-scheduler"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()


def campaign(campaign_id: int) -> EmailCampaign:
    db.session.expire_all()
    row = db.session.get(EmailCampaign, campaign_id)
    db.session.commit()  # end the read transaction so other processes' writes are seen next time
    return row


def recipient_rows(campaign_id: int) -> list[CampaignRecipient]:
    db.session.expire_all()
    rows = list(db.session.scalars(select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id)
                                   .order_by(CampaignRecipient.id)))
    db.session.commit()
    return rows


def statuses(campaign_id: int) -> dict[str, int]:
    counts = dict(db.session.execute(
        select(CampaignRecipient.status, func.count()).where(CampaignRecipient.campaign_id == campaign_id)
        .group_by(CampaignRecipient.status)).all())
    db.session.commit()
    return counts


def activities_of(customer_id: int, activity_type: str) -> list[CustomerActivity]:
    rows = list(db.session.scalars(select(CustomerActivity).where(
        CustomerActivity.customer_id == customer_id, CustomerActivity.type == activity_type)))
    db.session.commit()
    return rows


def wait_until(condition: Callable[[], bool], timeout: float, what: str, *, every: float = 0.05,
               between: Callable[[], object] | None = None) -> None:
    """Poll `condition` until true (bounded); `between` runs between polls (a reconciler tick, say)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        if between is not None:
            between()
        time.sleep(every)


def assert_counters_match_rows(campaign_id: int) -> EmailCampaign:
    """The campaign's counters agree with its recipient rows."""
    row = campaign(campaign_id)
    counts = statuses(campaign_id)
    assert (row.sent_count, row.failed_count, row.skipped_count, row.recipients_count) == (
        counts.get("sent", 0), counts.get("failed", 0), counts.get("skipped", 0), sum(counts.values())), counts
    return row


def assert_error(response, status: int, *, field: str | None = None) -> dict:
    """A JSON error with this status and, when given, a detail naming `field`; returns it."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "details"} and error["message"], error
    if field is not None:
        assert field in [d["field"] for d in error["details"]], error
    return error
