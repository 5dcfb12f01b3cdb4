"""customers.last_touched_at, the hit writer's latest human open or click per customer, and
the attribution that reads it first: after any batches of hits (people and machines, in any
order of time, delivered twice) it is each customer's latest human hit (and each recipient's
counters and first moments say what its hits say), and a purchase at any
moment gets exactly the credit a lookup of every hit would give it; a customer no email ever
reached costs a purchase no lookup at all."""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import case, func, select

from tests.campaigns.tracking_support import BROWSER_UA, age_delivery, send_to_audience
from tests.reports.report_support import GMAIL_PROXY
from tests.sql_support import sql_sent
from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import CampaignAttribution, CampaignLink, CampaignRecipient, Customer, Tenant, TrackingHit
from webapp.services.activities import record_activity
from webapp.services.tracking import write_batch

# (recipient, kind, minutes before now, a person or a machine)
HITS = st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["o", "c"]), st.integers(0, 60 * 24 * 12),
                          st.booleans()), min_size=1, max_size=8)


def _latest_human_hits() -> dict[int, object]:
    return dict(db.session.execute(select(TrackingHit.customer_id, func.max(TrackingHit.occurred_at))
                                   .where(TrackingHit.is_machine.is_(False)).group_by(TrackingHit.customer_id)).all())


def _credit_by_every_hit(customer_id: int, at, days: int):
    """What a lookup of every hit credits (the rule, written out here on its own)."""
    return db.session.execute(
        select(TrackingHit.campaign_id, TrackingHit.kind)
        .where(TrackingHit.customer_id == customer_id, TrackingHit.is_machine.is_(False),
               TrackingHit.occurred_at <= at, TrackingHit.occurred_at >= at - timedelta(days=days))
        .order_by(case((TrackingHit.kind == "click", 0), else_=1), TrackingHit.occurred_at.desc())
        .limit(1)).first()


def _recipients_count_their_hits(campaign_id: int) -> None:
    """Each recipient's counters say what its hits say, and each first moment is one of them."""
    for row in db.session.scalars(select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id)):
        hits = list(db.session.scalars(select(TrackingHit).where(TrackingHit.recipient_id == row.id)))
        for kind, total, human, first, first_human in (
                ("open", row.opens, row.human_opens, row.first_opened_at, row.first_human_opened_at),
                ("click", row.clicks, row.human_clicks, row.first_clicked_at, row.first_human_clicked_at)):
            every = {h.occurred_at for h in hits if h.kind == kind}
            people = {h.occurred_at for h in hits if h.kind == kind and not h.is_machine}
            assert (total, human) == (len([h for h in hits if h.kind == kind]),
                                      len([h for h in hits if h.kind == kind and not h.is_machine]))
            assert (first in every) if every else first is None
            assert (first_human in people) if people else first_human is None


def test_last_touched_is_the_latest_human_hit_and_attribution_loses_no_credit(tenant_a, runner):
    campaign_id = send_to_audience(runner, tenant_a.id, 4)
    age_delivery(campaign_id, minutes=60 * 24 * 20)
    link = db.session.scalar(select(func.min(CampaignLink.id)).where(CampaignLink.campaign_id == campaign_id))
    rows = list(db.session.execute(select(CampaignRecipient.token, CampaignRecipient.customer_id)
                                   .where(CampaignRecipient.campaign_id == campaign_id)
                                   .order_by(CampaignRecipient.id)))
    days = db.session.get(Tenant, tenant_a.id).attribution_days
    stream_ids, orders = itertools.count(1), itertools.count(1)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(hits=HITS, redelivered=st.booleans(), buyer=st.integers(0, 3),
           bought_minutes_ago=st.integers(0, 60 * 24 * 12))
    def check(hits, redelivered, buyer, bought_minutes_ago):
        now = utcnow()
        entries = [(f"{next(stream_ids)}-0", {
            "k": kind, "t": rows[who].token, "l": str(link), "n": "3",
            "at": f"{(now - timedelta(minutes=ago)).timestamp():.6f}", "m": "GET", "ip": "198.51.100.7",
            "ua": BROWSER_UA if person else GMAIL_PROXY, "ref": ""}) for who, kind, ago, person in hits]
        write_batch(entries)
        if redelivered:
            write_batch(entries)
        db.session.expire_all()
        latest = _latest_human_hits()
        for _, customer_id in rows:
            assert db.session.get(Customer, customer_id).last_touched_at == latest.get(customer_id)
        _recipients_count_their_hits(campaign_id)

        at = now - timedelta(minutes=bought_minutes_ago)
        customer_id = rows[buyer].customer_id
        expected = _credit_by_every_hit(customer_id, at, days)
        activity, _ = record_activity(tenant_a.id, "purchase", customer_id=customer_id, occurred_at=at,
                                      properties={"order_id": f"LT-{next(orders)}", "order_total": 20})
        credit = db.session.get(CampaignAttribution, activity.id)
        assert (credit.campaign_id, credit.touch) == tuple(expected) if expected else credit is None

    check()


def test_a_purchase_by_a_customer_no_email_reached_looks_up_no_hits(tenant_a):
    from tests.reports.report_support import customer

    buyer = customer(tenant_a.id, "never-emailed@example.com").id
    db.session.commit()
    with sql_sent() as statements:
        record_activity(tenant_a.id, "purchase", customer_id=buyer, properties={"order_id": "N-1", "order_total": 30})
    assert statements and not [s for s in statements if "tracking_hits" in s]


def test_a_touched_buyers_purchase_reads_the_window_with_the_buyers_update(tenant_a):
    """The tenant's attribution window comes back with the buyer's UPDATE ... RETURNING: a
    buyer a campaign reached costs the hits lookup and no read of the tenant; a window the
    tenant shortened is the one applied."""
    from tests.reports.report_support import customer

    buyer = customer(tenant_a.id, "emailed@example.com")
    buyer.last_touched_at = utcnow() - timedelta(days=3)
    db.session.commit()
    with sql_sent() as statements:
        record_activity(tenant_a.id, "purchase", customer_id=buyer.id,
                        properties={"order_id": "W-1", "order_total": 30})
    assert len([s for s in statements if "FROM tracking_hits" in s]) == 1
    assert not [s for s in statements if s.lstrip().startswith("SELECT") and "FROM tenants" in s], statements

    db.session.get(Tenant, tenant_a.id).attribution_days = 2  # the touch is now outside the window
    db.session.commit()
    with sql_sent() as statements:
        record_activity(tenant_a.id, "purchase", customer_id=buyer.id,
                        properties={"order_id": "W-2", "order_total": 30})
    assert not [s for s in statements if "FROM tracking_hits" in s]


def test_a_batch_credits_its_touched_buyers_and_looks_up_nobody_else(tenant_a, runner):
    from webapp.services.ingest import ingest_activities

    campaign_id = send_to_audience(runner, tenant_a.id, 3)
    age_delivery(campaign_id, minutes=120)
    link = db.session.scalar(select(func.min(CampaignLink.id)).where(CampaignLink.campaign_id == campaign_id))
    rows = list(db.session.execute(select(CampaignRecipient.token, CampaignRecipient.customer_id)
                                   .where(CampaignRecipient.campaign_id == campaign_id)
                                   .order_by(CampaignRecipient.id)))
    at = (utcnow() - timedelta(minutes=30)).timestamp()
    write_batch([("1-0", {"k": "c", "t": rows[0].token, "l": str(link), "n": "3", "at": f"{at:.6f}", "m": "GET",
                          "ip": "198.51.100.7", "ua": BROWSER_UA, "ref": ""}),
                 ("2-0", {"k": "o", "t": rows[1].token, "l": "0", "n": "3", "at": f"{at:.6f}", "m": "GET",
                          "ip": "198.51.100.7", "ua": GMAIL_PROXY, "ref": ""})])  # a machine: no touch

    with sql_sent() as statements:
        results = ingest_activities(tenant_a.id, [
            {"customer_id": row.customer_id, "type": "purchase", "properties": {"order_id": f"B-{n}", "order_total": 9}}
            for n, row in enumerate(rows)] + [
            {"customer": {"email": "new-buyer@example.com"}, "type": "purchase",
             "properties": {"order_id": "B-new", "order_total": 9}}])

    credits = {credit.customer_id: (credit.campaign_id, credit.touch)
               for credit in db.session.scalars(select(CampaignAttribution))}
    assert [r["status"] for r in results] == [201] * 4
    assert credits == {rows[0].customer_id: (campaign_id, "click")}
    assert len([s for s in statements if "FROM tracking_hits" in s]) == 1  # the one touched buyer's lookup
