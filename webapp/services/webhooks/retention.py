"""How long deliveries are kept: a finished delivery (delivered, or failed for good) goes,
with its attempts' log, WEBHOOK_KEEP_DAYS (30) after it was made. Every event of every
send, click and purchase a tenant subscribed to is a row here, so without this the table
grows with all the history the endpoints ever had. Waiting and retrying deliveries are
never removed: they are work still to do (retries end within ~27 hours)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select

from webapp.extensions import db
from webapp.models import WebhookDelivery

FINISHED = ("succeeded", "failed")
BATCH = 5000
SECONDS = 30.0  # one run's budget; the next run goes on where it stopped


def keep_for() -> timedelta:
    """WEBHOOK_KEEP_DAYS, a number of days of at least 1 (checked by config.derive_settings)."""
    return timedelta(days=current_app.config["WEBHOOK_KEEP_DAYS"])


def prune_deliveries(now: datetime, batch: int = BATCH, seconds: float = SECONDS) -> int:
    """Delete the finished deliveries made before now - WEBHOOK_KEEP_DAYS, oldest first, a
    batch per transaction (their attempts go by the foreign key's cascade) until none is left
    or the time is up; returns how many went. The old rows are found from the index on
    created_at: a run with nothing to do reads one index entry."""
    cutoff = now - keep_for()
    started, removed = time.monotonic(), 0
    while True:
        oldest = (select(WebhookDelivery.id)
                  .where(WebhookDelivery.created_at < cutoff, WebhookDelivery.status.in_(FINISHED))
                  .order_by(WebhookDelivery.created_at).limit(batch))
        gone = db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(oldest.scalar_subquery()))
                                  .execution_options(synchronize_session=False)).rowcount
        db.session.commit()
        removed += gone
        if gone < batch or time.monotonic() - started >= seconds:
            return removed
