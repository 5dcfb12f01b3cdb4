"""campaign_recipient_counts, the triggers' per-campaign counts of recipients by status and
engagement (migration 0028): whatever writes campaign_recipients (many rows in one statement,
one at a time, a real send and the hit writer, an erased customer, a deleted campaign), the
rows equal the recipients grouped, and the report's filter counts read from them equal the
counts of a pass over the recipients themselves."""

from __future__ import annotations

import secrets
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from tests.campaigns.tracking_support import age_delivery, outbox_html, send_to_audience, tracking_urls, write_hits
from tests.reports.report_support import customer, sent_campaign
from tests.sql_support import sql_sent
from webapp.extensions import db
from webapp.models import CampaignRecipient, CampaignRecipientCount, Customer, CustomerActivity, EmailCampaign
from webapp.services.campaigns.recipients import STATUSES, filter_counts

R = CampaignRecipient


def _rollup() -> Counter:
    db.session.expire_all()
    rows = db.session.execute(select(CampaignRecipientCount.campaign_id, CampaignRecipientCount.status,
                                     CampaignRecipientCount.opened, CampaignRecipientCount.clicked,
                                     CampaignRecipientCount.touched, CampaignRecipientCount.recipients))
    return +Counter({(c, s, bool(o), bool(k), bool(t)): n for c, s, o, k, t, n in rows})


def _raw() -> Counter:
    return Counter((r.campaign_id, r.status, r.human_opens > 0, r.human_clicks > 0, r.opens + r.clicks > 0)
                   for r in db.session.scalars(select(R)))


def _counted_on_the_rows(tenant_id: int, campaign_id: int) -> dict:
    """filter_counts through its other path: an email search every recipient matches."""
    return filter_counts(tenant_id, campaign_id, email="@")


# One write to campaign_recipients: which rows (by position), and what it sets.
CHANGES = st.fixed_dictionaries({}, optional={
    "status": st.sampled_from(STATUSES), "opens": st.integers(0, 2), "human_opens": st.integers(0, 2),
    "clicks": st.integers(0, 2), "human_clicks": st.integers(0, 2)})
WRITES = st.lists(st.one_of(
    st.tuples(st.just("insert"), st.integers(0, 1), st.integers(1, 4)),
    st.tuples(st.just("update"), st.lists(st.integers(0, 30), min_size=1, max_size=8), CHANGES),
    st.tuples(st.just("erase"), st.integers(0, 30)),
), min_size=1, max_size=8)


def test_the_counts_are_the_recipients_grouped_whatever_writes_them(tenant_a, tenant_b):
    campaigns = [sent_campaign(tenant_a.id, "Ours"), sent_campaign(tenant_b.id, "Theirs")]
    made = iter(range(10**6))

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(writes=WRITES)
    def check(writes):
        for write in writes:
            ids = list(db.session.scalars(select(R.id).order_by(R.id)))
            if write[0] == "insert":  # many rows in one statement, as the audience's freeze does
                campaign = campaigns[write[1]]
                people = [customer(campaign.tenant_id, f"p{next(made)}@example.com") for _ in range(write[2])]
                db.session.execute(R.__table__.insert(), [
                    {"campaign_id": campaign.id, "tenant_id": campaign.tenant_id, "customer_id": p.id,
                     "email": p.email, "token": secrets.token_hex(16), "status": "pending", "batch_no": 0,
                     "attempts": 0, "enrollment_id": 0} for p in people])
            elif write[0] == "update" and ids and write[2]:
                chosen = {ids[i % len(ids)] for i in write[1]}
                db.session.execute(update(R).where(R.id.in_(chosen)).values(**write[2]))
            elif write[0] == "erase" and ids:  # an erased customer takes their rows with them
                gone = db.session.get(R, ids[write[1] % len(ids)]).customer_id
                db.session.execute(delete(Customer).where(Customer.id == gone))
            db.session.commit()
        assert _rollup() == +_raw()
        for campaign in campaigns:
            assert filter_counts(campaign.tenant_id, campaign.id) == _counted_on_the_rows(campaign.tenant_id,
                                                                                         campaign.id)

    check()
    # Another tenant's campaign id counts nothing.
    assert filter_counts(tenant_a.id, campaigns[1].id)["all"] == 0
    # A deleted campaign takes its counts with it.
    db.session.execute(delete(EmailCampaign).where(EmailCampaign.id == campaigns[0].id))
    db.session.commit()
    assert not [key for key in _rollup() if key[0] == campaigns[0].id]
    assert _rollup() == +_raw()


def test_a_real_send_and_the_hit_writer_move_the_counts_the_report_reads(client, tenant_a, runner):
    campaign_id = send_to_audience(runner, tenant_a.id, 4)
    age_delivery(campaign_id)
    pixel, clicks = tracking_urls(outbox_html(campaign_id)["fan0@example.com"])
    client.get(pixel, headers={"User-Agent": "Mozilla/5.0 (Windows NT 10.0) Chrome/124.0 Safari/537.36"})
    client.get(clicks[0], headers={"User-Agent": "Mozilla/5.0 (Windows NT 10.0) Chrome/124.0 Safari/537.36"})
    pixel, _ = tracking_urls(outbox_html(campaign_id)["fan1@example.com"])
    client.get(pixel, headers={"User-Agent": "Mozilla/5.0 (via ggpht.com GoogleImageProxy)"})
    write_hits()
    fan3 = db.session.scalar(select(R).where(R.campaign_id == campaign_id, R.email == "fan3@example.com"))
    db.session.add(CustomerActivity(tenant_id=tenant_a.id, customer_id=fan3.customer_id, type="email_bounced",
                                    properties={"campaign_id": campaign_id}))
    db.session.commit()

    counts = filter_counts(tenant_a.id, campaign_id)

    assert _rollup() == +_raw()
    assert counts == _counted_on_the_rows(tenant_a.id, campaign_id)
    assert counts["all"] == 4 and counts["status"]["sent"] == 4
    assert {k: counts["engagement"][k] for k in ("opened", "clicked", "not_opened", "machine_only", "bounced")} == {
        "opened": 1, "clicked": 1, "not_opened": 3, "machine_only": 1, "bounced": 1}


def test_the_report_counts_read_the_rollup_not_the_recipients(tenant_a):
    campaign_id = sent_campaign(tenant_a.id, "Big").id
    with sql_sent() as statements:
        filter_counts(tenant_a.id, campaign_id)
    reading_recipients = [s for s in statements if "campaign_recipients" in s and "campaign_recipient_counts" not in s]
    # Only the bounce and complaint counts read recipients, each from its few activities.
    assert len(statements) == 3 and len(reading_recipients) == 2
    assert all("customer_activities" in s for s in reading_recipients)
