"""The periodic sweep that keeps deliveries going whatever Redis lost."""

from __future__ import annotations

from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import EmailCampaign
from webapp.services.campaigns.ab_winner import enqueue_due_winners
from webapp.services.campaigns.claims import batches_with_work, finish_if_done
from webapp.services.campaigns.jobs import enqueue_batch, enqueue_start, enqueue_start_at


def reconcile_campaigns() -> dict[str, int]:
    """Periodic: start due scheduled campaigns, restart lost start jobs, re-enqueue batches
    with due work (after a Redis flush, a killed worker, a retry delay), ask again for the
    winner of A/B tests past their end, finish done ones."""
    now = utcnow()
    started = 0
    for campaign_id in db.session.scalars(select(EmailCampaign.id).where(
            EmailCampaign.status == "scheduled", EmailCampaign.scheduled_at <= now)):
        enqueue_start_at(campaign_id, now)
        started += 1
    sending = list(db.session.scalars(select(EmailCampaign.id).where(EmailCampaign.status == "sending")))
    batches = 0
    for campaign_id in sending:
        campaign = db.session.get(EmailCampaign, campaign_id)
        if campaign.snapshot_at is None:
            enqueue_start(campaign_id)
            continue
        for batch_no in batches_with_work(campaign_id):
            enqueue_batch(campaign_id, batch_no)
            batches += 1
        finish_if_done(campaign_id)
    winners = enqueue_due_winners()
    return {"scheduled_started": started, "campaigns_sending": len(sending), "batches_enqueued": batches,
            "winners_enqueued": winners}
