"""Delivering one batch of a campaign (BatchSender): claim its due recipients, render and send
each over one SMTP connection, and record every outcome on its row (retried rows come back
later, with backoff).

Durability: the database says what is due; Redis only carries the work. Every job is
idempotent, a lost job is re-enqueued by the reconciler, and a recipient is marked sent
in the database before the SMTP server is told to accept the message (mail/transport.py),
so a retry, a restart or two workers never send anyone a second copy.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from itertools import islice

from flask import current_app
from sqlalchemy import Row

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.mail.compose import Composed, CustomerView
from webapp.mail.templating import RenderFailed
from webapp.mail.transport import OutboxTransport, Outgoing, SendOutcome, SmtpTransport, open_transport
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
from webapp.services.campaigns.frequency_cap import skip_capped
from webapp.services.campaigns.jobs import enqueue_batch
from webapp.services.campaigns.marks import mark_sent, settle_sent
from webapp.services.campaigns.outcomes import record_outcome, retry_delay
from webapp.services.campaigns.rendering import sender_of, variant_renderer

CANCEL_CHECK_SECONDS = 0.5


class BatchSender:
    """One batch of one campaign, sent by one worker. `run()` reads top to bottom: claim the
    batch's due rows, load them, then for each message in turn render ahead, wait for the
    tenant's allowance, check for a cancel, and send a full group (marked sent in one commit,
    released to the server, settled), recording every outcome; then ask for a retry of what
    failed for now, and finish the campaign if nothing is left."""

    tenant: Tenant
    sender: str
    unrendered: Iterator[tuple[Row, CustomerView]]
    transport: SmtpTransport | OutboxTransport
    group_size: int
    next_check: float

    def __init__(self, campaign: EmailCampaign, batch_no: int) -> None:
        self.campaign, self.campaign_id, self.batch_no = campaign, campaign.id, batch_no
        self.claim = uuid.uuid4().hex
        self.counts = {"sent": 0, "failed": 0, "retry": 0, "lost": 0}
        self.retry_at: datetime | None = None
        self.group: list[tuple[Row, CustomerView, Composed]] = []
        # Messages rendered ahead of their turn, at most a group's worth (a RenderFailed in
        # place of the message is recorded when its turn comes).
        self.ahead: deque[tuple[Row, CustomerView, Composed | RenderFailed]] = deque()

    def run(self) -> dict:
        """Claim one batch's due recipients, render and send each over one SMTP connection,
        and record every outcome on its row (retried rows come back later, with backoff)."""
        if not self.claim_rows():
            finish_if_done(self.campaign_id)
            return {"claimed": 0}
        self.load_rows()
        with _keep_loaded_rows(), open_transport(current_app.config["MAIL_URL"], tenant_id=self.tenant.id,
                                                 campaign_id=self.campaign_id) as transport:
            self.send_all(transport)
        if self.retry_at is not None:
            enqueue_batch(self.campaign_id, self.batch_no, at=self.retry_at)
        finish_if_done(self.campaign_id)
        return self.counts

    def claim_rows(self) -> bool:
        """Fail the rows abandoned too often, then claim the batch's due ones (committed)."""
        now = utcnow()
        give_up_on_abandoned(self.campaign_id, self.batch_no, now)
        return bool(claim_batch(self.campaign_id, self.batch_no, self.claim, now))

    def load_rows(self) -> None:
        """Skip the claimed rows of customers no longer subscribed or at the frequency cap,
        and load the rest with what their messages are made of."""
        skip_suppressed(self.campaign, self.claim)
        self.tenant = db.session.get(Tenant, self.campaign.tenant_id)
        skip_capped(self.campaign_id, self.tenant, self.claim, utcnow())
        rows = claimed_rows(self.claim)
        self.unrendered = iter(rows)
        self.sender = sender_of(self.campaign, self.tenant)[1]
        self.render = variant_renderer(self.campaign, self.tenant, [customer.id for _, customer in rows])

    def send_all(self, transport: SmtpTransport | OutboxTransport) -> None:
        """The send loop: each message in turn waits for its slot and joins the group, which
        goes out when full; the last group goes when the rows run out."""
        self.transport = transport
        self.next_check = time.monotonic() + CANCEL_CHECK_SECONDS
        # A group goes out when its last message's slot comes, so its first ones go late by
        # up to a group's worth of slots; at low rates messages go one by one, at high rates
        # a group is at most 2% of a second's worth.
        self.group_size = max(1, min(transport.connections, self.tenant.send_rate_per_second // 50)) \
            if self.tenant.send_rate_per_second > 0 else transport.connections
        allowance = SendAllowance(self.tenant.id, self.tenant.send_rate_per_second, at_least=self.group_size)
        index = -1
        while self.ahead or self.render_ahead():
            recipient, customer, composed = self.ahead.popleft()
            index += 1
            if isinstance(composed, RenderFailed):
                finish(recipient, self.claim, "failed", f"could not render: {composed}")
                self.counts["failed"] += 1
                continue
            allowance.wait()
            if self.stopped_by_cancel(index):
                break
            self.group.append((recipient, customer, composed))
            if len(self.group) >= self.group_size:
                self.send_group()
        if self.group:
            self.send_group()

    def render_ahead(self) -> bool:
        """Render the next claimed recipients' messages, as many as there is room for, together
        (variant_renderer); False when there is no room or none left. Rendering reads only what
        was loaded above: no database writes (new link rows go in a transaction of their own)."""
        rows = list(islice(self.unrendered, max(self.group_size - len(self.ahead), 0)))
        if not rows:
            return False
        messages = self.render([(customer, recipient.email, recipient.token, recipient.variant)
                                for recipient, customer in rows])
        for (recipient, customer), message in zip(rows, messages, strict=True):
            self.ahead.append((recipient, customer, message))
        return True

    def stopped_by_cancel(self, index: int) -> bool:
        """True once the campaign was cancelled: the claim's unsent rows are released."""
        # A cancel stops the batch within half a second (or 25 messages), even when the
        # rate limit is slow, at the cost of one small query per check.
        if not (index and (index % 25 == 0 or time.monotonic() >= self.next_check)):
            return False
        self.next_check = time.monotonic() + CANCEL_CHECK_SECONDS
        if not cancelled(self.campaign_id):
            return False
        # Rendered, not yet sent: released (skipped) with the rest.
        self.group.clear()
        self.ahead.clear()
        release(self.claim)
        return True

    def send_group(self) -> None:
        """The group's messages go out together, recorded as sent in one commit; the next
        messages are rendered while the server answers."""
        outcomes = self.transport.send_many(
            [Outgoing(self.sender, recipient.email, composed.message.as_bytes(), composed.subject, composed.message_id)
             for recipient, _, composed in self.group], self.commit_staged, while_waiting=self.render_ahead)
        settle_sent()
        self.record(outcomes)
        self.group.clear()

    def commit_staged(self, staged: list[int]) -> set[int]:
        """The transport's commit, before the final "."s: the staged messages (their places in
        the group) whose rows are still ours are marked sent in one commit; only they go out."""
        won = mark_sent([(self.group[i][0], self.group[i][2].message_id) for i in staged], self.claim)
        return {i for i in staged if self.group[i][0].id in won}

    def record(self, outcomes: list[SendOutcome]) -> None:
        """Every outcome on its row; the batch comes back for its retries at the earliest one's time."""
        for (recipient, customer, _), outcome in zip(self.group, outcomes, strict=True):
            kind = record_outcome(recipient, customer, self.claim, outcome)
            self.counts[kind] += 1
            if kind == "retry":
                due = utcnow() + retry_delay(recipient.attempts)
                self.retry_at = due if self.retry_at is None else min(self.retry_at, due)


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
