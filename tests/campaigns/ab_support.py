"""Building blocks for the A/B test specifications: a tested campaign, engagement written on
its sample's rows the way the tracking writer leaves them, and a clock moved past the test."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import CampaignAttribution, CampaignRecipient, CustomerActivity, EmailCampaign
from webapp.services.campaigns import ab_winner, variants

SUBJECTS = ["Line-up out now", "You're invited: the line-up", "Doors at 7", "Last call"]


def variant_bodies(count: int = 2) -> list[dict]:
    """`count` variants: A keeps the campaign's content, the others bring their own."""
    out = [{"subject": SUBJECTS[0]}]
    for i in range(1, count):
        out.append({"subject": SUBJECTS[i], "preheader": f"Preheader {i}", "from_name": f"Sender {i}",
                    "content": f"<p>Variant {'ABCD'[i]} for {{{{ customer.first_name }}}}</p>"})
    return out


def sample_rows(campaign_id: int, variant: int | None = None) -> list[CampaignRecipient]:
    stmt = select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id)
    stmt = stmt.where(CampaignRecipient.variant == variant) if variant is not None else stmt.where(
        CampaignRecipient.variant.isnot(None))
    db.session.expire_all()
    rows = list(db.session.scalars(stmt.order_by(CampaignRecipient.id)))
    db.session.commit()
    return rows


def engage(campaign_id: int, variant: int, *, opens: int = 0, clicks: int = 0, machine_opens: int = 0) -> None:
    """Human opens/clicks on the first rows of a variant, machine-only opens on the next ones
    (opens counted, human_opens 0: what the tracking writer records for Apple MPP)."""
    rows = [r.id for r in sample_rows(campaign_id, variant)]
    assert len(rows) >= opens + machine_opens and len(rows) >= clicks
    R = CampaignRecipient
    if opens:
        db.session.execute(update(R).where(R.id.in_(rows[:opens])).values(opens=1, human_opens=1))
    if clicks:
        db.session.execute(update(R).where(R.id.in_(rows[:clicks])).values(clicks=1, human_clicks=1))
    if machine_opens:
        db.session.execute(update(R).where(R.id.in_(rows[opens:opens + machine_opens])).values(opens=3,
                                                                                               human_opens=0))
    db.session.commit()


def attribute(campaign_id: int, variant: int, amounts: list[float]) -> None:
    """Purchases credited to the campaign by customers of a variant (one each)."""
    rows = sample_rows(campaign_id, variant)
    for row, amount in zip(rows, amounts, strict=False):
        activity = CustomerActivity(tenant_id=row.tenant_id, customer_id=row.customer_id, type="purchase",
                                    properties={"order_total": amount}, amount=amount, occurred_at=utcnow())
        db.session.add(activity)
        db.session.flush()
        db.session.add(CampaignAttribution(activity_id=activity.id, tenant_id=row.tenant_id, campaign_id=campaign_id,
                                           customer_id=row.customer_id, amount=amount, touch="click",
                                           touched_at=utcnow()))
    db.session.commit()


def freeze_after_test(monkeypatch, campaign_id: int, minutes_after: int = 1) -> datetime:
    """The clock of the winner's rules stopped `minutes_after` past the test's end."""
    db.session.expire_all()
    ends = db.session.get(EmailCampaign, campaign_id).ab_test_ends_at
    db.session.commit()
    frozen = ends + timedelta(minutes=minutes_after)
    monkeypatch.setattr(ab_winner, "utcnow", lambda: frozen)
    return frozen


def freeze_at(monkeypatch, moment: datetime) -> None:
    for module in (ab_winner, variants):
        monkeypatch.setattr(module, "utcnow", lambda: moment)
