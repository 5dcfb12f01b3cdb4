"""Delivering one batch of a campaign: claim its due recipients, render and send each over one
SMTP connection, and record every outcome on its row (retried rows come back later, with backoff).

Durability: the database says what is due; Redis only carries the work. Every job is
idempotent, a lost job is re-enqueued by the reconciler, and a recipient is marked sent
in the database before the SMTP server is told to accept the message (mail/transport.py),
so a retry, a restart or two workers never send anyone a second copy.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from contextlib import contextmanager
from datetime import datetime
from itertools import islice

from flask import current_app
from sqlalchemy import Row

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.mail.compose import Composed, CustomerView
from webapp.mail.templating import RenderFailed
from webapp.mail.transport import Outgoing, open_transport
from webapp.models import EmailCampaign, Tenant
from webapp.services.campaigns.allowance import SendAllowance
from webapp.services.campaigns.claims import (
    cancelled,
    claim_batch,
    claimed_rows,
    finish,
    finish_if_done,
    give_up_on_abandoned,
    release,
    skip_suppressed,
)
from webapp.services.campaigns.jobs import enqueue_batch
from webapp.services.campaigns.marks import mark_sent, settle_sent
from webapp.services.campaigns.outcomes import record_outcome, retry_delay
from webapp.services.campaigns.rendering import render_many, sender_of

CANCEL_CHECK_SECONDS = 0.5


def deliver_batch(campaign_id: int, batch_no: int) -> dict:
    """Claim one batch's due recipients, render and send each over one SMTP connection,
    and record every outcome on its row (retried rows come back later, with backoff)."""
    campaign = db.session.get(EmailCampaign, campaign_id)
    if campaign is None or campaign.status != "sending":
        return {"claimed": 0}
    claim = uuid.uuid4().hex
    now = utcnow()
    give_up_on_abandoned(campaign_id, batch_no, now)
    claimed = claim_batch(campaign_id, batch_no, claim, now)
    if not claimed:
        finish_if_done(campaign_id)
        return {"claimed": 0}

    skip_suppressed(campaign, claim)
    tenant = db.session.get(Tenant, campaign.tenant_id)
    rows = claimed_rows(claim)
    sender = sender_of(campaign, tenant)[1]
    counts = {"sent": 0, "failed": 0, "retry": 0, "lost": 0}
    retry_at: datetime | None = None
    group: list[tuple[Row, CustomerView, Composed]] = []
    # Messages rendered ahead of their turn, at most a group's worth (a RenderFailed in
    # place of the message is recorded when its turn comes).
    ahead: deque[tuple[Row, CustomerView, Composed | RenderFailed]] = deque()
    unrendered = iter(rows)

    def render_ahead() -> bool:
        """Render the next claimed recipients' messages, as many as there is room for, together
        (render_many); False when there is no room or none left. Rendering reads only what
        was loaded above: no database writes (new link rows go in a transaction of their own)."""
        rows = list(islice(unrendered, max(group_size - len(ahead), 0)))
        if not rows:
            return False
        messages = render_many(campaign, tenant, [(customer, recipient.email, recipient.token)
                                                  for recipient, customer in rows])
        for (recipient, customer), message in zip(rows, messages, strict=True):
            ahead.append((recipient, customer, message))
        return True

    def send_group() -> None:
        """The group's messages go out together, recorded as sent in one commit; the next
        messages are rendered while the server answers."""
        nonlocal retry_at

        def commit(staged: list[int]) -> set[int]:
            won = mark_sent([(group[i][0], group[i][2].message_id) for i in staged], claim)
            return {i for i in staged if group[i][0].id in won}

        outcomes = transport.send_many(
            [Outgoing(sender, recipient.email, composed.message.as_bytes(), composed.subject, composed.message_id)
             for recipient, _, composed in group], commit, while_waiting=render_ahead)
        settle_sent()
        for (recipient, customer, _), outcome in zip(group, outcomes, strict=True):
            kind = record_outcome(recipient, customer, claim, outcome)
            counts[kind] += 1
            if kind == "retry":
                due = utcnow() + retry_delay(recipient.attempts)
                retry_at = due if retry_at is None else min(retry_at, due)
        group.clear()

    with _keep_loaded_rows(), \
            open_transport(current_app.config["MAIL_URL"], tenant_id=tenant.id, campaign_id=campaign.id) as transport:
        next_check = time.monotonic() + CANCEL_CHECK_SECONDS
        # A group goes out when its last message's slot comes, so its first ones go late by
        # up to a group's worth of slots; at low rates messages go one by one, at high rates
        # a group is at most 2% of a second's worth.
        group_size = max(1, min(transport.connections, tenant.send_rate_per_second // 50)) \
            if tenant.send_rate_per_second > 0 else transport.connections
        allowance = SendAllowance(tenant.id, tenant.send_rate_per_second, at_least=group_size)
        index = -1
        while ahead or render_ahead():
            recipient, customer, composed = ahead.popleft()
            index += 1
            if isinstance(composed, RenderFailed):
                finish(recipient, claim, "failed", f"could not render: {composed}")
                counts["failed"] += 1
                continue
            allowance.wait()
            # A cancel stops the batch within half a second (or 25 messages), even when the
            # rate limit is slow, at the cost of one small query per check.
            if index and (index % 25 == 0 or time.monotonic() >= next_check):
                next_check = time.monotonic() + CANCEL_CHECK_SECONDS
                if cancelled(campaign_id):
                    # Rendered, not yet sent: released (skipped) with the rest.
                    group.clear()
                    ahead.clear()
                    release(claim)
                    break
            group.append((recipient, customer, composed))
            if len(group) >= group_size:
                send_group()
        if group:
            send_group()
    if retry_at is not None:
        enqueue_batch(campaign_id, batch_no, at=retry_at)
    finish_if_done(campaign_id)
    return counts


@contextmanager
def _keep_loaded_rows():
    """Every message commits, and a commit expires every object in the session, so each
    message reloaded the campaign, the tenant and its customer (and expiring all the
    batch's rows cost more than the reloads). The loop only reads what it loaded after
    its claim, and writes with UPDATE statements, so nothing it reads goes stale."""
    session = db.session()
    previous, session.expire_on_commit = session.expire_on_commit, False
    try:
        yield
    finally:
        session.expire_on_commit = previous
