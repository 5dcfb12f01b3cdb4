"""The A/B test's sample over 10,000 recipients: exactly the share, split evenly, and random
(which customers land in it does not follow their order, nor a trait the test's seeded
generator gave a random third of them)."""

from __future__ import annotations

import math
import random

from campaign_support import ready_tenant
from sqlalchemy import func, insert, select

from webapp.extensions import db
from webapp.models import CampaignRecipient, Customer, CustomerTag
from webapp.services import campaigns, segments
from webapp.services.campaigns import sending
from webapp.services.campaigns.variants import plan_in_words

AUDIENCE = 10_000


def add_bulk_audience(tenant_id: int, rng: random.Random) -> set[int]:
    """10,000 subscribed customers tagged "fans"; returns the ids of the third `rng` marks."""
    db.session.execute(insert(Customer), [
        {"tenant_id": tenant_id, "email": f"bulk{i}@example.com", "attributes": {}} for i in range(AUDIENCE)])
    ids = list(db.session.scalars(select(Customer.id).where(Customer.tenant_id == tenant_id).order_by(Customer.id)))
    db.session.execute(insert(CustomerTag), [{"customer_id": i, "tag": "fans", "tenant_id": tenant_id} for i in ids])
    db.session.commit()
    return {i for i in ids if rng.random() < 1 / 3}


def within_binomial(observed: int, trials: int, p: float, sigmas: float = 5.0) -> bool:
    mean, sd = trials * p, math.sqrt(trials * p * (1 - p))
    return abs(observed - mean) <= sigmas * sd


def test_a_fifth_of_ten_thousand_split_between_three_variants_at_random(app, tenant_a, monkeypatch):
    rng = random.Random(19)
    ready_tenant(tenant_a.id)
    marked = add_bulk_audience(tenant_a.id, rng)
    segment = segments.create_segment(tenant_a.id, "Fans", [{"type": "tag", "value": "fans"}])
    campaign = campaigns.create_campaign(tenant_a.id, {
        "name": "Split", "subject": "S", "html_content": "<p>x</p>", "segment_id": segment.id,
        "variants": [{"subject": "A"}, {"subject": "B"}, {"subject": "C"}],
        "ab_test": {"share_percent": 20, "duration_minutes": 60, "metric": "clicks"}})
    assert plan_in_words(campaign, AUDIENCE) == ("20% (2,000 people) split between 3 variants; after 1 hour the "
                                                 "variant with more human unique clicks goes to the remaining 8,000.")
    campaigns.send_campaign(tenant_a.id, campaign.id)
    monkeypatch.setattr(sending, "enqueue_batch", lambda *a, **k: None)  # the split only: nothing delivered

    sending.start_delivery(campaign.id)

    rows = db.session.execute(select(CampaignRecipient.customer_id, CampaignRecipient.variant,
                                     CampaignRecipient.status)
                              .where(CampaignRecipient.campaign_id == campaign.id)).all()
    sample = [r for r in rows if r.variant is not None]
    sizes = {v: sum(1 for r in sample if r.variant == v) for v in (0, 1, 2)}
    assert len(rows) == AUDIENCE and len(sample) == 2000
    assert sorted(sizes.values()) == [666, 667, 667], "evenly: at most one apart"
    assert {r.status for r in sample} == {"pending"} and {r.status for r in rows if r.variant is None} == {"held"}
    # Random, not the first customers: the earlier half's share of the sample is binomial.
    median_id = sorted(r.customer_id for r in rows)[AUDIENCE // 2]
    assert within_binomial(sum(1 for r in sample if r.customer_id < median_id), 2000, 0.5)
    # Nor tied to any trait: the marked third's share of each variant is binomial too.
    share = len(marked) / AUDIENCE
    for v in (0, 1, 2):
        in_variant = [r for r in sample if r.variant == v]
        assert within_binomial(sum(1 for r in in_variant if r.customer_id in marked), len(in_variant), share), v
    assert db.session.scalar(select(func.count()).select_from(CampaignRecipient)
                             .where(CampaignRecipient.status == "held")) == 8000
