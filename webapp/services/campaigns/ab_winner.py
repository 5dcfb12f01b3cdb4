"""An A/B test's winner: chosen automatically when the test ends (by its metric, through
services/significance.py; no clear winner -> the control, variant A) or by hand while it
runs. Recording the winner and releasing the held remainder to it is one transaction whose
first statement is a conditional UPDATE (only while no winner is recorded), so a second
worker, a retried job or a late click changes nothing twice; the normal delivery batches
then send the remainder, and the reconciler re-enqueues them (and a lost winner job)."""

from __future__ import annotations

from sqlalchemy import func, select, update

from webapp.extensions import db
from webapp.infra.errors import Conflict, ValidationFailed
from webapp.infra.types import utcnow
from webapp.models import CampaignRecipient, CampaignVariant, EmailCampaign
from webapp.services.campaigns.claims import batches_with_work, finish_if_done
from webapp.services.campaigns.drafts import get_campaign
from webapp.services.campaigns.jobs import enqueue_batch, enqueue_winner
from webapp.services.campaigns.variant_stats import decision_words, variant_figures, verdict_on
from webapp.services.campaigns.variants import letter, position_of

DECIDABLE = ("sending", "sent")  # a test whose remainder is held, or one that was the whole send


def record_winner(campaign_id: int, position: int, chosen_by: str, verdict: str) -> bool:
    """Record the winner and release the remainder to it, in one transaction, only if no
    winner is recorded yet; then ask for the batches that now have work. True if this call won."""
    won = db.session.execute(
        update(EmailCampaign)
        .where(EmailCampaign.id == campaign_id, EmailCampaign.ab_winner.is_(None),
               EmailCampaign.ab_test_ends_at.isnot(None), EmailCampaign.status.in_(DECIDABLE))
        .values(ab_winner=position, ab_winner_chosen_at=utcnow(), ab_winner_chosen_by=chosen_by,
                ab_verdict=verdict[:2000])
        .execution_options(synchronize_session=False)).rowcount
    if won:
        db.session.execute(
            update(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id,
                                            CampaignRecipient.status == "held")
            .values(status="pending").execution_options(synchronize_session=False))
    db.session.commit()
    if won:
        for batch_no in batches_with_work(campaign_id):
            enqueue_batch(campaign_id, batch_no)
        finish_if_done(campaign_id)
    return bool(won)


def decide_winner(campaign_id: int) -> str | None:
    """The job at the test's end: the variant the metric clearly favours, else the control
    (A), with the verdict in words. Idempotent; early or decided: nothing. The winner's letter."""
    campaign = db.session.get(EmailCampaign, campaign_id)
    if (campaign is None or campaign.ab_winner is not None or campaign.ab_test_ends_at is None
            or campaign.status not in DECIDABLE or campaign.ab_test_ends_at > utcnow()):
        return None
    metric = campaign.ab_metric or "opens"
    figures = variant_figures(campaign_id)
    verdict = verdict_on(figures, metric)
    position = figures[verdict.chosen].position
    words = decision_words(figures, verdict, metric, position, "auto")
    return letter(position) if record_winner(campaign_id, position, "auto", words) else None


def pick_winner(tenant_id: int, campaign_id: int, variant: str) -> EmailCampaign:
    """A marketer's pick while the test runs ("B"): 409 once a winner exists or when no
    test runs, 422 for a letter the campaign has no variant for."""
    campaign = get_campaign(tenant_id, campaign_id)
    if campaign.ab_share_percent is None:
        raise Conflict("this campaign has no A/B test")
    if campaign.ab_winner is not None:
        raise Conflict(f"variant {letter(campaign.ab_winner)} already won")
    if campaign.status not in DECIDABLE or campaign.ab_test_ends_at is None:
        raise Conflict("the test has not started: send the campaign first")
    position = position_of(variant)
    count = db.session.scalar(select(func.count()).select_from(CampaignVariant)
                              .where(CampaignVariant.campaign_id == campaign.id)) or 0
    if position >= count:
        raise ValidationFailed("variant", f"this test has variants A to {letter(count - 1)}")
    metric = campaign.ab_metric or "opens"
    figures = variant_figures(campaign.id)
    words = decision_words(figures, verdict_on(figures, metric), metric, position, "manual")
    if not record_winner(campaign.id, position, "manual", words):
        raise Conflict("a winner was chosen a moment ago")
    db.session.refresh(campaign)
    return campaign


def due_tests() -> list[int]:
    """Tests past their end without a winner (the reconciler re-enqueues their job)."""
    return list(db.session.scalars(select(EmailCampaign.id).where(
        EmailCampaign.ab_winner.is_(None), EmailCampaign.ab_test_ends_at <= utcnow(),
        EmailCampaign.status.in_(DECIDABLE))))


def enqueue_due_winners() -> int:
    due = due_tests()
    for campaign_id in due:
        enqueue_winner(campaign_id)
    return len(due)
