"""The delivery jobs, asked for by name (webapp/infra/queues.py): start a campaign now or when
it is due, deliver one batch. Job ids make repeats cheap: work already waiting is not queued
twice, and a job whose worker was killed is enqueued again under an id of the lease period."""

from __future__ import annotations

from datetime import datetime

from webapp.infra.queues import enqueue_unique
from webapp.services.campaigns.claims import lease

# RQ's options for every delivery job.
_OPTIONS = {"job_timeout": 3600, "result_ttl": 300, "failure_ttl": 86400}


def _enqueue(name: str, *args, job_id: str, at: datetime | None = None) -> None:
    enqueue_unique(name, *args, job_id=job_id, queue="mail", lease_seconds=lease().total_seconds(), at=at,
                   **_OPTIONS)


def enqueue_start(campaign_id: int) -> None:
    _enqueue("delivery.start_campaign", campaign_id, job_id=f"campaign-start-{campaign_id}")


def enqueue_start_at(campaign_id: int, at: datetime) -> None:
    _enqueue("delivery.start_scheduled_campaign", campaign_id,
             job_id=f"campaign-due-{campaign_id}-{int(at.timestamp())}", at=at)


def enqueue_batch(campaign_id: int, batch_no: int, at: datetime | None = None) -> None:
    _enqueue("delivery.deliver_batch", campaign_id, batch_no, job_id=f"deliver-{campaign_id}-{batch_no}", at=at)


def enqueue_wave(campaign_id: int, batch_no: int, at: datetime) -> None:
    """A local-time campaign's batch when one of its waves comes: an id per wave, so the
    batch's other waves (and its retries) are asked for independently."""
    _enqueue("delivery.deliver_batch", campaign_id, batch_no,
             job_id=f"deliver-{campaign_id}-{batch_no}-wave-{int(at.timestamp())}", at=at)


def enqueue_winner(campaign_id: int, at: datetime | None = None) -> None:
    """An A/B test's end (`at`; None: now): choose its winner and release the remainder to it."""
    _enqueue("delivery.choose_ab_winner", campaign_id, job_id=f"campaign-winner-{campaign_id}", at=at)
