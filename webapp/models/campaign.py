"""Email campaigns, their recipients (the send snapshot) and the local outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import false as sa_false

from webapp.extensions import db
from webapp.infra.types import BigId, JsonDoc, UTCDateTime, utcnow

CAMPAIGN_STATUSES = ("draft", "scheduled", "sending", "sent", "cancelled")
# 'held': an A/B test's remainder, waiting for the winner (delivery claims never take it).
RECIPIENT_STATUSES = ("pending", "sending", "sent", "failed", "skipped", "held")
AB_METRICS = ("opens", "clicks", "revenue")
FINAL_RECIPIENT_STATUSES = ("sent", "failed", "skipped")


class EmailCampaign(db.Model):
    __tablename__ = "email_campaigns"
    __table_args__ = (
        Index("ix_email_campaigns_tenant_id", "tenant_id", "id"),
        # The reconciler's scan: scheduled campaigns coming due, campaigns still sending.
        Index("ix_email_campaigns_status_scheduled", "status", "scheduled_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("customer_segments.id", ondelete="SET NULL"))
    # Sent under this topic: only its subscribers get it. None: all marketing.
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    preheader: Mapped[str | None] = mapped_column(String(300))
    from_name: Mapped[str | None] = mapped_column(String(200))
    from_email: Mapped[str | None] = mapped_column(String(320))
    reply_to: Mapped[str | None] = mapped_column(String(320))
    html_content: Mapped[str] = mapped_column(Text)
    # The block tree the builder edits (webapp/mail/design), or None for a raw-HTML campaign.
    # html_content is what it compiled to when saved: sends never compile.
    design: Mapped[dict | None] = mapped_column(JsonDoc)
    text_content: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    # 'campaign', or 'workflow' for the hidden campaign a workflow's send_email step owns
    # (its recipients and counters track the step; campaign lists and routes never show it).
    kind: Mapped[str] = mapped_column(String(20), default="campaign", server_default="campaign")
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Sent at this wall-clock time ("2026-12-10T10:00") in each recipient's timezone: the
    # snapshot gives every row its wave (services/campaigns/waves.py); None: all at once.
    local_send_time: Mapped[str | None] = mapped_column(String(16))
    # A workflow step's email marked transactional (an order confirmation, a ticket): it
    # neither counts towards the frequency cap nor waits for quiet hours.
    transactional: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set in the transaction that wrote the recipient snapshot: a send whose start job was
    # lost has none, and the reconciler starts it again.
    snapshot_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When a [TEST] copy last reached a mail server or the outbox (the pre-send checklist asks).
    last_test_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Counters move with each recipient's final state, in the same transaction.
    recipients_count: Mapped[int] = mapped_column(Integer, default=0)
    sent_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    skipped_count: Mapped[int] = mapped_column(Integer, default=0)
    batches_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Customers who unsubscribed through this campaign's link.
    unsubscribed_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Optional UTM parameters appended to every tracked link's stored target.
    utm_source: Mapped[str | None] = mapped_column(String(100))
    utm_medium: Mapped[str | None] = mapped_column(String(100))
    utm_campaign: Mapped[str | None] = mapped_column(String(200))
    # An A/B test (services/campaigns/variants.py), set with its campaign_variants rows:
    # the share of recipients in the test, how long it runs, the metric that decides it.
    ab_share_percent: Mapped[int | None] = mapped_column(Integer)
    ab_duration_minutes: Mapped[int | None] = mapped_column(Integer)
    ab_metric: Mapped[str | None] = mapped_column(String(20))
    # Set by the snapshot (the test starts when its sample is written).
    ab_test_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The winner's position (0 = variant A), set once, with the release of the remainder.
    ab_winner: Mapped[int | None] = mapped_column(SmallInteger)
    ab_winner_chosen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ab_winner_chosen_by: Mapped[str | None] = mapped_column(String(10))  # 'auto' | 'manual'
    # The verdict in words when the winner was chosen ("No clear winner: sending variant A, ...").
    ab_verdict: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CampaignVariant(db.Model):
    """One version of an A/B-tested campaign: what it changes (None inherits the campaign's)."""

    __tablename__ = "campaign_variants"
    __table_args__ = (UniqueConstraint("campaign_id", "position", name="uq_campaign_variants_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("email_campaigns.id", ondelete="CASCADE"))
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(SmallInteger)  # 0 = variant A, the control
    subject: Mapped[str | None] = mapped_column(String(300))
    preheader: Mapped[str | None] = mapped_column(String(300))
    from_name: Mapped[str | None] = mapped_column(String(200))
    html_content: Mapped[str | None] = mapped_column(Text)
    design: Mapped[dict | None] = mapped_column(JsonDoc)


class CampaignRecipient(db.Model):
    __tablename__ = "campaign_recipients"
    __table_args__ = (
        # A workflow step may mail one customer again on a later enrollment; campaigns keep 0.
        UniqueConstraint("campaign_id", "customer_id", "enrollment_id",
                         name="uq_campaign_recipients_campaign_customer"),
        UniqueConstraint("token", name="uq_campaign_recipients_token"),
        # Delivery claims one batch's pending rows; progress counts by status.
        Index("ix_campaign_recipients_batch", "campaign_id", "batch_no", "status"),
        Index("ix_campaign_recipients_customer", "customer_id"),
        # Bounces and complaints a relay reports are matched by the Message-ID we sent.
        Index("ix_campaign_recipients_message_id", "message_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("email_campaigns.id", ondelete="CASCADE"))
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    batch_no: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    # Opaque, random (128 bits): the recipient's unsubscribe and tracking handle.
    token: Mapped[str] = mapped_column(String(64))
    # The current claim: only its holder may mark the row sent (see services/campaigns/claims.py and marks.py).
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A local-time campaign's wave: when this row's wall-clock time comes in its customer's
    # zone (next_attempt_at starts there, and moves on retries; this stays for the waves' view).
    wave_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str | None] = mapped_column(String(300))
    error: Mapped[str | None] = mapped_column(Text)
    # Engagement, moved by the tracking writer (services/tracking.py) in batches.
    opens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    human_opens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    clicks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    human_clicks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    first_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_human_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_human_clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enrollment_id: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The A/B test variant this row was sampled into (0 = A); None outside the sample (the
    # remainder gets the winner) or when the campaign has no test.
    variant: Mapped[int | None] = mapped_column(SmallInteger)


class CampaignRecipientCount(db.Model):
    """Per campaign: how many recipients share a status and an engagement (a person opened, a
    person clicked, anything opened or clicked). Kept by database triggers on
    campaign_recipients (migration 0028); the report's filter counts are sums of these rows."""

    __tablename__ = "campaign_recipient_counts"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("email_campaigns.id", ondelete="CASCADE"),
                                             primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    opened: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    clicked: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    touched: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    recipients: Mapped[int] = mapped_column(Integer, default=0)


class OutboxMessage(db.Model):
    """Messages kept locally when MAIL_URL=outbox (development, demos)."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_tenant_id", "tenant_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("email_campaigns.id", ondelete="SET NULL"))
    recipient: Mapped[str] = mapped_column(String(320))
    sender: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    message_id: Mapped[str] = mapped_column(String(300))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
