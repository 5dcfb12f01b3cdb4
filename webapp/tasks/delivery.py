"""Campaign delivery jobs: start (snapshot + fan-out), deliver one batch, and the reconciler.

Thin: the delivery domain is webapp/services/campaigns/ (sending, sender, claims, marks,
reconcile); jobs are enqueued by name through its jobs module.
"""

from __future__ import annotations

from webapp.extensions import db
from webapp.models import EmailCampaign
from webapp.services.campaigns import ab_winner, reconcile, sending
from webapp.services.campaigns.sender import BatchSender


def start_scheduled_campaign(campaign_id: int) -> int:
    """A scheduled campaign's time has come: begin it (once) and start its delivery."""
    sending.start_due_campaign(campaign_id)
    return start_campaign(campaign_id)


def start_campaign(campaign_id: int) -> int:
    """Snapshot the recipients (once) and enqueue every batch that has work."""
    return sending.start_delivery(campaign_id)


def deliver_batch(campaign_id: int, batch_no: int) -> dict:
    """Claim one batch's due recipients, render and send each over one SMTP connection,
    and record every outcome on its row (retried rows come back later, with backoff)."""
    campaign = db.session.get(EmailCampaign, campaign_id)
    if campaign is None or campaign.status != "sending":
        return {"claimed": 0}
    return BatchSender(campaign, batch_no).run()


def choose_ab_winner(campaign_id: int) -> str | None:
    """An A/B test's end: record its winner and release the remainder to it (once)."""
    return ab_winner.decide_winner(campaign_id)


def reconcile_campaigns() -> dict[str, int]:
    """Periodic: start due scheduled campaigns, restart lost start jobs, re-enqueue batches
    with due work (after a Redis flush, a killed worker, a retry delay), finish done ones."""
    return reconcile.reconcile_campaigns()
